import { Observable, type MonoTypeOperatorFunction, type Subscriber } from 'rxjs';
import { RateLimitExceededError, type RefusalReason } from '../errors';
import { checkBucketOptions, TokenBucket, type TokenBucketOptions } from '../scheduler/TokenBucket';
import type { TokenLimiter } from '../scheduler/TokenLimiter';
import { checkCostWithin, checkKnownKeys } from '../scheduler/validation';
import { checkRefusalSettings, type Cost, type RefusalSettings } from './refusalSettings';
import { SourceObserver } from './SourceObserver';
import type { Waiter } from '../scheduler/WaitQueue';

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
}

export type ThrottleStrategy = 'delay' | 'drop' | 'error';

const CONFIG_KEYS = ['cost', 'strategy', 'maxQueue', 'maxWait', 'overflow', 'onDrop'] as const;

/** Options checked once, when the operator is created. */
type Settings<T> = RefusalSettings<T, (value: T, reason: RefusalReason) => void>;

/**
 * Lets each value through when a token bucket can pay its cost: delays it until then
 * (`'delay'`), or drops or rejects it when the tokens are not there (`'drop'`, `'error'`).
 *
 * ```
 * capacity 3, refill 1 token / 10 ms, cost 1
 * source:  (abcdef)|
 * result:  (abc)-------d---------e---------(f|)
 *          0         10        20        30
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
  const settings = checkConfig(config);
  const sharedLimiter = isLimiter(bucketOrOptions) ? bucketOrOptions : undefined;
  if (sharedLimiter === undefined) checkBucketOptions(bucketOrOptions as TokenBucketOptions);

  return (source) =>
    new Observable<T>((subscriber) => {
      const limiter = sharedLimiter ?? new TokenBucket(bucketOrOptions as TokenBucketOptions);
      const stream = new ThrottledStream(subscriber, limiter, settings);
      // Linked first, so an output that ends during a synchronous subscribe stops the source at once.
      subscriber.add(stream);
      source.subscribe(stream);
      return () => {
        stream.unsubscribe();
        stream.withdrawAll();
      };
    });
}

/** True for a bucket (in memory or remote) rather than options for one. */
export function isLimiter(candidate: unknown): candidate is TokenLimiter {
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof (candidate as TokenLimiter).acquire === 'function' &&
    typeof (candidate as TokenLimiter).cancel === 'function'
  );
}

function checkConfig<T>(config: ThrottleByTokensConfig<T>): Settings<T> {
  checkKnownKeys('throttleByTokens', config, CONFIG_KEYS);
  return checkRefusalSettings('throttleByTokens', config);
}

/** A value waiting for its tokens: the queue entry and the value in one object. */
class PendingValue<T> implements Waiter {
  queuedAt = 0;
  previousWaiter: Waiter | null = null;
  nextWaiter: Waiter | null = null;
  /** The next waiting value of the same subscription, in arrival order. */
  laterInStream: PendingValue<T> | null = null;
  /** Set while `acquire` runs, so a synchronous answer is handled without queueing. */
  asking = true;
  constructor(
    readonly value: T,
    readonly cost: number,
    private readonly stream: ThrottledStream<T>,
    /** Why a refusal of this value is reported: the strategy's, or `max-queue` when asked past it. */
    readonly refusalReason: RefusalReason,
  ) {}
  granted(): void {
    this.stream.granted(this);
  }
  refused(retryAfter: number): void {
    this.stream.refused(this, retryAfter);
  }
  failed(error: Error): void {
    this.stream.fail(error);
  }
}

/** One subscription's state, and its source's observer: its waiting values (a chain in arrival order) and whether the source is done. */
class ThrottledStream<T> extends SourceObserver<T> {
  private index = 0;
  private sourceDone = false;
  private firstWaiting: PendingValue<T> | null = null;
  private lastWaiting: PendingValue<T> | null = null;
  private waitingCount = 0;
  /** The cost when it is a constant (validated when the operator was created), else NaN. */
  private readonly constantCost: number;
  /** Why a value the limiter refuses is refused, by the strategy. */
  readonly refusalReason: RefusalReason;

  constructor(
    private readonly subscriber: Subscriber<T>,
    private readonly limiter: TokenLimiter,
    private readonly settings: Settings<T>,
  ) {
    super();
    this.constantCost = typeof settings.costOf === 'number' ? settings.costOf : Number.NaN;
    this.refusalReason = settings.refusalReason;
  }

