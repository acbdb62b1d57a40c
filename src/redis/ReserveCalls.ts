import type { SchedulerLike } from 'rxjs';
import { SingleTimer } from '../waiting/SingleTimer';
import type { BucketStore } from './BucketStore';
import type { CountMirror } from './CountMirror';
import { RedisStoreError } from './errors';
import type { Lease } from './Lease';
import type { Refunds } from './Refunds';
import type { ReserveAnswer, ReserveReply } from './replies';
import type { StoreHealth } from './StoreHealth';
import type { TicketQueue } from './TicketQueue';
import { StoreCall, type Ticket } from './tickets';

/**
 * The reserve calls of a Redis bucket in flight, each carrying a batch of tickets, and what
 * its answer, failure or timeout does to them. Calls time out oldest first, so one timer,
 * aimed at the oldest call's timeout, serves them all. The values of a call hold their
 * `maxInFlight` slots until it settles, withdrawn ones too: a withdrawn value's reservation is
 * refunded when the answer comes (also after a timeout), before any later call is sent.
 */
export class ReserveCalls {
  /** Calls awaiting an answer, oldest first. */
  private readonly inFlight = new Set<StoreCall>();
  /** The values in those calls, withdrawn ones included. */
  private values = 0;
  private readonly timer: SingleTimer;
  private readonly clock: () => number;

  constructor(
    private readonly store: BucketStore,
    private readonly timeout: number,
    private readonly tickets: TicketQueue,
    private readonly mirror: CountMirror,
    private readonly health: StoreHealth,
    private readonly refunds: Refunds,
    /** What a reply leases goes here; dropped when Redis fails. */
    private readonly lease: Lease,
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

  /** Values in calls awaiting an answer (withdrawn ones too): the slots they hold. */
  get valuesOut(): number {
    return this.values;
  }

  /** Asks Redis for the tickets' costs in one call, in order, each allowing what is left of its `maxWait`; they are `sent`. */
  send(batch: readonly Ticket[]): void {
    const now = this.clock();
    for (let i = 0; i < batch.length; i++) {
      const ticket = batch[i]!;
      if (ticket.state !== 'done') this.tickets.enter(ticket, 'sent');
      const left = ticket.waitLeft(now);
      ticket.maxWaitMicros = left === Infinity ? -1 : left * 1000;
    }
    const call = new StoreCall(batch, now, this.health.sending(now));
    this.inFlight.add(call);
    this.values += batch.length;
    this.refunds.callSent();
    // The tickets are their own asks: nothing allocated per value. A probe leases nothing.
    this.store.reserve(batch, call.probe ? 0 : this.lease.askFor(batch.length, now)).then(
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
    const late = call.settled;
    if (!late) this.settle(call);
    const now = this.clock();
    this.mirror.heard(reply, now);
    this.health.recovered(now);
    if (late) this.lease.giveBackLate(reply.lease);
    else this.lease.add(reply, now, call.sentAt + this.timeout);
    const { tickets } = call;
    const { answers } = reply;
    for (let index = 0; index < tickets.length; index++) {
      const ticket = tickets[index]!;
      const answer = answers[index]!;
      if (late || ticket.cancelled) this.abandoned(ticket, answer, reply);
      else this.reserved(ticket, answer, reply, now);
    }
    // Before any later call is sent, so what goes back is still the latest of the state.
    this.refunds.flush();
    this.onSettled();
  }

  /** Timed out or withdrawn meanwhile: whatever was reserved goes back (if it still can). */
  private abandoned(ticket: Ticket, answer: ReserveAnswer, reply: ReserveReply): void {
    if (!answer.granted) return;
    if (answer.wait > 0) this.refunds.add({ generation: reply.generation, base: reply.base, due: answer.due, cost: ticket.cost });
    else this.refunds.forfeit(ticket.cost);
  }

  private reserved(ticket: Ticket, answer: ReserveAnswer, reply: ReserveReply, now: number): void {
    if (!answer.granted) {
      const retryAfter = Math.ceil(answer.wait) / 1000;
      this.tickets.settle(ticket, (waiter) => waiter.refused(retryAfter));
      return;
    }
    ticket.reserve(reply, answer);
    // Due `wait` after the server's now, counted from this reply: late by the reply's trip, never early.
    ticket.dueAt = now + answer.wait / 1000;
    this.tickets.enter(ticket, 'reserved');
  }

  /** The call failed: a client error, or a malformed reply (which comes as a `RedisStoreError` already). */
  private failed(call: StoreCall, cause: unknown): void {
    if (call.settled) return; // timed out already; the tickets went to onStoreError then
    this.settle(call);
    const message = cause instanceof Error ? cause.message : String(cause);
    const error =
      cause instanceof RedisStoreError
        ? cause
        : new RedisStoreError(`Redis call for key ${this.store.key} failed: ${message}`, this.store.key, cause);
    this.storeFailed(call, error);
    this.refunds.flush();
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
    this.refunds.flush();
    this.onSettled();
  }

  /** Redis counts as failing, and the call's tickets (unless withdrawn) go to `onStoreError`. */
  private storeFailed(call: StoreCall, error: RedisStoreError): void {
    this.health.failed(error);
    this.lease.drop();
    for (const ticket of call.tickets) if (!ticket.cancelled && ticket.state === 'sent') this.health.apply(ticket, error);
  }

  private settle(call: StoreCall): void {
    call.settled = true;
    this.inFlight.delete(call);
    this.values -= call.tickets.length;
    this.health.settled(call);
    this.refunds.callSettled();
  }
}
