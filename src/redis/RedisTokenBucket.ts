import type { Observable, SchedulerLike } from 'rxjs';
import type { RateLimitFeedback } from '../arithmetic/adaptation';
import type { LedgerLimits } from '../arithmetic/TokenLedger';
import { acquireTokens, executeWith, type AcquireOptions, type ExecuteOptions } from '../limiters/acquire';
import { planLimiterAdaptation, type AdaptOptions } from '../limiters/adaptOptions';
import { LimiterCounters, refusalEvent } from '../limiters/LimiterCounters';
import { LimiterEvents } from '../limiters/LimiterEvents';
import { checkLimitsPatch } from '../limiters/limitsPatch';
import { takeFrom, type TakeOptions } from '../limiters/TakeWaiter';
import { TOKEN_LIMITER, type Refusal, type TokenLimiter } from '../limiters/TokenLimiter';
import { checkAmount, checkCostWithin } from '../shared/checks';
import { clockOf, monotonicScheduler } from '../waiting/monotonicScheduler';
import type { Waiter } from '../waiting/WaitQueue';
import { BucketStore } from './BucketStore';
import { CountChanges } from './CountChanges';
import { CountMirror } from './CountMirror';
import type { RedisTokenBucketEvent, RedisTokenBucketStats } from './events';
import { Lease } from './Lease';
import { checkRedisLimits, clampRedisRate } from './limitsRange';
import { LocalFallback } from './LocalFallback';
import { checkRedisOptions, type RedisTokenBucketOptions } from './options';
import { Refunds } from './Refunds';
import { ReserveCalls } from './ReserveCalls';
import { StoreClockReader } from './StoreClockReader';
import { StoreHealth } from './StoreHealth';
import { TicketPump } from './TicketPump';
import { TicketQueue } from './TicketQueue';
import type { Ticket } from './tickets';

/** Who `adapt`'s messages name, as `TokenBucket adapt` does. */
const ADAPT_OWNER = 'RedisTokenBucket adapt';

