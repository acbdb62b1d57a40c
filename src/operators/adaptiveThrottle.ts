import { from, Observable, type ObservableInput, type OperatorFunction, type Subscriber, type Subscription } from 'rxjs';
import { RateLimitExceededError } from '../shared/errors';
import { parseRateLimitHeaders, type HeadersLike } from '../http/parseRateLimitHeaders';
import { wallClockNow } from '../http/wallClock';
import type { RateLimitFeedback } from '../arithmetic/adaptation';
import type { AdaptOptions } from '../limiters/adaptOptions';
import { checkBucketOptions, type TokenBucketOptions } from '../limiters/bucketOptions';
import { TokenBucket } from '../limiters/TokenBucket';
import { isLimiter, type TokenLimiter } from '../limiters/TokenLimiter';
import { checkCostWithin, checkKnownKeys, checkNumberOption } from '../shared/checks';
import { describe } from '../shared/describe';
import type { Waiter } from '../waiting/WaitQueue';
import { AimdRateSearch } from '../arithmetic/aimd';
import type { Cost } from './refusalSettings';
import { observeSource, SourceObserver } from './SourceObserver';

/** A bucket `adaptiveThrottle` can retune: a `TokenBucket`, or any limiter with the same two methods. */
export interface AdaptableLimiter extends TokenLimiter {
  readonly refillRate: number;
  readonly interval?: number;
  /** When refill resumes after a pause from `adapt` (scheduler time), if the limiter pauses. */
  readonly pausedUntil?: number;
  adapt(feedback: RateLimitFeedback, options?: AdaptOptions): void;
  configure(limits: { refillRate?: number }): void;
}

/** What a response or error says about the limit: headers to parse, or feedback already parsed. */
export type FeedbackSource = HeadersLike | RateLimitFeedback | undefined;

export interface AdaptiveThrottleConfig<T, R> {
  /** The starting guess: a shared bucket, or options for a fresh bucket per subscription. Required. */
  bucket: AdaptableLimiter | TokenBucketOptions;
  /** Tokens a request takes, in the server's unit. Default 1. */
  cost?: Cost<T>;
  /** Most requests in flight at once. Default `Infinity`. */
  concurrency?: number;
  /** Rate-limit feedback of a result. Default: the result's `headers` property, if any. */
  feedback?: (result: R) => FeedbackSource;
  /** Whether a result is a throttle signal rather than a success. Default: `status` 429 or 503. */
  isThrottled?: (result: R) => boolean;
  /**
   * Rate-limit feedback of an error, which makes the error a throttle signal when it carries a
   * `retryAfter` or when the error's `status` is 429/503. Default: `error.headers ?? error.response?.headers`.
   */
  feedbackFromError?: (error: unknown) => FeedbackSource;
  /** Spend at most this share of what the server reports. Default 0.9. */
  safetyFactor?: number;
  /** Bounds on the bucket's `refillRate` while adapting (its own unit). Defaults: starting rate / 1000, and Infinity. */
  minRate?: number;
  maxRate?: number;
  /** How many times one value is retried after a throttle signal; past it the stream errors. Default 3. */
  retry?: number;
  /** Without headers: the rate is multiplied by this on a throttle signal (once per round trip); 1 keeps it. Default 0.85. */
  decrease?: number;
  /**
   * Without headers: once the server has throttled, each success probes the rate up by this
   * share of the rate it throttled at (additive increase; see `AimdRateSearch`); 0 stops probing.
   * Default 0.0002 (about one throttle signal per hundreds of requests once settled).
   */
  increase?: number;
  /** Values waiting for a request slot or tokens, at most; past it the stream errors. Default `Infinity`. */
  maxQueue?: number;
  /** Wall-clock ms, for epoch and HTTP-date resets in headers. Default `Date.now`. */
  wallClock?: () => number;
}

const CONFIG_KEYS = [
  'bucket',
  'cost',
  'concurrency',
  'feedback',
  'isThrottled',
  'feedbackFromError',
  'safetyFactor',
  'minRate',
  'maxRate',
  'retry',
  'decrease',
  'increase',
  'maxQueue',
  'wallClock',
] as const;

