/** Why a value was not let through. */
export type RefusalReason =
  /** `strategy: 'drop' | 'error'`: the tokens were not there at arrival. */
  | 'no-tokens'
  /** `maxQueue` values of this stream were already waiting. */
  | 'max-queue'
  /** The value's predicted wait exceeded `maxWait`. */
  | 'max-wait'
  /** `adaptiveThrottle`: the server throttled the value more than `retry` times. */
  | 'retry-limit'
  /** `perKey`: `maxKeys` keys were already held and a value of a new key arrived. */
  | 'max-keys';

/**
 * The error a rate-limited stream fails with under `strategy: 'error'` (or a bound with
 * `overflow: 'error'`). `retryAfter` is how long (ms) the refused value would have waited.
 */
export class RateLimitExceededError extends Error {
  override readonly name = 'RateLimitExceededError';
  constructor(
    /** Ms until a value of this cost could be granted, counting the values queued ahead of it. */
    readonly retryAfter: number,
    /** The cost that was refused. */
    readonly cost: number,
    /** Which rule refused it. */
    readonly reason: RefusalReason = 'no-tokens',
  ) {
    super(`rate limit exceeded (${reason}): cost ${cost} could be granted in ${retryAfter} ms`);
  }
}
