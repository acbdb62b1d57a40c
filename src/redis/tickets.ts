import type { Subscriber } from 'rxjs';
import type { Waiter } from '../waiting/WaitQueue';
import type { GrantSource } from './events';
import type { Reservation } from './scripts';

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
 * A waiter's place in a Redis bucket's queue, and what Redis answered for it. It carries
 * the queue links, so the operator's waiter is never linked into two queues at once.
 */
export class Ticket implements Waiter {
  queuedAt = 0;
  previousWaiter: Waiter | null = null;
  nextWaiter: Waiter | null = null;
  state: TicketState = 'unsent';
  cancelled = false;
  source: GrantSource = 'store';
  /** Local time (scheduler clock) the reservation falls due. */
  dueAt = 0;
  reservation: Reservation | null = null;
  /** Epoch ms on the store's clock the reservation falls due. */
  storeTime: number | undefined = undefined;
  /** The waiter handed to the local share's bucket, once asked. */
  localWaiter: LocalWaiter | null = null;
  constructor(
    readonly waiter: Waiter,
    readonly cost: number,
    readonly maxWait: number,
  ) {}
  // Tickets only sit in their own bucket's queue, which never calls these.
  granted(): void {}
  refused(): void {}
  failed(): void {}
}

/** What a `LocalWaiter` reports back to its Redis bucket. */
export interface LocalWaiterOwner {
  localGranted(ticket: Ticket): void;
  settleTicket(ticket: Ticket, tell: (waiter: Waiter) => void): void;
}

/** Stands for a ticket in the local share's `TokenBucket`, which links it into its own queue. */
export class LocalWaiter implements Waiter {
  queuedAt = 0;
  previousWaiter: Waiter | null = null;
  nextWaiter: Waiter | null = null;
  constructor(
    readonly ticket: Ticket,
    private readonly owner: LocalWaiterOwner,
  ) {}
  get cost(): number {
    return this.ticket.cost;
  }
  granted(): void {
    this.owner.localGranted(this.ticket);
  }
  refused(retryAfter: number): void {
    this.owner.settleTicket(this.ticket, (waiter) => waiter.refused(retryAfter));
  }
  failed(error: Error): void {
    this.owner.settleTicket(this.ticket, (waiter) => waiter.failed(error));
  }
}

/** The waiter behind `take()`: one per subscription. */
export class TakeWaiter implements Waiter {
  queuedAt = 0;
  previousWaiter: Waiter | null = null;
  nextWaiter: Waiter | null = null;
  constructor(
    readonly cost: number,
    private readonly subscriber: Subscriber<void>,
  ) {}
  granted(): void {
    this.subscriber.next();
    this.subscriber.complete();
  }
  refused(): void {
    // take() waits as long as it takes (maxWait Infinity), so it is never refused.
  }
  failed(error: Error): void {
    this.subscriber.error(error);
  }
}

/** One reserve call; `settled` once answered, failed or timed out (a later answer is then refunded). */
export class StoreCall {
  settled = false;
  constructor(
    readonly ticket: Ticket,
    readonly sentAt: number,
    readonly probe: boolean,
  ) {}
}

/**
 * Collects reservations to give back and sends them in one batch at the end of the turn,
 * latest first (only the latest reservation of the shared state can be returned, so a run
 * of them must go back from its end). While withdrawn values still have calls in flight,
 * the batch waits for their answers, which may hold later reservations of the same run.
 */
export class RefundBatch {
  private pending: Reservation[] = [];
  private awaited = 0;
  private queued = false;

  constructor(private readonly send: (latestFirst: Reservation[]) => void) {}

  /** A withdrawn value's call is still in flight. */
  await(): void {
    this.awaited++;
  }

  /** That call was answered (or failed, or timed out). */
  answered(): void {
    if (--this.awaited === 0) this.flushSoon();
  }

  add(reservation: Reservation): void {
    this.pending.push(reservation);
    this.flushSoon();
  }

  private flushSoon(): void {
    if (this.queued || this.awaited > 0 || this.pending.length === 0) return;
    this.queued = true;
    queueMicrotask(this.flush);
  }

  private readonly flush = (): void => {
    this.queued = false;
    if (this.awaited > 0 || this.pending.length === 0) return;
    const batch = this.pending.sort((a, b) => dueInMicros(b) - dueInMicros(a));
    this.pending = [];
    this.send(batch);
  };
}

/** A reservation's due time on one scale across bases (µs since the epoch; for ordering only). */
function dueInMicros(reservation: Reservation): number {
  return Number(reservation.base) * 1e6 + Number(reservation.due);
}
