import type { KeyedRefusalReason } from './KeyedLimiter';

/** A snapshot taken when `stats()` is called. */
export interface KeyedBucketsStats<K> {
  /** Keys held in memory now: waiting, contending for the global bucket, or refilling. */
  readonly keys: number;
  readonly maxKeys: number;
  /** Keys with values waiting. */
  readonly waitingKeys: number;
  /** Keys whose head value is covered by its own bucket and waits for the global one. */
  readonly contendingKeys: number;
  /** Values waiting, and their total cost. */
  readonly queued: number;
  readonly queuedCost: number;
  readonly granted: number;
  readonly grantedCost: number;
  readonly dropped: number;
  readonly rejected: number;
  /** Of `dropped + rejected`: values of new keys refused because `maxKeys` were held. */
  readonly refusedMaxKeys: number;
  readonly cancelled: number;
  /** Keys forgotten since creation (refilled and idle, or nothing left waiting on their limiter). */
  readonly forgotten: number;
  /** Keys with a `configure` override. */
  readonly overrides: number;
  /** Whether the single timer is scheduled. */
  readonly timerScheduled: boolean;
  /** The global limit, if any: its limits, tokens now (if known synchronously), and whether a request is outstanding. */
  readonly global: {
    readonly capacity?: number;
    readonly refillRate?: number;
    readonly interval?: number;
    readonly available: number | undefined;
    readonly requesting: boolean;
  } | null;
  /** Up to 10 keys with the most cost waiting, most first. */
  readonly topKeys: readonly { readonly key: K; readonly queued: number; readonly queuedCost: number }[];
}

/** One key now, as `keyStats` reports it; a key not held reports a fresh bucket. */
export interface KeyStats {
  readonly held: boolean;
  readonly capacity: number;
  readonly refillRate: number | undefined;
  readonly interval: number | undefined;
  /** Tokens now; `undefined` for a key backed by a `TokenLimiter`. */
  readonly available: number | undefined;
  readonly queued: number;
  readonly queuedCost: number;
}

/** What `events$` reports, each with its key. `time` is the scheduler's `now()`. */
export type KeyedBucketsEvent<K> =
  | {
      readonly type: 'granted';
      readonly key: K;
      readonly time: number;
      readonly cost: number;
      readonly waited: number;
      readonly available: number | undefined;
    }
  | {
      readonly type: 'queued';
      readonly key: K;
      readonly time: number;
      readonly cost: number;
      readonly queued: number;
      readonly queuedCost: number;
    }
  | { readonly type: 'cancelled'; readonly key: K; readonly time: number; readonly cost: number }
  | {
      readonly type: 'dropped' | 'rejected';
      readonly key: K;
      readonly time: number;
      readonly cost: number;
      readonly reason: KeyedRefusalReason;
      readonly retryAfter: number;
    }
  | {
      readonly type: 'reconfigured';
      readonly key: K;
      readonly time: number;
      readonly capacity: number;
      readonly refillRate: number;
      readonly interval: number;
      readonly available: number;
      readonly cause: string;
    }
  | {
      readonly type: 'global-reconfigured';
      readonly time: number;
      readonly capacity: number;
      readonly refillRate: number;
      readonly interval: number;
      readonly available: number;
    }
  /** The key's state was dropped from memory (it equals a fresh bucket's). Noticed lazily: `time` is when. */
  | { readonly type: 'forgotten'; readonly key: K; readonly time: number };
