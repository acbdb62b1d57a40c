import type { SchedulerLike } from 'rxjs';
import { checkCost } from '../../shared/checks';
import { clockOf } from '../../waiting/monotonicScheduler';
import { KeyHeap } from '../../waiting/KeyHeap';
import { SingleTimer } from '../../waiting/SingleTimer';
import { WaitQueue, type Waiter } from '../../waiting/WaitQueue';
import type { CheckedBucketOptions } from '../bucketOptions';
import type { TokenLimiter } from '../TokenLimiter';
import { GlobalContention, type ContentionOwner } from './GlobalContention';
import { checkEntryCost, predictWait } from './keyAdmission';
import { holdTicket, releaseTicket, type KeyEntry, type KeyTicket, type LocalKey, type TicketOwner } from './KeyEntries';
import { KeyedActivity } from './KeyedActivity';
import { ASK_NOW_OR_NEVER, GRANTED, WAIT, type Admission, type KeyedRefusal, type KeyedWaiter } from './KeyedLimiter';
import type { KeyLimitTable } from './KeyLimitTable';
import { KeyRegistry } from './KeyRegistry';
import type { KeyWeight } from './keyWeight';

/** What the engine is built from, validated by `KeyedBuckets`. */
export interface EngineSetup<K> {
  readonly scheduler: SchedulerLike;
  readonly maxKeys: number;
  readonly table: KeyLimitTable<K>;
  /** A limiter to ask through the protocol, or the limits of a global bucket held in memory. */
  readonly global: TokenLimiter | CheckedBucketOptions | undefined;
  readonly quantum: number | undefined;
  /** Each key's share of the global tokens; read only under a global limit. */
  readonly weight: KeyWeight<K> | undefined;
}

/**
 * The machinery behind `KeyedBuckets`: the protocol `perKey` drives (`admit`, `enqueue`,
 * `cancel`), the heap of keys waiting for their own tokens, the one timer aimed at the
 * earliest of them, and the run loop that grants what is due and serves the global round.
 */
export class KeyedEngine<K> implements TicketOwner<K>, ContentionOwner<K> {
  readonly scheduler: SchedulerLike;
  readonly clock: () => number;
  readonly registry: KeyRegistry<K>;
  /** Local keys whose head waits for their own tokens, by the instant they cover it. */
  readonly waiting = new KeyHeap<LocalKey<K>>();
  /** With a global limit: the keys contending for it. */
  readonly contention: GlobalContention<K> | null;
  /** Counters and `events$`. */
  readonly activity = new KeyedActivity<K>();
  private readonly timer: SingleTimer;
  private running = false;
  private rerun = false;

  constructor(setup: EngineSetup<K>) {
    const scheduler = (this.scheduler = setup.scheduler);
    this.clock = clockOf(scheduler);
    const weight = setup.global === undefined ? undefined : setup.weight; // nothing to share without a global limit
    this.registry = new KeyRegistry(setup.maxKeys, setup.table, (key, now) => this.activity.forgotten(key, now), weight);
    this.contention = setup.global === undefined ? null : new GlobalContention(setup.global, setup.quantum, this);
    this.timer = new SingleTimer(scheduler, () => {
      this.registry.forgetRefilled(this.clock());
      this.run();
    });
  }

  get timerScheduled(): boolean {
    return this.timer.scheduled;
  }

  // ---- the operator protocol (KeyedLimiter) ----

  admit(key: K, cost: number, maxWait: number, maxQueue: number, priority = 0): Admission {
    checkCost(cost);
    const now = this.clock();
    const { registry, contention } = this;
    if (registry.anyRefilling) registry.forgetRefilled(now);
    let entry = registry.get(key);
    const isNew = entry === undefined;
    if (entry === undefined) {
      if (registry.full)
        return { verdict: 'refused', rule: 'max-keys', retryAfter: registry.timeUntilKeyFreed(now, this.waiting.peek()?.dueAt) };
      entry = registry.create(key, now);
    }
    checkEntryCost(entry, cost, contention?.gate);
    if (isNew) registry.hold(entry);
    const queued = (entry.queue === null ? 0 : entry.queue.size) + (entry.remote ? entry.tickets : 0);
    if (queued === 0 && contention?.requesting !== entry) {
      if (entry.remote) {
        // Two remote stores cannot be charged atomically: with a global limit, always queue.
        if (contention === null && entry.limiter.takeNow(cost)) return this.grantedAtOnce(entry, cost, now);
      } else if (contention === null) {
        if (entry.tryTake(cost, now)) return this.grantedAtOnce(entry, cost, now);
      } else if (contention.takeAlone(entry, cost, now)) return this.grantedAtOnce(entry, cost, now);
    }
    if (entry.remote && contention === null) {
      // A remote store cannot answer takeNow synchronously and applies maxWait itself (enqueue),
      // so its values are asked of it rather than refused unasked: "now or never" is its call too.
      if (queued < maxQueue) return WAIT;
      if (queued === 0 && entry.limiter.timeUntil(cost) === 0) return ASK_NOW_OR_NEVER;
    }
    if (queued >= maxQueue || maxWait !== Infinity) {
      const wait = predictWait(entry, cost, priority, now, contention?.gate);
      const rule = queued >= maxQueue ? 'max-queue' : maxWait === 0 || wait > maxWait ? 'max-wait' : undefined;
      if (rule !== undefined) {
        if (queued === 0) this.reposition(entry, now); // a new key's entry must not linger
        return { verdict: 'refused', rule, retryAfter: wait };
      }
    }
    return WAIT;
  }

