import type { SchedulerLike } from 'rxjs';
import { SingleTimer } from '../waiting/SingleTimer';
import type { BucketStore } from './BucketStore';
import type { CountMirror } from './CountMirror';
import { RedisStoreError } from './errors';
import type { Refunds } from './Refunds';
import type { ReserveReply } from './replies';
import type { StoreHealth } from './StoreHealth';
import type { TicketQueue } from './TicketQueue';
import { StoreCall, type Ticket } from './tickets';

/**
 * The reserve calls of a Redis bucket in flight: one per ticket sent, and what its answer,
 * failure or timeout does to the ticket. Calls time out oldest first, so one timer, aimed
 * at the oldest call's timeout, serves them all.
 */
export class ReserveCalls {
  /** Calls awaiting an answer, oldest first. */
  private readonly inFlight = new Set<StoreCall>();
  private readonly timer: SingleTimer;
  private readonly clock: () => number;

  constructor(
    private readonly store: BucketStore,
    private readonly timeout: number,
    private readonly tickets: TicketQueue,
    private readonly mirror: CountMirror,
    private readonly health: StoreHealth,
    private readonly refunds: Refunds,
    scheduler: SchedulerLike,
    /** Called after each answer, failure or timeout, so the bucket sends and grants what it now may. */
    private readonly onSettled: () => void,
  ) {
    this.clock = () => scheduler.now();
    this.timer = new SingleTimer(scheduler, () => this.timedOut());
  }

  /** Calls awaiting an answer. */
  get size(): number {
    return this.inFlight.size;
  }

  /** Asks Redis for a ticket's cost, allowing what is left of its `maxWait`; the ticket is `sent`. */
  send(ticket: Ticket): void {
    const now = this.clock();
    this.tickets.enter(ticket, 'sent');
    const call = new StoreCall(ticket, now, this.health.sending(now));
    this.inFlight.add(call);
    const left = ticket.waitLeft(now);
    this.store.reserve(ticket.cost, left === Infinity ? -1 : left * 1000).then(
      (reply) => this.answered(call, reply),
      (error: unknown) => this.failed(call, error),
    );
  }

  /** Aims the timer at the oldest call's timeout (one due no later will do), or clears it. */
  aimTimer(): void {
    const oldest = this.inFlight.values().next();
    if (oldest.done === true) this.timer.clear();
    else this.timer.aim(oldest.value.sentAt + this.timeout, undefined, true);
  }

  private answered(call: StoreCall, reply: ReserveReply): void {
    const ticket = call.ticket;
    const abandoned = call.settled || ticket.cancelled;
    if (!call.settled) this.settle(call);
    const now = this.clock();
    this.mirror.heard(reply, now);
    this.health.recovered(now);
    if (abandoned) {
      // Timed out or withdrawn meanwhile: whatever was reserved goes back (if it still can).
      if (reply.granted && reply.wait > 0) this.refunds.add({ base: reply.base, due: reply.due, cost: ticket.cost });
      else if (reply.granted) this.refunds.forfeit(ticket.cost);
    } else if (!reply.granted) {
      const retryAfter = Math.ceil(reply.wait) / 1000;
      this.tickets.settle(ticket, (waiter) => waiter.refused(retryAfter));
    } else {
      ticket.reservation = { base: reply.base, due: reply.due, cost: ticket.cost };
      ticket.storeTime = Number(reply.base) * 1000 + Number(reply.due) / 1000;
      // Due `wait` after the server's now, counted from this reply: late by the reply's trip, never early.
      ticket.dueAt = now + reply.wait / 1000;
      this.tickets.enter(ticket, 'reserved');
    }
    this.onSettled();
  }

  /** The call failed: a client error, or a malformed reply (which comes as a `RedisStoreError` already). */
  private failed(call: StoreCall, cause: unknown): void {
    if (call.settled) return; // timed out already; the ticket went to onStoreError then
    this.settle(call);
    const message = cause instanceof Error ? cause.message : String(cause);
    const error =
      cause instanceof RedisStoreError
        ? cause
        : new RedisStoreError(`Redis call for key ${this.store.key} failed: ${message}`, this.store.key, cause);
    this.storeFailed(call, error);
    this.onSettled();
  }

  private timedOut(): void {
    const now = this.clock();
    for (const call of this.inFlight) {
      if (call.sentAt + this.timeout > now) break;
      this.settle(call);
      this.health.timeouts++;
      this.storeFailed(call, new RedisStoreError(`Redis did not answer within ${this.timeout} ms (key ${this.store.key})`, this.store.key));
    }
    this.onSettled();
  }

  /** Redis counts as failing, and the ticket (unless withdrawn) goes to `onStoreError`. */
  private storeFailed(call: StoreCall, error: RedisStoreError): void {
    this.health.failed(error);
    if (!call.ticket.cancelled) this.health.apply(call.ticket, error);
  }

  private settle(call: StoreCall): void {
    call.settled = true;
    this.inFlight.delete(call);
    this.health.settled(call);
    if (call.ticket.cancelled) this.refunds.answered();
  }
}
