import { Subject, type SchedulerLike, type Subscription } from 'rxjs';
import { DeficitRoundRobin } from '../../waiting/DeficitRoundRobin';
import { LedgerGate, LimiterGate, type GateClient, type GlobalGate } from './GlobalGate';
import type { KeyedBucketsEvent } from './KeyedBucketsStats';
import { Admission, type KeyedLimiter, type KeyedRefusal, type KeyedWaiter } from './KeyedLimiter';
import { KeyEntry, KeyTicket, releaseTicket, REMOTE_LEDGER, type TicketOwner } from './KeyEntry';
import { KeyHeap } from '../../waiting/KeyHeap';
import type { KeyLimitTable } from './KeyLimitTable';
import { monotonicScheduler } from '../../waiting/monotonicScheduler';
import { MAX_TIMER_DELAY } from '../../waiting/SingleTimer';
import { isLimiter, type TokenLimiter } from '../TokenLimiter';
import type { LedgerLimits } from '../../arithmetic/TokenLedger';
import { checkCost } from '../../shared/checks';
import { describe } from '../../shared/describe';
import { WaitQueue, type Waiter } from '../../waiting/WaitQueue';

/** What the engine is built from, validated by `KeyedBuckets`. */
export interface EngineSetup<K> {
  readonly scheduler: SchedulerLike;
  readonly maxKeys: number;
  readonly table: KeyLimitTable<K>;
  /** A limiter to ask through the protocol, or the limits of a global bucket held in memory. */
  readonly global: TokenLimiter | (LedgerLimits & { initialTokens: number }) | undefined;
  readonly quantum: number | undefined;
}

/**
 * The machinery of `KeyedBuckets`: the keys held in memory, their queues, the heaps of
 * "covered at" and "full at" instants, the round robin for the global bucket, and the one
 * timer; and the protocol `perKey` drives (`admit`, `enqueue`, `cancel`). `KeyedBuckets`
 * adds construction from options, `configure`, `stats`, `take` and `events$`.
 */
export abstract class KeyedBucketsEngine<K> implements KeyedLimiter<K>, GateClient, TicketOwner<K> {
  readonly scheduler: SchedulerLike;
  readonly maxKeys: number;
  /** The `retryAfter` (ms) of the last refusal `admit` answered. */
  lastRetryAfter = 0;

  protected readonly clock: () => number;
  protected readonly table: KeyLimitTable<K>;
  protected readonly entries = new Map<K, KeyEntry<K>>();
  /** Local keys whose head waits for their own tokens, by the instant they cover it. */
  protected readonly waiting = new KeyHeap<KeyEntry<K>>();
  /** Idle local keys still refilling, by the instant they are full (and can be forgotten). */
  protected readonly refilling = new KeyHeap<KeyEntry<K>>();
  /** Keys whose head is covered by their own bucket, taking turns for the global one. */
  protected readonly contending = new DeficitRoundRobin<KeyEntry<K>>();
  /** Keys backed by a `TokenLimiter` (held only while something of theirs waits). */
  protected readonly remoteEntries = new Set<KeyEntry<K>>();
  protected readonly gate: GlobalGate | null;
  private readonly fixedQuantum: number | undefined;
  /** The key whose head holds the gate's one outstanding request. */
  protected requesting: KeyEntry<K> | null = null;

  private timer: Subscription | null = null;
  private timerDue = Number.NaN;
  private running = false;
  private rerun = false;

  protected grantedCount = 0;
  protected grantedCost = 0;
  protected droppedCount = 0;
  protected rejectedCount = 0;
  protected maxKeysCount = 0;
  protected cancelledCount = 0;
  protected forgottenCount = 0;

  protected readonly eventsSubject = new Subject<KeyedBucketsEvent<K>>();
  protected eventObservers = 0;

  constructor(setup: EngineSetup<K>) {
    this.scheduler = setup.scheduler;
    this.maxKeys = setup.maxKeys;
    this.table = setup.table;
    this.fixedQuantum = setup.quantum;
    const scheduler = setup.scheduler;
    this.clock = scheduler === monotonicScheduler ? monotonicScheduler.now : () => scheduler.now();
    const global = setup.global;
    if (global === undefined) this.gate = null;
    else if (isLimiter(global)) this.gate = new LimiterGate(global, this);
    else this.gate = new LedgerGate(global, global.initialTokens, this.clock());
  }

