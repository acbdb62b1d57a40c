import type { Waiter } from '../waiting/WaitQueue';
import type { GrantSource } from './events';
import type { Reservation, ReserveAnswer, ReserveReply } from './replies';
import type { ReserveAsk } from './scripts';

export type TicketState =
  /** Not yet asked of Redis (`maxInFlight` values ahead of it are). */
  | 'unsent'
  /** A reserve call is in flight. */
  | 'sent'
  /** Holding a reservation due at `dueAt`. */
  | 'reserved'
  /** Redis failed: waits for the local share's bucket (asked once it is the head of the queue). */
  | 'local'
  /** May be granted as soon as it is the head. */
  | 'ready'
  /** Left the queue. */
  | 'done';

/**
 * The queue level of a ticket once it has been asked of Redis (or handed to `onStoreError`):
 * above every waiter's priority (those are finite), so it is never overtaken. Its place, and
 * its reservation's time in Redis, are fixed from then on.
 */
export const ASKED = Number.POSITIVE_INFINITY;

/**
 * A waiter's place in a Redis bucket's queue, and what Redis answered for it. It carries
 * the queue links, so the operator's waiter is never linked into two queues at once.
 */
export class Ticket implements Waiter, ReserveAsk {
  queuedAt = 0;
  previousWaiter: Waiter | null = null;
  nextWaiter: Waiter | null = null;
  state: TicketState = 'unsent';
  /**
   * Where it stands in its bucket's queue: its waiter's priority while `unsent` (higher goes
   * first, FIFO within a level), then `ASKED`. Changed only while out of the queue.
   */
  priority: number;
  cancelled = false;
  source: GrantSource = 'store';
  /** Local time (scheduler clock) the reservation falls due. */
  dueAt = 0;
  /** What was left of `maxWait` when it was last sent, in µs (-1: any): the ticket is its own reserve ask. */
  maxWaitMicros = -1;
  /**
   * The reply that reserved it and its answer there: the reservation, kept as the two objects
   * the reply brought (a `Reservation` is built only when one must go back).
   */
  private reply: ReserveReply | null = null;
  private answer: ReserveAnswer | null = null;
  /** The waiter standing for this ticket in the local share's bucket, once asked. */
  localWaiter: Waiter | null = null;
  constructor(
    readonly waiter: Waiter,
    readonly cost: number,
    readonly maxWait: number,
  ) {
    this.priority = waiter.priority ?? 0;
  }
  /** Holds the reservation `answer` of `reply`. */
  reserve(reply: ReserveReply, answer: ReserveAnswer): void {
    this.reply = reply;
    this.answer = answer;
  }
  /** The reservation it holds, to give back, or null. */
  get reservation(): Reservation | null {
    const { reply, answer } = this;
    return reply === null || answer === null ? null : { generation: reply.generation, base: reply.base, due: answer.due, cost: this.cost };
  }
  /** Epoch ms on the store's clock the reservation falls due (undefined: none). */
  get storeTime(): number | undefined {
    const { reply, answer } = this;
    return reply === null || answer === null ? undefined : Number(reply.base) * 1000 + Number(answer.due) / 1000;
  }
  /** What is left at `now` of the ticket's `maxWait`, counted from its arrival (Infinity: any wait). */
  waitLeft(now: number): number {
    return this.maxWait === Infinity ? Infinity : Math.max(0, this.maxWait - (now - this.queuedAt));
  }
  // Tickets only sit in their own bucket's queue, which never calls these.
  granted(): void {}
  refused(): void {}
  failed(): void {}
}

/**
 * One reserve call for a batch of tickets, in the order they were asked; `settled` once
 * answered, failed or timed out (a later answer is then refunded). Its tickets hold their
 * `maxInFlight` slots until it is answered or times out, also those withdrawn meanwhile.
 */
export class StoreCall {
  settled = false;
  constructor(
    readonly tickets: readonly Ticket[],
    readonly sentAt: number,
    /** Sent while Redis counted as failing, to find out whether it answers again. */
    readonly probe: boolean,
  ) {}
}
