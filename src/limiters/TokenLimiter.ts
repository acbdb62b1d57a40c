import type { SchedulerLike } from 'rxjs';
import type { RefusalReason } from '../shared/errors';
import type { Waiter } from '../waiting/WaitQueue';

/**
 * Marks an object as a `TokenLimiter`. `Symbol.for`, so a limiter from one copy of this
 * package (the ESM build) is recognised by another (the CJS build of the `redis` entry),
 * where `instanceof` would fail. A limiter of your own sets `[TOKEN_LIMITER] = true`.
 */
export const TOKEN_LIMITER: unique symbol = Symbol.for('rxjs-token-bucket.TokenLimiter');

/**
 * The protocol between operators and a bucket. `TokenBucket` implements it in memory;
 * other stores (Redis) implement it with asynchronous grants. Operators depend on this
 * interface only, so every operator accepts every kind of bucket.
 */
export interface TokenLimiter {
  readonly [TOKEN_LIMITER]: true;
  /** Clock and timers of this limiter. */
  readonly scheduler: SchedulerLike;
  /** The current burst size: no single cost above it can ever be granted. */
  readonly capacity: number;
  /**
   * Asks for `waiter.cost` tokens. Exactly one of `waiter.granted()`, `waiter.refused()`
   * or `waiter.failed()` follows, at once or later, unless `cancel(waiter)` comes first.
   * Waiters are granted in the order they asked. A waiter whose predicted wait exceeds
   * `maxWait` ms is refused at once (`maxWait: 0` means "now or never").
   */
  enqueue(waiter: Waiter, maxWait: number): void;
  /**
   * The synchronous fast path: takes an already validated `cost` now if nothing waits and
   * the tokens are there, returning true; otherwise returns false and changes nothing. A
   * store that cannot answer synchronously always returns false, and `enqueue` decides.
   */
  takeNow(cost: number): boolean;
  /** Ms until a value of `cost` asking now would be granted (an estimate for remote stores). */
  timeUntil(cost: number): number;
  /** Withdraws a waiter that has not been granted; it takes nothing. Harmless if already granted. */
  cancel(waiter: Waiter): void;
  /** Records, for `stats()` and `events$`, that an operator discarded or rejected a value. */
  recordRefusal(refusal: Refusal): void;
}

export interface Refusal {
  readonly cost: number;
  /** `dropped`: the value was discarded; `rejected`: the stream failed with `RateLimitExceededError`. */
  readonly outcome: 'dropped' | 'rejected';
  readonly reason: RefusalReason;
  readonly retryAfter: number;
}

/** True for a limiter (in memory or remote) rather than options for one. */
export function isLimiter(candidate: unknown): candidate is TokenLimiter {
  return typeof candidate === 'object' && candidate !== null && (candidate as Partial<TokenLimiter>)[TOKEN_LIMITER] === true;
}