  // ---- the operator protocol (perKey) ----

  /**
   * Validates `cost` for `key` and takes it now if it may pass at once; otherwise says
   * whether the value may wait (`Wait`: call `enqueue` before anything else) or why it is
   * refused (`lastRetryAfter` then holds its predicted wait). Throws for an invalid cost,
   * one above the key's or the global capacity, or a key `bucketFor` has no limits for.
   */
  admit(key: K, cost: number, maxWait: number, maxQueue: number): Admission {
    checkCost(cost);
    const now = this.clock();
    if (this.refilling.size > 0) this.forgetRefilled(now);
    let entry = this.entries.get(key);
    const isNew = entry === undefined;
    if (entry === undefined) {
      if (this.entries.size >= this.maxKeys) {
        this.lastRetryAfter = this.timeUntilKeyFreed(now);
        return Admission.MaxKeys;
      }
      entry = this.createEntry(key, now);
    }
    this.checkEntryCost(entry, cost);
    if (isNew) {
      this.entries.set(key, entry);
      if (entry.limiter !== null) this.remoteEntries.add(entry);
    }
    const gate = this.gate;
    const queued = (entry.queue === null ? 0 : entry.queue.size) + entry.tickets;
    if (queued === 0 && this.requesting !== entry) {
      if (entry.limiter !== null) {
        // Two remote stores cannot be charged atomically: with a global limit, always queue.
        if (gate === null && entry.limiter.takeNow(cost)) return this.grantedAtOnce(entry, cost, now);
      } else if (gate === null) {
        if (entry.tryTake(cost, now)) return this.grantedAtOnce(entry, cost, now);
      } else if (this.contending.size === 0 && entry.timeUntil(cost, now) === 0 && gate.takeNow(cost, now)) {
        if (!entry.tryTake(cost, now)) entry.spend(cost, now); // covered a moment ago: never charge one side only
        return this.grantedAtOnce(entry, cost, now);
      }
    }
    if (entry.limiter !== null && gate === null) {
      // A remote store cannot answer takeNow synchronously and applies maxWait itself (acquire),
      // so its values are asked of it rather than refused unasked: "now or never" is its call too.
      if (queued < maxQueue) return Admission.Wait;
      if (queued === 0 && entry.limiter.timeUntil(cost) === 0) return Admission.AskNowOrNever;
    }
    if (queued >= maxQueue || maxWait !== Infinity) {
      const wait = this.predictWait(entry, cost, now);
      const verdict = queued >= maxQueue ? Admission.MaxQueue : maxWait === 0 || wait > maxWait ? Admission.TooLong : Admission.Wait;
      if (verdict !== Admission.Wait) {
        this.lastRetryAfter = wait;
        if (queued === 0) this.reposition(entry, now); // a new key's entry must not linger
        return verdict;
      }
    }
    return Admission.Wait;
  }

  /** Queues a value `admit` answered `Wait` for. Its answer may come synchronously. */
  enqueue(waiter: KeyedWaiter<K>, maxWait: number): void {
    const entry = this.entries.get(waiter.key)!;
    const now = this.clock();
    waiter.queuedAt = now;
    if (entry.limiter !== null) {
      const ticket = new KeyTicket(waiter, entry, this);
      waiter.keyedTicket = ticket;
      entry.tickets++;
      entry.ticketCost += waiter.cost;
      ticket.queuedAt = now;
      entry.limiter.acquire(ticket, maxWait);
      return;
    }
    this.pushWaiter(entry, waiter, now);
    this.run();
  }

  /** Withdraws a waiting value; it takes nothing. Harmless if it was already granted or refused. */
  cancel(waiter: KeyedWaiter<K>): void {
    const entry = this.entries.get(waiter.key);
    if (entry === undefined) return;
    const now = this.clock();
    const ticket = waiter.keyedTicket;
    if (ticket !== null) {
      releaseTicket(entry, waiter);
      entry.limiter!.cancel(ticket);
    } else {
      const queue = entry.queue;
      if (queue === null) return;
      const wasHead = queue.head === waiter;
      if (!queue.remove(waiter)) return;
      if (wasHead && this.requesting === entry) this.withdrawRequest();
      if (!wasHead) {
        this.noteCancel(entry, waiter, now);
        return;
      }
    }
    this.reposition(entry, now);
    this.noteCancel(entry, waiter, now);
    this.run();
  }

