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

  /**
   * A reserve call went out. Until it settles, reservations of values that leave are held:
   * the call may be reserving later ones, and a reservation goes back at once only while it
   * is the latest, so they go back together with what its answer brings, latest first.
   */
  callSent(): void {
    this.batch.outstanding++;
  }

  /** A reserve call was answered, failed or timed out (the caller then flushes). */
  callSettled(): void {
    this.batch.outstanding--;
  }

  /** A reservation of a value that left, to give back at the end of the turn (or when the reserve call out settles). */
  add(reservation: Reservation): void {
    this.batch.add(reservation);
  }

  /** Sends what was added now (an answer's abandoned reservations go back before the next reserve call). */
  flush(): void {
    this.batch.flush();
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
 * Collects reservations to give back and sends them in one call, latest first (the latest
 * reservation of the shared state goes back at once; earlier ones are applied after it, see
 * the refund script): at the end of the turn, or, while a reserve call is out, when it
 * settles (at most one call's time: the next call goes only after the refund).
 */
class RefundBatch {
  private pending: Reservation[] = [];
  private queued = false;
  /** Reserve calls out: while there are, the end of the turn sends nothing. */
  outstanding = 0;

  constructor(private readonly send: (latestFirst: Reservation[]) => void) {}

  add(reservation: Reservation): void {
    this.pending.push(reservation);
    if (this.queued) return;
    this.queued = true;
    queueMicrotask(this.endOfTurn);
  }

  /** Sends what is pending now. */
  flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending.sort((a, b) => dueInMicros(b) - dueInMicros(a));
    this.pending = [];
    this.send(batch);
  }

  private readonly endOfTurn = (): void => {
    this.queued = false;
    if (this.outstanding === 0) this.flush();
  };
}

/** A reservation's due time on one scale across bases (µs since the epoch; for ordering only). */
function dueInMicros(reservation: Reservation): number {
  return Number(reservation.base) * 1e6 + Number(reservation.due);
}
