import { Observable, Subject, type SchedulerLike } from 'rxjs';
import { planAdaptation, type RateLimitFeedback } from '../arithmetic/adaptation';
import { monotonicScheduler } from '../waiting/monotonicScheduler';
import type { AdaptOptions } from '../limiters/adaptOptions';
import { TokenBucket } from '../limiters/TokenBucket';
import { TOKEN_LIMITER, type Refusal, type TokenLimiter } from '../limiters/TokenLimiter';
import { TokenLedger, type LedgerLimits } from '../arithmetic/TokenLedger';
import { checkCostWithin, checkKnownKeys, checkNumberOption } from '../shared/checks';
import { WaitQueue, type Waiter } from '../waiting/WaitQueue';
import { RedisStoreError } from './errors';
import type { RedisTokenBucketEvent, RedisTokenBucketStats } from './events';
import { checkRedisOptions, type RedisTokenBucketOptions, type StoreErrorPolicy } from './options';
import { BucketScripts, clockReading, SERVER_CLOCK, type ClockReading, type Reservation, type ReserveReply } from './scripts';
import { SingleTimer } from '../waiting/SingleTimer';
import { LocalWaiter, RefundBatch, StoreCall, TakeWaiter, Ticket, type LocalWaiterOwner, type TicketState } from './tickets';

