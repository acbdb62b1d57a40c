import type { LimiterStats, RefusalEvent } from './LimiterCounters';

/** A snapshot of a bucket, taken when `stats()` is called (see `LimiterStats` for the fields). */
export type TokenBucketStats = LimiterStats;

/** What `events$` reports. `time` is the bucket scheduler's `now()`. */
export type TokenBucketEvent =
  | { readonly type: 'granted'; readonly time: number; readonly cost: number; readonly waited: number; readonly available: number }
  | { readonly type: 'queued'; readonly time: number; readonly cost: number; readonly queued: number; readonly queuedCost: number }
  | { readonly type: 'cancelled'; readonly time: number; readonly cost: number }
  | RefusalEvent
  | {
      readonly type: 'reconfigured';
      readonly time: number;
      readonly capacity: number;
      readonly refillRate: number;
      readonly interval: number;
      readonly available: number;
      /** Why: `configure` for a user's change; other sources (such as server feedback) name themselves. */
      readonly cause: string;
    };