/**
 * Runs `request` for each value under a token bucket and a concurrency cap, and retunes the
 * bucket live from what every response says about the server's limit.
 *
 * ```
 * server: 2 per 10 ms, says so in headers; start guess 1 per 10 ms
 * source:  abcdef|
 * result:  -a--b-c-d-e-(f|)     (rate raised after the first response's headers)
 * ```
 *
 * Each response's feedback (`RateLimit-*`, `X-RateLimit-*`, `Retry-After`, … parsed by
 * `parseRateLimitHeaders`) retunes the bucket through `bucket.adapt`: `Retry-After` pauses
 * it; remaining R before a reset in Δ caps spending to `R·safetyFactor` minus the requests
 * still in flight (the server's count does not know them yet), pausing until the reset at 0;
 * a policy (limit L per window W) sets the rate to `L/W·safetyFactor`, within [minRate, maxRate].
 * A throttled request (429/503, as a result or an error) pauses for its `Retry-After` and is
 * retried; throttled values are retried before values not yet tried, in the order their
 * throttling was noticed, each at most `retry` times. With no headers at all the rate follows
 * AIMD: multiplied by `decrease` on a throttle signal, raised by `increase` on success.
 * Results are emitted as responses arrive (as `mergeMap` does), so with `concurrency > 1`
 * they may come out of order.
 *
 * @example
 * ```ts
 * import { from } from 'rxjs';
 * import { adaptiveThrottle } from 'rxjs-token-bucket';
 *
 * from(userIds).pipe(
 *   adaptiveThrottle((id) => fetch(`https://api.example.com/users/${id}`), {
 *     bucket: { capacity: 5, refillRate: 5 }, // a guess: 5/s; the headers will correct it
 *     concurrency: 4,
 *   }),
 * ).subscribe((response) => console.log(response.status));
 * ```
 *
 * - Emits: each request's results, except throttled ones (which are retried).
 * - Completes: when the source has completed and every request has completed.
 * - Errors: when a request errors with anything but a throttle signal; when a value was
 *   throttled more than `retry` times (`RateLimitExceededError`, reason `retry-limit`);
 *   when a cost is invalid; when more than `maxQueue` values wait.
 * - Unsubscribes: cancels requests in flight and withdraws waiting values from the bucket.
 */
export function adaptiveThrottle<T, R>(
  request: (value: T, index: number) => ObservableInput<R>,
  config: AdaptiveThrottleConfig<T, R>,
): OperatorFunction<T, R> {
  if (typeof request !== 'function') throw new TypeError(`adaptiveThrottle: request must be a function, got ${describe(request)}`);
  const settings = checkConfig(config);
  const shared = isLimiter(config.bucket) ? (config.bucket as AdaptableLimiter) : undefined;
  return (source) =>
    new Observable<R>((subscriber) => {
      const bucket = shared ?? new TokenBucket(config.bucket as TokenBucketOptions);
      return observeSource(source, subscriber, new AdaptiveFlow(subscriber, request, bucket, settings));
    });
}

interface Settings<T, R> {
  readonly costOf: Cost<T>;
  readonly concurrency: number;
  readonly feedback: (result: R) => FeedbackSource;
  readonly isThrottled: (result: R) => boolean;
  readonly feedbackFromError: (error: unknown) => FeedbackSource;
  readonly safetyFactor: number;
  readonly minRate: number | undefined;
  readonly maxRate: number;
  readonly retry: number;
  readonly decrease: number;
  readonly increase: number;
  readonly maxQueue: number;
  readonly wallClock: () => number;
}

