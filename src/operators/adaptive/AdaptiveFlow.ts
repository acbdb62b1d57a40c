/**
 * One subscription of `adaptiveThrottle`: values queue for a request slot and tokens
 * (throttled ones retried first), requests go out when granted, and every response is
 * read for its feedback and handed to the `RateLearner` (or, with `adapt: false`, to
 * `FixedRate`); with `actualCost`, its real cost is settled first (`CostSettlement`).
 */
import { from, type ObservableInput, type Subscriber } from 'rxjs';
import type { RateLimitFeedback } from '../../arithmetic/adaptation';
import { isThrottleError, toFeedback } from '../../http/responseFeedback';
import { checkCostWithin } from '../../shared/checks';
import { RateLimitExceededError } from '../../shared/errors';
import { SourceObserver } from '../SourceObserver';
import { Attempt, type AttemptOwner } from './Attempt';
import type { AdaptableLimiter, Settings } from './config';
import { CostSettlement } from './CostSettlement';
import { FixedRate } from './FixedRate';
import { RateLearner, type RateControl } from './RateLearner';

export class AdaptiveFlow<T, R> extends SourceObserver<T> implements AttemptOwner<T> {
  private index = 0;
  private sourceDone = false;
  /** Values not yet asked for tokens, and throttled ones waiting for another try (served first). */
  private readonly fresh: Attempt<T>[] = [];
  private freshHead = 0;
  private readonly retries: Attempt<T>[] = [];
  /** Asked for tokens, not yet granted. */
  private readonly asking = new Set<Attempt<T>>();
  private readonly inFlight = new Set<Attempt<T>>();
  /** The cost the requests in flight took: what the server's numbers may not count yet. */
  private inFlightCost = 0;
  private readonly learner: RateControl;
  private readonly settlement: CostSettlement<T, R> | undefined;
  /** Set while `pump` runs: a synchronous grant and response re-enter it, and the running loop goes on instead. */
  private pumping = false;

  constructor(
    private readonly subscriber: Subscriber<R>,
    private readonly request: (value: T, index: number) => ObservableInput<R>,
    private readonly bucket: AdaptableLimiter,
    private readonly settings: Settings<T, R>,
  ) {
    super();
    this.learner = settings.adapt ? new RateLearner(bucket, settings) : new FixedRate(bucket);
    this.settlement = settings.actualCost === undefined ? undefined : new CostSettlement(bucket, settings.actualCost);
  }

  arrive(value: T): void {
    if (this.subscriber.closed) return;
    const index = this.index++;
    const { costOf } = this.settings;
    let cost: number;
    try {
      cost = typeof costOf === 'number' ? costOf : costOf(value, index);
      checkCostWithin(cost, this.bucket.capacity);
    } catch (error) {
      this.fail(error);
      return;
    }
    if (this.waiting() >= this.settings.maxQueue) {
      this.fail(new RateLimitExceededError(this.bucket.timeUntil(cost), cost, 'max-queue'));
      return;
    }
    this.fresh.push(new Attempt(value, index, cost, this));
    this.pump();
  }

  sourceCompleted(): void {
    this.sourceDone = true;
    this.completeIfDone();
  }