/**
 * A token bucket whose state lives in Redis, so any number of processes share one limit;
 * every operator that takes a `TokenBucket` takes it. An atomic Lua script on the server's
 * clock refills and, for each value of a batch in order, takes its cost or reserves it ahead;
 * this process grants each at its time with its own scheduler (no polling), in the order asked
 * (at most `maxInFlight` at once, the others by priority, then arrival). One call is out at a
 * time, carrying what arrived meanwhile; a busy process also leases spare tokens and grants its
 * next values from them without a call (the `lease` option). A value that leaves before its
 * time returns its reservation. `acquire`/`execute` wait in the same queue; `debit`/`refund`
 * change the shared count. Import from `rxjs-token-bucket/redis`; `ioredis` is the user's.
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
  /** What this process last heard of the shared count, and the limits it passes to the scripts. */
  private readonly mirror: CountMirror;
  private readonly tickets = new TicketQueue();
  /** `onStoreError: 'local'`: the local share of the limit. */
  private readonly fallback: LocalFallback | null;
  private readonly health: StoreHealth;
  private readonly refunds: Refunds;
  /** Debits, refunds and `adapt`'s changes of the shared count. */
  private readonly changes: CountChanges;
  private readonly lease: Lease;
  private readonly calls: ReserveCalls;
  /** Asks Redis in order, grants in order; holds the grant timer. */
  private readonly pump: TicketPump;
  private readonly counters = new LimiterCounters();
  private readonly events = new LimiterEvents<RedisTokenBucketEvent>();
  /** What happens, as it happens: the events of `TokenBucket`, plus store errors, recoveries and refunds. Hot. */
  readonly events$: Observable<RedisTokenBucketEvent> = this.events.stream;

  constructor(options: RedisTokenBucketOptions) {
    const checked = checkRedisOptions(options);
    this.scheduler = options.scheduler ?? monotonicScheduler;
    const scheduler = this.scheduler;
    this.clock = clockOf(scheduler);
    this.key = checked.key;
    this.mirror = new CountMirror(checked, this.clock());
    const { mirror, tickets, events, clock } = this;
    // The shared state in Redis, and the scripts this process runs on it.
    const store = new BucketStore(checked.redis, this.key, new StoreClockReader(checked.clock), mirror, clock);
    const pump = () => this.pump.run();
    const policy = checked.onStoreError;
    this.fallback =
      policy === 'local'
        ? new LocalFallback(mirror.limits, checked.localShare, scheduler, {
            tickets,
            sharedCount: (at) => mirror.carry(at),
            charge: (amount) => this.changes.settle('debit', amount),
            // As the pump sends: one call out at a time while Redis is healthy, within maxInFlight.
            freeSlots: () => (this.calls.size > 0 ? 0 : checked.maxInFlight - this.calls.valuesOut - tickets.reserved),
            resend: (batch) => this.calls.send(batch),
            onReady: pump,
          })
        : null;
    // The probe of 'fail-open' and 'local' changes nothing (no cap, no pause) and mirrors the count.
    const probe = () => store.adjust(undefined, 0).then((count) => mirror.heard(count, clock()));
    const links = { tickets, fallback: this.fallback, events, clock, probe, run: pump };
    this.health = new StoreHealth(policy, checked.probeInterval, checked.timeout, this.key, links);
    this.refunds = new Refunds(store, mirror, events, clock);
    this.changes = new CountChanges(store, mirror, this.health, this.fallback, events, clock);
    const lease = (this.lease = new Lease(checked.lease, store, mirror, clock, () => this.health.errors++));
    this.calls = new ReserveCalls(store, checked.timeout, tickets, mirror, this.health, this.refunds, lease, scheduler, pump);
    const noteGrant = (ticket: Ticket, now: number) => this.noteGrant(ticket, now);
    this.pump = new TicketPump(tickets, checked.maxInFlight, this.health, this.calls, this.fallback, lease, clock, scheduler, noteGrant);
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

  /**
   * Waits for `cost` tokens in this bucket's queue (the same order, by priority, as the
   * operators' values) and resolves with the ms waited. Rejects, taking nothing: with
   * `signal.reason` when aborted first (at once if already aborted; a reservation already
   * made is returned, as on unsubscribe); with `RateLimitExceededError` (`'max-wait'`) when
   * Redis predicts a longer wait than `maxWait`; with `TypeError`/`RangeError` for a bad cost
   * or option; with `RedisStoreError` under `onStoreError: 'fail-closed'`.
   */
  acquire(cost = 1, options: AcquireOptions = {}): Promise<number> {
    return acquireTokens(this, 'RedisTokenBucket.acquire', cost, options);
  }

  /**
   * Waits for `options.cost` tokens (default 1), then runs `fn` and resolves with its result;
   * `fn`'s signal aborts when `options.signal` does, also after the grant. With `actualCost`,
   * the difference to the real cost is debited or refunded at once. Rejects as `acquire`
   * does, or with what `fn` threw.
   */
  execute<R>(fn: (signal: AbortSignal) => R | PromiseLike<R>, options: ExecuteOptions<R> = {}): Promise<R> {
    return executeWith(this, 'RedisTokenBucket.execute', fn, options);
  }

  /**
   * Takes `amount` tokens from the shared count now, even below zero: a debt refill pays back
   * before any later reservation falls due, so every process waits for it (costs known only
   * afterwards). Mirrored at once. A call Redis fails is counted in `stats().storeErrors` and
   * lost for the shared count; under `onStoreError: 'local'` the local share bears it instead.
   */
  debit(amount: number): void {
    this.changes.settle('debit', checkAmount('RedisTokenBucket.debit', amount));
  }

  /**
   * Gives `amount` tokens back to the shared count (paying a debt first), never above capacity.
   * While reservations are pending it applies once the last of them falls due, since they keep
   * their times (given earlier, it would let a newcomer be granted beside them, beyond the
   * burst); values asked after it may go earlier. A failed call is handled as for `debit`.
   */
  refund(amount: number): void {
    this.changes.settle('refund', checkAmount('RedisTokenBucket.refund', amount));
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
    const owner = 'RedisTokenBucket.configure';
    this.applyLimits(checkRedisLimits(owner, checkLimitsPatch(owner, limits, this.mirror.limits)), 'configure');
  }

  /**
   * Retunes from a server's rate-limit feedback, as `TokenBucket.adapt` does (so
   * `adaptiveThrottle` takes this bucket): a new `refillRate` applies to this process's
   * calls; a cap on the tokens and a pause (`retryAfter`, or a spent budget) are written to
   * the shared state in Redis, so every process sees them. A pause never cuts a longer one
   * short, and several processes reporting the same pause do not add up. Throws a `TypeError`
   * or `RangeError` naming `RedisTokenBucket adapt`, the field and the value for feedback that
   * is not an object or has a number that is not finite >= 0 (before anything is sent to
   * Redis), and for a bad option, naming it.
   */
  adapt(feedback: RateLimitFeedback, options: AdaptOptions = {}): void {
    const { capacity, refillRate, interval } = this.mirror.limits;
    const plan = planLimiterAdaptation(ADAPT_OWNER, feedback, options, { capacity, refillRate, interval, available: this.available() });
    if (plan === undefined) return;
    const now = this.clock();
    // Mirror the change at once, so timeUntil sees it before Redis answers.
    if (plan.capTokens !== undefined) this.mirror.cap(plan.capTokens, now);
    if (plan.pauseFor !== undefined) this.mirror.pauseUntil(now + plan.pauseFor, now);
    if (plan.capTokens !== undefined || plan.pauseFor !== undefined) {
      this.lease.giveBack(); // leased before the cap or pause: not to be granted through it
      this.changes.adjust(plan.capTokens, plan.pauseFor === undefined ? 0 : plan.pauseFor * 1000);
    }
    const learned = plan.refillRate !== undefined && plan.refillRate > 0 ? plan.refillRate : refillRate;
    const rate = learned === refillRate ? refillRate : clampRedisRate(learned, capacity, interval);
    if (rate !== refillRate) this.applyLimits({ capacity, refillRate: rate, interval }, plan.cause);
  }

  /** Until when (scheduler clock) the shared bucket is paused, as far as this process knows, or -Infinity. */
  get pausedUntil(): number {
    return this.mirror.pausedUntil;
  }

  /** Gives this process's lease back to Redis now (one refund call), e.g. before a process exits; a later call may lease again. */
  returnLease(): void {
    this.lease.giveBack();
  }

  /** Sets limits already validated, fails the unreserved values they exclude, and reports the change. */
  private applyLimits(next: LedgerLimits, cause: string): void {
    const now = this.clock();
    this.lease.giveBack(); // leased under the old limits
    this.mirror.reconfigure(next, now);
    this.tickets.failUnreservedAbove(next.capacity, (ticket) => this.fallback?.withdraw(ticket));
    this.fallback?.configure(next);
    if (this.events.observers > 0) {
      this.events.emit({ type: 'reconfigured', time: now, ...next, available: this.available(), cause });
    }
    this.pump.run();
  }

  /** A fresh snapshot of this process's view and counters. */
  stats(): RedisTokenBucketStats {
    const { tickets, mirror } = this;
    const { capacity, refillRate, interval } = mirror.limits;
    const view = { capacity, refillRate, interval, available: this.available(), queued: tickets.size, queuedCost: tickets.totalCost };
    const store = { inFlight: this.calls.valuesOut, reserved: tickets.reserved, ...this.refunds.stats(), ...this.lease.stats() };
    const timerScheduled = this.pump.timerScheduled;
    return { ...view, ...this.counters.snapshot(), timerScheduled, ...store, ...this.health.stats(), debt: mirror.debt(this.clock()) };
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
    this.pump.run();
  }

  cancel(waiter: Waiter): void {
    const ticket = this.tickets.find(waiter);
    if (ticket === undefined) return;
    const state = ticket.state;
    ticket.cancelled = true;
    this.tickets.remove(ticket);
    this.counters.cancelled++;
    if (this.events.observers > 0) this.events.emit({ type: 'cancelled', time: this.clock(), cost: ticket.cost });
    // A sent value's call keeps its slot; its answer's reservation goes back when it comes (ReserveCalls).
    if (state === 'reserved' && ticket.reservation !== null) this.refunds.add(ticket.reservation);
    else if (state === 'local') this.fallback?.withdraw(ticket);
    this.pump.run();
  }

  recordRefusal(refusal: Refusal): void {
    this.counters.refusal(refusal);
    if (this.events.observers > 0) this.events.emit(refusalEvent(refusal, this.clock()));
  }

  /** Counts and reports a grant (the pump then tells its waiter). */
  private noteGrant(ticket: Ticket, now: number): void {
    this.counters.grant(ticket.cost);
    this.health.granted(ticket);
    if (this.events.observers > 0) {
      const { cost, source, storeTime } = ticket;
      this.events.emit({ type: 'granted', time: now, cost, waited: now - ticket.queuedAt, available: this.available(), source, storeTime });
    }
  }
}