  arrive(value: T): void {
    if (this.subscriber.closed) return; // a synchronous source may push after we errored
    let cost = this.constantCost; // NaN for a cost function
    if (!(cost <= this.limiter.capacity)) {
      const { costOf } = this.settings;
      try {
        cost = typeof costOf === 'number' ? costOf : costOf(value, this.index++);
        checkCostWithin(cost, this.limiter.capacity);
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
    let refusalReason = this.refusalReason;
    // Only a value that would wait counts against maxQueue (maxQueue 0: "now or never").
    if (this.waitingCount >= this.settings.maxQueue) {
      const retryAfter = this.limiter.timeUntil(cost);
      // A store that cannot grant synchronously (Redis) always says no to takeNow; when its
      // estimate says the tokens may be there, it is asked "now or never" rather than refused unasked.
      if (this.waitingCount > 0 || retryAfter > 0) {
        this.refuse(value, cost, 'max-queue', retryAfter);
        return;
      }
      maxWait = 0;
      refusalReason = 'max-queue';
    }
    const pending = new PendingValue(value, cost, this, refusalReason);
    this.limiter.acquire(pending, maxWait);
    if (!pending.asking) return; // answered synchronously
    pending.asking = false;
    if (this.lastWaiting === null) this.firstWaiting = pending;
    else this.lastWaiting.laterInStream = pending;
    this.lastWaiting = pending;
    this.waitingCount++;
  }

  granted(pending: PendingValue<T>): void {
    if (pending.asking) pending.asking = false;
    else this.unlink(pending);
    this.subscriber.next(pending.value);
    if (this.sourceDone && this.waitingCount === 0) this.subscriber.complete();
  }

  refused(pending: PendingValue<T>, retryAfter: number): void {
    if (pending.asking) pending.asking = false;
    else this.unlink(pending);
    this.refuse(pending.value, pending.cost, pending.refusalReason, retryAfter);
    if (this.sourceDone && this.waitingCount === 0) this.subscriber.complete();
  }

  sourceCompleted(): void {
    this.sourceDone = true;
    if (this.waitingCount === 0) this.subscriber.complete();
  }

  /** Errors the stream at once, withdrawing every waiting value from the bucket first. */
  fail(error: unknown): void {
    this.withdrawAll();
    this.subscriber.error(error);
  }

  withdrawAll(): void {
    const first = this.firstWaiting;
    this.firstWaiting = this.lastWaiting = null;
    this.waitingCount = 0;
    if (first === null) return;
    // The first (the only one that can be the head) goes last: withdrawing the head lets the
    // limiter grant the next waiter, and that must not be one of ours, taking tokens for nothing.
    let pending = first.laterInStream;
    first.laterInStream = null;
    while (pending !== null) {
      this.limiter.cancel(pending);
      const later: PendingValue<T> | null = pending.laterInStream;
      pending.laterInStream = null;
      pending = later;
    }
    this.limiter.cancel(first);
  }

  private refuse(value: T, cost: number, reason: RefusalReason, retryAfter: number): void {
    const outcome = this.settings.refusalOutcome;
    this.limiter.recordRefusal({ cost, outcome, reason, retryAfter });
    if (outcome === 'rejected') {
      this.fail(new RateLimitExceededError(retryAfter, cost, reason));
      return;
    }
    const { onDrop } = this.settings;
    if (onDrop === undefined) return;
    try {
      onDrop(value, reason);
    } catch (error) {
      this.fail(error);
    }
  }

  /** Removes a granted or refused value from the chain; grants come in order, so it is nearly always the first. */
  private unlink(pending: PendingValue<T>): void {
    if (this.firstWaiting === pending) {
      this.waitingCount--;
      this.firstWaiting = pending.laterInStream;
      if (this.firstWaiting === null) this.lastWaiting = null;
      pending.laterInStream = null;
      return;
    }
    let before = this.firstWaiting;
    while (before !== null && before.laterInStream !== pending) before = before.laterInStream;
    if (before === null) return;
    this.waitingCount--;
    before.laterInStream = pending.laterInStream;
    if (this.lastWaiting === pending) this.lastWaiting = before;
    pending.laterInStream = null;
  }
}
