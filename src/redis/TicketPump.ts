import type { SchedulerLike } from 'rxjs';
import { SingleTimer } from '../waiting/SingleTimer';
import type { Lease } from './Lease';
import type { LocalFallback } from './LocalFallback';
import type { ReserveCalls } from './ReserveCalls';
import { MAX_BATCH } from './scripts';
import type { StoreHealth } from './StoreHealth';
import type { TicketQueue } from './TicketQueue';
import type { Ticket } from './tickets';

/**
 * The run loop of a Redis bucket's queue: asks Redis for the first unsent tickets (by
 * priority, then arrival), batched, while fewer than `maxInFlight` hold a slot, grants the heads in
 * queue order as they may go (a head not yet asked, from the lease if it holds enough), then
 * aims the two timers: its own, at the head's reservation or the lease's end, whichever is
 * first, and the calls' timeout timer. Re-entrant runs (from a grant, an answer, a local grant)
 * fold into the running one.
 */
export class TicketPump {
  /** Aimed at the head's reservation: the only grant timer while values wait. */
  private readonly grantTimer: SingleTimer;
  /** The tickets of the next reserve call, while it is being filled. */
  private batch: Ticket[] = [];
  private running = false;
  private again = false;

  constructor(
    private readonly tickets: TicketQueue,
    private readonly maxInFlight: number,
    private readonly health: StoreHealth,
    private readonly calls: ReserveCalls,
    /** The local share, under `onStoreError: 'local'` (else null). */
    private readonly fallback: LocalFallback | null,
    private readonly lease: Lease,
    private readonly clock: () => number,
    scheduler: SchedulerLike,
    /** Counts and reports a grant, before its waiter hears of it. */
    private readonly noteGrant: (ticket: Ticket, now: number) => void,
  ) {
    this.grantTimer = new SingleTimer(scheduler, () => this.run());
  }

  /** Whether the grant timer is scheduled. */
  get timerScheduled(): boolean {
    return this.grantTimer.scheduled;
  }

  /** Sends what may be sent, grants what may be granted, then aims the timers. */
  run(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      this.lease.expire(this.clock());
      do {
        this.again = false;
        // Grants first: the slots they free go to the next call.
        this.grantHeads();
        this.sendWaiting();
      } while (this.again);
    } finally {
      this.running = false;
    }
    const head = this.tickets.head;
    let due = head !== null && head.state === 'reserved' ? head.dueAt : Number.POSITIVE_INFINITY;
    const leaseEnd = this.lease.expiresAt;
    if (leaseEnd !== undefined && leaseEnd < due) due = leaseEnd;
    if (due !== Number.POSITIVE_INFINITY) this.grantTimer.aim(due);
    else this.grantTimer.clear();
    this.calls.aimTimer();
  }

  /**
   * Moves unsent tickets on while fewer than `maxInFlight` values hold a slot (reserved, or
   * in a call not yet answered, withdrawn ones included). While Redis is healthy, one reserve
   * call is out at a time: it goes at once with what waits (the first value never waits for
   * company), and what arrives meanwhile goes together in the next, sent as soon as it
   * answers (at most `MAX_BATCH` a call). While Redis counts as failing, a probe goes alone
   * and the others go to `onStoreError`.
   */
  private sendWaiting(): void {
    const batch = this.batch;
    while (this.calls.valuesOut + this.tickets.reserved + batch.length < this.maxInFlight && batch.length < MAX_BATCH) {
      const degraded = this.health.degraded;
      if (!degraded && this.calls.size > 0) break;
      const ticket = this.tickets.takeUnsent();
      if (ticket === null) break;
      // A value that takes nothing need not be asked of Redis.
      if (ticket.cost === 0) {
        this.tickets.enter(ticket, 'ready');
        this.again = true;
      } else if (batch.length > 0 || this.health.maySend()) {
        batch.push(ticket);
        if (degraded) break;
      } else {
        this.health.apply(ticket);
        this.again = true; // it may be granted now (fail-open, or the local share)
      }
    }
    if (batch.length === 0) return;
    this.batch = [];
    this.calls.send(batch);
  }

  /**
   * Grants heads in queue order while they may go: reserved and due, ready, granted by the
   * local share, or not yet asked and covered by the lease (only the head: nothing asked of
   * Redis is ever overtaken).
   */
  private grantHeads(): void {
    for (let head = this.tickets.head; head !== null; head = this.tickets.head) {
      const now = this.clock();
      if (head.state === 'reserved') {
        if (head.dueAt > now) return;
      } else if (head.state === 'local') {
        if (head.localWaiter === null) this.fallback!.ask(head, now);
        return; // the local grant makes it ready and runs the loop again
      } else if (head.state === 'unsent') {
        if (this.health.degraded || !this.lease.take(head, now)) return;
      } else if (head.state !== 'ready') {
        return;
      }
      this.tickets.remove(head);
      this.again = true; // a slot for another call is free
      this.lease.granted(now);
      this.noteGrant(head, now);
      head.waiter.granted(); // may re-enter: enqueue, cancel, configure
    }
  }
}
