import { Observable, Subject, type SchedulerLike, type Subscription } from 'rxjs';
import type { RefusalReason } from '../errors';
import { monotonicNow, monotonicScheduler } from './monotonicScheduler';
import type { Refusal, TokenLimiter } from './TokenLimiter';
import { TokenLedger, type LedgerLimits } from './TokenLedger';
import { planAdaptation, type RateLimitFeedback } from './adaptation';
import { checkCostWithin, checkKnownKeys, checkNumberOption } from './validation';
import { WaitQueue, type Waiter } from './WaitQueue';

/** Settings of one `adapt` call. */
export interface AdaptOptions {
  /** Spend at most this share of what the server reports. Default 0.9. */
  safetyFactor?: number;
  /** Bounds on the adapted `refillRate` (tokens per `interval`). Defaults 0 (exclusive) and Infinity. */
  minRate?: number;
  maxRate?: number;
  /** Requests sent but not yet answered: the server's `remaining` does not count them yet. Default 0. */
  inFlight?: number;
}

export interface TokenBucketOptions {
  /** Burst size: the most tokens the bucket holds. Finite, > 0. Required. */
  capacity: number;
  /** Tokens added per `interval` ms. Finite, > 0. Required. */
  refillRate: number;
  /** The period of `refillRate`, in ms. Finite, > 0. Default `1000` (so `refillRate` is per second). */
  interval?: number;
  /** Tokens at creation, 0..capacity. Default `capacity` (a full bucket). */
  initialTokens?: number;
  /**
   * Clock and timers. Default: `performance.now()` with `asyncScheduler` timers, both
   * virtualised inside `TestScheduler.run()`. Pass a `TestScheduler` or any `SchedulerLike`.
   */
  scheduler?: SchedulerLike;
}

/** A live change of limits; omitted fields keep their value. */
export type TokenBucketLimits = Partial<LedgerLimits>;

/** A snapshot of a bucket, taken when `stats()` is called. */
export interface TokenBucketStats {
  readonly capacity: number;
  readonly refillRate: number;
  readonly interval: number;
  /** Tokens now, 0..capacity. */
  readonly available: number;
  /** Values waiting in the queue, and their total cost. */
  readonly queued: number;
  readonly queuedCost: number;
  /** Grants since creation, and their total cost. */
  readonly granted: number;
  readonly grantedCost: number;
  /** Values discarded by operators (`strategy: 'drop'`, or a bound with `overflow: 'drop'`). */
  readonly dropped: number;
  /** Values refused with `RateLimitExceededError`. */
  readonly rejected: number;
  /** Waiters withdrawn before their grant (unsubscribed). */
  readonly cancelled: number;
  /** Whether a timer is scheduled (there is at most one, for the head of the queue). */
  readonly timerScheduled: boolean;
}

/** What `events$` reports. `time` is the bucket scheduler's `now()`. */
export type TokenBucketEvent =
  | { readonly type: 'granted'; readonly time: number; readonly cost: number; readonly waited: number; readonly available: number }
  | { readonly type: 'queued'; readonly time: number; readonly cost: number; readonly queued: number; readonly queuedCost: number }
  | { readonly type: 'cancelled'; readonly time: number; readonly cost: number }
  | {
      readonly type: 'dropped' | 'rejected';
      readonly time: number;
      readonly cost: number;
      readonly reason: RefusalReason;
      readonly retryAfter: number;
    }
  | {
      readonly type: 'reconfigured';
      readonly time: number;
      readonly capacity: number;
      readonly refillRate: number;
      readonly interval: number;
      readonly available: number;
      /** Why: `configure` for a user's change; other sources (such as server feedback) name themselves. */
      readonly cause: string;
    };

/** `setTimeout` holds at most 2^31−1 ms; a longer wait is taken in steps of at most this. */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

const OPTION_KEYS = ['capacity', 'refillRate', 'interval', 'initialTokens', 'scheduler'] as const;
const LIMIT_KEYS = ['capacity', 'refillRate', 'interval'] as const;

