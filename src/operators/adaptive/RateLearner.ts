/**
 * What a response does to the rate of `adaptiveThrottle`'s bucket: feedback with a budget
 * retunes it through `bucket.adapt`; without any, the rate is searched for (`RateSearch`:
 * lowered on throttle signals, raised on successes the rate held back), within [minRate,
 * maxRate]. No evidence, no increase: without headers the rate never rises above
 * `evidenceFreeMaxRate` (the user's `maxRate` if given, else the starting rate).
 */
import type { RateLimitFeedback } from '../../arithmetic/adaptation';
import { RateSearch } from '../../arithmetic/rateSearch';
import { describesLimit, hasBudgetInfo } from '../../http/responseFeedback';
import type { AdaptOptions } from '../../limiters/adaptOptions';
import type { Attempt } from './Attempt';
import type { AdaptableLimiter, Settings } from './config';

/** What the learner reads of a request: `charged` is its real cost once settled (`actualCost`), else its cost. */
type Outcome = Pick<Attempt<unknown>, 'charged' | 'sentAt' | 'waitedForTokens'>;

/** What a response does to the rate: `RateLearner` adapts it; `FixedRate` (`adapt: false`) only pauses for Retry-After. */
export interface RateControl {
  /** A success; `unanswered`: the cost of the other requests in flight, which the server's numbers do not count yet. */
  learn(request: Outcome, feedback: RateLimitFeedback | undefined, unanswered: number): void;
  /** A throttle signal (the request is no longer in flight). */
  throttle(request: Outcome, feedback: RateLimitFeedback | undefined, unanswered: number): void;
}

type LearningSettings = Pick<
  Settings<unknown, unknown>,
  'safetyFactor' | 'minRate' | 'maxRate' | 'evidenceFreeMaxRate' | 'decrease' | 'increase'
>;

export class RateLearner implements RateControl {
  private readonly minRate: number;
  /** Without rate-limit headers, increases stop here. */
  private readonly evidenceFreeMaxRate: number;
  private readonly rateSearch: RateSearch;

  constructor(
    private readonly bucket: AdaptableLimiter,
    private readonly settings: LearningSettings,
  ) {
    this.minRate = settings.minRate ?? bucket.refillRate / 1000;
    // The user's maxRate (Infinity if they wrote so), else the starting rate (config.ts); within the bounds here too.
    this.evidenceFreeMaxRate = Math.min(settings.maxRate, Math.max(this.minRate, settings.evidenceFreeMaxRate));
    this.rateSearch = new RateSearch({
      decrease: settings.decrease,
      increase: settings.increase,
      interval: bucket.interval ?? 1000,
      minRate: this.minRate,
      maxRate: Math.max(this.minRate, settings.maxRate),
    });
    // A shared bucket may start outside this flow's bounds: nothing without headers would pull it back.
    this.setRate(bucket.refillRate);
  }

  /**
   * A success: adapt to its feedback, or without any, raise the rate (up to the evidence-free
   * ceiling). `unanswered`: the cost of the other requests in flight, which the server's numbers do not count yet.
   */
  learn(request: Outcome, feedback: RateLimitFeedback | undefined, unanswered: number): void {
    if (feedback !== undefined && hasBudgetInfo(feedback)) {
      this.bucket.adapt(feedback, this.adaptOptions(unanswered));
      return;
    }
    const now = this.bucket.scheduler.now();
    this.rateSearch.recordOutcome(false, request.charged, now);
    // Raise the rate only when it held this request back: a rate nobody runs into proves nothing.
    const rate = this.bucket.refillRate;
    if (!request.waitedForTokens || rate >= this.evidenceFreeMaxRate) return;
    this.setRate(Math.min(this.evidenceFreeMaxRate, this.rateSearch.afterSuccess(rate, now)));
  }

  /** A throttle signal: pause for Retry-After (or as the budget says); without a limit in the feedback, decrease. */
  throttle(request: Outcome, feedback: RateLimitFeedback | undefined, unanswered: number): void {
    if (feedback !== undefined && (hasBudgetInfo(feedback) || feedback.retryAfter !== undefined)) {
      this.bucket.adapt(feedback, this.adaptOptions(unanswered));
    }
    // A bare 429, or one that only says when to come back, says nothing of the rate: search for it.
    if (feedback === undefined || !describesLimit(feedback)) {
      const now = this.bucket.scheduler.now();
      this.rateSearch.recordOutcome(true, request.charged, now);
      // A Retry-After the bucket now pauses for paces the recovery itself (see RateSearch).
      const paced = (this.bucket.pausedUntil ?? Number.NEGATIVE_INFINITY) > now;
      this.setRate(this.rateSearch.afterThrottle(this.bucket.refillRate, request.sentAt, now, paced));
    }
  }

  private setRate(rate: number): void {
    const clamped = Math.min(this.settings.maxRate, Math.max(this.minRate, rate));
    if (Number.isFinite(clamped) && clamped !== this.bucket.refillRate) this.bucket.configure({ refillRate: clamped });
  }

  private adaptOptions(inFlight: number): AdaptOptions {
    return { safetyFactor: this.settings.safetyFactor, minRate: this.minRate, maxRate: this.settings.maxRate, inFlight };
  }
}
