import { WaitQueue, type Waiter } from '../waiting/WaitQueue';
import { ASKED, Ticket, type TicketState } from './tickets';

/**
 * The tickets of one Redis bucket in the order they are granted, each in one state, and the
 * counts the bucket decides by. First the tickets already asked of Redis (or handed to
 * `onStoreError`), in the order they were asked: their reservations' times in Redis are fixed,
 * so nothing ever overtakes them (they sit at the level `ASKED`, above every priority). Behind
 * them the `unsent` ones, by priority (higher first, FIFO within a level): the next one asked is
 * the first of those. Every change of state goes through `enter`, so the counts can never drift
 * from the states.
 */
export class TicketQueue {
  private readonly queue = new WaitQueue();
  private readonly byWaiter = new Map<Waiter, Ticket>();
  /** The last ticket asked (the end of the `ASKED` run), or null: every ticket after it is `unsent`. */
  private lastAsked: Ticket | null = null;
  private activeCount = 0;
  private reservedCount = 0;
  private pendingCount = 0;
  private pendingCostSum = 0;

  /** The first ticket, the only one that may be granted. */
  get head(): Ticket | null {
    return this.queue.head as Ticket | null;
  }
  get size(): number {
    return this.queue.size;
  }
  get totalCost(): number {
    return this.queue.totalCost;
  }
  /** Tickets `sent` or `reserved` still queued (the pump bounds these with the withdrawn values of calls still out). */
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

  /** Queues a new `unsent` ticket for `waiter`, arrived at `now`: behind every asked ticket, at its priority among the unsent. */
  push(waiter: Waiter, maxWait: number, now: number): Ticket {
    const ticket = new Ticket(waiter, waiter.cost, maxWait);
    ticket.queuedAt = now;
    this.queue.push(ticket);
    this.byWaiter.set(waiter, ticket);
    this.count(ticket, 1);
    return ticket;
  }

  /**
   * The first `unsent` ticket (highest priority, then oldest), now counted as asked, or null;
   * the caller moves it on (sends it, or applies `onStoreError`). It stays where it stood,
   * right behind the last ticket asked, and is never overtaken from here on.
   */
  takeUnsent(): Ticket | null {
    const ticket = (this.lastAsked === null ? this.queue.head : this.lastAsked.nextWaiter) as Ticket | null;
    if (ticket === null) return null;
    this.queue.remove(ticket);
    ticket.priority = ASKED; // the queue files a waiter by its priority: changed only while out of it
    this.queue.push(ticket); // the end of the ASKED run: the place it just left
    this.lastAsked = ticket;
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
    if (this.lastAsked === ticket) this.lastAsked = ticket.previousWaiter as Ticket | null;
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