/**
 * A token bucket with one FIFO queue of waiters, shared by everything that uses it.
 * Tokens refill continuously at `refillRate` per `interval` ms up to `capacity`; a waiter
 * is granted at the earliest instant its cost is covered, in arrival order, using at most
 * one scheduled action (for the head of the queue) at any time.
 *
 * @example
 * ```ts
 * import { TokenBucket, throttleByTokens } from 'rxjs-token-bucket';
 * const api = new TokenBucket({ capacity: 10, refillRate: 5 }); // 5/s, bursts of 10
 * requests$.pipe(throttleByTokens(api)).subscribe(send);
 * ```
 */
export class TokenBucket implements TokenLimiter {
  readonly scheduler: SchedulerLike;
  /** `scheduler.now`, held directly so the hot path makes one call. */
  private readonly clock: () => number;
  private readonly ledger: TokenLedger;
  private readonly queue = new WaitQueue();
  private readonly eventsSubject = new Subject<TokenBucketEvent>();
  /** Subscribers of `events$`: a plain count, read on every grant, so no event is built for nobody. */
  private eventObservers = 0;
  /** What happens, as it happens: granted, queued, cancelled, dropped, rejected, reconfigured. Hot; never completes. */
  readonly events$: Observable<TokenBucketEvent> = new Observable<TokenBucketEvent>((subscriber) => {
    this.eventObservers++;
    const subscription = this.eventsSubject.subscribe(subscriber);
    return () => {
      this.eventObservers--;
      subscription.unsubscribe();
    };
  });

  /** The single timer, aimed at the moment the head of the queue is covered. */
  private timer: Subscription | null = null;
  private timerDue = Number.NaN;
  private draining = false;

  private grantedCount = 0;
  private grantedCost = 0;
  private droppedCount = 0;
  private rejectedCount = 0;
  private cancelledCount = 0;

  constructor(options: TokenBucketOptions) {
    const checked = checkBucketOptions(options);
    this.scheduler = options.scheduler ?? monotonicScheduler;
    const scheduler = this.scheduler;
    this.clock = scheduler === monotonicScheduler ? monotonicNow : () => scheduler.now();
    this.ledger = new TokenLedger(checked, checked.initialTokens, this.scheduler.now());
  }

  get capacity(): number {
    return this.ledger.capacity;
  }
  get refillRate(): number {
    return this.ledger.refillRate;
  }
  get interval(): number {
    return this.ledger.interval;
  }

  /**
   * Takes `cost` tokens now if they are there and nobody is waiting; never overtakes a
   * queued value. Throws for an invalid cost or one above capacity.
   */
  tryTake(cost = 1): boolean {
    checkCostWithin(cost, this.ledger.capacity);
    return this.takeNow(cost);
  }

  /**
   * A cold Observable that joins the queue when subscribed, emits once (`undefined`) and
   * completes when `cost` tokens are granted. Unsubscribing before that leaves the queue,
   * taking nothing. Errors at subscription for an invalid cost or one above capacity.
   */
  take(cost = 1): Observable<void> {
    return new Observable<void>((subscriber) => {
      try {
        checkCostWithin(cost, this.ledger.capacity);
      } catch (error) {
        subscriber.error(error);
        return;
      }
      const waiter = new TakeWaiter(cost, () => {
        subscriber.next();
        subscriber.complete();
      }, (error) => subscriber.error(error));
      this.acquire(waiter, Infinity);
      return () => this.cancel(waiter);
    });
  }

  /** Tokens that could be taken now, 0..capacity (0 while paused by `adapt`). */
  available(): number {
    const now = this.readClock();
    if (now < this.ledger.pausedUntil) return 0;
    return Math.max(0, this.ledger.tokensAt(now));
  }

