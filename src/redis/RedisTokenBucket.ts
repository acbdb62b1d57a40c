import type { Observable, SchedulerLike } from 'rxjs';
import { planAdaptation, type RateLimitFeedback } from '../arithmetic/adaptation';
import type { LedgerLimits } from '../arithmetic/TokenLedger';
import { checkAdaptOptions, type AdaptOptions } from '../limiters/adaptOptions';
import { LimiterCounters, refusalEvent } from '../limiters/LimiterCounters';
import { LimiterEvents } from '../limiters/LimiterEvents';
import { checkLimitsPatch } from '../limiters/limitsPatch';
import { takeFrom, type TakeOptions } from '../limiters/TakeWaiter';
import { TOKEN_LIMITER, type Refusal, type TokenLimiter } from '../limiters/TokenLimiter';
import { checkCostWithin } from '../shared/checks';
import { monotonicScheduler } from '../waiting/monotonicScheduler';
import { SingleTimer } from '../waiting/SingleTimer';
import type { Waiter } from '../waiting/WaitQueue';
import { BucketStore } from './BucketStore';
import { CountMirror } from './CountMirror';
import type { RedisTokenBucketEvent, RedisTokenBucketStats } from './events';
import { LocalFallback } from './LocalFallback';
import { checkRedisOptions, type RedisTokenBucketOptions } from './options';
import { Refunds } from './Refunds';
import { ReserveCalls } from './ReserveCalls';
import { StoreHealth } from './StoreHealth';
import { TicketQueue } from './TicketQueue';
import type { Ticket } from './tickets';

/**
 * A token bucket whose state lives in Redis, so any number of processes share one limit.
 * Every operator that takes a `TokenBucket` takes it.
 *
 * Each value costs one round trip: an atomic Lua script reads the server's clock, refills,
 * and either takes the cost or reserves it ahead, answering how long to wait; this process
 * then grants the value at that time with its own scheduler (no polling). A value that
 * leaves before its time returns its reservation. Values of one process are granted in
 * the order they asked. Import from `rxjs-token-bucket/redis`; `ioredis` is the user's.
 *
 * @example
 * ```ts
 * import Redis from 'ioredis';
 * import { throttleByTokens } from 'rxjs-token-bucket';
 * import { RedisTokenBucket } from 'rxjs-token-bucket/redis';
 *
 * const api = new RedisTokenBucket({ redis: new Redis(), key: 'github-api', capacity: 10, refillRate: 5 });
 * jobs$.pipe(throttleByTokens(api)).subscribe(callApi); // 5/s across every worker
 * ```
 */
export class RedisTokenBucket implements TokenLimiter {
  readonly [TOKEN_LIMITER] = true as const;
  readonly scheduler: SchedulerLike;
  /** The Redis key holding the state: `${keyPrefix}{${key}}`. */
  readonly key: string;
  private readonly clock: () => number;
  /** The shared state in Redis, and the scripts this process runs on it. */
  private readonly store: BucketStore;
  private readonly maxInFlight: number;
  /** What this process last heard of the shared count, and the limits it passes to the scripts. */
  private readonly mirror: CountMirror;
  private readonly tickets = new TicketQueue();
  /** `onStoreError: 'local'`: the local share of the limit. */
  private readonly fallback: LocalFallback | null;
  private readonly health: StoreHealth;
  private readonly refunds: Refunds;
  private readonly calls: ReserveCalls;
  /** Aimed at the head's reservation: the only grant timer while values wait. */
  private readonly grantTimer: SingleTimer;
  private pumping = false;
  private pumpAgain = false;
  private readonly counters = new LimiterCounters();
  private readonly events = new LimiterEvents<RedisTokenBucketEvent>();
  /** What happens, as it happens: the events of `TokenBucket`, plus store errors, recoveries and refunds. Hot. */
  readonly events$: Observable<RedisTokenBucketEvent> = this.events.stream;

