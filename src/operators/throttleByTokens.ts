import { Observable, type MonoTypeOperatorFunction, type Subscriber } from 'rxjs';
import { checkBucketOptions, type TokenBucketOptions } from '../limiters/bucketOptions';
import { TokenBucket } from '../limiters/TokenBucket';
import { isLimiter, type Refusal, type TokenLimiter } from '../limiters/TokenLimiter';
import { checkKnownKeys } from '../shared/checks';
import { describe } from '../shared/describe';
import type { RefusalReason } from '../shared/errors';
import { checkRefusalSettings, costOfValue, priorityOfValue, type Cost, type Priority, type RefusalSettings } from './refusalSettings';
import { observeSource } from './SourceObserver';
import { PendingValue, WaitingStream } from './WaitingStream';

export type { Cost };

export interface ThrottleByTokensConfig<T> {
  /** Tokens each value takes. Default `1`. A function that throws errors the stream with its error. */
  cost?: Cost<T>;
  /**
   * - `'delay'` (default): shape the stream; each value waits for its tokens, in order.
   * - `'drop'`: pass a value only if its tokens are there now (and nothing waits); discard it otherwise.
   * - `'error'`: like `'drop'`, but fail with `RateLimitExceededError` instead of discarding.
   */
  strategy?: ThrottleStrategy;
  /** `'delay'` only: most values of this subscription waiting at once. Default `Infinity`. */
  maxQueue?: number;
  /**
   * `'delay'` only: most ms a value may wait, counted from its arrival. A value whose
   * predicted wait exceeds it is refused on arrival, never after waiting. Default `Infinity`.
   */
  maxWait?: number;
  /** `'delay'` only: what happens to a value past `maxQueue` or `maxWait`. Default `'error'`. */
  overflow?: 'drop' | 'error';
  /** Called with each discarded value and why. If it throws, the stream errors with that error. */
  onDrop?: (value: T, reason: RefusalReason) => void;
  /**
   * Where a waiting value stands in the bucket's queue: higher first, FIFO within a level, a
   * number or `(value, index) => number` (finite). Strict, and it never breaks the heavy-head
   * rule: a value is never overtaken by one of lower priority, and a light value does not slip
   * past a heavier one of higher priority waiting for its tokens. Default 0 (a pipe that sets
   * none pays nothing for priorities).
   */
  priority?: Priority<T>;
}

export type ThrottleStrategy = 'delay' | 'drop' | 'error';

const CONFIG_KEYS = ['cost', 'strategy', 'maxQueue', 'maxWait', 'overflow', 'onDrop', 'priority'] as const;
const OWNER = 'throttleByTokens';

/** Options checked once, when the operator is created. */
type Settings<T> = RefusalSettings<T, (value: T, reason: RefusalReason) => void>;

/**
 * Lets each value through when a token bucket can pay its cost: delays it until then
 * (`'delay'`), or drops or rejects it when the tokens are not there (`'drop'`, `'error'`).
 *
 * ```
 * capacity 3, refill 1 token / 10 ms, cost 1
 * source:  (abcdef)|
 * result:  (abc)-----d---------e---------(f|)
 *          0          10        20        30
 * ```
 *
 * Tokens refill continuously (`refillRate` per `interval` ms, up to `capacity`). Under
 * `'delay'` a value is emitted at the earliest instant its cost is covered, never before,
 * and never ahead of values that arrived before it, from this stream or any other stream
 * sharing the bucket (one FIFO queue per bucket; a heavy value at the head is not
 * overtaken). Pass a `TokenBucket` to share one limit between pipes; pass its options to
 * give each subscription a fresh bucket of its own (so `retry` and `repeat` start full).
 *
 * @example
 * ```ts
 * import { fromEvent } from 'rxjs';
 * import { TokenBucket, throttleByTokens } from 'rxjs-token-bucket';
 *
 * const upload = new TokenBucket({ capacity: 1_000_000, refillRate: 250_000 }); // 250 kB/s, 1 MB bursts
 * chunks$.pipe(throttleByTokens(upload, { cost: (chunk) => chunk.byteLength })).subscribe(send);
 * ```
 *
 * - Emits: each source value, at the instant its tokens are granted.
 * - Completes: when the source has completed and every waiting value has been emitted.
 * - Errors: at once when the source errors (waiting values are withdrawn from the bucket);
 *   when a cost is invalid or above capacity (`TypeError`/`RangeError` naming it), when
 *   `cost` or `onDrop` throws, or when a value is refused under `'error'` or
 *   `overflow: 'error'` (`RateLimitExceededError` with `retryAfter`).
 * - Unsubscribes: withdraws every waiting value of this subscription; they take no tokens,
 *   and no timer is left behind for them.
 */
