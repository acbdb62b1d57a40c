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
  /** Bounds on `refillRate` (tokens per `interval`, the bucket's own unit); `maxRate` may be Infinity. */
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
  /** Always finite, > 0 and within [minRate, maxRate] (and the finite bounds below). */
  readonly refillRate?: number;
  /** Lower the token count to this (never raise it: feedback never mints tokens). */
  readonly capTokens?: number;
  /** Grant nothing for this many ms from now, with the bucket emptied (refill goes on meanwhile, as the server's budget does). */
  readonly pauseFor?: number;
  /** Why, for `events$`. */
  readonly cause: string;
}

/** Largest count believed (`limit`, `remaining`): beyond 2^53 − 1 integers are not exact, and no budget is that large. */
export const MAX_FEEDBACK_COUNT = Number.MAX_SAFE_INTEGER;
/** Longest pause feedback can impose (a reset or Retry-After further away is read as this): 24 h. */
export const MAX_FEEDBACK_PAUSE_MS = 24 * 60 * 60 * 1000;
/** Longest policy window believed: 366 days (a longer one is ignored). */
export const MAX_FEEDBACK_WINDOW_MS = 366 * 24 * 60 * 60 * 1000;
/**
 * Without a policy and with `maxRate` Infinity, one response may raise the rate at most this
 * many times: a "remaining 1e15 before a reset in 1 ms" cannot make the rate absurd at once,
 * while a first guess 100× too slow is corrected within two responses.
 */
export const MAX_GROWTH_PER_RESPONSE = 16;
/**
 * The finest step of the bucket's clock, in ms: a rate refilling the whole capacity within it
 * cannot be told apart from a faster one, so no plan goes above it.
 */
const FINEST_STEP_MS = 0.001;
/** Resets in whole seconds (delta-seconds headers) are rounded: the budget may come back up to this much sooner. */
const RESET_GRAIN_MS = 1000;

/**
 * Plans the bucket's response to one piece of feedback:
 * - `retryAfter`: pause for that long (the server's explicit word wins).
 * - `limit` L per `window` W (a policy): rate `p = L/W·safetyFactor`. That is a ceiling: with a
 *   policy known no rule below spends faster than `p`, so no window W of the flow spends more
 *   than `L·safetyFactor` plus the bucket's capacity.
 * - `remaining` R with `resetAfter` Δ: spend at most `R·safetyFactor − inFlight` before the
 *   reset. Without a policy the token count is capped to it and the rate set to spread the
 *   rest over Δ; nothing usable left (less than one unit) pauses until the reset. With a
 *   policy the reset is read as an upper bound at one-second grain (a whole-second Δ may come
 *   up to a second sooner): the rest is spread over the earliest the reset may come, and the
 *   rate is never below `p` for want of a precise reset — in the last second before it, only
 *   the count is capped (to what is usable, in debt if the requests in flight take more).
 * - a `'continuous'` budget (refilled as spent, full at the reset): rate `p`, holding at most
 *   `R·safetyFactor − inFlight` tokens.
 *
 * Every number is checked finite and clamped first: counts to [0, 2^53 − 1] (`remaining` to at
 * most `limit`), pauses to 24 h, windows to 366 days. Rates are clamped to [minRate, maxRate]
 * and to finite bounds: at most the policy rate when there is one, else the current rate ×
 * `MAX_GROWTH_PER_RESPONSE` (when `maxRate` is Infinity), and never above the rate that
 * refills the whole capacity within 1 µs. Feedback that says nothing usable yields no change.
 */
