/** `adaptiveThrottle`'s options as the user writes them, and the settings they come to once checked. */
import type { RateLimitFeedback } from '../../arithmetic/adaptation';
import { headersOf, headersOfError, isThrottleStatus, statusOf, type FeedbackSource } from '../../http/responseFeedback';
import { wallClockNow } from '../../http/wallClock';
import { checkAdaptOptions, type AdaptOptions } from '../../limiters/adaptOptions';
import { checkBucketOptions, type TokenBucketOptions } from '../../limiters/bucketOptions';
import { isLimiter, type TokenLimiter } from '../../limiters/TokenLimiter';
import { checkCostWithin, checkKnownKeys, checkNumberOption } from '../../shared/checks';
import { describe } from '../../shared/describe';
import type { Cost } from '../refusalSettings';

/** A bucket `adaptiveThrottle` can retune: a `TokenBucket`, or any limiter with the same two methods. */
export interface AdaptableLimiter extends TokenLimiter {
  readonly refillRate: number;
  readonly interval?: number;
  /** When refill resumes after a pause from `adapt` (scheduler time), if the limiter pauses. */
  readonly pausedUntil?: number;
  adapt(feedback: RateLimitFeedback, options?: AdaptOptions): void;
  configure(limits: { refillRate?: number }): void;
}

export interface AdaptiveThrottleConfig<T, R> {
  /** The starting guess: a shared bucket, or options for a fresh bucket per subscription. Required. */
  bucket: AdaptableLimiter | TokenBucketOptions;
  /** Tokens a request takes, in the server's unit. Default 1. */
  cost?: Cost<T>;
  /** Most requests in flight at once. Default `Infinity`. */
  concurrency?: number;
  /**
   * Rate-limit feedback of a result. Default: the result's `headers` property, if any. Feedback
   * returned already parsed is held to what `parseRateLimitHeaders` guarantees of its own:
   * a field that is not a finite number >= 0 is dropped, absurd values are clamped.
   */
  feedback?: (result: R) => FeedbackSource;
  /** Whether a result is a throttle signal rather than a success. Default: `status` 429 or 503. */
  isThrottled?: (result: R) => boolean;
  /**
   * Rate-limit feedback of an error, which makes the error a throttle signal when it carries a
   * `retryAfter` or when the error's `status` is 429/503. Default: `error.headers ?? error.response?.headers`.
   */
  feedbackFromError?: (error: unknown) => FeedbackSource;
  /** Spend at most this share of what the server reports. Default 0.9. */
  safetyFactor?: number;
  /** Bounds on the bucket's `refillRate` while adapting (its own unit). Defaults: starting rate / 1000, and Infinity. */
  minRate?: number;
  maxRate?: number;
  /** How many times one value is retried after a throttle signal; past it the stream errors. Default 3. */
  retry?: number;
  /** Without headers: the rate is multiplied by this on a throttle signal (once per round trip); 1 keeps it. Default 0.85. */
  decrease?: number;
  /**
   * Without headers: once the server has throttled, each success probes the rate up by this
   * share of the rate it throttled at (additive increase; see `AimdRateSearch`); 0 stops probing.
   * Default 0.0002 (about one throttle signal per hundreds of requests once settled).
   */
  increase?: number;
  /** Values waiting for a request slot or tokens, at most; past it the stream errors. Default `Infinity`. */
  maxQueue?: number;
  /** Wall-clock ms, for epoch and HTTP-date resets in headers. Default `Date.now`. */
  wallClock?: () => number;
}

const CONFIG_KEYS = [
  'bucket',
  'cost',
  'concurrency',
  'feedback',
  'isThrottled',
  'feedbackFromError',
  'safetyFactor',
  'minRate',
  'maxRate',
  'retry',
  'decrease',
  'increase',
  'maxQueue',
  'wallClock',
] as const;

/** The options with their defaults, checked once when the operator is created. */
export interface Settings<T, R> {
  readonly costOf: Cost<T>;
  readonly concurrency: number;
  readonly feedback: (result: R) => FeedbackSource;
  readonly isThrottled: (result: R) => boolean;
  readonly feedbackFromError: (error: unknown) => FeedbackSource;
  readonly safetyFactor: number;
  readonly minRate: number | undefined;
  readonly maxRate: number;
  readonly retry: number;
  readonly decrease: number;
  readonly increase: number;
  readonly maxQueue: number;
  readonly wallClock: () => number;
}

/** Checks `config`; errors name the option and the bad value. */
export function checkConfig<T, R>(config: AdaptiveThrottleConfig<T, R>): Settings<T, R> {
  const owner = 'adaptiveThrottle';
  checkKnownKeys(owner, config, CONFIG_KEYS);
  if (config.bucket === undefined) throw new TypeError(`${owner} option "bucket" is required (a TokenBucket or its options)`);
  if (!isLimiter(config.bucket)) checkBucketOptions(config.bucket);
  else if (typeof (config.bucket as AdaptableLimiter).adapt !== 'function') {
    throw new TypeError(`${owner} option "bucket" must be adaptable (have adapt() and configure()), as TokenBucket is`);
  }
  const costOf = config.cost ?? 1;
  if (typeof costOf !== 'function') checkCostWithin(costOf, Infinity);
  // The options handed on to every `adapt` call, checked as `adapt` checks them.
  const { safetyFactor, maxRate } = checkAdaptOptions(owner, { safetyFactor: config.safetyFactor, maxRate: config.maxRate });
  const decrease = checkNumberOption(owner, 'decrease', config.decrease ?? 0.85, 'positive');
  if (decrease > 1) throw new RangeError(`${owner} option "decrease" must be in (0, 1], got ${decrease}`);
  for (const name of ['feedback', 'isThrottled', 'feedbackFromError', 'wallClock'] as const) {
    if (config[name] !== undefined && typeof config[name] !== 'function') {
      throw new TypeError(`${owner} option "${name}" must be a function, got ${describe(config[name])}`);
    }
  }
  const retry = checkNumberOption(owner, 'retry', config.retry ?? 3, 'non-negative');
  if (!Number.isInteger(retry)) throw new RangeError(`${owner} option "retry" must be a whole number, got ${retry}`);
  return {
    costOf,
    concurrency: checkNumberOption(owner, 'concurrency', config.concurrency ?? Infinity, 'positive', true),
    feedback: config.feedback ?? headersOf,
    isThrottled: config.isThrottled ?? ((result) => isThrottleStatus(statusOf(result))),
    feedbackFromError: config.feedbackFromError ?? headersOfError,
    safetyFactor,
    minRate: config.minRate === undefined ? undefined : checkNumberOption(owner, 'minRate', config.minRate, 'positive'),
    maxRate,
    retry,
    decrease,
    increase: checkNumberOption(owner, 'increase', config.increase ?? 0.0002, 'non-negative'),
    maxQueue: checkNumberOption(owner, 'maxQueue', config.maxQueue ?? Infinity, 'non-negative', true),
    wallClock: config.wallClock ?? wallClockNow,
  };
}
