import type { RefusalReason } from '../../shared/errors';
import type { Refusal } from '../TokenLimiter';
import type { Waiter } from '../../waiting/WaitQueue';

/** Why a keyed value was not let through (the same reasons as `throttleByTokens`, `'max-keys'` included). */
export type KeyedRefusalReason = RefusalReason;

/** A waiter of one key: what `perKey` hands to `KeyedBuckets`. */
export interface KeyedWaiter<K> extends Waiter {
  readonly key: K;
  /** Owned by `KeyedBuckets`: set while the value waits on its key's own `TokenLimiter`. Start it `null`. */
  keyedTicket: Waiter | null;
}

/** A refusal of one key's value, for `recordRefusal`. */
export interface KeyedRefusal extends Omit<Refusal, 'reason'> {
  readonly reason: KeyedRefusalReason;
}

/** The answer of `admit`. */
export const Admission = {
  /** The tokens were taken: emit the value now. */
  Granted: 0,
  /** Call `enqueue` now, in the same synchronous turn. */
  Wait: 1,
  /** Refused: `maxKeys` keys are held and this one is new. */
  MaxKeys: 2,
  /** Refused: `maxQueue` values of this key already wait. */
  MaxQueue: 3,
  /** Refused: its predicted wait exceeds `maxWait` (or `maxWait` is 0 and it cannot pass now). */
  TooLong: 4,
  /**
   * `maxQueue` 0 on a key whose store cannot answer synchronously (Redis) but estimates the
   * tokens are there: call `enqueue` now with `maxWait` 0; a refusal is for `'max-queue'`.
   */
  AskNowOrNever: 5,
} as const;
export type Admission = (typeof Admission)[keyof typeof Admission];

/**
 * The protocol between `perKey` and a store of per-key buckets (`KeyedBuckets` in memory).
 * A value is first `admit`ted — taken at once, refused, or told to wait — and a waiting one
 * is `enqueue`d in the same synchronous turn; exactly one of its `granted`, `refused` or
 * `failed` follows, unless it is `cancel`led first.
 */
export interface KeyedLimiter<K> {
  /** The `retryAfter` (ms) of the last refusal `admit` answered. */
  readonly lastRetryAfter: number;
  /**
   * Validates `cost` for `key` and takes it now if it may pass at once; otherwise says
   * whether the value may wait or why it is refused. Throws for an invalid cost, one above
   * the key's or the global capacity, or a key that has no limits.
   */
  admit(key: K, cost: number, maxWait: number, maxQueue: number): Admission;
  /** Queues a value `admit` answered `Wait` for. Its answer may come synchronously. */
  enqueue(waiter: KeyedWaiter<K>, maxWait: number): void;
  /** Withdraws a waiting value; it takes nothing. Harmless if it was already answered. */
  cancel(waiter: KeyedWaiter<K>): void;
  /** Runs a series of `cancel`s with grants deferred until they are done. */
  withdrawing(withdraw: () => void): void;
  /** Records, for stats and events, that an operator discarded or rejected a value of `key`. */
  recordRefusal(key: K, refusal: KeyedRefusal): void;
}
