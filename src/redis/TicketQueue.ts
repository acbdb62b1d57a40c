import { WaitQueue, type Waiter } from '../waiting/WaitQueue';
import { Ticket, type TicketState } from './tickets';

/**
 * The tickets of one Redis bucket in the order their values asked, each in one state, and
 * the counts the bucket decides by. Every change of state goes through `enter`, so the
 * counts can never drift from the states.
 */
export class TicketQueue {
  private readonly queue = new WaitQueue();
  private readonly byWaiter = new Map<Waiter, Ticket>();
  /** The first ticket not yet asked of Redis; all after it are unasked too. */
  private firstUnsent: Ticket | null = null;
  private activeCount = 0;
  private reservedCount = 0;
  private pendingCount = 0;
  private pendingCostSum = 0;

  /** The oldest ticket, the only one that may be granted. */
  get head(): Ticket | null {
    return this.queue.head as Ticket | null;
  }
  get size(): number {
    return this.queue.size;
  }
  get totalCost(): number {
    return this.queue.totalCost;
  }
  /** Tickets `sent` or `reserved` (bounded by `maxInFlight`). */
  get active(): number {
    return this.activeCount;
  }
  /** Tickets holding a reservation. */
  get reserved(): number {
    return this.reservedCount;
  }
  /** The cost of the tickets `unsent` or `sent`: asked for but not yet in the count Redis reported. */
  get pendingCost(): number {
    return this.pendingCostSum;
  }

  /** The ticket of a queued waiter. */
  find(waiter: Waiter): Ticket | undefined {
    return this.byWaiter.get(waiter);
  }

  /** Tickets in queue order (a copy: the queue may change while the caller iterates). */
  toArray(): Ticket[] {
    return this.queue.toArray() as Ticket[];
  }

  /** Queues a new `unsent` ticket for `waiter`, arrived at `now`. */
  push(waiter: Waiter, maxWait: number, now: number): Ticket {
    const ticket = new Ticket(waiter, waiter.cost, maxWait);
    ticket.queuedAt = now;
    this.queue.push(ticket);
    this.byWaiter.set(waiter, ticket);
    this.count(ticket, 1);
    if (this.firstUnsent === null) this.firstUnsent = ticket;
    return ticket;
  }

  /** The oldest `unsent` ticket, or null; the caller moves it on (sends it, or applies `onStoreError`). */
  takeUnsent(): Ticket | null {
    const ticket = this.firstUnsent;
    if (ticket !== null) this.firstUnsent = ticket.nextWaiter as Ticket | null;
    return ticket;
  }

  /** Moves a ticket to `state`, keeping the counts of active, reserved and pending tickets. */
  enter(ticket: Ticket, state: TicketState): void {
    this.count(ticket, -1);
    ticket.state = state;
    this.count(ticket, 1);
  }

  /** Takes a ticket out of the queue (granted or withdrawn): it is `done`. */
  remove(ticket: Ticket): void {
    if (this.firstUnsent === ticket) this.firstUnsent = ticket.nextWaiter as Ticket | null;
    this.queue.remove(ticket);
    this.byWaiter.delete(ticket.waiter);
    this.enter(ticket, 'done');
  }

  /** Takes a ticket out of the queue and tells its waiter (refused or failed); nothing if it is done already. */
  settle(ticket: Ticket, tell: (waiter: Waiter) => void): void {
    if (ticket.state === 'done') return;
    this.remove(ticket);
    tell(ticket.waiter);
  }

  /**
   * Fails the tickets not yet reserved (`unsent` or `local`) whose cost exceeds `capacity`,
   * after `withdraw` took each out of the local share. Reservations already made stand.
   */
  failUnreservedAbove(capacity: number, withdraw: (ticket: Ticket) => void): void {
    for (const ticket of this.toArray()) {
      if (ticket.cost <= capacity || (ticket.state !== 'unsent' && ticket.state !== 'local')) continue;
      withdraw(ticket);
      const error = new RangeError(`cost ${ticket.cost} exceeds capacity ${capacity}`);
      this.settle(ticket, (waiter) => waiter.failed(error));
    }
  }

  private count(ticket: Ticket, sign: 1 | -1): void {
    const state = ticket.state;
    if (state === 'sent' || state === 'reserved') this.activeCount += sign;
    if (state === 'reserved') this.reservedCount += sign;
    if (state === 'unsent' || state === 'sent') {
      this.pendingCount += sign;
      // Reset rather than subtract down to a float residue.
      this.pendingCostSum = this.pendingCount === 0 ? 0 : this.pendingCostSum + sign * ticket.cost;
    }
  }
}
