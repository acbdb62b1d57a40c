import type { LimiterEvents } from '../limiters/LimiterEvents';
import type { BucketStore } from './BucketStore';
import type { CountMirror } from './CountMirror';
import type { RedisTokenBucketEvent, RedisTokenBucketStats } from './events';
import type { Reservation } from './replies';

/**
 * Gives back to Redis what values that left had reserved, and counts what went back and
 * what could not (`refundedCost`, `forfeitedCost`). If Redis fails, the reservations stand:
 * the limit errs on the safe side.
 */
export class Refunds {
  /** Tokens reserved for values that left (or timed out) and given back, and those that could not be. */
  private refundedCost = 0;
  private forfeitedCost = 0;
  private readonly batch = new RefundBatch((latestFirst) => this.send(latestFirst));

  constructor(
    private readonly store: BucketStore,
    private readonly mirror: CountMirror,
    private readonly events: LimiterEvents<RedisTokenBucketEvent>,
    private readonly clock: () => number,
  ) {}

  /** A withdrawn value's call is still in flight: its answer may hold a reservation to give back. */
  await(): void {
    this.batch.await();
  }

  /** That call was answered (or failed, or timed out). */
  answered(): void {
    this.batch.answered();
  }

  /** A reservation of a value that left, to give back at the end of the turn. */
  add(reservation: Reservation): void {
    this.batch.add(reservation);
  }

  /** A value that left was granted at once: nothing can be given back. */
  forfeit(cost: number): void {
    this.forfeitedCost += cost;
  }

  /** The counts for `stats()`. */
  stats(): Pick<RedisTokenBucketStats, 'refundedCost' | 'forfeitedCost'> {
    return { refundedCost: this.refundedCost, forfeitedCost: this.forfeitedCost };
  }

  /** Sends reservations back (latest first); what cannot go back is counted as forfeited. */
  private send(latestFirst: Reservation[]): void {
    const total = latestFirst.reduce((sum, reservation) => sum + reservation.cost, 0);
    this.store.refund(latestFirst).then(
      (reply) => {
        const now = this.clock();
        this.refundedCost += reply.returned;
        this.forfeitedCost += reply.forfeited;
        this.mirror.heard(reply, now);
        if (this.events.observers > 0)
          this.events.emit({ type: 'refunded', time: now, returned: reply.returned, forfeited: reply.forfeited });
      },
      () => {
        // Redis failing: the reservations stand (the limit errs on the safe side).
        this.forfeitedCost += total;
        if (this.events.observers > 0) this.events.emit({ type: 'refunded', time: this.clock(), returned: 0, forfeited: total });
      },
    );
  }
}

/**
 * Collects reservations to give back and sends them in one batch at the end of the turn,
 * latest first (only the latest reservation of the shared state can be returned, so a run
 * of them must go back from its end). While withdrawn values still have calls in flight,
 * the batch waits for their answers, which may hold later reservations of the same run.
 */
class RefundBatch {
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