export function throttleByTokens<T>(
  bucketOrOptions: TokenLimiter | TokenBucketOptions,
  config: ThrottleByTokensConfig<T> = {},
): MonoTypeOperatorFunction<T> {
  checkKnownKeys(OWNER, config, CONFIG_KEYS);
  const settings: Settings<T> = checkRefusalSettings(OWNER, config);
  const sharedLimiter = isLimiter(bucketOrOptions) ? bucketOrOptions : undefined;
  if (sharedLimiter === undefined) {
    if (bucketOrOptions === null || typeof bucketOrOptions !== 'object') {
      throw new TypeError(
        `${OWNER}: the first argument is the bucket (a TokenBucket) or its options { capacity, refillRate }, got ${describe(bucketOrOptions)}`,
      );
    }
    checkBucketOptions(bucketOrOptions as TokenBucketOptions, `${OWNER} bucket`);
  }

  return (source) =>
    new Observable<T>((subscriber) => {
      const limiter = sharedLimiter ?? new TokenBucket(bucketOrOptions as TokenBucketOptions);
      return observeSource(source, subscriber, new ThrottledStream(subscriber, limiter, settings));
    });
}

/** One subscription's state, and its source's observer: the fast path, then the bounds, then the wait. */
class ThrottledStream<T> extends WaitingStream<T, undefined> {
  /** The cost when it is a constant (validated when the operator was created), else NaN. */
  private readonly constantCost: number;
  /** The priority when it is a constant, else NaN (a function of the value). */
  private readonly constantPriority: number;

  constructor(
    subscriber: Subscriber<T>,
    private readonly limiter: TokenLimiter,
    protected override readonly settings: Settings<T>,
  ) {
    super(subscriber, settings);
    this.constantCost = typeof settings.costOf === 'number' ? settings.costOf : Number.NaN;
    this.constantPriority = typeof settings.priorityOf === 'number' ? settings.priorityOf : Number.NaN;
  }

  protected arrive(value: T): void {
    if (this.subscriber.closed) return; // a synchronous source may push after we errored
    let cost = this.constantCost; // NaN for a cost function
    let priority = this.constantPriority; // NaN for a priority function
    if (!(cost <= this.limiter.capacity) || priority !== priority) {
      const { costOf } = this.settings;
      const index = this.index++;
      try {
        if (!(cost <= this.limiter.capacity)) cost = costOfValue(OWNER, costOf, value, index, this.limiter.capacity);
        if (priority !== priority) priority = priorityOfValue(OWNER, this.settings.priorityOf, value, index);
      } catch (error) {
        this.fail(error);
        return;
      }
    }
    if (this.waitingCount === 0 && this.limiter.takeNow(cost)) {
      this.subscriber.next(value);
      return;
    }
    let maxWait = this.settings.maxWait;
    let refusalReason = this.settings.refusalReason;
    // Only a value that would wait counts against maxQueue (maxQueue 0: "now or never").
    if (this.waitingCount >= this.settings.maxQueue) {
      const retryAfter = this.limiter.timeUntil(cost);
      // A store that cannot grant synchronously (Redis) always says no to takeNow; when its
      // estimate says the tokens may be there, it is asked "now or never" rather than refused unasked.
      if (this.waitingCount > 0 || retryAfter > 0) {
        this.refuse(value, undefined, cost, 'max-queue', retryAfter);
        return;
      }
      maxWait = 0;
      refusalReason = 'max-queue';
    }
    const pending =
      priority === 0
        ? new PendingValue(value, cost, this, refusalReason)
        : new PrioritizedPendingValue(value, cost, this, refusalReason, priority);
    this.link(pending);
    this.limiter.enqueue(pending, maxWait); // may answer at once
  }

  protected keyOfPending(): undefined {
    return undefined;
  }

  protected recordRefusal(_key: undefined, refusal: Refusal): void {
    this.limiter.recordRefusal(refusal);
  }

  protected notifyDrop(value: T, reason: RefusalReason): void {
    const onDrop = this.settings.onDrop;
    if (onDrop !== undefined) onDrop(value, reason);
  }

  /**
   * The one that can be the limiter's head goes last — the earliest of the highest priority
   * (without priorities, the first): withdrawing the head lets the limiter grant the next
   * waiter, and that must not be one of ours, taking tokens for nothing.
   */
  protected withdraw(first: PendingValue<T>): void {
    let head = first;
    for (let pending = first.laterInStream; pending !== null; pending = pending.laterInStream) {
      if ((pending.priority ?? 0) > (head.priority ?? 0)) head = pending;
    }
    let pending: PendingValue<T> | null = first;
    while (pending !== null) {
      const later: PendingValue<T> | null = pending.laterInStream;
      pending.earlierInStream = pending.laterInStream = null;
      if (pending !== head) this.limiter.cancel(pending);
      pending = later;
    }
    this.limiter.cancel(head);
  }
}

/** A waiting value with a priority of its own (a pipe without priorities never makes one). */
class PrioritizedPendingValue<T> extends PendingValue<T> {
  constructor(
    value: T,
    cost: number,
    stream: WaitingStream<T, undefined>,
    refusalReason: RefusalReason,
    override readonly priority: number,
  ) {
    super(value, cost, stream, refusalReason);
  }
}
