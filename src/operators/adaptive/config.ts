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

/**
 * A bucket `adaptiveThrottle` can retune: a `TokenBucket`, or any limiter with the same methods.
 * `debit` and `refund` are needed only with `actualCost`, which settles each request's real cost.
 */
export interface AdaptableLimiter extends TokenLimiter {
  readonly refillRate: number;
  readonly interval?: number;
  /** When refill resumes after a pause from `adapt` (scheduler time), if the limiter pauses. */
  readonly pausedUntil?: number;
  adapt(feedback: RateLimitFeedback, options?: AdaptOptions): void;
  configure(limits: { refillRate?: number }): void;
  /** Takes `amount` now, into debt if need be (a real cost above the estimate taken). */
  debit?(amount: number): void;
  /** Gives `amount` back, never above capacity (a real cost below the estimate taken). */
  refund?(amount: number): void;
}

export interface AdaptiveThrottleConfig<T, R> {
  /** The starting guess: a shared bucket, or options for a fresh bucket per subscription. Required. */
  bucket: AdaptableLimiter | TokenBucketOptions;
  /**
   * Tokens a request takes when it starts, in the server's unit. Default 1. With `actualCost`,
   * an estimate, settled once the result says what the request really cost.
   */
  cost?: Cost<T>;
  /**
   * The real cost of a request, read from each successful result (an LLM response's
   * `usage.total_tokens`): the difference to what the request took is debited at once (into
   * debt, which refill pays back before anything else is granted) or refunded. A request's
   * real cost is the sum over its results. A throttled attempt costs nothing: its estimate is
   * refunded once the throttle's pause is in force (a token budget does not count a refused
   * call). Must return a finite number >= 0. Needs a bucket with `debit` and `refund` (a
   * `TokenBucket` has them). Without it, a throttled attempt keeps its `cost`, as a request
   * budget counts refused requests.
   */
  actualCost?: (result: R, value: T) => number;
  /**
   * `false`: a fixed-rate executor. The bucket's rate is never changed whatever the responses
   * say; only a throttled result's `Retry-After` pauses it (through `bucket.adapt({ retryAfter })`,
   * which leaves the rate alone) before the retry. Default `true`.
   */
  adapt?: boolean;
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
  /** Lowest `refillRate` adapting may set (the bucket's own unit), finite > 0. Default: the starting rate / 1000. */
  minRate?: number;
  /**
   * Highest `refillRate` adapting may set (the bucket's own unit), at least `minRate`. It bounds
   * two things. Header evidence (a policy, a remaining budget) may raise the rate up to it;
   * default `Infinity`, which still stays finite: at most the policy's rate when one is known,
   * else at most 16× per response. And it is the ceiling of learning without headers ("no
   * evidence, no increase"): then the default is the bucket's starting `refillRate` (or
   * `minRate`, if higher), so a server that says nothing never gets more than you wrote.
   */
  maxRate?: number;
  /** How many times one value is retried after a throttle signal; past it the stream errors. Default 3. */
  retry?: number;
  /**
   * Without headers: on a throttle signal (once per round trip) the rate becomes this share of
   * the rate the server was measured admitting; 1 keeps it (and turns every decrease off). After
   * a Retry-After pause measured between two 429s the cut is to the measure itself: the pause
   * has already let the server refill. Default 0.85.
   */
  decrease?: number;
  /**
   * Without headers: how hard the rate probes above the ceiling it found — after a 4–8 s hold,
   * on a cubic (see `RateSearch`) — as a multiple of the default 0.0002; 0 turns every increase
   * (slow start too) off.
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
  'actualCost',
  'adapt',
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
  readonly actualCost: ((result: R, value: T) => number) | undefined;
  readonly adapt: boolean;
  readonly concurrency: number;
  readonly feedback: (result: R) => FeedbackSource;
  readonly isThrottled: (result: R) => boolean;
  readonly feedbackFromError: (error: unknown) => FeedbackSource;
  readonly safetyFactor: number;
  readonly minRate: number | undefined;
  /** The user's `maxRate`, or Infinity: how far header evidence may raise the rate (the planner keeps it finite). */
  readonly maxRate: number;
  /**
   * How far learning without headers may raise the rate ("no evidence, no increase"): the
   * user's `maxRate` if given, else the bucket's starting `refillRate` (at least `minRate`).
   */
  readonly evidenceFreeMaxRate: number;
  readonly retry: number;
  readonly decrease: number;
  readonly increase: number;
  readonly maxQueue: number;
  readonly wallClock: () => number;
}

