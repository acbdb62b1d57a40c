/**
 * What a response does to the rate of `adaptiveThrottle`'s bucket: feedback with a budget
 * retunes it through `bucket.adapt`; without any, the rate is searched for (AIMD: raised on
 * successes the rate held back, lowered on throttle signals), within [minRate, maxRate].
 */
import type { RateLimitFeedback } from '../../arithmetic/adaptation';
import { AimdRateSearch } from '../../arithmetic/aimd';
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

type LearningSettings = Pick<Settings<unknown, unknown>, 'safetyFactor' | 'minRate' | 'maxRate' | 'decrease' | 'increase'>;

export class RateLearner implements RateControl {
  private readonly minRate: number;
  /** Without headers, the rate is searched for (AIMD). */
  private readonly rateSearch: AimdRateSearch;

  constructor(
    private readonly bucket: AdaptableLimiter,
    private readonly settings: LearningSettings,
  ) {
    this.minRate = settings.minRate ?? bucket.refillRate / 1000;
    this.rateSearch = new AimdRateSearch({ decrease: settings.decrease, increase: settings.increase, interval: bucket.interval ?? 1000 });
  }

  /**
   * A success: adapt to its feedback, or without any, raise the rate (AIMD). `unanswered`:
   * the cost of the other requests in flight, which the server's numbers do not count yet.
   */
  learn(request: Outcome, feedback: RateLimitFeedback | undefined, unanswered: number): void {
    if (feedback !== undefined && hasBudgetInfo(feedback)) {
      this.bucket.adapt(feedback, this.adaptOptions(unanswered));
      return;
    }
    this.rateSearch.recordOutcome(false, request.charged, this.bucket.scheduler.now());
    // Raise the rate only when it held this request back: a rate nobody runs into proves nothing.
    if (!request.waitedForTokens) return;
    this.setRate(this.rateSearch.afterSuccess(this.bucket.refillRate));
  }

  /** A throttle signal: pause for Retry-After (or as the budget says); without a limit in the feedback, decrease (AIMD). */
  throttle(request: Outcome, feedback: RateLimitFeedback | undefined, unanswered: number): void {
    if (feedback !== undefined && (hasBudgetInfo(feedback) || feedback.retryAfter !== undefined)) {
      this.bucket.adapt(feedback, this.adaptOptions(unanswered));
    }
    // A bare 429, or one that only says when to come back, says nothing of the rate: search for it.
    if (feedback === undefined || !describesLimit(feedback)) {
      const now = this.bucket.scheduler.now();
      this.rateSearch.recordOutcome(true, request.charged, now);
      this.setRate(this.rateSearch.afterThrottle(this.bucket.refillRate, request.sentAt, now));
    }
  }

  private setRate(rate: number): void {
    const clamped = Math.min(this.settings.maxRate, Math.max(this.minRate, rate));
    if (clamped !== this.bucket.refillRate) this.bucket.configure({ refillRate: clamped });
  }

  private adaptOptions(inFlight: number): AdaptOptions {
    return { safetyFactor: this.settings.safetyFactor, minRate: this.minRate, maxRate: this.settings.maxRate, inFlight };
  }
}
