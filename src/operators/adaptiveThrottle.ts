import { Observable, type ObservableInput, type OperatorFunction } from 'rxjs';
import { TokenBucket } from '../limiters/TokenBucket';
import type { TokenBucketOptions } from '../limiters/bucketOptions';
import { isLimiter } from '../limiters/TokenLimiter';
import { describe } from '../shared/describe';
import { AdaptiveFlow } from './adaptive/AdaptiveFlow';
import { checkConfig, type AdaptableLimiter, type AdaptiveThrottleConfig } from './adaptive/config';
import { observeSource } from './SourceObserver';

export type { AdaptableLimiter, AdaptiveThrottleConfig } from './adaptive/config';
export type { FeedbackSource } from '../http/responseFeedback';

/**
 * Runs `request` for each value under a token bucket and a concurrency cap, and retunes the
 * bucket live from what every response says about the server's limit.
 *
 * ```
 * server: 1 per 2 ms in RateLimit-Policy, answers after 2 ms; start guess 1 per 4 ms, safetyFactor 1
 * source:  abcdef|
 * result:  --a--b-c-d-e-(f|)     (a's headers raise the rate: one answer every 2 ms from b on)
 * ```
 *
 * Each response's feedback (`RateLimit-*`, `X-RateLimit-*`, `Retry-After`, … parsed by
 * `parseRateLimitHeaders`) retunes the bucket through `bucket.adapt`: `Retry-After` pauses
 * it; a policy (limit L per window W) sets the rate to `L/W·safetyFactor`, within
 * [minRate, maxRate], and is a ceiling: no window W of the flow spends more than
 * `L·safetyFactor` plus the bucket's capacity; remaining R before a reset in Δ caps spending
 * to `R·safetyFactor` minus the cost of the requests still in flight (the server's count does
 * not know them yet), pausing until the reset at 0. A reset in whole seconds is read as an
 * upper bound (the budget may come back up to a second sooner), so with a policy known it
 * never slows the flow below the policy rate. Every number is checked finite and clamped
 * first; no response can make the rate Infinity, NaN or 0 (with `maxRate` Infinity, one
 * response without a policy raises it at most 16×).
 * A throttled request (429/503, as a result or an error) pauses for its `Retry-After` and is
 * retried; throttled values are retried before values not yet tried, in the order their
 * throttling was noticed, each at most `retry` times. With no headers at all the rate is
 * searched for: lowered on a throttle signal, raised on success up to `maxRate` (by default
 * the starting rate: no evidence, no increase).
 * Results are emitted as responses arrive (as `mergeMap` does), so with `concurrency > 1`
 * they may come out of order. Tokens are taken when a request starts, never before a slot
 * is free, so values a freed slot releases never burst past the bucket. `request` gets an
 * `AbortSignal` as its third argument, aborted when that request is cancelled (the output
 * unsubscribed, or ended with an error, while it was in flight); hand it to `fetch`.
 *
 * Costs known only afterwards (an LLM call's tokens): `cost` is the estimate a request takes
 * when it starts, and `actualCost(result, value)` the real cost; the difference is debited at
 * once (into debt, which refill pays back before anything else is granted) or refunded. A
 * throttled attempt then costs nothing: its estimate is refunded (once the throttle's pause is
 * in force), because a token budget does not count a call it refused (OpenAI's 429 reports the
 * tokens used without those the refused call requested). Without `actualCost` a throttled
 * attempt keeps its `cost`, as a request budget counts refused requests. Requests cancelled
 * by unsubscribing keep their estimate.
 *
 * ```
 * adapt: false, capacity 3, refill 1 token / ms; each request takes 1 up front, actualCost 3; instant answers
 * source:  (abcd|)
 * result:  ab--c--(d|)     (each answer debits 2 more: the next waits for that debt, then its 1)
 * ```
 *
 * `adapt: false` makes it a fixed-rate executor: the bucket's rate is never changed, whatever
 * the responses say; a throttled result's `Retry-After` still pauses the bucket (through
 * `bucket.adapt({ retryAfter })`, which leaves the rate alone) before the value is retried.
 *
 * @example
 * ```ts
 * import { from } from 'rxjs';
 * import { adaptiveThrottle } from 'rxjs-token-bucket';
 *
 * from(userIds).pipe(
 *   adaptiveThrottle((id, _index, signal) => fetch(`https://api.example.com/users/${id}`, { signal }), {
 *     bucket: { capacity: 5, refillRate: 5 }, // a guess: 5/s; the headers will correct it
 *     concurrency: 4,
 *   }),
 * ).subscribe((response) => console.log(response.status));
 * ```
 *
 * - Emits: each request's results, except throttled ones (which are retried); with
 *   `actualCost`, each result after its real cost is settled with the bucket.
 * - Completes: when the source has completed and every request has completed (with
 *   `actualCost`, every result settled; a debt left is the bucket's to pay back).
 * - Errors: when a request errors with anything but a throttle signal; when `request` throws
 *   or returns something that is not an ObservableInput (`TypeError` naming the value's index
 *   and what it returned); when the bucket throws while retuning; when a value was
 *   throttled more than `retry` times (`RateLimitExceededError`, reason `retry-limit`);
 *   when a cost is invalid; when more than `maxQueue` values wait; when `actualCost` throws
 *   (`TypeError`, the error as its `cause`) or returns anything but a finite number >= 0
 *   (`TypeError` for a non-number, `RangeError` for NaN, ±Infinity or a negative number,
 *   naming `actualCost`, what it returned and the value's index).
 * - Throws at once (creating the operator): for a second argument that is not a config object
 *   (a limiter, or the bucket's options: pass `{ bucket }`); for `throttleByTokens` options
 *   (`strategy`, `maxWait`, …), with a hint; for a bad option, naming it; for `adapt` that is
 *   not a boolean; for `adapt: false` beside an option that only steers adapting
 *   (`safetyFactor`, `minRate`, `maxRate`, `decrease`, `increase`); for `actualCost` with a
 *   shared bucket lacking `debit()` or `refund()`.
 * - Unsubscribes: cancels requests in flight (aborting their signals) and withdraws waiting
 *   values from the bucket.
 */
export function adaptiveThrottle<T, R>(
  request: (value: T, index: number, signal: AbortSignal) => ObservableInput<R>,
  config: AdaptiveThrottleConfig<T, R>,
): OperatorFunction<T, R> {
  if (typeof request !== 'function') {
    throw new TypeError(
      `adaptiveThrottle: the first argument is the request, a function (value, index, signal) => ObservableInput; got ${describe(request)}`,
    );
  }
  const settings = checkConfig(config);
  const shared = isLimiter(config.bucket) ? (config.bucket as AdaptableLimiter) : undefined;
  return (source) =>
    new Observable<R>((subscriber) => {
      const bucket = shared ?? new TokenBucket(config.bucket as TokenBucketOptions);
      return observeSource(source, subscriber, new AdaptiveFlow(subscriber, request, bucket, settings));
    });
}