  enqueue(waiter: KeyedWaiter<K>, maxWait: number): void {
    const entry = this.registry.get(waiter.key)!;
    const now = this.clock();
    waiter.queuedAt = now;
    if (entry.remote) {
      entry.limiter.enqueue(holdTicket(entry, waiter, this, now), maxWait);
      return;
    }
    this.pushWaiter(entry, waiter, now);
    this.run();
  }

  cancel(waiter: KeyedWaiter<K>): void {
    const entry = this.registry.get(waiter.key);
    if (entry === undefined) return;
    const now = this.clock();
    const ticket = waiter.keyedTicket;
    if (ticket !== null && entry.remote) {
      releaseTicket(entry, waiter);
      entry.limiter.cancel(ticket);
    } else {
      const queue = entry.queue;
      if (queue === null) return;
      const wasHead = queue.head === waiter;
      if (!queue.remove(waiter)) return;
      if (!wasHead) {
        this.activity.cancelled(entry, waiter, now);
        return;
      }
    }
    this.reposition(entry, now);
    this.activity.cancelled(entry, waiter, now);
    this.run();
  }

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

  recordRefusal(key: K, refusal: KeyedRefusal): void {
    this.activity.refused(key, refusal, this.clock());
  }

  // ---- answers of remote keys' own limiters (TicketOwner) ----

  ticketGranted(ticket: KeyTicket<K>): void {
    const { waiter, entry } = ticket;
    if (waiter.keyedTicket !== ticket) return; // withdrawn meanwhile
    releaseTicket(entry, waiter);
    const now = this.clock();
    if (this.contention === null) {
      this.activity.granted(entry, waiter.cost, now - waiter.queuedAt, now);
      this.reposition(entry, now);
      waiter.granted();
      return;
    }
    // Its own tokens are taken: now it contends for the global ones.
    this.pushWaiter(entry, waiter, waiter.queuedAt);
    this.run();
  }

  ticketEnded(ticket: KeyTicket<K>, retryAfter: number, error: Error | null): void {
    const { waiter, entry } = ticket;
    if (waiter.keyedTicket !== ticket) return;
    releaseTicket(entry, waiter);
    this.reposition(entry, this.clock());
    if (error === null) waiter.refused(retryAfter);
    else waiter.failed(error);
  }

  // ---- where each key belongs ----

  /**
   * Puts a key where its state says it belongs: waiting for its own tokens (heap),
   * contending for the global ones (ring), refilling (registry), or forgotten.
   * `reaim`: its limits changed (see `KeyRegistry.settleIdle`).
   */
  reposition(entry: KeyEntry<K>, now: number, reaim = false): void {
    const head = entry.queue === null ? null : entry.queue.head;
    const contention = this.contention;
    contention?.keepRequestFor(entry, head);
    if (entry.remote) {
      if (head !== null) contention!.ring.join(entry);
      else {
        contention?.leave(entry);
        if (entry.tickets === 0) this.registry.forget(entry, now);
      }
      return;
    }
    if (head === null) {
      contention?.leave(entry);
      this.waiting.remove(entry);
      entry.queue = null;
      this.registry.settleIdle(entry, now, reaim);
      return;
    }
    this.registry.busy(entry);
    const wait = entry.timeUntil(head.cost, now);
    if (contention !== null && wait === 0) {
      this.waiting.remove(entry);
      contention.ring.join(entry);
      return;
    }
    if (contention?.ring.has(entry)) contention.leave(entry);
    if (!this.waiting.has(entry) || entry.dueAt !== now + wait) this.waiting.set(entry, now + wait);
  }

  private grantedAtOnce(entry: KeyEntry<K>, cost: number, now: number): Admission {
    this.activity.granted(entry, cost, 0, now);
    this.reposition(entry, now);
    return GRANTED;
  }

  private pushWaiter(entry: KeyEntry<K>, waiter: Waiter, queuedAt: number): void {
    const queue = entry.queue ?? (entry.queue = new WaitQueue());
    queue.push(waiter);
    waiter.queuedAt = queuedAt;
    if (queue.head === waiter) this.reposition(entry, this.clock());
    this.activity.queued(entry, waiter, queue, this.clock());
  }

  // ---- the one timer and the grants ----

  /** Grants everything due now, serves the global bucket's round, then re-aims the one timer. */
  run(): void {
    if (this.running) {
      this.rerun = true; // a grant's subscriber re-entered; the running loop goes round again
      return;
    }
    this.running = true;
    try {
      do {
        this.rerun = false;
        this.grantCoveredHeads();
        this.contention?.serve();
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
      if (this.contention !== null) {
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
      this.activity.granted(entry, head.cost, now - head.queuedAt, now);
      this.reposition(entry, now);
      head.granted(); // may re-enter: admit, enqueue, cancel, configure
    }
  }

  /** Keeps exactly one timer while something is due, aimed at the earliest; none otherwise. */
  private plan(): void {
    let due = this.waiting.peek()?.dueAt ?? Infinity;
    const contention = this.contention;
    if (contention !== null && contention.requesting !== null && contention.gate.dueAt < due) due = contention.gate.dueAt;
    if (due === Infinity) this.timer.clear();
    // A timer may fire early or be capped (2^31−1 ms): run() re-checks and re-plans the rest.
    else this.timer.aim(due, due - this.clock());
  }
}
