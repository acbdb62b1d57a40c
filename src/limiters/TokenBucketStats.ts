import type { LimiterStats, RefusalEvent } from './LimiterCounters';

/** A snapshot of a bucket, taken when `stats()` is called (see `LimiterStats` for the other fields). */
export interface TokenBucketStats extends LimiterStats {
  /** Tokens owed: what `debit` took beyond the count, paid back by refill before any waiting value is granted. */
  readonly debt: number;
}

/** A waiter was granted its tokens, `waited` ms after it asked; `available` is what is left. */
export interface GrantedEvent {
  readonly type: 'granted';
  readonly time: number;
  readonly cost: number;
  readonly waited: number;
  readonly available: number;
}

/** A waiter joined the queue; `queued`/`queuedCost` count the queue with it. */
export interface QueuedEvent {
  readonly type: 'queued';
  readonly time: number;
  readonly cost: number;
  readonly queued: number;
  readonly queuedCost: number;
}

/** A waiter was withdrawn before its grant. */
export interface CancelledEvent {
  readonly type: 'cancelled';
  readonly time: number;
  readonly cost: number;
}

/** The limits changed. */
export interface ReconfiguredEvent {
  readonly type: 'reconfigured';
  readonly time: number;
  readonly capacity: number;
  readonly refillRate: number;
  readonly interval: number;
  readonly available: number;
  /** Why: `configure` for a user's change; other sources (such as server feedback) name themselves. */
  readonly cause: string;
}

/** `debit` took tokens (possibly into debt), or `refund` gave some back. */
export interface AdjustedEvent {
  readonly type: 'adjusted';
  readonly time: number;
  readonly cause: 'debit' | 'refund';
  readonly amount: number;
  readonly available: number;
  readonly debt: number;
}

/** What `events$` reports. `time` is the bucket scheduler's `now()`. */
export type TokenBucketEvent = GrantedEvent | QueuedEvent | CancelledEvent | RefusalEvent | ReconfiguredEvent | AdjustedEvent;
