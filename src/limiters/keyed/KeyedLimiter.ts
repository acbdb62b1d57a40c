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

/**
 * What `admit` decided:
 * - `granted`: the tokens were taken; emit the value now.
 * - `wait`: call `enqueue` now, in the same synchronous turn; with `nowOrNever` (`maxQueue` 0
 *   on a key whose store cannot answer synchronously but estimates the tokens are there), with
 *   `maxWait` 0, a refusal then being for `'max-queue'`.
 * - `refused`: by `rule` (`'max-keys'`: that many keys are held and this one is new;
 *   `'max-queue'`: that many values of the key wait; `'max-wait'`: its predicted wait exceeds
 *   `maxWait`), which could be granted in `retryAfter` ms.
 */
export type Admission =
  | { readonly verdict: 'granted' }
  | { readonly verdict: 'wait'; readonly nowOrNever: boolean }
  | { readonly verdict: 'refused'; readonly rule: 'max-keys' | 'max-queue' | 'max-wait'; readonly retryAfter: number };

/** The answers of `admit` that carry nothing but the verdict, shared (the fast path allocates nothing). */
export const GRANTED: Admission = Object.freeze({ verdict: 'granted' });
export const WAIT: Admission = Object.freeze({ verdict: 'wait', nowOrNever: false });
export const ASK_NOW_OR_NEVER: Admission = Object.freeze({ verdict: 'wait', nowOrNever: true });

/** Marks a `KeyedLimiter` (`Symbol.for`, so copies of this package from the ESM and CJS builds recognise each other's). */
export const KEYED_LIMITER: unique symbol = Symbol.for('rxjs-token-bucket.KeyedLimiter');

/**
 * The protocol between `perKey` and a store of per-key buckets (`KeyedBuckets` in memory).
 * A value is first `admit`ted — taken at once, refused, or told to wait — and a waiting one
 * is `enqueue`d in the same synchronous turn; exactly one of its `granted`, `refused` or
 * `failed` follows, unless it is `cancel`led first.
 */
export interface KeyedLimiter<K> {
  readonly [KEYED_LIMITER]: true;
  /**
   * Validates `cost` for `key` and takes it now if it may pass at once; otherwise says
   * whether the value may wait or why it is refused (its predicted wait counting the key's
   * values of `priority` or higher, default 0, ahead of it). Throws for an invalid cost, one
   * above the key's or the global capacity, or a key that has no limits or no valid weight.
   */
  admit(key: K, cost: number, maxWait: number, maxQueue: number, priority?: number): Admission;
  /** Queues a value `admit` answered `wait` for. Its answer may come synchronously. */
  enqueue(waiter: KeyedWaiter<K>, maxWait: number): void;
  /** Withdraws a waiting value; it takes nothing. Harmless if it was already answered. */
  cancel(waiter: KeyedWaiter<K>): void;
  /** Runs a series of `cancel`s with grants deferred until they are done. */
  withdrawing(withdraw: () => void): void;
  /** Records, for stats and events, that an operator discarded or rejected a value of `key`. */
  recordRefusal(key: K, refusal: KeyedRefusal): void;
}

/** True for a `KeyedLimiter` (a `KeyedBuckets`) rather than bucket options. */
export function isKeyedLimiter<K>(candidate: unknown): candidate is KeyedLimiter<K> {
  return typeof candidate === 'object' && candidate !== null && (candidate as Partial<KeyedLimiter<K>>)[KEYED_LIMITER] === true;
}
