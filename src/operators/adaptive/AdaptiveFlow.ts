/**
 * One subscription of `adaptiveThrottle`: values queue for a request slot and tokens
 * (throttled ones retried first), requests go out when granted, and every response is
 * read for its feedback and handed to the `RateLearner`.
 */
import { from, type ObservableInput, type Subscriber } from 'rxjs';
import type { RateLimitFeedback } from '../../arithmetic/adaptation';
import { isThrottleError, toFeedback } from '../../http/responseFeedback';
import { checkCostWithin } from '../../shared/checks';
import { RateLimitExceededError } from '../../shared/errors';
import { SourceObserver } from '../SourceObserver';
import { Attempt, type AttemptOwner } from './Attempt';
import type { AdaptableLimiter, Settings } from './config';
import { RateLearner } from './RateLearner';

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
  private readonly learner: RateLearner;
  /** Set while `pump` runs: a synchronous grant and response re-enter it, and the running loop goes on instead. */
  private pumping = false;

  constructor(
    private readonly subscriber: Subscriber<R>,
    private readonly request: (value: T, index: number) => ObservableInput<R>,
    private readonly bucket: AdaptableLimiter,
    private readonly settings: Settings<T, R>,
  ) {
    super();
    this.learner = new RateLearner(bucket, settings);
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
        } catch (error) {
          this.fail(error);
          return;
        }
        if (throttled) {
          this.throttle(attempt, feedback, result);
          return;
        }
        // The server's numbers count this request already: only the others are unknown to it.
        this.learner.learn(attempt, feedback, this.inFlight.size - (this.inFlight.has(attempt) ? 1 : 0));
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

  /** A throttle signal: the learner slows down, and the value is retried (or, past `retry`, the stream errors). */
  private throttle(attempt: Attempt<T>, feedback: RateLimitFeedback | undefined, signal: unknown): void {
    this.inFlight.delete(attempt);
    attempt.request?.unsubscribe();
    attempt.request = null;
    this.learner.throttle(attempt, feedback, this.inFlight.size);
    attempt.throttled++;
    if (attempt.throttled > this.settings.retry) {
      const retryAfter = feedback?.retryAfter ?? this.bucket.timeUntil(attempt.cost);
      const error = new RateLimitExceededError(retryAfter, attempt.cost, 'retry-limit');
      (error as { cause?: unknown }).cause = signal;
      this.fail(error);
      return;
    }
    this.retries.push(attempt);
    this.pump();
  }

  private finished(attempt: Attempt<T>): void {
    if (!this.inFlight.delete(attempt)) return; // throttled: already re-queued
    attempt.request = null;
    this.pump();
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
    this.fresh.length = 0;
    this.freshHead = 0;
    this.retries.length = 0;
  }
}
