/**
 * One subscription of `adaptiveThrottle`: values queue for a request slot and tokens
 * (throttled ones retried first), requests go out when granted, and every response is
 * read for its feedback and handed to the `RateLearner` (or, with `adapt: false`, to
 * `FixedRate`); with `actualCost`, its real cost is settled first (`CostSettlement`).
 */
import { from, type Observable, type ObservableInput, type Subscriber } from 'rxjs';
import type { RateLimitFeedback } from '../../arithmetic/adaptation';
import { isThrottleError, toFeedback } from '../../http/responseFeedback';
import { describe } from '../../shared/describe';
import { RateLimitExceededError } from '../../shared/errors';
import { costOfValue } from '../refusalSettings';
import { SourceObserver } from '../SourceObserver';
import { Attempt, AttemptRequest, type AttemptOwner } from './Attempt';
import type { AdaptableLimiter, Settings } from './config';
import { CostSettlement } from './CostSettlement';
import { FixedRate } from './FixedRate';
import { RateLearner, type RateControl } from './RateLearner';

export class AdaptiveFlow<T, R> extends SourceObserver<T> implements AttemptOwner<T, R> {
  private index = 0;
  private sourceDone = false;
  /** Values not yet asked for tokens, and throttled ones waiting for another try (served first). */
  private readonly fresh: Attempt<T, R>[] = [];
  private freshHead = 0;
  private readonly retries: Attempt<T, R>[] = [];
  /** Asked for tokens, not yet granted. */
  private readonly asking = new Set<Attempt<T, R>>();
  private readonly inFlight = new Set<Attempt<T, R>>();
  /** The cost the requests in flight took: what the server's numbers may not count yet. */
  private inFlightCost = 0;
  private readonly learner: RateControl;
  private readonly settlement: CostSettlement<T, R> | undefined;
  /** Set while `pump` runs: a synchronous grant and response re-enter it, and the running loop goes on instead. */
  private pumping = false;

  constructor(
    private readonly subscriber: Subscriber<R>,
    private readonly request: (value: T, index: number, signal: AbortSignal) => ObservableInput<R>,
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
    let cost: number;
    try {
      cost = costOfValue('adaptiveThrottle', this.settings.costOf, value, index, this.bucket.capacity);
    } catch (error) {
      this.fail(error);
      return;
    }
    if (this.waiting() >= this.settings.maxQueue) {
      this.fail(new RateLimitExceededError(this.bucket.timeUntil(cost), cost, 'max-queue'));
      return;
    }
    this.fresh.push(new Attempt<T, R>(value, index, cost, this));
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

  private takeFresh(): Attempt<T, R> | undefined {
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
  send(attempt: Attempt<T, R>): void {
    this.asking.delete(attempt);
    if (this.subscriber.closed) return;
    this.inFlight.add(attempt);
    this.inFlightCost += attempt.cost;
    attempt.charged = attempt.cost;
    attempt.results = 0;
    attempt.sentAt = this.bucket.scheduler.now();
    // Held back by the rate, not by a server's pause (which proves nothing about the rate).
    attempt.waitedForTokens = attempt.sentAt > attempt.askedAt && attempt.askedAt >= (this.bucket.pausedUntil ?? Number.NEGATIVE_INFINITY);
    // A try of its own: whatever an earlier try of this value still says is not this one's.
    const request = new AttemptRequest(attempt, this);
    attempt.request = request;
    let answers: Observable<R>;
    try {
      answers = this.requestOf(attempt, request.signal);
    } catch (error) {
      this.fail(error);
      return;
    }
    const subscription = answers.subscribe(request);
    if (subscription !== request) request.add(subscription); // had RxJS wrapped it, releasing it still ends the request
  }

  /** The user's `request` for the attempt's value, as an Observable; throws naming the value for anything else. */
  private requestOf(attempt: Attempt<T, R>, signal: AbortSignal): Observable<R> {
    const input = this.request(attempt.value, attempt.index, signal);
    try {
      return from(input);
    } catch (error) {
      throw new TypeError(
        `adaptiveThrottle: request(value #${attempt.index}) returned ${describe(input)}, which is not an ObservableInput; ` +
          'return an Observable, a Promise or an array, e.g. (value, index, signal) => defer(() => fetch(url, { signal }))',
        { cause: error },
      );
    }
  }

  /** A result of the try `request`: a throttle signal, or a success to learn from and emit. */
  answered(request: AttemptRequest<T, R>, result: R): void {
    const { attempt } = request;
    if (attempt.request !== request || this.subscriber.closed) return;
    let feedback: RateLimitFeedback | undefined;
    let throttled: boolean;
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
    try {
      // The server's numbers count this request already: only the others are unknown to it.
      this.learner.learn(attempt, feedback, this.inFlightCostBesides(attempt));
    } catch (error) {
      this.fail(error); // a learner's or bucket's throw ends the stream, never escapes as uncaught
      return;
    }
    this.subscriber.next(result);
  }

  /** The try `request` errored: a throttle signal (429/503, Retry-After) retries, anything else ends the stream. */
  requestFailed(request: AttemptRequest<T, R>, error: unknown): void {
    const { attempt } = request;
    if (attempt.request !== request) return;
    let feedback: RateLimitFeedback | undefined;
    try {
      feedback = toFeedback(this.settings.feedbackFromError(error), this.settings.wallClock);
    } catch (callbackError) {
      this.fail(callbackError);
      return;
    }
    if (isThrottleError(error, feedback)) this.throttle(attempt, feedback, error);
    else this.fail(error);
  }

  /** The try `request` completed; only the attempt's current try leaves the flight (an earlier one was re-queued already). */
  requestCompleted(request: AttemptRequest<T, R>): void {
    const { attempt } = request;
    if (attempt.request !== request) return;
    attempt.request = null;
    this.leaveFlight(attempt);
    this.pump();
  }

  /**
   * A throttle signal: the learner slows down (or pauses for Retry-After), the attempt's
   * tokens are given back with `actualCost`, and the value is retried (or, past `retry`, the
   * stream errors).
   */
  private throttle(attempt: Attempt<T, R>, feedback: RateLimitFeedback | undefined, signal: unknown): void {
    this.leaveFlight(attempt);
    attempt.request?.release();
    attempt.request = null;
    try {
      this.learner.throttle(attempt, feedback, this.inFlightCost);
    } catch (error) {
      this.fail(error);
      return;
    }
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

  private leaveFlight(attempt: Attempt<T, R>): boolean {
    if (!this.inFlight.delete(attempt)) return false;
    // Never below 0, and 0 when nothing is in flight: float error cannot build up over a long run.
    const left = this.inFlightCost - attempt.cost;
    this.inFlightCost = this.inFlight.size === 0 || left < 0 ? 0 : left;
    return true;
  }

  private inFlightCostBesides(attempt: Attempt<T, R>): number {
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

  /** Cancels requests in flight (aborting their signals) and withdraws waiting values. */
  withdrawAll(): void {
    for (const attempt of this.asking) this.bucket.cancel(attempt);
    this.asking.clear();
    const cancelled = [...this.inFlight];
    this.inFlight.clear();
    for (const attempt of cancelled) {
      const request = attempt.request;
      attempt.request = null;
      request?.cancel(); // an abort listener may re-enter: the flight is already empty
    }
    this.inFlightCost = 0;
    this.fresh.length = 0;
    this.freshHead = 0;
    this.retries.length = 0;
  }
}
