/**
 * Costs known only after the call (`actualCost`): each result's real cost is read and checked,
 * and the difference to what its request has been charged is debited (into debt if need be)
 * or refunded at once; a throttled attempt, which the server did not count, is given back.
 */
import { settleDifference } from '../../limiters/acquire';
import { describe } from '../../shared/describe';
import type { Attempt } from './Attempt';
import type { AdaptableLimiter } from './config';

/** A bucket that can settle: `checkConfig` made sure of both methods. */
type SettlingLimiter = AdaptableLimiter & Required<Pick<AdaptableLimiter, 'debit' | 'refund'>>;

export class CostSettlement<T, R> {
  private readonly bucket: SettlingLimiter;

  constructor(
    bucket: AdaptableLimiter,
    private readonly actualCost: (result: R, value: T) => number,
  ) {
    this.bucket = bucket as SettlingLimiter;
  }

  /**
   * A successful result of `attempt`: its real cost is what `actualCost` says (summed over the
   * request's results), and the bucket is settled to it. Throws a `TypeError`/`RangeError`
   * naming `actualCost` and what it returned (or threw), before anything is settled.
   */
  settle(attempt: Attempt<T>, result: R): void {
    const real = this.readCost(attempt, result);
    const target = (attempt.results === 0 ? 0 : attempt.charged) + real;
    if (!Number.isFinite(target)) {
      throw new RangeError(`adaptiveThrottle: actualCost's costs for value #${attempt.index} add up to ${describe(target)}`);
    }
    const charged = attempt.charged;
    attempt.charged = target;
    attempt.results++;
    settleDifference(this.bucket, charged, target);
  }

  /**
   * A throttled attempt: the server did not count its tokens, so what it took is given back
   * (none once a result of it was settled: the server served that). Called after the
   * throttle's pause is in force, so the tokens given back cannot let anything out before it ends.
   */
  release(attempt: Attempt<T>): void {
    if (attempt.results > 0 || attempt.charged === 0) return;
    const taken = attempt.charged;
    attempt.charged = 0;
    this.bucket.refund(taken);
  }

  private readCost(attempt: Attempt<T>, result: R): number {
    let real: unknown;
    try {
      real = this.actualCost(result, attempt.value);
    } catch (error) {
      const reason = error instanceof Error ? error.message : describe(error);
      throw new TypeError(`adaptiveThrottle: actualCost threw for the result of value #${attempt.index}: ${reason}`, { cause: error });
    }
    if (typeof real !== 'number') {
      throw new TypeError(
        `adaptiveThrottle: actualCost must return a number, got ${describe(real)} for the result of value #${attempt.index}`,
      );
    }
    if (!Number.isFinite(real) || real < 0) {
      throw new RangeError(
        `adaptiveThrottle: actualCost must return a finite number >= 0, got ${describe(real)} for the result of value #${attempt.index}`,
      );
    }
    return real;
  }
}
