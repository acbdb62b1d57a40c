import {
  planAdaptation,
  type AdaptationPlan,
  type AdaptationSettings,
  type BucketShape,
  type RateLimitFeedback,
} from '../arithmetic/adaptation';
import { checkChoice, checkKnownKeys, checkNumberOption } from '../shared/checks';
import { describe } from '../shared/describe';

/** Settings of one `adapt` call. */
export interface AdaptOptions {
  /** Spend at most this share of what the server reports, in (0, 1]. Default 0.9. */
  safetyFactor?: number;
  /**
   * Bounds on the adapted `refillRate` (tokens per `interval`): `minRate` finite > 0 (default:
   * none, the rate only stays > 0), `maxRate` > 0 and at least `minRate` (default Infinity: then
   * one response without a policy raises the rate at most 16×, see `planAdaptation`).
   */
  minRate?: number;
  maxRate?: number;
  /** Requests sent but not yet answered: the server's `remaining` does not count them yet. Finite, >= 0. Default 0. */
  inFlight?: number;
}

const ADAPT_KEYS = ['safetyFactor', 'minRate', 'maxRate', 'inFlight'] as const;

/** `adapt`'s options with their defaults, checked: every limiter that adapts reads them here. */
export function checkAdaptOptions(owner: string, options: AdaptOptions): AdaptationSettings {
  checkKnownKeys(owner, options, ADAPT_KEYS);
  const safetyFactor = checkNumberOption(owner, 'safetyFactor', options.safetyFactor ?? 0.9, 'positive');
  if (safetyFactor > 1) {
    throw new RangeError(
      `${owner} option "safetyFactor" must be in (0, 1] (the share of the server's budget to spend), got ${safetyFactor}`,
    );
  }
  const minRate = options.minRate === undefined ? 0 : checkNumberOption(owner, 'minRate', options.minRate, 'positive');
  const maxRate = checkNumberOption(owner, 'maxRate', options.maxRate ?? Infinity, 'positive', true);
  if (minRate > maxRate) {
    throw new RangeError(`${owner} option "minRate" (${minRate}) exceeds "maxRate" (${maxRate}); write minRate <= maxRate`);
  }
  return { safetyFactor, minRate, maxRate, inFlight: checkNumberOption(owner, 'inFlight', options.inFlight ?? 0, 'non-negative') };
}

/** The numbers of a feedback object `adapt` reads. */
const FEEDBACK_NUMBERS = ['limit', 'remaining', 'resetAfter', 'window', 'retryAfter'] as const;

/**
 * Throws unless `feedback` is an object whose numbers (those present) are finite and >= 0 and
 * whose `refill` is absent or one of its two values; other keys (a parser's `name`, `budgets`)
 * are allowed and ignored. Errors name `owner`, the field and the value.
 */
export function checkFeedbackArgument(owner: string, feedback: unknown): asserts feedback is RateLimitFeedback {
  if (feedback === null || typeof feedback !== 'object') {
    throw new TypeError(
      `${owner}: feedback must be an object such as parseRateLimitHeaders returns (e.g. { remaining: 10, resetAfter: 1000 }), got ${describe(feedback)}`,
    );
  }
  for (const field of FEEDBACK_NUMBERS) {
    const value: unknown = (feedback as Record<string, unknown>)[field];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new (typeof value === 'number' ? RangeError : TypeError)(
        `${owner}: feedback.${field} must be a finite number >= 0 (or absent), got ${describe(value)}`,
      );
    }
  }
  const { refill } = feedback as RateLimitFeedback;
  if (refill !== undefined) checkChoice(`${owner} feedback`, 'refill', refill, ['at-reset', 'continuous'] as const);
}

/**
 * `adapt(feedback, options)` for a limiter now shaped `bucket`: checks both arguments (errors
 * name `owner`) and plans the change. Every limiter's `adapt` goes through here, so they
 * accept and refuse the same things.
 */
export function planLimiterAdaptation(
  owner: string,
  feedback: unknown,
  options: AdaptOptions,
  bucket: BucketShape,
): AdaptationPlan | undefined {
  checkFeedbackArgument(owner, feedback);
  return planAdaptation(feedback, bucket, checkAdaptOptions(owner, options));
}