  /**
   * Runs `withdraw` (a series of `cancel`s) with grants deferred until it returns, so that
   * withdrawing a key's head never grants a value about to be withdrawn next.
   */
  withdrawing(withdraw: () => void): void {
    if (this.running) {
      withdraw(); // the running loop grants when the current callback returns
      return;
    }
    this.running = true;
    try {
      withdraw();
    } finally {
      this.running = false;
    }
    this.run();
  }

  /** Records, for `stats()` and `events$`, that an operator discarded or rejected a value of `key`. */
  recordRefusal(key: K, refusal: KeyedRefusal): void {
    if (refusal.outcome === 'dropped') this.droppedCount++;
    else this.rejectedCount++;
    if (refusal.reason === 'max-keys') this.maxKeysCount++;
    if (this.eventObservers > 0) {
      const { cost, reason, retryAfter } = refusal;
      this.emit({ type: refusal.outcome, key, time: this.clock(), cost, reason, retryAfter });
    }
  }

  // ---- answers of the global gate (GateClient) and of keys' own limiters ----

  /** @internal */
  globalGranted(): void {
    if (this.requesting === null) return;
    this.grantRequested();
    this.run();
  }

  /** @internal */
  globalFailed(error: Error): void {
    this.dropRequestedHead()?.failed(error);
    this.run();
  }

  /** @internal */
  globalRefused(retryAfter: number): void {
    this.dropRequestedHead()?.refused(retryAfter);
    this.run();
  }

  /** @internal A key's own limiter granted one of its values. */
  ticketGranted(ticket: KeyTicket<K>): void {
    const { waiter, entry } = ticket;
    if (waiter.keyedTicket !== ticket) return; // withdrawn meanwhile
    releaseTicket(entry, waiter);
    const now = this.clock();
    if (this.gate === null) {
      this.noteGrant(entry, waiter.cost, now - waiter.queuedAt, now);
      this.reposition(entry, now);
      waiter.granted();
      return;
    }
    // Its own tokens are taken: now it contends for the global ones.
    this.pushWaiter(entry, waiter, waiter.queuedAt);
    this.run();
  }

  /** @internal A key's own limiter refused or failed one of its values. */
  ticketEnded(ticket: KeyTicket<K>, retryAfter: number, error: Error | null): void {
    const { waiter, entry } = ticket;
    if (waiter.keyedTicket !== ticket) return;
    releaseTicket(entry, waiter);
    this.reposition(entry, this.clock());
    if (error === null) waiter.refused(retryAfter);
    else waiter.failed(error);
  }

  // ---- keys ----

  private createEntry(key: K, now: number): KeyEntry<K> {
    const resolved = this.table.resolve(key);
    return isLimiter(resolved) ? new KeyEntry(key, REMOTE_LEDGER, now, resolved) : new KeyEntry(key, resolved, now, null);
  }

  private checkEntryCost(entry: KeyEntry<K>, cost: number): void {
    const capacity = entry.limiter === null ? entry.capacity : entry.limiter.capacity;
    if (cost > capacity) throw new RangeError(`cost ${cost} exceeds capacity ${capacity} of key ${describe(entry.key)}`);
    if (this.gate !== null && cost > this.gate.capacity)
      throw new RangeError(`cost ${cost} exceeds the global capacity ${this.gate.capacity}`);
  }

  private grantedAtOnce(entry: KeyEntry<K>, cost: number, now: number): Admission {
    this.noteGrant(entry, cost, 0, now);
    this.reposition(entry, now);
    return Admission.Granted;
  }

  private pushWaiter(entry: KeyEntry<K>, waiter: Waiter, queuedAt: number): void {
    const queue = entry.queue ?? (entry.queue = new WaitQueue());
    queue.push(waiter);
    waiter.queuedAt = queuedAt;
    if (queue.head === waiter) this.reposition(entry, this.clock());
    if (this.eventObservers > 0) {
      this.emit({ type: 'queued', key: entry.key, time: this.clock(), cost: waiter.cost, queued: queue.size, queuedCost: queue.totalCost });
    }
  }