const LIMIT_KEYS = ['capacity', 'refillRate', 'interval'] as const;

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
  private readonly scripts: BucketScripts;
  private readonly clock: () => number;
  private readonly storeClock: () => ClockReading;
  private readonly policy: StoreErrorPolicy;
  private readonly localShare: number;
  private readonly timeout: number;
  private readonly probeInterval: number;
  private readonly maxInFlight: number;
  private limits: LedgerLimits;
  private tokensPerMicro: number;
  /** What this process last heard of the shared count: the estimate behind `timeUntil` and `available`. */
  private readonly mirror: TokenLedger;
  /** `onStoreError: 'local'`: the local share of the limit. */
  private readonly fallback: TokenBucket | null;

  private readonly queue = new WaitQueue();
  private readonly tickets = new Map<Waiter, Ticket>();
  /** The first ticket not yet asked of Redis; all after it are unasked too. */
  private firstUnsent: Ticket | null = null;
  /** Tickets in the queue that are `sent` or `reserved` (bounded by `maxInFlight`). */
  private active = 0;
  /** Tickets in the queue holding a reservation. */
  private reservedCount = 0;
  /** Tickets `unsent` or `sent`: asked for but not yet in the count Redis reported. */
  private pendingCount = 0;
  private pendingCost = 0;
  /** Reserve calls awaiting an answer, oldest first (the timeout timer aims at the first). */
  private readonly inFlight = new Set<StoreCall>();
  private readonly refunds = new RefundBatch((latestFirst) => this.sendRefunds(latestFirst));

  /** When the current outage began (NaN: Redis is healthy), its last error, and the last probe. */
  private degradedSince = Number.NaN;
  private lastError: RedisStoreError | null = null;
  private lastProbeAt = Number.NEGATIVE_INFINITY;
  private probeInFlight = false;

  /** Aimed at the head's reservation: the only timer while values wait. */
  private readonly grantTimer: SingleTimer;
  /** While calls are in flight: due no later than the oldest one's timeout. */
  private readonly timeoutTimer: SingleTimer;
  private pumping = false;
  private pumpAgain = false;

  private grantedCount = 0;
  private grantedCost = 0;
  private failOpenGrants = 0;
  private localGrants = 0;
  private droppedCount = 0;
  private rejectedCount = 0;
  private cancelledCount = 0;
  private refundedCost = 0;
  private forfeitedCost = 0;
  private storeErrors = 0;
  private timeouts = 0;

  private readonly eventsSubject = new Subject<RedisTokenBucketEvent>();
  private eventObservers = 0;
  /** What happens, as it happens: the events of `TokenBucket`, plus store errors, recoveries and refunds. Hot. */
  readonly events$: Observable<RedisTokenBucketEvent> = new Observable<RedisTokenBucketEvent>((subscriber) => {
    this.eventObservers++;
    const subscription = this.eventsSubject.subscribe(subscriber);
    return () => {
      this.eventObservers--;
      subscription.unsubscribe();
    };
  });

  constructor(options: RedisTokenBucketOptions) {
    const checked = checkRedisOptions(options);
    this.scheduler = options.scheduler ?? monotonicScheduler;
    const scheduler = this.scheduler;
    this.clock = () => scheduler.now();
    this.key = checked.key;
    this.scripts = new BucketScripts(checked.redis);
    // Client-clock mode needs a clock every process shares: the wall clock, not a monotonic one.
    this.storeClock = checked.clock === 'server' ? () => SERVER_CLOCK : () => clockReading(Date.now());
    this.policy = checked.onStoreError;
    this.localShare = checked.localShare;
    this.timeout = checked.timeout;
    this.probeInterval = checked.probeInterval;
    this.maxInFlight = checked.maxInFlight;
    this.limits = { capacity: checked.capacity, refillRate: checked.refillRate, interval: checked.interval };
    this.tokensPerMicro = checked.refillRate / checked.interval / 1000;
    this.mirror = new TokenLedger(this.limits, checked.capacity, this.clock());
    this.fallback = this.policy === 'local' ? new TokenBucket({ ...this.localLimits(), scheduler }) : null;
    this.grantTimer = new SingleTimer(scheduler, () => this.pump());
    this.timeoutTimer = new SingleTimer(scheduler, () => this.onTimeout());
  }

  get capacity(): number {
    return this.limits.capacity;
  }
  get refillRate(): number {
    return this.limits.refillRate;
  }
  get interval(): number {
    return this.limits.interval;
  }

  /**
   * A cold Observable that asks for `cost` tokens when subscribed, emits once (`undefined`)
   * and completes when they are granted. Unsubscribing before that withdraws the request
   * (a reservation already made is returned). Errors for an invalid cost or one above
   * capacity, and with `RedisStoreError` under `onStoreError: 'fail-closed'`.
   */
  take(cost = 1): Observable<void> {
    return new Observable<void>((subscriber) => {
      try {
        checkCostWithin(cost, this.limits.capacity);
      } catch (error) {
        subscriber.error(error);
        return;
      }
      const waiter = new TakeWaiter(cost, subscriber);
      this.acquire(waiter, Infinity);
      return () => this.cancel(waiter);
    });
  }

  /** Tokens now, 0..capacity, as last reported by Redis and refilled since (an estimate). */
  available(): number {
    return Math.max(0, this.mirror.tokensAt(this.clock()));
  }

  /**
   * Ms until a value of `cost` asking now would be granted, estimated from the last state
   * Redis reported and the values of this process not yet reserved. Throws for an invalid
   * cost or one above capacity.
   */
  timeUntil(cost = 1): number {
    checkCostWithin(cost, this.limits.capacity);
    return this.mirror.timeUntil(this.pendingCost + cost, this.clock());
  }

  /**
   * Changes the limits this process passes to the script, live (every process sharing the
   * key should use the same limits). Waiting values not yet reserved whose cost now exceeds
   * the capacity fail with a `RangeError`; reservations already made stand.
   */
  configure(limits: Partial<LedgerLimits>): void {
    const owner = 'RedisTokenBucket.configure';
    checkKnownKeys(owner, limits, LIMIT_KEYS);
    this.applyLimits(
      {
        capacity: checkNumberOption(owner, 'capacity', limits.capacity ?? this.limits.capacity, 'positive'),
        refillRate: checkNumberOption(owner, 'refillRate', limits.refillRate ?? this.limits.refillRate, 'positive'),
        interval: checkNumberOption(owner, 'interval', limits.interval ?? this.limits.interval, 'positive'),
      },
      'configure',
    );
  }

  /**
   * Retunes from a server's rate-limit feedback, as `TokenBucket.adapt` does (so
   * `adaptiveThrottle` takes this bucket): a new `refillRate` applies to this process's
   * calls; a cap on the tokens and a pause (`retryAfter`, or a spent budget) are written to
   * the shared state in Redis, so every process sees them. A pause never cuts a longer one
   * short, and several processes reporting the same pause do not add up.
   */
  adapt(feedback: RateLimitFeedback, options: AdaptOptions = {}): void {
    const { capacity, refillRate, interval } = this.limits;
    const plan = planAdaptation(
      feedback,
      { capacity, refillRate, interval, available: this.available() },
      {
        safetyFactor: options.safetyFactor ?? 0.9,
        minRate: options.minRate ?? 0,
        maxRate: options.maxRate ?? Infinity,
        inFlight: options.inFlight ?? 0,
      },
    );
    if (plan === undefined) return;
    const now = this.clock();
    // Mirror the change at once, so timeUntil sees it before Redis answers.
    if (plan.capTokens !== undefined && plan.capTokens < this.mirror.tokensAt(now)) this.mirror.setTokens(plan.capTokens, now);
    if (plan.pauseFor !== undefined) this.mirror.pauseUntil(now + plan.pauseFor, now);
    if (plan.capTokens !== undefined || plan.pauseFor !== undefined) {
      const pauseMicros = plan.pauseFor === undefined ? 0 : plan.pauseFor * 1000;
      this.scripts.adjust(this.key, this.scriptLimits(), this.storeClock(), plan.capTokens, pauseMicros).then(
        (reply) => this.noteCount(reply.tokens, reply.ahead, this.clock()),
        () => {
          this.storeErrors++; // no value waits on it; the next reserve call meets the outage
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
    this.limits = next;
    this.tokensPerMicro = next.refillRate / next.interval / 1000;
    this.mirror.reconfigure(next, now);
    for (const ticket of this.queue.toArray() as Ticket[]) {
      if (ticket.cost <= next.capacity || (ticket.state !== 'unsent' && ticket.state !== 'local')) continue;
      if (ticket.localWaiter !== null) this.fallback?.cancel(ticket.localWaiter);
      const error = new RangeError(`cost ${ticket.cost} exceeds capacity ${next.capacity}`);
      this.settleTicket(ticket, (waiter) => waiter.failed(error));
    }
    this.fallback?.configure(this.localLimits());
    if (this.eventObservers > 0) {
      this.emit({ type: 'reconfigured', time: now, ...next, available: this.available(), cause });
    }
    this.pump();
  }

  /** A fresh snapshot of this process's view and counters. */
  stats(): RedisTokenBucketStats {
    return {
      capacity: this.limits.capacity,
      refillRate: this.limits.refillRate,
      interval: this.limits.interval,
      available: this.available(),
      queued: this.queue.size,
      queuedCost: this.queue.totalCost,
      inFlight: this.inFlight.size,
      reserved: this.reservedCount,
      granted: this.grantedCount,
      grantedCost: this.grantedCost,
      failOpenGrants: this.failOpenGrants,
      localGrants: this.localGrants,
      dropped: this.droppedCount,
      rejected: this.rejectedCount,
      cancelled: this.cancelledCount,
      refundedCost: this.refundedCost,
      forfeitedCost: this.forfeitedCost,
      storeErrors: this.storeErrors,
      timeouts: this.timeouts,
      degraded: !Number.isNaN(this.degradedSince),
      timerScheduled: this.grantTimer.scheduled,
    };
  }

  // ---- the operator protocol (TokenLimiter) ----

  /** Redis cannot answer synchronously: always false, and `acquire` decides. */
  takeNow(_cost: number): boolean {
    return false;
  }

  acquire(waiter: Waiter, maxWait: number): void {
    const ticket = new Ticket(waiter, waiter.cost, maxWait);
    const now = this.clock();
    ticket.queuedAt = now;
    this.queue.push(ticket);
    this.tickets.set(waiter, ticket);
    this.count(ticket, 1);
    if (this.firstUnsent === null) this.firstUnsent = ticket;
    if (this.eventObservers > 0) {
      this.emit({ type: 'queued', time: now, cost: ticket.cost, queued: this.queue.size, queuedCost: this.queue.totalCost });
    }
    this.pump();
  }

  cancel(waiter: Waiter): void {
    const ticket = this.tickets.get(waiter);
    if (ticket === undefined) return;
    const state = ticket.state;
    ticket.cancelled = true;
    this.removeTicket(ticket);
    this.cancelledCount++;
    if (this.eventObservers > 0) this.emit({ type: 'cancelled', time: this.clock(), cost: ticket.cost });
    if (state === 'sent') this.refunds.await();
    else if (state === 'reserved' && ticket.reservation !== null) this.refunds.add(ticket.reservation);
    else if (state === 'local' && ticket.localWaiter !== null) this.fallback?.cancel(ticket.localWaiter);
    this.pump();
  }

  recordRefusal(refusal: Refusal): void {
    if (refusal.outcome === 'dropped') this.droppedCount++;
    else this.rejectedCount++;
    if (this.eventObservers > 0) {
      this.emit({ type: refusal.outcome, time: this.clock(), cost: refusal.cost, reason: refusal.reason, retryAfter: refusal.retryAfter });
    }
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
    const head = this.queue.head as Ticket | null;
    if (head !== null && head.state === 'reserved') this.grantTimer.aim(head.dueAt);
    else this.grantTimer.clear();
    const oldest = this.inFlight.values().next();
    if (oldest.done === true) this.timeoutTimer.clear();
    else this.timeoutTimer.aim(oldest.value.sentAt + this.timeout, undefined, true);
  }

  private sendWaiting(): void {
    while (this.firstUnsent !== null && this.active < this.maxInFlight) {
      const ticket = this.firstUnsent;
      this.firstUnsent = ticket.nextWaiter as Ticket | null;
      if (ticket.cost === 0) {
        this.enter(ticket, 'ready'); // takes nothing: no need to ask
      } else if (Number.isNaN(this.degradedSince) || (!this.probeInFlight && this.clock() - this.lastProbeAt >= this.probeInterval)) {
        this.send(ticket);
      } else {
        this.applyPolicy(ticket, this.lastError!);
      }
    }
  }

  private send(ticket: Ticket): void {
    const now = this.clock();
    this.enter(ticket, 'sent');
    const probe = !Number.isNaN(this.degradedSince);
    if (probe) {
      this.probeInFlight = true;
      this.lastProbeAt = now;
    }
    const call = new StoreCall(ticket, now, probe);
    this.inFlight.add(call);
    // The wait allowed is what is left of maxWait, counted from the value's arrival.
    const maxWait = ticket.maxWait === Infinity ? -1 : Math.max(0, ticket.maxWait - (now - ticket.queuedAt)) * 1000;
    this.scripts.reserve(this.key, this.scriptLimits(), this.storeClock(), ticket.cost, maxWait).then(
      (answer) => this.onReserved(call, answer),
      (error: unknown) => this.onCallFailed(call, error),
    );
  }

  private onReserved(call: StoreCall, reply: ReserveReply): void {
    const ticket = call.ticket;
    const abandoned = call.settled || ticket.cancelled;
    if (!call.settled) this.settle(call);
    const now = this.clock();
    this.noteCount(reply.tokens, reply.ahead, now);
    this.recovered(now);
    if (abandoned) {
      // Timed out or withdrawn meanwhile: whatever was reserved goes back (if it still can).
      if (reply.granted && reply.wait > 0) this.refunds.add({ base: reply.base, due: reply.due, cost: ticket.cost });
      else if (reply.granted) this.forfeitedCost += ticket.cost;
      this.pump();
      return;
    }
    if (!reply.granted) {
      const retryAfter = Math.ceil(reply.wait) / 1000;
      this.settleTicket(ticket, (waiter) => waiter.refused(retryAfter));
      this.pump();
      return;
    }
    ticket.reservation = { base: reply.base, due: reply.due, cost: ticket.cost };
    ticket.storeTime = Number(reply.base) * 1000 + Number(reply.due) / 1000;
    // Due `wait` after the server's now, counted from this reply: late by the reply's trip, never early.
    ticket.dueAt = now + reply.wait / 1000;
    this.enter(ticket, 'reserved');
    this.pump();
  }

  private onCallFailed(call: StoreCall, cause: unknown): void {
    if (call.settled) return; // timed out already; the ticket went to onStoreError then
    this.settle(call);
    const message = cause instanceof Error ? cause.message : String(cause);
    this.storeFailed(call, new RedisStoreError(`Redis call for key ${this.key} failed: ${message}`, this.key, cause));
    this.pump();
  }

  private onTimeout(): void {
    const now = this.clock();
    for (const call of this.inFlight) {
      if (call.sentAt + this.timeout > now) break;
      this.settle(call);
      this.timeouts++;
      this.storeFailed(call, new RedisStoreError(`Redis did not answer within ${this.timeout} ms (key ${this.key})`, this.key));
    }
    this.pump();
  }

  /** A call failed or timed out: Redis counts as failing until a call succeeds, and the ticket goes to `onStoreError`. */
  private storeFailed(call: StoreCall, error: RedisStoreError): void {
    const now = this.clock();
    this.storeErrors++;
    this.lastError = error;
    if (Number.isNaN(this.degradedSince)) this.degradedSince = now;
    if (this.eventObservers > 0) this.emit({ type: 'store-error', time: now, error, policy: this.policy });
    if (!call.ticket.cancelled) this.applyPolicy(call.ticket, error);
  }

  private settle(call: StoreCall): void {
    call.settled = true;
    this.inFlight.delete(call);
    if (call.probe) this.probeInFlight = false;
    if (call.ticket.cancelled) this.refunds.answered();
  }

  private recovered(now: number): void {
    if (Number.isNaN(this.degradedSince)) return;
    const downFor = now - this.degradedSince;
    this.degradedSince = Number.NaN;
    this.lastError = null;
    if (this.eventObservers > 0) this.emit({ type: 'store-recovered', time: now, downFor });
  }

  private applyPolicy(ticket: Ticket, error: RedisStoreError): void {
    if (this.policy === 'fail-open') {
      ticket.source = 'fail-open';
      this.enter(ticket, 'ready');
    } else if (this.policy === 'local' && ticket.cost <= this.fallback!.capacity) {
      ticket.source = 'local';
      this.enter(ticket, 'local');
    } else {
      const failure =
        this.policy === 'local'
          ? new RedisStoreError(
              `${error.message}; cost ${ticket.cost} exceeds the local share's capacity ${this.fallback!.capacity}`,
              this.key,
              error,
            )
          : error;
      this.settleTicket(ticket, (waiter) => waiter.failed(failure));
    }
  }

  /** Grants heads in queue order while they may go: reserved and due, ready, or granted by the local share. */
  private grantHeads(): void {
    for (let head = this.queue.head as Ticket | null; head !== null; head = this.queue.head as Ticket | null) {
      const now = this.clock();
      if (head.state === 'reserved') {
        if (head.dueAt > now) return;
      } else if (head.state === 'local') {
        if (head.localWaiter === null) this.askLocal(head, now);
        return; // LocalWaiter.granted makes it ready and pumps again
      } else if (head.state !== 'ready') {
        return;
      }
      this.grant(head, now);
    }
  }

  private readonly localOwner: LocalWaiterOwner = {
    localGranted: (ticket) => this.localGranted(ticket),
    settleTicket: (ticket, tell) => this.settleTicket(ticket, tell),
  };

  private askLocal(ticket: Ticket, now: number): void {
    ticket.localWaiter = new LocalWaiter(ticket, this.localOwner);
    const maxWait = ticket.maxWait === Infinity ? Infinity : Math.max(0, ticket.maxWait - (now - ticket.queuedAt));
    this.fallback!.acquire(ticket.localWaiter, maxWait);
  }

  private localGranted(ticket: Ticket): void {
    if (ticket.state !== 'local') return;
    this.enter(ticket, 'ready');
    this.pump();
  }

  private grant(ticket: Ticket, now: number): void {
    this.removeTicket(ticket);
    this.pumpAgain = true; // a slot for another call is free
    this.grantedCount++;
    this.grantedCost += ticket.cost;
    if (ticket.source === 'fail-open') this.failOpenGrants++;
    else if (ticket.source === 'local') this.localGrants++;
    if (this.eventObservers > 0) {
      this.emit({
        type: 'granted',
        time: now,
        cost: ticket.cost,
        waited: now - ticket.queuedAt,
        available: this.available(),
        source: ticket.source,
        storeTime: ticket.storeTime,
      });
    }
    ticket.waiter.granted(); // may re-enter: acquire, cancel, configure
  }

  /** Takes a ticket out of the queue and tells its waiter (refused or failed). */
  private settleTicket(ticket: Ticket, tell: (waiter: Waiter) => void): void {
    if (ticket.state === 'done') return;
    this.removeTicket(ticket);
    tell(ticket.waiter);
  }

  private removeTicket(ticket: Ticket): void {
    if (this.firstUnsent === ticket) this.firstUnsent = ticket.nextWaiter as Ticket | null;
    this.queue.remove(ticket);
    this.tickets.delete(ticket.waiter);
    this.enter(ticket, 'done');
  }

  /** Moves a ticket to `state`, keeping the counts of active and pending tickets. */
  private enter(ticket: Ticket, state: TicketState): void {
    this.count(ticket, -1);
    ticket.state = state;
    this.count(ticket, 1);
  }

  private count(ticket: Ticket, sign: 1 | -1): void {
    const state = ticket.state;
    if (state === 'sent' || state === 'reserved') this.active += sign;
    if (state === 'reserved') this.reservedCount += sign;
    if (state === 'unsent' || state === 'sent') {
      this.pendingCount += sign;
      // Reset rather than subtract down to a float residue.
      this.pendingCost = this.pendingCount === 0 ? 0 : this.pendingCost + sign * ticket.cost;
    }
  }

  // ---- refunds ----

  /** Sends reservations back (latest first); what cannot go back is counted as forfeited. */
  private sendRefunds(latestFirst: Reservation[]): void {
    const total = latestFirst.reduce((sum, reservation) => sum + reservation.cost, 0);
    this.scripts.refund(this.key, this.scriptLimits(), this.storeClock(), latestFirst).then(
      (reply) => {
        const now = this.clock();
        this.refundedCost += reply.returned;
        this.forfeitedCost += reply.forfeited;
        this.noteCount(reply.tokens, reply.ahead, now);
        if (this.eventObservers > 0) this.emit({ type: 'refunded', time: now, returned: reply.returned, forfeited: reply.forfeited });
      },
      () => {
        // Redis failing: the reservations stand (the limit errs on the safe side).
        this.forfeitedCost += total;
        if (this.eventObservers > 0) this.emit({ type: 'refunded', time: this.clock(), returned: 0, forfeited: total });
      },
    );
  }

  // ---- helpers ----

  /**
   * Mirrors a count Redis reported as of `ahead` µs from its now: during a pause that is the
   * count at the pause's end, refilled meanwhile, and nothing is granted before it.
   */
  private noteCount(tokens: number, ahead: number, now: number): void {
    if (ahead <= 0) {
      this.mirror.setTokens(tokens, now);
      return;
    }
    this.mirror.setTokens(tokens - ahead * this.tokensPerMicro, now);
    this.mirror.pauseUntil(now + ahead / 1000, now);
  }

  private scriptLimits(): { capacity: number; tokensPerMicro: number } {
    return { capacity: this.limits.capacity, tokensPerMicro: this.tokensPerMicro };
  }

  private localLimits(): LedgerLimits {
    const { capacity, refillRate, interval } = this.limits;
    return { capacity: capacity * this.localShare, refillRate: refillRate * this.localShare, interval };
  }

  private emit(event: RedisTokenBucketEvent): void {
    this.eventsSubject.next(event);
  }
}
