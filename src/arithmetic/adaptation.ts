/**
 * How a bucket retunes itself from a server's rate-limit feedback: pure arithmetic from
 * (feedback, current limits, requests in flight) to a plan. `TokenBucket.adapt` applies
 * the plan; `adaptiveThrottle` feeds it every response. Units: the bucket's own tokens
 * (one server unit — a request, or a model token for a token budget — per token).
 */

/** What a server said about its limit; the shape `parseRateLimitHeaders` returns. */
export interface RateLimitFeedback {
  /** The budget per window. */
  readonly limit?: number;
  /** What is left of it now. */
  readonly remaining?: number;
  /** Ms until the budget is restored. */
  readonly resetAfter?: number;
  /** The window's length in ms (from a policy such as `RateLimit-Policy: 100;w=60`). */
  readonly window?: number;
  /** Ms the server asked the client to wait (`Retry-After`); takes precedence over everything else. */
  readonly retryAfter?: number;
  /**
   * How the budget comes back: all at once at the reset (`'at-reset'`, the default reading), or
   * continuously until full at `resetAfter` (`'continuous'`: OpenAI, Anthropic).
   */
  readonly refill?: 'at-reset' | 'continuous';
}

export interface AdaptationSettings {
  /** Aim below what the server grants: spend at most this share of what it reports. Default 0.9. */
  readonly safetyFactor: number;
  /** Bounds on `refillRate` (tokens per `interval`, the bucket's own unit). */
  readonly minRate: number;
  readonly maxRate: number;
  /** Requests already sent whose effect the server's numbers do not show yet. */
  readonly inFlight: number;
}

export interface BucketShape {
  readonly capacity: number;
  readonly refillRate: number;
  readonly interval: number;
  /** Tokens now. */
  readonly available: number;
}

/** What to change; absent fields stay as they are. */
export interface AdaptationPlan {
  readonly refillRate?: number;
  /** Lower the token count to this (never raise it: feedback never mints tokens). */
  readonly capTokens?: number;
  /** Hold all refill for this many ms from now, with the bucket emptied. */
  readonly pauseFor?: number;
  /** Why, for `events$`. */
  readonly cause: string;
}

/**
 * Plans the bucket's response to one piece of feedback:
 * - `retryAfter`: pause for that long (the server's explicit word wins).
 * - `remaining` R with `resetAfter` Δ: spend at most `R·safetyFactor − inFlight` before the
 *   reset — the token count is capped to it and the refill rate set to spread the rest over
 *   Δ; nothing usable left (R = 0) pauses the bucket until the reset.
 * - `limit` L per `window` W (a policy): rate `L/W·safetyFactor`.
 * - a `'continuous'` budget (refilled as spent, full at the reset): rate `L/W·safetyFactor`,
 *   holding at most `R·safetyFactor − inFlight` tokens.
 * Rates are clamped to [minRate, maxRate]; feedback that says nothing usable yields no change.
 */
export function planAdaptation(feedback: RateLimitFeedback, bucket: BucketShape, settings: AdaptationSettings): AdaptationPlan | undefined {
  const { safetyFactor, inFlight } = settings;
  const clampRate = (rate: number): number => Math.min(settings.maxRate, Math.max(settings.minRate, rate));
  const policyRate =
    isPositive(feedback.limit) && isPositive(feedback.window)
      ? clampRate(((feedback.limit * safetyFactor) / feedback.window) * bucket.interval)
      : undefined;

  if (isPositive(feedback.retryAfter)) {
    return { pauseFor: feedback.retryAfter, refillRate: policyRate, cause: 'retry-after' };
  }

  if (feedback.refill === 'continuous' && isFiniteNonNegative(feedback.remaining) && policyRate !== undefined) {
    // The budget refills as it is spent: pace at the policy rate, holding no more than what is left
    // (in debt when less than one unit is left, so the next request waits for the server's refill).
    const usable = feedback.remaining * safetyFactor - inFlight;
    return { capTokens: Math.min(bucket.available, usable < 1 ? usable - 1 : usable), refillRate: policyRate, cause: 'continuous-budget' };
  }

  if (isFiniteNonNegative(feedback.remaining) && isPositive(feedback.resetAfter)) {
    const usable = feedback.remaining * safetyFactor - inFlight;
    if (usable < 1) {
      // Nothing (or less than one unit) left before the reset: wait it out.
      return { pauseFor: feedback.resetAfter, refillRate: policyRate, cause: 'budget-exhausted' };
    }
    // Keep at most usable − 1 tokens in hand and spread the rest (at least one unit) over
    // the time to the reset: tokens + rate·Δ = usable, and the rate never reaches zero.
    const capTokens = Math.min(bucket.available, usable - 1);
    const spread = ((usable - capTokens) / feedback.resetAfter) * bucket.interval;
    return { capTokens, refillRate: clampRate(spread), cause: 'remaining-budget' };
  }

  if (policyRate !== undefined) return { refillRate: policyRate, cause: 'policy' };
  return undefined;
}

function isPositive(value: number | undefined): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

function isFiniteNonNegative(value: number | undefined): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}