export function planAdaptation(feedback: RateLimitFeedback, bucket: BucketShape, settings: AdaptationSettings): AdaptationPlan | undefined {
  const { limit, remaining, resetAfter, window, retryAfter } = boundedFeedback(feedback);
  const { safetyFactor } = settings;
  const { interval, available } = bucket;
  const inFlight = Number.isFinite(settings.inFlight) && settings.inFlight > 0 ? settings.inFlight : 0;
  const rates = new RateBounds(bucket, settings);
  const policyRate = limit !== undefined && window !== undefined ? rates.clamp(((limit * safetyFactor) / window) * interval) : undefined;
  const ceiling = policyRate ?? rates.growthCeiling;

  if (retryAfter !== undefined && retryAfter > 0) {
    return withRate({ pauseFor: retryAfter, cause: 'retry-after' }, policyRate);
  }
  if (remaining === undefined) return policyRate === undefined ? undefined : withRate({ cause: 'policy' }, policyRate);
  const usable = remaining * safetyFactor - inFlight;

  if (feedback.refill === 'continuous' && policyRate !== undefined) {
    // The budget refills as it is spent: pace at the policy rate, holding no more than what is left
    // (in debt when less than one unit is left, so the next request waits for the server's refill).
    return withRate({ capTokens: Math.min(available, usable < 1 ? usable - 1 : usable), cause: 'continuous-budget' }, policyRate);
  }
  if (resetAfter === undefined || resetAfter <= 0) {
    return policyRate === undefined ? undefined : withRate({ cause: 'policy' }, policyRate);
  }

  if (policyRate === undefined) {
    if (usable < 1) return { pauseFor: resetAfter, cause: 'budget-exhausted' }; // nothing left before the reset: wait it out
    // Keep at most usable − 1 tokens in hand and spread the rest (at least one unit) over
    // the time to the reset: tokens + rate·Δ = usable, and the rate never reaches zero.
    const capTokens = Math.min(available, usable - 1);
    const spread = ((usable - capTokens) / resetAfter) * interval;
    return withRate({ capTokens, cause: 'remaining-budget' }, rates.clamp(Math.min(spread, ceiling)));
  }

  const earliestReset = resetAfter % RESET_GRAIN_MS === 0 ? resetAfter - RESET_GRAIN_MS : resetAfter;
  if (earliestReset <= 0) {
    // The reset may be due any moment: pace at the policy rate with no more in hand than is usable.
    return withRate({ capTokens: Math.min(available, usable), cause: 'remaining-budget' }, policyRate);
  }
  if (usable < 1) return withRate({ pauseFor: resetAfter, cause: 'budget-exhausted' }, policyRate);
  const capTokens = Math.min(available, usable - 1);
  const spread = ((usable - capTokens) / earliestReset) * interval;
  return withRate({ capTokens, cause: 'remaining-budget' }, rates.clamp(Math.min(spread, policyRate)));
}

/** The plan with `refillRate` set when `rate` is usable: finite and > 0, also per ms. */
function withRate(plan: AdaptationPlan, rate: number | undefined): AdaptationPlan {
  return rate === undefined ? plan : { ...plan, refillRate: rate };
}

/** [minRate, maxRate], narrowed to finite bounds a plan never leaves. */
class RateBounds {
  private readonly floor: number;
  private readonly top: number;
  private readonly interval: number;
  /** Without a policy, the most one response may raise the rate to. */
  readonly growthCeiling: number;

  constructor(bucket: BucketShape, settings: AdaptationSettings) {
    const current = bucket.refillRate;
    this.interval = bucket.interval;
    this.floor = Number.isFinite(settings.minRate) && settings.minRate > 0 ? settings.minRate : 0;
    const fastest = (bucket.capacity / FINEST_STEP_MS) * bucket.interval;
    const top = Math.min(settings.maxRate, fastest);
    // An overflowed bound (a capacity or interval near 1e308) leaves the current rate as the bound.
    this.top = Math.max(this.floor, Number.isFinite(top) && top > 0 ? top : current);
    const grown = settings.maxRate === Number.POSITIVE_INFINITY ? current * MAX_GROWTH_PER_RESPONSE : this.top;
    this.growthCeiling = Number.isFinite(grown) && grown > 0 ? Math.min(grown, this.top) : this.top;
  }

  /** `rate` within the bounds, or undefined when it is not a usable rate (NaN, 0, or 0 per ms after rounding). */
  clamp(rate: number): number | undefined {
    if (Number.isNaN(rate)) return undefined;
    const bounded = Math.max(this.floor, Math.min(this.top, rate));
    const perMs = bounded / this.interval;
    return bounded > 0 && Number.isFinite(bounded) && perMs > 0 && Number.isFinite(perMs) ? bounded : undefined;
  }
}

interface BoundedFeedback {
  limit?: number;
  remaining?: number;
  resetAfter?: number;
  window?: number;
  retryAfter?: number;
}

/** The feedback's numbers, each finite and within its range, or absent. */
function boundedFeedback(feedback: RateLimitFeedback): BoundedFeedback {
  const limit = within(feedback.limit, MAX_FEEDBACK_COUNT);
  const remaining = within(feedback.remaining, MAX_FEEDBACK_COUNT);
  const window = within(feedback.window, MAX_FEEDBACK_WINDOW_MS, false);
  return {
    limit,
    remaining: remaining !== undefined && limit !== undefined ? Math.min(remaining, limit) : remaining,
    resetAfter: within(feedback.resetAfter, MAX_FEEDBACK_PAUSE_MS),
    window: window !== undefined && window > 0 ? window : undefined,
    retryAfter: within(feedback.retryAfter, MAX_FEEDBACK_PAUSE_MS),
  };
}

/** A finite number >= 0, clamped to `max` (or, unless `clampAbove`, dropped beyond it); undefined otherwise. */
function within(value: unknown, max: number, clampAbove = true): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return undefined;
  return value > max && !clampAbove ? undefined : Math.min(value, max);
}