  /**
   * Ms until a value of `cost` joining the queue now would be granted: 0 if it would pass
   * at once, otherwise counting every value already waiting ahead of it. Throws for an
   * invalid cost or one above capacity.
   */
  timeUntil(cost = 1): number {
    checkCostWithin(cost, this.ledger.capacity);
    return this.predictWait(cost, this.readClock());
  }

  /**
   * `now()`, with the refill up to it committed to the ledger: if the clock later goes
   * backwards, the tokens seen at this reading are kept, not lost until the clock catches up.
   */
  private readClock(): number {
    const now = this.scheduler.now();
    this.ledger.advance(now);
    return now;
  }

  /**
   * Changes the limits live. Tokens earned so far are credited at the old rate and kept,
   * clamped to the new capacity; waiting values are re-planned at once, and any whose
   * cost now exceeds the capacity fail with a `RangeError`.
   */
  configure(limits: TokenBucketLimits): void {
    checkKnownKeys('TokenBucket.configure', limits, LIMIT_KEYS);
    const next: LedgerLimits = {
      capacity: checkNumberOption('TokenBucket.configure', 'capacity', limits.capacity ?? this.ledger.capacity, 'positive'),
      refillRate: checkNumberOption('TokenBucket.configure', 'refillRate', limits.refillRate ?? this.ledger.refillRate, 'positive'),
      interval: checkNumberOption('TokenBucket.configure', 'interval', limits.interval ?? this.ledger.interval, 'positive'),
    };
    this.applyLimits(next, 'configure');
  }

  /**
   * Retunes the bucket from a server's rate-limit feedback (what `parseRateLimitHeaders`
   * returns, or a websocket's "slow down"): `retryAfter` pauses refill for that long;
   * `remaining` R with `resetAfter` Δ caps spending before the reset at
   * `R·safetyFactor − inFlight` (pausing until the reset when nothing is left); a policy
   * (`limit` per `window`) sets the rate to `limit/window·safetyFactor`. Rates stay within
   * [minRate, maxRate] (in `refillRate` units). Reported on `events$` as `reconfigured`.
   * Feedback with nothing usable changes nothing.
   */
  adapt(feedback: RateLimitFeedback, options: AdaptOptions = {}): void {
    const now = this.scheduler.now();
    const plan = planAdaptation(
      feedback,
      { capacity: this.ledger.capacity, refillRate: this.ledger.refillRate, interval: this.ledger.interval, available: this.available() },
      {
        safetyFactor: options.safetyFactor ?? 0.9,
        minRate: options.minRate ?? 0,
        maxRate: options.maxRate ?? Infinity,
        inFlight: options.inFlight ?? 0,
      },
    );
    if (plan === undefined) return;
    if (plan.capTokens !== undefined && plan.capTokens < this.ledger.tokensAt(now)) this.ledger.setTokens(plan.capTokens, now);
    if (plan.pauseFor !== undefined) this.ledger.pauseUntil(now + plan.pauseFor, now);
    const refillRate = plan.refillRate !== undefined && plan.refillRate > 0 ? plan.refillRate : this.ledger.refillRate;
    this.applyLimits({ capacity: this.ledger.capacity, refillRate, interval: this.ledger.interval }, plan.cause);
  }

  /** The time (scheduler clock) refill resumes after a pause from `adapt`, or -Infinity. */
  get pausedUntil(): number {
    return this.ledger.pausedUntil;
  }

  /** A fresh snapshot of the bucket's state and counters. */
  stats(): TokenBucketStats {
    return {
      capacity: this.ledger.capacity,
      refillRate: this.ledger.refillRate,
      interval: this.ledger.interval,
      available: this.available(),
      queued: this.queue.size,
      queuedCost: this.queue.totalCost,
      granted: this.grantedCount,
      grantedCost: this.grantedCost,
      dropped: this.droppedCount,
      rejected: this.rejectedCount,
      cancelled: this.cancelledCount,
      timerScheduled: this.timer !== null,
    };
  }

