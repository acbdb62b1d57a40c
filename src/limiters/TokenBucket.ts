import type { Observable, SchedulerLike } from 'rxjs';
import type { RateLimitFeedback } from '../arithmetic/adaptation';
import { TokenLedger, type LedgerLimits } from '../arithmetic/TokenLedger';
import { checkAmount, checkCostWithin } from '../shared/checks';
import { clockOf, monotonicScheduler } from '../waiting/monotonicScheduler';
import { SingleTimer } from '../waiting/SingleTimer';
import { WaitQueue, type Waiter } from '../waiting/WaitQueue';
import { planLimiterAdaptation, type AdaptOptions } from './adaptOptions';
import { checkBucketOptions, type TokenBucketLimits, type TokenBucketOptions } from './bucketOptions';
import { LimiterCounters, refusalEvent } from './LimiterCounters';
import { LimiterEvents } from './LimiterEvents';
import { checkLimitsPatch } from './limitsPatch';
import { acquireTokens, executeWith, type AcquireOptions, type ExecuteOptions } from './acquire';
import { takeFrom, type TakeOptions } from './TakeWaiter';
import type { TokenBucketEvent, TokenBucketStats } from './TokenBucketStats';
import { TOKEN_LIMITER, type Refusal, type TokenLimiter } from './TokenLimiter';