  constructor(options: RedisTokenBucketOptions) {
    const checked = checkRedisOptions(options);
    this.scheduler = options.scheduler ?? monotonicScheduler;
    const scheduler = this.scheduler;
    this.clock = () => scheduler.now();
    this.key = checked.key;
    this.maxInFlight = checked.maxInFlight;
    this.mirror = new CountMirror(checked, this.clock());
    const { mirror, tickets, events, clock } = this;
    const store = new BucketStore(checked.redis, this.key, checked.clock, () => mirror.scriptLimits());
    this.store = store;
    const pump = () => this.pump();
    const policy = checked.onStoreError;
    this.fallback = policy === 'local' ? new LocalFallback(mirror.limits, checked.localShare, scheduler, tickets, pump) : null;
    this.health = new StoreHealth(policy, checked.probeInterval, this.key, tickets, this.fallback, events, clock);
    this.refunds = new Refunds(store, mirror, events, clock);
    this.calls = new ReserveCalls(store, checked.timeout, tickets, mirror, this.health, this.refunds, scheduler, pump);
    this.grantTimer = new SingleTimer(scheduler, pump);
  }

  get capacity(): number {
    return this.mirror.limits.capacity;
  }
  get refillRate(): number {
    return this.mirror.limits.refillRate;
  }
  get interval(): number {
    return this.mirror.limits.interval;
  }

  /**
   * A cold Observable that asks for `cost` tokens when subscribed, emits once (`undefined`)
   * and completes when they are granted. Unsubscribing before that withdraws the request
   * (a reservation already made is returned). Errors for an invalid cost or one above
   * capacity, and with `RedisStoreError` under `onStoreError: 'fail-closed'`.
   */
  take(cost = 1, options: TakeOptions = {}): Observable<void> {
    return takeFrom(this, 'RedisTokenBucket.take', cost, options);
  }

  /** Tokens now, 0..capacity, as last reported by Redis and refilled since (an estimate). */
  available(): number {
    return this.mirror.available(this.clock());
  }

  /**
   * Ms until a value of `cost` asking now would be granted, estimated from the last state
   * Redis reported and the values of this process not yet reserved. Throws for an invalid
   * cost or one above capacity.
   */
  timeUntil(cost = 1): number {
    checkCostWithin(cost, this.capacity);
    return this.mirror.timeUntil(this.tickets.pendingCost + cost, this.clock());
  }

  /**
   * Changes the limits this process passes to the script, live (every process sharing the
   * key should use the same limits). Waiting values not yet reserved whose cost now exceeds
   * the capacity fail with a `RangeError`; reservations already made stand.
   */
  configure(limits: Partial<LedgerLimits>): void {
    this.applyLimits(checkLimitsPatch('RedisTokenBucket.configure', limits, this.mirror.limits), 'configure');
  }

  /**
   * Retunes from a server's rate-limit feedback, as `TokenBucket.adapt` does (so
   * `adaptiveThrottle` takes this bucket): a new `refillRate` applies to this process's
   * calls; a cap on the tokens and a pause (`retryAfter`, or a spent budget) are written to
   * the shared state in Redis, so every process sees them. A pause never cuts a longer one
   * short, and several processes reporting the same pause do not add up. Throws for a bad
   * option, naming it.
   */
  adapt(feedback: RateLimitFeedback, options: AdaptOptions = {}): void {
    const settings = checkAdaptOptions('RedisTokenBucket.adapt', options);
    const { capacity, refillRate, interval } = this.mirror.limits;
    const plan = planAdaptation(feedback, { capacity, refillRate, interval, available: this.available() }, settings);
    if (plan === undefined) return;
    const now = this.clock();
    // Mirror the change at once, so timeUntil sees it before Redis answers.
    if (plan.capTokens !== undefined) this.mirror.cap(plan.capTokens, now);
    if (plan.pauseFor !== undefined) this.mirror.pauseUntil(now + plan.pauseFor, now);
    if (plan.capTokens !== undefined || plan.pauseFor !== undefined) {
      const pauseMicros = plan.pauseFor === undefined ? 0 : plan.pauseFor * 1000;
      this.store.adjust(plan.capTokens, pauseMicros).then(
        (count) => this.mirror.heard(count, this.clock()),
        () => {
          this.health.errors++; // no value waits on it; the next reserve call meets the outage
        },
      );
    }
    const rate = plan.refillRate !== undefined && plan.refillRate > 0 ? plan.refillRate : refillRate;
    if (rate !== refillRate) this.applyLimits({ capacity, refillRate: rate, interval }, plan.cause);
  }

  /** Until when (scheduler clock) the shared bucket is paused, as far as this process knows, or -Infinity. */
  get pausedUntil(): number {
    return this.mirror.pausedUntil;
  }