  // ---- the operator protocol (TokenLimiter) ----

  takeNow(cost: number): boolean {
    if (this.queue.head !== null) return false;
    const now = this.clock();
    if (!this.ledger.tryTake(cost, now)) return false;
    this.noteGrant(cost, 0, now);
    return true;
  }

  acquire(waiter: Waiter, maxWait: number): void {
    const now = this.scheduler.now();
    if (this.queue.size === 0 && this.ledger.tryTake(waiter.cost, now)) {
      this.noteGrant(waiter.cost, 0, now);
      waiter.granted();
      return;
    }
    if (maxWait !== Infinity) {
      const wait = this.predictWait(waiter.cost, now);
      if (wait > maxWait) {
        waiter.refused(wait);
        return;
      }
    }
    waiter.queuedAt = now;
    this.queue.push(waiter);
    if (this.eventObservers > 0) {
      this.emit({ type: 'queued', time: now, cost: waiter.cost, queued: this.queue.size, queuedCost: this.queue.totalCost });
    }
    if (this.queue.head === waiter) this.drain();
  }

  cancel(waiter: Waiter): void {
    const wasHead = this.queue.head === waiter;
    if (!this.queue.remove(waiter)) return;
    this.cancelledCount++;
    if (this.eventObservers > 0) this.emit({ type: 'cancelled', time: this.scheduler.now(), cost: waiter.cost });
    // A lighter value behind a withdrawn heavy head may be covered already.
    if (wasHead) this.drain();
  }

  recordRefusal(refusal: Refusal): void {
    if (refusal.outcome === 'dropped') this.droppedCount++;
    else this.rejectedCount++;
    if (this.eventObservers > 0) {
      this.emit({
        type: refusal.outcome,
        time: this.scheduler.now(),
        cost: refusal.cost,
        reason: refusal.reason,
        retryAfter: refusal.retryAfter,
      });
    }
  }

  // ---- for subclasses and adapters of this package ----

  /** Sets limits already validated, re-plans the queue, and reports the change. */
  protected applyLimits(limits: LedgerLimits, cause: string): void {
    const now = this.scheduler.now();
    const shrank = limits.capacity < this.ledger.capacity;
    this.ledger.reconfigure(limits, now);
    if (shrank) this.failWaitersAbove(limits.capacity);
    if (this.eventObservers > 0) {
      this.emit({ type: 'reconfigured', time: now, ...limits, available: this.available(), cause });
    }
    this.replan();
  }

  /** Sets the token count now (clamped to capacity; negative means debt, paid back by refill first). */
  protected setTokens(tokens: number): void {
    this.ledger.setTokens(tokens, this.scheduler.now());
    this.replan();
  }

  /** The wait, in ms, a value of `cost` joining now would have. */
  protected predictWait(cost: number, now: number): number {
    return this.ledger.timeUntil(this.queue.totalCost + cost, now);
  }

  /** Number of values waiting. */
  protected get queuedCount(): number {
    return this.queue.size;
  }

  // ---- the queue's machinery ----

  /**
   * Grants every head that is covered now, then aims the timer at the next head. `dueAt`:
   * when the timer that called it was due. A late timer's first grant is booked at that
   * instant — the emission is late, but what follows is not pushed back by the lateness,
   * so timer jitter does not add up into a slower rate (in virtual time timers are never late).
   */
  private drain(dueAt = Number.NaN): void {
    if (this.draining) return; // a grant's subscriber re-entered; the running loop continues
    this.draining = true;
    try {
      for (let head = this.queue.head; head !== null; head = this.queue.head) {
        const now = this.scheduler.now();
        const bookAt = dueAt < now && dueAt >= this.ledger.lastUpdate ? dueAt : now;
        dueAt = Number.NaN;
        if (!this.ledger.tryTake(head.cost, bookAt)) break;
        this.queue.remove(head);
        this.noteGrant(head.cost, now - head.queuedAt, now);
        head.granted(); // may re-enter: enqueue, cancel, configure
      }
    } finally {
      this.draining = false;
    }
    this.plan();
  }

