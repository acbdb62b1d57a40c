import type { LimiterCounts, RefusalEvent } from '../LimiterCounters';
import type { CancelledEvent, GrantedEvent, QueuedEvent, ReconfiguredEvent } from '../TokenBucketStats';

/** A snapshot taken when `stats()` is called; the counters (`LimiterCounts`) are over all keys. */
export interface KeyedBucketsStats<K> extends LimiterCounts {
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
  /** Of `dropped + rejected`: values of new keys refused because `maxKeys` were held. */
  readonly refusedMaxKeys: number;
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

/** An event of one key. */
type OfKey<E, K> = E & { readonly key: K };

/** What `events$` reports, each with its key. `time` is the scheduler's `now()`. */
export type KeyedBucketsEvent<K> =
  /** `available` is undefined for a key backed by a `TokenLimiter`. */
  | OfKey<Omit<GrantedEvent, 'available'> & { readonly available: number | undefined }, K>
  | OfKey<QueuedEvent, K>
  | OfKey<CancelledEvent, K>
  | OfKey<RefusalEvent, K>
  | OfKey<ReconfiguredEvent, K>
  /** The global limit held by the `KeyedBuckets` changed (`configureGlobal`). */
  | (Omit<ReconfiguredEvent, 'type' | 'cause'> & { readonly type: 'global-reconfigured' })
  /** The key's state was dropped from memory (it equals a fresh bucket's). Noticed lazily: `time` is when. */
  | { readonly type: 'forgotten'; readonly key: K; readonly time: number };