  /** Asks for tokens for as many waiting values as free request slots allow, retries first. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.subscriber.closed && this.inFlight.size + this.asking.size < this.settings.concurrency) {
        const next = this.retries.length > 0 ? this.retries.shift()! : this.takeFresh();
        if (next === undefined) break;
        this.asking.add(next);
        next.askedAt = this.bucket.scheduler.now();
        this.bucket.enqueue(next, Infinity);
      }
    } finally {
      this.pumping = false;
    }
    this.completeIfDone();
  }

  private takeFresh(): Attempt<T> | undefined {
    if (this.freshHead >= this.fresh.length) return undefined;
    const next = this.fresh[this.freshHead]!;
    this.fresh[this.freshHead++] = undefined as never; // let it be collected
    if (this.freshHead > 1024 && this.freshHead * 2 > this.fresh.length) {
      this.fresh.splice(0, this.freshHead);
      this.freshHead = 0;
    }
    return next;
  }

  private waiting(): number {
    return this.fresh.length - this.freshHead + this.retries.length;
  }

  /** Tokens granted: send the request. */
  send(attempt: Attempt<T>): void {
    this.asking.delete(attempt);
    if (this.subscriber.closed) return;
    this.inFlight.add(attempt);
    this.inFlightCost += attempt.cost;
    attempt.charged = attempt.cost;
    attempt.results = 0;
    attempt.sentAt = this.bucket.scheduler.now();
    // Held back by the rate, not by a server's pause (which proves nothing about the rate).
    attempt.waitedForTokens = attempt.sentAt > attempt.askedAt && attempt.askedAt >= (this.bucket.pausedUntil ?? Number.NEGATIVE_INFINITY);
    let input: ObservableInput<R>;
    try {
      input = this.request(attempt.value, attempt.index);
    } catch (error) {
      this.fail(error);
      return;
    }
    let throttled = false;
    const subscription = from(input).subscribe({
      next: (result) => {
        if (throttled) return;
        let feedback: RateLimitFeedback | undefined;
        try {
          // The user's callbacks: a throw ends the stream with it (not an unhandled error).
          throttled = this.settings.isThrottled(result);
          feedback = toFeedback(this.settings.feedback(result), this.settings.wallClock);
          // Settled before the feedback is applied: the server's numbers count the real cost already.
          if (!throttled) this.settlement?.settle(attempt, result);
        } catch (error) {
          this.fail(error);
          return;
        }
        if (throttled) {
          this.throttle(attempt, feedback, result);
          return;
        }
        if (this.subscriber.closed) return; // a grant the settlement made re-entered and ended the stream
        // The server's numbers count this request already: only the others are unknown to it.
        this.learner.learn(attempt, feedback, this.inFlightCostBesides(attempt));
        this.subscriber.next(result);
      },
      error: (error: unknown) => {
        let feedback: RateLimitFeedback | undefined;
        try {
          feedback = toFeedback(this.settings.feedbackFromError(error), this.settings.wallClock);
        } catch (callbackError) {
          this.fail(callbackError);
          return;
        }
        if (isThrottleError(error, feedback)) this.throttle(attempt, feedback, error);
        else this.fail(error);
      },
      complete: () => this.finished(attempt),
    });
    if (attempt.request === null && !subscription.closed) attempt.request = subscription;
  }

  /**
   * A throttle signal: the learner slows down (or pauses for Retry-After), the attempt's
   * tokens are given back with `actualCost`, and the value is retried (or, past `retry`, the
   * stream errors).
   */
  private throttle(attempt: Attempt<T>, feedback: RateLimitFeedback | undefined, signal: unknown): void {
    this.leaveFlight(attempt);
    attempt.request?.unsubscribe();
    attempt.request = null;
    this.learner.throttle(attempt, feedback, this.inFlightCost);
    attempt.throttled++;
    if (attempt.throttled > this.settings.retry) {
      const retryAfter = feedback?.retryAfter ?? this.bucket.timeUntil(attempt.cost);
      const error = new RateLimitExceededError(retryAfter, attempt.cost, 'retry-limit');
      (error as { cause?: unknown }).cause = signal;
      this.settlement?.release(attempt);
      this.fail(error);
      return;
    }
    // Queued for its retry before its tokens go back: a grant they allow at once finds it first in line.
    this.retries.push(attempt);
    this.settlement?.release(attempt);
    this.pump();
  }

  private finished(attempt: Attempt<T>): void {
    if (!this.leaveFlight(attempt)) return; // throttled: already re-queued
    attempt.request = null;
    this.pump();
  }

  private leaveFlight(attempt: Attempt<T>): boolean {
    if (!this.inFlight.delete(attempt)) return false;
    // Never below 0, and 0 when nothing is in flight: float error cannot build up over a long run.
    const left = this.inFlightCost - attempt.cost;
    this.inFlightCost = this.inFlight.size === 0 || left < 0 ? 0 : left;
    return true;
  }

  private inFlightCostBesides(attempt: Attempt<T>): number {
    const others = this.inFlightCost - (this.inFlight.has(attempt) ? attempt.cost : 0);
    return others > 0 ? others : 0;
  }

  private completeIfDone(): void {
    if (this.sourceDone && this.waiting() === 0 && this.asking.size === 0 && this.inFlight.size === 0) {
      this.subscriber.complete();
    }
  }

  fail(error: unknown): void {
    this.withdrawAll();
    this.subscriber.error(error);
  }

  /** Cancels requests in flight and withdraws waiting values. */
  withdrawAll(): void {
    for (const attempt of this.asking) this.bucket.cancel(attempt);
    this.asking.clear();
    for (const attempt of this.inFlight) attempt.request?.unsubscribe();
    this.inFlight.clear();
    this.inFlightCost = 0;
    this.fresh.length = 0;
    this.freshHead = 0;
    this.retries.length = 0;
  }
}