  /**
   * Puts a key where its state says it belongs: waiting for its own tokens (heap),
   * contending for the global ones (ring), refilling (heap), or forgotten.
   *
   * A key already in the refilling heap keeps its place unless `reaim`: taking tokens only
   * moves its "full at" later, and `forgetRefilled` re-aims a key that is popped too early,
   * so a grant costs no heap operation. Limits changed by `configure` may move it earlier: re-aim then.
   */
  protected reposition(entry: KeyEntry<K>, now: number, reaim = false): void {
    const head = entry.queue === null ? null : entry.queue.head;
    if (entry.limiter !== null) {
      if (head !== null) this.contending.join(entry);
      else {
        if (this.requesting === entry) this.withdrawRequest();
        this.contending.leave(entry);
        if (entry.tickets === 0) this.forget(entry, now);
      }
      return;
    }
    if (head === null) {
      if (this.requesting === entry) this.withdrawRequest();
      this.contending.leave(entry);
      this.waiting.remove(entry);
      entry.queue = null;
      if (!reaim && this.refilling.has(entry)) return;
      const untilFull = entry.timeUntil(entry.capacity, now);
      if (untilFull === 0) {
        this.refilling.remove(entry);
        this.forget(entry, now);
      } else this.refilling.set(entry, now + untilFull);
      return;
    }
    this.refilling.remove(entry);
    const wait = entry.timeUntil(head.cost, now);
    if (this.gate !== null && wait === 0) {
      this.waiting.remove(entry);
      this.contending.join(entry);
      return;
    }
    if (this.contending.has(entry)) {
      if (this.requesting === entry) this.withdrawRequest();
      this.contending.leave(entry);
    }
    if (!this.waiting.has(entry) || entry.dueAt !== now + wait) this.waiting.set(entry, now + wait);
  }

  protected forget(entry: KeyEntry<K>, now: number): void {
    this.entries.delete(entry.key);
    if (entry.limiter !== null) this.remoteEntries.delete(entry);
    this.forgottenCount++;
    if (this.eventObservers > 0) this.emit({ type: 'forgotten', key: entry.key, time: now });
  }

  /** Drops the idle keys that are full by `now`: the lazy, amortised half of exact eviction. */
  protected forgetRefilled(now: number): void {
    for (let top = this.refilling.peek(); top !== undefined && top.dueAt <= now; top = this.refilling.peek()) {
      const untilFull = top.timeUntil(top.capacity, now);
      if (untilFull > 0) {
        this.refilling.set(top, now + untilFull);
        continue;
      }
      this.refilling.remove(top);
      this.forget(top, now);
    }
  }

  private timeUntilKeyFreed(now: number): number {
    const soonest = this.refilling.peek() ?? this.waiting.peek();
    return soonest === undefined ? 0 : Math.max(0, soonest.dueAt - now);
  }

  private predictWait(entry: KeyEntry<K>, cost: number, now: number): number {
    const ahead = entry.queue === null ? 0 : entry.queue.totalCost;
    const own = entry.limiter === null ? entry.timeUntil(ahead + cost, now) : entry.limiter.timeUntil(cost);
    if (this.gate === null) return own;
    const global = this.gate.timeUntil(cost, now);
    return own > global ? own : global;
  }

  // ---- the single timer and the grants ----

  /** Grants everything due now, serves the global bucket's round, then re-aims the one timer. */
  protected run(): void {
    if (this.running) {
      this.rerun = true; // a grant's subscriber re-entered; the running loop goes round again
      return;
    }
    this.running = true;
    try {
      do {
        this.rerun = false;
        this.grantCoveredHeads();
        if (this.gate !== null) this.serveContending(this.gate);
      } while (this.rerun);
    } finally {
      this.running = false;
      this.plan();
    }
  }

  /** Keys whose head their own bucket covers now: granted (no global), or into the round robin. */
  private grantCoveredHeads(): void {
    for (let entry = this.waiting.peek(); entry !== undefined; entry = this.waiting.peek()) {
      const now = this.clock();
      if (entry.dueAt > now) return;
      const head = entry.queue!.head!;
      if (this.gate !== null) {
        const wait = entry.timeUntil(head.cost, now);
        if (wait > 0)
          this.waiting.set(entry, now + wait); // the timer fired early
        else this.reposition(entry, now);
        continue;
      }
      if (!entry.tryTake(head.cost, now)) {
        // Early timer, or float noise at the slack's edge: look again when covered (at least 1 µs on).
        this.waiting.set(entry, now + Math.max(entry.timeUntil(head.cost, now), 0.001));
        continue;
      }
      entry.queue!.remove(head);
      this.noteGrant(entry, head.cost, now - head.queuedAt, now);
      this.reposition(entry, now);
      head.granted(); // may re-enter: admit, enqueue, cancel, configure
    }
  }