function checkConfig<T, R>(config: AdaptiveThrottleConfig<T, R>): Settings<T, R> {
  const owner = 'adaptiveThrottle';
  checkKnownKeys(owner, config, CONFIG_KEYS);
  if (config.bucket === undefined) throw new TypeError(`${owner} option "bucket" is required (a TokenBucket or its options)`);
  if (!isLimiter(config.bucket)) checkBucketOptions(config.bucket);
  else if (typeof (config.bucket as AdaptableLimiter).adapt !== 'function') {
    throw new TypeError(`${owner} option "bucket" must be adaptable (have adapt() and configure()), as TokenBucket is`);
  }
  const costOf = config.cost ?? 1;
  if (typeof costOf !== 'function') checkCostWithin(costOf, Infinity);
  const safetyFactor = checkNumberOption(owner, 'safetyFactor', config.safetyFactor ?? 0.9, 'positive');
  if (safetyFactor > 1) throw new RangeError(`${owner} option "safetyFactor" must be in (0, 1], got ${safetyFactor}`);
  const decrease = checkNumberOption(owner, 'decrease', config.decrease ?? 0.85, 'positive');
  if (decrease > 1) throw new RangeError(`${owner} option "decrease" must be in (0, 1], got ${decrease}`);
  for (const name of ['feedback', 'isThrottled', 'feedbackFromError', 'wallClock'] as const) {
    if (config[name] !== undefined && typeof config[name] !== 'function') {
      throw new TypeError(`${owner} option "${name}" must be a function, got ${describe(config[name])}`);
    }
  }
  const retry = checkNumberOption(owner, 'retry', config.retry ?? 3, 'non-negative');
  if (!Number.isInteger(retry)) throw new RangeError(`${owner} option "retry" must be a whole number, got ${retry}`);
  return {
    costOf,
    concurrency: checkNumberOption(owner, 'concurrency', config.concurrency ?? Infinity, 'positive', true),
    feedback: config.feedback ?? headersOf,
    isThrottled: config.isThrottled ?? ((result) => isThrottleStatus(statusOf(result))),
    feedbackFromError: config.feedbackFromError ?? ((error) => headersOf(error) ?? headersOf((error as { response?: unknown })?.response)),
    safetyFactor,
    minRate: config.minRate === undefined ? undefined : checkNumberOption(owner, 'minRate', config.minRate, 'positive'),
    maxRate: checkNumberOption(owner, 'maxRate', config.maxRate ?? Infinity, 'positive', true),
    retry,
    decrease,
    increase: checkNumberOption(owner, 'increase', config.increase ?? 0.0002, 'non-negative'),
    maxQueue: checkNumberOption(owner, 'maxQueue', config.maxQueue ?? Infinity, 'non-negative', true),
    wallClock: config.wallClock ?? wallClockNow,
  };
}

function headersOf(carrier: unknown): FeedbackSource {
  const headers = (carrier as { headers?: unknown } | null | undefined)?.headers;
  return headers !== null && typeof headers === 'object' ? (headers as HeadersLike) : undefined;
}

function statusOf(carrier: unknown): number | undefined {
  const status = carrier as { status?: unknown; statusCode?: unknown } | null | undefined;
  const value = status?.status ?? status?.statusCode;
  return typeof value === 'number' ? value : undefined;
}

function isThrottleStatus(status: number | undefined): boolean {
  return status === 429 || status === 503;
}

const FEEDBACK_KEYS = new Set(['limit', 'remaining', 'resetAfter', 'window', 'retryAfter', 'budgets', 'name', 'refill', 'unit']);

/** Parsed feedback passes through; anything else is read as headers. */
function toFeedback(source: FeedbackSource, wallClock: () => number): RateLimitFeedback | undefined {
  if (source === undefined || source === null) return undefined;
  if (isParsedFeedback(source)) return source;
  return parseRateLimitHeaders(source as HeadersLike, wallClock());
}

function isParsedFeedback(source: object): source is RateLimitFeedback {
  if (typeof (source as { get?: unknown }).get === 'function') return false; // Headers, Map
  const keys = Object.keys(source);
  return keys.length > 0 && keys.every((key) => FEEDBACK_KEYS.has(key));
}

/** What an attempt reports to. */
interface AttemptOwner<T> {
  send(attempt: Attempt<T>): void;
  fail(error: unknown): void;
}

/** One value on its way: waiting for a slot, for tokens, or in flight. */
class Attempt<T> implements Waiter {
  queuedAt = 0;
  previousWaiter: Waiter | null = null;
  nextWaiter: Waiter | null = null;
  /** Throttle signals so far. */
  throttled = 0;
  /** When its request was sent (scheduler time); a throttle signal for a request sent before the last decrease does not decrease again. */
  sentAt = 0;
  /** When it last asked for tokens, and whether it had to wait for them (the rate was what held it back). */
  askedAt = 0;
  waitedForTokens = false;
  request: Subscription | null = null;
  constructor(
    readonly value: T,
    readonly index: number,
    readonly cost: number,
    private readonly flow: AttemptOwner<T>,
  ) {}
  granted(): void {
    this.flow.send(this);
  }
  refused(): void {
    // Asked with maxWait Infinity: never refused.
  }
  failed(error: Error): void {
    this.flow.fail(error);
  }
}

