import type { SchedulerLike } from 'rxjs';
import type { LedgerLimits } from '../arithmetic/TokenLedger';
import { TokenBucket } from '../limiters/TokenBucket';
import type { Waiter } from '../waiting/WaitQueue';
import { MAX_BATCH } from './scripts';
import type { TicketQueue } from './TicketQueue';
import type { Ticket } from './tickets';

/** How the local share reaches the shared state and the Redis bucket's queue. */
export interface LocalFallbackLinks {
  readonly tickets: TicketQueue;
  /**
   * The shared count at `at`, as this process heard it (not refilled since: other processes
   * may have taken that); negative while reservations are owed.
   */
  readonly sharedCount: (at: number) => number;
  /** Takes tokens from the shared count in Redis (a debit, into debt if need be). */
  readonly charge: (amount: number) => void;
  /** How many more values may be asked of Redis now (`maxInFlight` less those holding a slot; 0 while a call is out). */
  readonly freeSlots: () => number;
  /** Asks Redis for tickets in one call, in order (they become `sent`, keeping their places in the queue). */
  readonly resend: (batch: Ticket[]) => void;
  /** Called when a ticket became `ready`, so the Redis bucket grants it. */
  readonly onReady: () => void;
}

/**
 * The in-memory `TokenBucket` holding `localShare` of the limit, which grants values while
 * Redis is failing (`onStoreError: 'local'`). A ticket asks it once it is the head of the
 * Redis bucket's queue, so the local grants keep the queue's order.
 *
 * The local share continues the shared count rather than starting full: when an outage
 * begins it holds `localShare` of what Redis had when it last answered, so the grants
 * Redis made just before and the local ones after add up to one bucket. When Redis answers
 * again, what the local share spent (its capacity less what it holds) is charged to the
 * shared count, so the local grants of the last moments are not followed by a fresh burst;
 * the values still waiting for the local share go back to Redis in queue order, as many
 * asked at once as `maxInFlight` allows (the head always may go), and none is granted
 * locally any more. The local share is full again for the next outage.
 */
export class LocalFallback {
  private readonly bucket: TokenBucket;
  private readonly tickets: TicketQueue;
  /** Tickets to ask of Redis again after an outage, in queue order, from `next` on. */
  private returning: Ticket[] = [];
  private next = 0;

  constructor(
    limits: LedgerLimits,
    private readonly share: number,
    scheduler: SchedulerLike,
    private readonly links: LocalFallbackLinks,
  ) {
    this.tickets = links.tickets;
    this.bucket = new TokenBucket({ ...this.shareOf(limits), scheduler });
  }

  /** The local share's capacity: a heavier value cannot fall back on it. */
  get capacity(): number {
    return this.bucket.capacity;
  }

  /**
   * Redis began failing: the local share holds no more than its share of what Redis had when
   * it last answered (`answeredAt`; the refill since may be what the failed calls asked for,
   * here or in other processes); nothing goes back to Redis now.
   */
  outageBegins(answeredAt: number): void {
    this.returning = [];
    this.next = 0;
    // Below zero while reservations are owed: those are granted during the outage too, so the share of them is a debt here.
    const heard = answeredAt === Number.NEGATIVE_INFINITY ? 0 : this.links.sharedCount(answeredAt);
    const excess = this.bucket.available() - this.share * heard;
    if (excess > 0) this.bucket.debit(excess);
  }

  /** Redis answers again: the local share's spending is charged to it and its waiting values go back to it. */
  outageEnds(): void {
    // Withdrawn first, so the refill below cannot grant them locally.
    this.returning = this.tickets.toArray().filter((ticket) => ticket.state === 'local');
    this.next = 0;
    for (const ticket of this.returning) this.withdraw(ticket);
    // A debt here is the share of reservations Redis counted already: only grants below capacity are charged.
    const spent = this.bucket.capacity - this.bucket.available();
    if (spent > 0) this.links.charge(spent);
    const toFull = spent + this.bucket.stats().debt;
    if (toFull > 0) this.bucket.refund(toFull);
    this.resendReturning();
  }

  /**
   * Asks Redis again for the tickets going back, in order, in one call of as many as may be
   * asked now (at most `MAX_BATCH`). The queue's head always may go: nothing behind it can be
   * granted before it, so holding it back for a slot could wait forever.
   */
  resendReturning(): void {
    const returning = this.returning;
    if (this.next >= returning.length) return;
    const batch: Ticket[] = [];
    const free = this.links.freeSlots();
    while (this.next < returning.length && batch.length < MAX_BATCH) {
      const ticket = returning[this.next]!;
      if (ticket.state === 'local') {
        if (batch.length >= free && !(batch.length === 0 && ticket === this.tickets.head)) break;
        ticket.source = 'store';
        batch.push(ticket);
      }
      this.next++;
    }
    if (this.next >= returning.length) {
      this.returning = [];
      this.next = 0;
    }
    if (batch.length > 0) this.links.resend(batch);
  }

  /** Asks the local bucket for a `local` ticket at the head, with what is left of its `maxWait`; one going back goes to Redis instead. */
  ask(ticket: Ticket, now: number): void {
    if (this.next < this.returning.length) {
      this.resendReturning();
      return;
    }
    const waiter = new LocalWaiter(ticket, this.tickets, this.links.onReady);
    ticket.localWaiter = waiter;
    this.bucket.enqueue(waiter, ticket.waitLeft(now));
  }

  /** Withdraws a ticket's request from the local bucket, if it made one. */
  withdraw(ticket: Ticket): void {
    if (ticket.localWaiter === null) return;
    this.bucket.cancel(ticket.localWaiter);
    ticket.localWaiter = null;
  }

  /** A debit while Redis fails: this process spent `amount` more, so its share bears it (into debt if need be). */
  debit(amount: number): void {
    this.bucket.debit(amount);
  }

  /** A refund while Redis fails: gives `amount` back to the local share (never above its capacity). */
  refund(amount: number): void {
    this.bucket.refund(amount);
  }

  /** Follows a change of the shared limits. */
  configure(limits: LedgerLimits): void {
    this.bucket.configure(this.shareOf(limits));
  }

  private shareOf({ capacity, refillRate, interval }: LedgerLimits): LedgerLimits {
    return { capacity: capacity * this.share, refillRate: refillRate * this.share, interval };
  }
}

/** Stands for a ticket in the local bucket, which links it into its own queue. */
class LocalWaiter implements Waiter {
  queuedAt = 0;
  previousWaiter: Waiter | null = null;
  nextWaiter: Waiter | null = null;
  constructor(
    private readonly ticket: Ticket,
    private readonly tickets: TicketQueue,
    private readonly onReady: () => void,
  ) {}
  get cost(): number {
    return this.ticket.cost;
  }
  granted(): void {
    if (this.ticket.state !== 'local') return;
    this.tickets.enter(this.ticket, 'ready');
    this.onReady();
  }
  refused(retryAfter: number): void {
    this.tickets.settle(this.ticket, (waiter) => waiter.refused(retryAfter));
  }
  failed(error: Error): void {
    this.tickets.settle(this.ticket, (waiter) => waiter.failed(error));
  }
}