/** Checks `config`; errors name the option and the bad value. */
export function checkConfig<T, R>(config: AdaptiveThrottleConfig<T, R>): Settings<T, R> {
  const owner = 'adaptiveThrottle';
  checkConfigShape(owner, config);
  checkKnownKeys(owner, config, CONFIG_KEYS);
  if (config.bucket === undefined) {
    throw new TypeError(
      `${owner} option "bucket" is required: pass { bucket: new TokenBucket(...) } or { bucket: { capacity, refillRate } }`,
    );
  }
  if (!isLimiter(config.bucket)) checkBucketOptions(config.bucket);
  else if (typeof (config.bucket as AdaptableLimiter).adapt !== 'function') {
    throw new TypeError(`${owner} option "bucket" must be adaptable (have adapt() and configure()), as TokenBucket is`);
  }
  const costOf = config.cost ?? 1;
  if (typeof costOf !== 'function') checkCostWithin(costOf, Infinity);
  const adapt = config.adapt === undefined ? true : config.adapt; // null is not a boolean either
  if (typeof adapt !== 'boolean') throw new TypeError(`${owner} option "adapt" must be a boolean, got ${describe(adapt)}`);
  if (!adapt) checkNoLearningOptions(owner, config);
  const actualCost = checkActualCost(owner, config);
  // The options handed on to every `adapt` call, checked as `adapt` checks them.
  const { safetyFactor, minRate, maxRate } = checkAdaptOptions(owner, {
    safetyFactor: config.safetyFactor,
    minRate: config.minRate,
    maxRate: config.maxRate,
  });
  const decrease = checkNumberOption(owner, 'decrease', config.decrease ?? 0.85, 'positive');
  if (decrease > 1) throw new RangeError(`${owner} option "decrease" must be in (0, 1], got ${decrease}`);
  for (const name of ['feedback', 'isThrottled', 'feedbackFromError', 'wallClock'] as const) {
    if (config[name] !== undefined && typeof config[name] !== 'function') {
      throw new TypeError(`${owner} option "${name}" must be a function, got ${describe(config[name])}`);
    }
  }
  const retry = checkNumberOption(owner, 'retry', config.retry ?? 3, 'non-negative');
  if (!Number.isInteger(retry)) throw new RangeError(`${owner} option "retry" must be a whole number, got ${retry}`);
  const startingRate = isLimiter(config.bucket) ? (config.bucket as AdaptableLimiter).refillRate : config.bucket.refillRate;
  return {
    costOf,
    actualCost,
    adapt,
    concurrency: checkNumberOption(owner, 'concurrency', config.concurrency ?? Infinity, 'positive', true),
    feedback: config.feedback ?? headersOf,
    isThrottled: config.isThrottled ?? ((result) => isThrottleStatus(statusOf(result))),
    feedbackFromError: config.feedbackFromError ?? headersOfError,
    safetyFactor,
    minRate: config.minRate === undefined ? undefined : minRate,
    maxRate,
    evidenceFreeMaxRate: config.maxRate ?? Math.max(startingRate, minRate),
    retry,
    decrease,
    increase: checkNumberOption(owner, 'increase', config.increase ?? 0.0002, 'non-negative'),
    maxQueue: checkNumberOption(owner, 'maxQueue', config.maxQueue ?? Infinity, 'non-negative', true),
    wallClock: config.wallClock ?? wallClockNow,
  };
}

/** A bucket's option keys: found at the top of the config, the bucket's options were passed in its place. */
const BUCKET_OPTION_KEYS = ['capacity', 'refillRate', 'interval', 'initialTokens', 'scheduler'];
/** `throttleByTokens`'s options that `adaptiveThrottle` has not: it always waits for tokens, and retries throttled values. */
const THROTTLE_BY_TOKENS_KEYS = ['strategy', 'maxWait', 'overflow', 'onDrop', 'priority'];

/** The mistakes made with the second argument, each with what to write instead. */
function checkConfigShape(owner: string, config: unknown): asserts config is object {
  if (isLimiter(config)) {
    throw new TypeError(`${owner}: the second argument is a config object; pass \`{ bucket }\`, not the bucket itself`);
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new TypeError(
      `${owner}: the second argument is a config object; pass \`{ bucket }\` (a TokenBucket, or { capacity, refillRate }), got ${describe(config)}`,
    );
  }
  const keys = Object.keys(config);
  if (!keys.includes('bucket')) {
    const bucketKeys = keys.filter((key) => BUCKET_OPTION_KEYS.includes(key));
    if (bucketKeys.length > 0) {
      throw new TypeError(
        `${owner}: the second argument is a config object, not the bucket's options; pass \`{ bucket: { ${bucketKeys.join(', ')} } }\``,
      );
    }
  }
  const misplaced = keys.find((key) => THROTTLE_BY_TOKENS_KEYS.includes(key));
  if (misplaced !== undefined) {
    throw new TypeError(
      `${owner} has no option "${misplaced}" (an option of throttleByTokens): adaptiveThrottle waits for tokens and retries throttled values; ` +
        `bound the wait with maxQueue, or put throttleByTokens(bucket, { ${misplaced} }) before it to drop or refuse values`,
    );
  }
}

/** The options that only steer adapting: given with `adapt: false`, they would silently do nothing. */
const LEARNING_OPTIONS = ['safetyFactor', 'minRate', 'maxRate', 'decrease', 'increase'] as const;

function checkNoLearningOptions<T, R>(owner: string, config: AdaptiveThrottleConfig<T, R>): void {
  for (const name of LEARNING_OPTIONS) {
    if (config[name] !== undefined) {
      throw new TypeError(`${owner} option "${name}" has no effect with adapt: false (the rate is fixed); remove one of them`);
    }
  }
}

/** `actualCost` is a function, and the bucket can settle it: a shared limiter must have `debit` and `refund`. */
function checkActualCost<T, R>(owner: string, config: AdaptiveThrottleConfig<T, R>): Settings<T, R>['actualCost'] {
  const { actualCost } = config;
  if (actualCost === undefined) return undefined;
  if (typeof actualCost !== 'function') {
    throw new TypeError(`${owner} option "actualCost" must be a function (result, value) => number, got ${describe(actualCost)}`);
  }
  if (isLimiter(config.bucket)) {
    const bucket = config.bucket as AdaptableLimiter;
    const missing = (['debit', 'refund'] as const).filter((method) => typeof bucket[method] !== 'function');
    if (missing.length > 0) {
      throw new TypeError(
        `${owner} option "actualCost" needs a bucket with debit() and refund() to settle real costs, as TokenBucket has; ` +
          `the "bucket" given lacks ${missing.map((method) => `${method}()`).join(' and ')}`,
      );
    }
  }
  return actualCost;
}