/** One subscription's state. */
class AdaptiveFlow<T, R> extends SourceObserver<T> implements AttemptOwner<T> {
  private index = 0;
  private sourceDone = false;
  /** Values not yet asked for tokens, and throttled ones waiting for another try (served first). */
  private readonly fresh: Attempt<T>[] = [];
  private freshHead = 0;
  private readonly retries: Attempt<T>[] = [];
  /** Asked for tokens, not yet granted. */
  private readonly asking = new Set<Attempt<T>>();
  private readonly inFlight = new Set<Attempt<T>>();
  private readonly minRate: number;
  /** Without headers, the rate is searched for (AIMD). */
  private readonly rateSearch: AimdRateSearch;
  /** Set while `pump` runs: a synchronous grant and response re-enter it, and the running loop goes on instead. */
  private pumping = false;

  constructor(
    private readonly subscriber: Subscriber<R>,
    private readonly request: (value: T, index: number) => ObservableInput<R>,
    private readonly bucket: AdaptableLimiter,
    private readonly settings: Settings<T, R>,
  ) {
    super();
    this.minRate = settings.minRate ?? bucket.refillRate / 1000;
    this.rateSearch = new AimdRateSearch({ decrease: settings.decrease, increase: settings.increase, interval: bucket.interval ?? 1000 });
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
        this.bucket.acquire(next, Infinity);
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
        this.learn(attempt, feedback);
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
        const status = statusOf(error) ?? statusOf((error as { response?: unknown })?.response);
        if (isThrottleStatus(status) || feedback?.retryAfter !== undefined) this.throttle(attempt, feedback, error);
        else this.fail(error);
      },
      complete: () => this.finished(attempt),
    });
    if (attempt.request === null && !subscription.closed) attempt.request = subscription;
  }

  /** A success: adapt to its feedback, or without any, raise the rate (AIMD). */
  private learn(attempt: Attempt<T>, feedback: RateLimitFeedback | undefined): void {
    if (feedback !== undefined && hasBudgetInfo(feedback)) {
      // The server's numbers count this request already: only the others are unknown to it.
      this.bucket.adapt(feedback, this.adaptOptions(this.inFlight.has(attempt) ? 1 : 0));
      return;
    }
    this.rateSearch.recordOutcome(false, attempt.cost, this.bucket.scheduler.now());
    // Raise the rate only when it held this request back: a rate nobody runs into proves nothing.
    if (!attempt.waitedForTokens) return;
    this.setRate(this.rateSearch.afterSuccess(this.bucket.refillRate));
  }

  /** A throttle signal: pause for Retry-After (or as the budget says), decrease without headers, retry the value. */
  private throttle(attempt: Attempt<T>, feedback: RateLimitFeedback | undefined, signal: unknown): void {
    this.inFlight.delete(attempt);
    attempt.request?.unsubscribe();
    attempt.request = null;
    if (feedback !== undefined && (hasBudgetInfo(feedback) || feedback.retryAfter !== undefined)) {
      this.bucket.adapt(feedback, this.adaptOptions());
    }
    // A bare 429, or one that only says when to come back, says nothing of the rate: search for it.
    if (feedback === undefined || !describesLimit(feedback)) {
      this.rateSearch.recordOutcome(true, attempt.cost, this.bucket.scheduler.now());
      this.setRate(this.rateSearch.afterThrottle(this.bucket.refillRate, attempt.sentAt, this.bucket.scheduler.now()));
    }
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

  private setRate(rate: number): void {
    const clamped = Math.min(this.settings.maxRate, Math.max(this.minRate, rate));
    if (clamped !== this.bucket.refillRate) this.bucket.configure({ refillRate: clamped });
  }

  /** `answered`: requests in the in-flight set whose response the feedback came with. */
  private adaptOptions(answered = 0): AdaptOptions {
    return {
      safetyFactor: this.settings.safetyFactor,
      minRate: this.minRate,
      maxRate: this.settings.maxRate,
      inFlight: this.inFlight.size - answered,
    };
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

/** Feedback that tells the limit, not only "wait" (a Retry-After alone reads as remaining 0 until then). */
function describesLimit(feedback: RateLimitFeedback): boolean {
  return feedback.limit !== undefined || (feedback.retryAfter === undefined && hasBudgetInfo(feedback));
}

function hasBudgetInfo(feedback: RateLimitFeedback): boolean {
  return (
    (feedback.remaining !== undefined && feedback.resetAfter !== undefined) ||
    (feedback.limit !== undefined && feedback.window !== undefined)
  );
}