/** The owner `adapt`'s errors name. */
const ADAPT_OWNER = 'TokenBucket adapt';

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
  readonly [TOKEN_LIMITER] = true as const;
  readonly scheduler: SchedulerLike;
  /** `scheduler.now`, held directly so the hot path makes one call. */
  private readonly clock: () => number;
  private readonly ledger: TokenLedger;
  private readonly queue = new WaitQueue();
  /** The one timer, aimed at the moment the head of the queue is covered. */
  private readonly timer: SingleTimer;
  private draining = false;
  private readonly counters = new LimiterCounters();
  private readonly events = new LimiterEvents<TokenBucketEvent>();
  /** What happens, as it happens: granted, queued, cancelled, dropped, rejected, reconfigured. Hot; never completes. */
  readonly events$: Observable<TokenBucketEvent> = this.events.stream;

  constructor(options: TokenBucketOptions) {
    const checked = checkBucketOptions(options);
    this.scheduler = options.scheduler ?? monotonicScheduler;
    const scheduler = this.scheduler;
    this.clock = clockOf(scheduler);
    this.ledger = new TokenLedger(checked, checked.initialTokens, this.scheduler.now());
    // A late timer's first grant is booked at the instant it was due (see drain).
    this.timer = new SingleTimer(scheduler, (dueAt) => this.drain(dueAt));
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
  take(cost = 1, options: TakeOptions = {}): Observable<void> {
    return takeFrom(this, 'TokenBucket.take', cost, options);
  }

  /** Waits in this bucket's one queue (as the operators' values do) and resolves with the ms waited; see `acquireTokens`. */
  acquire(cost = 1, options: AcquireOptions = {}): Promise<number> {
    return acquireTokens(this, 'TokenBucket.acquire', cost, options);
  }

  /** Acquires `options.cost` (default 1), then runs `fn`; `actualCost` settles the real cost. See `executeWith`. */
  execute<R>(fn: (signal: AbortSignal) => R | PromiseLike<R>, options: ExecuteOptions<R> = {}): Promise<R> {
    return executeWith(this, 'TokenBucket.execute', fn, options);
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
    return this.ledger.timeUntil(this.queue.totalCost + cost, this.readClock());
  }

  /**
   * Changes the limits live. Tokens earned so far are credited at the old rate and kept,
   * clamped to the new capacity; waiting values are re-planned at once, and any whose
   * cost now exceeds the capacity fail with a `RangeError`.
   */
  configure(limits: TokenBucketLimits): void {
    this.applyLimits(checkLimitsPatch('TokenBucket.configure', limits, this.ledger), 'configure');
  }

  /**
   * Retunes the bucket from a server's feedback (what `parseRateLimitHeaders` returns, or a
   * websocket's "slow down") as `planAdaptation` plans it: a pause, a cap on the tokens, a new
   * rate within [minRate, maxRate]; reported as `reconfigured`. Throws naming `TokenBucket adapt`,
   * the field and the value for feedback or options `planLimiterAdaptation` refuses.
   */
  adapt(feedback: RateLimitFeedback, options: AdaptOptions = {}): void {
    const { capacity, refillRate, interval } = this.ledger;
    const plan = planLimiterAdaptation(ADAPT_OWNER, feedback, options, { capacity, refillRate, interval, available: this.available() });
    if (plan === undefined) return;
    const now = this.scheduler.now();
    if (plan.capTokens !== undefined && plan.capTokens < this.ledger.tokensAt(now)) this.ledger.setTokens(plan.capTokens, now);
    if (plan.pauseFor !== undefined) this.ledger.pauseUntil(now + plan.pauseFor, now);
    // The plan's rate is finite and > 0 by construction; anything else would poison the ledger for good.
    const planned = plan.refillRate;
    const nextRate = planned !== undefined && planned > 0 && Number.isFinite(planned) ? planned : this.ledger.refillRate;
    this.applyLimits({ capacity: this.ledger.capacity, refillRate: nextRate, interval: this.ledger.interval }, plan.cause);
  }

  /**
   * Takes `amount` now, into debt if need be (refill pays it back before any waiting value is
   * granted; `available()` is 0 meanwhile, `stats().debt` shows it): a cost known afterwards.
   */
  debit(amount: number): void {
    checkAmount('TokenBucket.debit', amount);
    this.adjust('debit', amount, (now) => this.ledger.spend(amount, now));
  }

  /** Gives `amount` back (a debt first), never above capacity; waiting values may go earlier. */
  refund(amount: number): void {
    checkAmount('TokenBucket.refund', amount);
    this.adjust('refund', amount, (now) => this.ledger.refund(amount, now));
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
      ...this.counters.snapshot(),
      timerScheduled: this.timer.scheduled,
      debt: this.ledger.debtAt(this.scheduler.now()),
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

  enqueue(waiter: Waiter, maxWait: number): void {
    const now = this.scheduler.now();
    if (this.queue.size === 0 && this.ledger.tryTake(waiter.cost, now)) {
      this.noteGrant(waiter.cost, 0, now);
      waiter.granted();
      return;
    }
    // Decided before anything changes: a refused waiter takes nothing.
    if (maxWait !== Infinity) {
      const wait = this.ledger.timeUntil(this.queue.costAhead(waiter.priority ?? 0) + waiter.cost, now);
      if (wait > maxWait) {
        waiter.refused(wait);
        return;
      }
    }
    waiter.queuedAt = now;
    this.queue.push(waiter);
    if (this.events.observers > 0) {
      this.events.emit({ type: 'queued', time: now, cost: waiter.cost, queued: this.queue.size, queuedCost: this.queue.totalCost });
    }
    if (this.queue.head === waiter) this.drain();
  }

  cancel(waiter: Waiter): void {
    const wasHead = this.queue.head === waiter;
    if (!this.queue.remove(waiter)) return;
    this.counters.cancelled++;
    if (this.events.observers > 0) this.events.emit({ type: 'cancelled', time: this.scheduler.now(), cost: waiter.cost });
    // A lighter value behind a withdrawn heavy head may be covered already.
    if (wasHead) this.drain();
  }

  recordRefusal(refusal: Refusal): void {
    this.counters.refusal(refusal);
    if (this.events.observers > 0) this.events.emit(refusalEvent(refusal, this.scheduler.now()));
  }

  // ---- the queue's machinery ----

  /**
   * `now()`, with the refill up to it committed to the ledger: if the clock later goes
   * backwards, the tokens seen at this reading are kept, not lost until the clock catches up.
   */
  private readClock(): number {
    const now = this.scheduler.now();
    this.ledger.advance(now);
    return now;
  }

  /** Applies a debit or refund at now, reports it, and re-plans the queue. */
  private adjust(cause: 'debit' | 'refund', amount: number, change: (now: number) => void): void {
    const now = this.scheduler.now();
    change(now);
    if (this.events.observers > 0) {
      this.events.emit({ type: 'adjusted', time: now, cause, amount, available: this.available(), debt: this.ledger.debtAt(now) });
    }
    if (!this.draining) this.drain(); // a running drain re-plans when it ends
  }

  /** Sets limits already validated, re-plans the queue, and reports the change. */
  private applyLimits(limits: LedgerLimits, cause: string): void {
    const now = this.scheduler.now();
    const shrank = limits.capacity < this.ledger.capacity;
    this.ledger.reconfigure(limits, now);
    if (shrank) this.failWaitersAbove(limits.capacity);
    if (this.events.observers > 0) {
      this.events.emit({ type: 'reconfigured', time: now, ...limits, available: this.available(), cause });
    }
    if (!this.draining) this.drain(); // a running drain re-plans when it ends
  }

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

  /** Keeps exactly one timer while values wait, due when the head is covered; none otherwise. */
  private plan(): void {
    const head = this.queue.head;
    if (head === null) {
      this.timer.clear();
      return;
    }
    const now = this.scheduler.now();
    const wait = this.ledger.timeUntil(head.cost, now);
    // A timer may fire early or be capped (2^31−1 ms): drain() re-checks and re-plans the rest.
    this.timer.aim(now + wait, wait);
  }

  private failWaitersAbove(capacity: number): void {
    for (const waiter of this.queue.toArray()) {
      // A waiter another one's failure withdrew meanwhile gets no second answer.
      if (waiter.cost <= capacity || !this.queue.remove(waiter)) continue;
      waiter.failed(new RangeError(`cost ${waiter.cost} exceeds capacity ${capacity}`));
    }
  }

  private noteGrant(cost: number, waited: number, now: number): void {
    this.counters.grant(cost);
    if (this.events.observers === 0) return;
    this.events.emit({ type: 'granted', time: now, cost, waited, available: Math.max(0, this.ledger.tokensAt(now)) });
  }
}
