/**
 * `adapt: false`: a fixed-rate executor. No response changes the bucket's rate; a throttled
 * one's `Retry-After` still pauses the bucket before the retry, through `bucket.adapt` with
 * nothing but `retryAfter` (which holds every grant until then, the bucket refilling meanwhile, and leaves the rate as it is).
 */
import type { RateLimitFeedback } from '../../arithmetic/adaptation';
import type { AdaptableLimiter } from './config';
import type { RateControl } from './RateLearner';

export class FixedRate implements RateControl {
  constructor(private readonly bucket: AdaptableLimiter) {}

  learn(): void {
    // The rate is the user's: successes teach nothing.
  }

  throttle(_request: unknown, feedback: RateLimitFeedback | undefined): void {
    const retryAfter = feedback?.retryAfter;
    // Checked finite and >= 0 by `toFeedback`; 0 asks for no pause.
    if (retryAfter !== undefined && retryAfter > 0) this.bucket.adapt({ retryAfter });
  }
}