  /** Deficit round robin over the contending keys, one outstanding request at a time. */
  private serveContending(gate: GlobalGate): void {
    for (;;) {
      if (this.requesting !== null) {
        if (!gate.poll(this.clock())) return; // not covered yet, or the limiter answers later
        this.grantRequested();
        continue;
      }
      const entry = this.contending.pick(this.fixedQuantum ?? gate.capacity);
      if (entry === null) return;
      const head = entry.queue!.head!;
      if (head.cost > gate.capacity) {
        // The global capacity shrank below it since it arrived: it can never pass.
        entry.queue!.remove(head);
        this.reposition(entry, this.clock());
        head.failed(new RangeError(`cost ${head.cost} exceeds the global capacity ${gate.capacity}`));
        continue;
      }
      this.requesting = entry;
      gate.request(head.cost, this.clock()); // a limiter may grant at once, through globalGranted
    }
  }

  /** The global tokens of the requesting key's head are taken: take its own at the same instant, and emit. */
  private grantRequested(): void {
    const entry = this.requesting!;
    this.requesting = null;
    const head = entry.queue!.head!;
    const now = this.clock();
    // Its own tokens covered the head when it asked and only grew since (configure withdraws
    // the request otherwise); `spend` keeps the pair atomic even against float noise.
    if (entry.limiter === null && !entry.tryTake(head.cost, now)) entry.spend(head.cost, now);
    entry.queue!.remove(head);
    this.contending.charge(entry, head.cost);
    this.noteGrant(entry, head.cost, now - head.queuedAt, now);
    this.reposition(entry, now);
    head.granted();
  }

  protected withdrawRequest(): void {
    this.requesting = null;
    this.gate!.cancel();
  }

  private dropRequestedHead(): Waiter | null {
    const entry = this.requesting;
    if (entry === null) return null;
    this.requesting = null;
    const head = entry.queue!.head!;
    entry.queue!.remove(head);
    this.reposition(entry, this.clock());
    return head;
  }

  /** Keeps exactly one timer while something is due, aimed at the earliest; none otherwise. */
  private plan(): void {
    let due = Infinity;
    const top = this.waiting.peek();
    if (top !== undefined) due = top.dueAt;
    if (this.requesting !== null && this.gate!.dueAt < due) due = this.gate!.dueAt;
    if (due === Infinity) {
      this.clearTimer();
      return;
    }
    if (this.timer !== null && this.timerDue === due) return;
    this.clearTimer();
    this.timerDue = due;
    // A timer may fire early or be capped (2^31−1 ms): run() re-checks and re-plans the rest.
    this.timer = this.scheduler.schedule(this.onTimer, Math.min(Math.max(due - this.clock(), 0), MAX_TIMER_DELAY));
  }

  private readonly onTimer = (): void => {
    this.clearTimer(); // released before the next is aimed, so one real timer at most (see TokenBucket)
    this.forgetRefilled(this.clock());
    this.run();
  };

  private clearTimer(): void {
    if (this.timer === null) return;
    const timer = this.timer;
    this.timer = null;
    timer.unsubscribe();
  }

  // ---- counters and events ----

  private noteGrant(entry: KeyEntry<K>, cost: number, waited: number, now: number): void {
    this.grantedCount++;
    this.grantedCost += cost;
    if (this.eventObservers > 0) {
      const available = entry.limiter === null ? Math.max(0, entry.tokensAt(now)) : undefined;
      this.emit({ type: 'granted', key: entry.key, time: now, cost, waited, available });
    }
  }

  private noteCancel(entry: KeyEntry<K>, waiter: Waiter, now: number): void {
    this.cancelledCount++;
    if (this.eventObservers > 0) this.emit({ type: 'cancelled', key: entry.key, time: now, cost: waiter.cost });
  }

  protected emit(event: KeyedBucketsEvent<K>): void {
    this.eventsSubject.next(event);
  }

  /** Whether the single timer is scheduled. */
  protected get timerScheduled(): boolean {
    return this.timer !== null;
  }
}