  /** Re-plans after the limits or the count changed: grants what is now covered, re-aims the timer. */
  private replan(): void {
    if (this.draining) return; // the running drain re-plans when it ends
    this.drain();
  }

  /** Keeps exactly one timer while values wait, due when the head is covered; none otherwise. */
  private plan(): void {
    const head = this.queue.head;
    if (head === null) {
      this.clearTimer();
      return;
    }
    const now = this.scheduler.now();
    const wait = this.ledger.timeUntil(head.cost, now);
    const due = now + wait;
    if (this.timer !== null && this.timerDue === due) return;
    this.clearTimer();
    this.timerDue = due;
    // A timer may fire early or be capped (2^31−1 ms): drain() re-checks and re-plans the rest.
    this.timer = this.scheduler.schedule(this.onTimer, Math.min(wait, MAX_TIMER_DELAY));
  }

  private readonly onTimer = (): void => {
    // Released before drain() aims the next one: asyncScheduler keeps a fired action's
    // interval until its callback returns, so two real timers would briefly coexist.
    this.clearTimer();
    this.drain(this.timerDue);
  };

  private clearTimer(): void {
    if (this.timer === null) return;
    const timer = this.timer;
    this.timer = null;
    timer.unsubscribe();
  }

  private failWaitersAbove(capacity: number): void {
    for (const waiter of this.queue.toArray()) {
      // A waiter another one's failure withdrew meanwhile gets no second answer.
      if (waiter.cost <= capacity || !this.queue.remove(waiter)) continue;
      waiter.failed(new RangeError(`cost ${waiter.cost} exceeds capacity ${capacity}`));
    }
  }

  private noteGrant(cost: number, waited: number, now: number): void {
    this.grantedCount++;
    this.grantedCost += cost;
    if (this.eventObservers > 0) this.emitGranted(cost, waited, now);
  }

  private emitGranted(cost: number, waited: number, now: number): void {
    this.emit({ type: 'granted', time: now, cost, waited, available: Math.max(0, this.ledger.tokensAt(now)) });
  }

  private emit(event: TokenBucketEvent): void {
    this.eventsSubject.next(event);
  }
}

/** The waiter behind `take()`: one per subscription. */
class TakeWaiter implements Waiter {
  queuedAt = 0;
  previousWaiter: Waiter | null = null;
  nextWaiter: Waiter | null = null;
  constructor(
    readonly cost: number,
    readonly granted: () => void,
    readonly failed: (error: Error) => void,
  ) {}
  refused(): void {
    // take() always waits (maxWait Infinity), so it is never refused.
  }
}

/** Validates constructor options once; the error names the option and the value. */
export function checkBucketOptions(options: TokenBucketOptions): LedgerLimits & { initialTokens: number } {
  checkKnownKeys('TokenBucket', options, OPTION_KEYS);
  const capacity = checkNumberOption('TokenBucket', 'capacity', options.capacity, 'positive');
  const refillRate = checkNumberOption('TokenBucket', 'refillRate', options.refillRate, 'positive');
  const interval = checkNumberOption('TokenBucket', 'interval', options.interval ?? 1000, 'positive');
  const initialTokens = checkNumberOption('TokenBucket', 'initialTokens', options.initialTokens ?? capacity, 'non-negative');
  if (initialTokens > capacity) {
    throw new RangeError(`TokenBucket option "initialTokens" (${initialTokens}) exceeds capacity ${capacity}`);
  }
  const scheduler = options.scheduler;
  if (scheduler !== undefined && (typeof scheduler?.now !== 'function' || typeof scheduler?.schedule !== 'function')) {
    throw new TypeError('TokenBucket option "scheduler" must be a SchedulerLike with now() and schedule()');
  }
  return { capacity, refillRate, interval, initialTokens };
}