  /** Sets limits already validated, fails the unreserved values they exclude, and reports the change. */
  private applyLimits(next: LedgerLimits, cause: string): void {
    const now = this.clock();
    this.mirror.reconfigure(next, now);
    this.tickets.failUnreservedAbove(next.capacity, (ticket) => this.fallback?.withdraw(ticket));
    this.fallback?.configure(next);
    if (this.events.observers > 0) {
      this.events.emit({ type: 'reconfigured', time: now, ...next, available: this.available(), cause });
    }
    this.pump();
  }

  /** A fresh snapshot of this process's view and counters. */
  stats(): RedisTokenBucketStats {
    const { capacity, refillRate, interval } = this.mirror.limits;
    return {
      capacity,
      refillRate,
      interval,
      available: this.available(),
      queued: this.tickets.size,
      queuedCost: this.tickets.totalCost,
      ...this.counters.snapshot(),
      timerScheduled: this.grantTimer.scheduled,
      inFlight: this.calls.size,
      reserved: this.tickets.reserved,
      ...this.refunds.stats(),
      ...this.health.stats(),
    };
  }

  // ---- the operator protocol (TokenLimiter) ----

  /** Redis cannot answer synchronously: always false, and `enqueue` decides. */
  takeNow(_cost: number): boolean {
    return false;
  }

  enqueue(waiter: Waiter, maxWait: number): void {
    const now = this.clock();
    const ticket = this.tickets.push(waiter, maxWait, now);
    if (this.events.observers > 0) {
      this.events.emit({ type: 'queued', time: now, cost: ticket.cost, queued: this.tickets.size, queuedCost: this.tickets.totalCost });
    }
    this.pump();
  }

  cancel(waiter: Waiter): void {
    const ticket = this.tickets.find(waiter);
    if (ticket === undefined) return;
    const state = ticket.state;
    ticket.cancelled = true;
    this.tickets.remove(ticket);
    this.counters.cancelled++;
    if (this.events.observers > 0) this.events.emit({ type: 'cancelled', time: this.clock(), cost: ticket.cost });
    if (state === 'sent') this.refunds.await();
    else if (state === 'reserved' && ticket.reservation !== null) this.refunds.add(ticket.reservation);
    else if (state === 'local') this.fallback?.withdraw(ticket);
    this.pump();
  }

  recordRefusal(refusal: Refusal): void {
    this.counters.refusal(refusal);
    if (this.events.observers > 0) this.events.emit(refusalEvent(refusal, this.clock()));
  }

  // ---- the queue: asking Redis in order, granting in order ----

  /**
   * Sends what may be sent, grants what may be granted, then aims the two timers (the
   * head's reservation, the oldest call's timeout). Re-entrant calls fold into the running one.
   */
  private pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        this.sendWaiting();
        this.grantHeads();
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
    const head = this.tickets.head;
    if (head !== null && head.state === 'reserved') this.grantTimer.aim(head.dueAt);
    else this.grantTimer.clear();
    this.calls.aimTimer();
  }

  /** Moves unsent tickets on while fewer than `maxInFlight` are active: asked of Redis, or given to `onStoreError`. */
  private sendWaiting(): void {
    while (this.tickets.active < this.maxInFlight) {
      const ticket = this.tickets.takeUnsent();
      if (ticket === null) return;
      // A value that takes nothing need not be asked of Redis.
      if (ticket.cost === 0) this.tickets.enter(ticket, 'ready');
      else if (this.health.maySend()) this.calls.send(ticket);
      else this.health.apply(ticket);
    }
  }

  /** Grants heads in queue order while they may go: reserved and due, ready, or granted by the local share. */
  private grantHeads(): void {
    for (let head = this.tickets.head; head !== null; head = this.tickets.head) {
      const now = this.clock();
      if (head.state === 'reserved') {
        if (head.dueAt > now) return;
      } else if (head.state === 'local') {
        if (head.localWaiter === null) this.fallback!.ask(head, now);
        return; // the local grant makes it ready and pumps again
      } else if (head.state !== 'ready') {
        return;
      }
      this.grant(head, now);
    }
  }

  private grant(ticket: Ticket, now: number): void {
    this.tickets.remove(ticket);
    this.pumpAgain = true; // a slot for another call is free
    this.counters.grant(ticket.cost);
    this.health.granted(ticket);
    if (this.events.observers > 0) {
      const { cost, source, storeTime } = ticket;
      this.events.emit({ type: 'granted', time: now, cost, waited: now - ticket.queuedAt, available: this.available(), source, storeTime });
    }
    ticket.waiter.granted(); // may re-enter: enqueue, cancel, configure
  }
}
