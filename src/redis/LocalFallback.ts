import type { SchedulerLike } from 'rxjs';
import type { LedgerLimits } from '../arithmetic/TokenLedger';
import { TokenBucket } from '../limiters/TokenBucket';
import type { Waiter } from '../waiting/WaitQueue';
import type { TicketQueue } from './TicketQueue';
import type { Ticket } from './tickets';

/**
 * The in-memory `TokenBucket` holding `localShare` of the limit, which grants values while
 * Redis is failing (`onStoreError: 'local'`). A ticket asks it once it is the head of the
 * Redis bucket's queue, so the local grants keep the queue's order.
 */
export class LocalFallback {
  private readonly bucket: TokenBucket;

  constructor(
    limits: LedgerLimits,
    private readonly share: number,
    scheduler: SchedulerLike,
    private readonly tickets: TicketQueue,
    /** Called when a ticket became `ready`, so the Redis bucket grants it. */
    private readonly onReady: () => void,
  ) {
    this.bucket = new TokenBucket({ ...this.shareOf(limits), scheduler });
  }

  /** The local share's capacity: a heavier value cannot fall back on it. */
  get capacity(): number {
    return this.bucket.capacity;
  }

  /** Asks the local bucket for a `local` ticket, with what is left of its `maxWait`. */
  ask(ticket: Ticket, now: number): void {
    const waiter = new LocalWaiter(ticket, this.tickets, this.onReady);
    ticket.localWaiter = waiter;
    this.bucket.enqueue(waiter, ticket.waitLeft(now));
  }

  /** Withdraws a ticket's request from the local bucket, if it made one. */
  withdraw(ticket: Ticket): void {
    if (ticket.localWaiter !== null) this.bucket.cancel(ticket.localWaiter);
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
