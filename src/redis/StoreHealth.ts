import type { LimiterEvents } from '../limiters/LimiterEvents';
import { RedisStoreError } from './errors';
import type { RedisTokenBucketEvent, RedisTokenBucketStats } from './events';
import type { LocalFallback } from './LocalFallback';
import type { StoreErrorPolicy } from './options';
import type { TicketQueue } from './TicketQueue';
import type { StoreCall, Ticket } from './tickets';

/** How StoreHealth reaches Redis and the rest of the bucket. */
export interface StoreHealthLinks {
  readonly tickets: TicketQueue;
  /** The local share, under `onStoreError: 'local'` (else null). */
  readonly fallback: LocalFallback | null;
  readonly events: LimiterEvents<RedisTokenBucketEvent>;
  readonly clock: () => number;
  /** A call that changes nothing in Redis and mirrors the count it answers: the probe of `'fail-open'` and `'local'`. */
  readonly probe: () => Promise<unknown>;
  /** Runs the bucket's pump (after a probe answered). */
  readonly run: () => void;
}

/**
 * Whether Redis answers, as this process has seen it, and what becomes of a value while it
 * does not (`onStoreError`). One place decides when to try Redis again: while it is
 * failing, one probe at a time, at most once per `probeInterval`. Under `'fail-closed'` the
 * probe is a value's own call (the alternative for that value is an error); under
 * `'fail-open'` and `'local'` it is a call of its own that reserves nothing, so no value
 * waits behind it: each value goes to its policy at once.
 */
export class StoreHealth {
  /** When the current outage began (NaN: Redis is healthy), its last error, and the last probe. */
  private degradedSince = Number.NaN;
  private lastError: RedisStoreError | null = null;
  private lastProbeAt = Number.NEGATIVE_INFINITY;
  private probeInFlight = false;
  /** `'local'`: an answer ended the outage, and the end is applied at the end of the turn. */
  private recovering = false;
  /** When a call last succeeded (scheduler clock). */
  private answeredAt = Number.NEGATIVE_INFINITY;
  /** Numbers the probes of its own, so a lost one's late failure does not clear a newer one. */
  private probeCount = 0;
  /** Failed Redis calls (errors, malformed replies, timeouts; those of `adapt`, `debit` and `refund` too), and of those the timeouts. */
  errors = 0;
  timeouts = 0;
  /** Grants `onStoreError` made: unlimited (`'fail-open'`), or by the local share. */
  private failOpenGrants = 0;
  private localGrants = 0;
  private readonly tickets: TicketQueue;
  private readonly fallback: LocalFallback | null;
  private readonly events: LimiterEvents<RedisTokenBucketEvent>;
  private readonly clock: () => number;

  constructor(
    private readonly policy: StoreErrorPolicy,
    private readonly probeInterval: number,
    /** Ms a probe of its own may take before another may go. */
    private readonly timeout: number,
    /** The bucket's Redis key, for error messages. */
    private readonly key: string,
    private readonly links: StoreHealthLinks,
  ) {
    this.tickets = links.tickets;
    this.fallback = links.fallback;
    this.events = links.events;
    this.clock = links.clock;
  }

  /** Whether Redis currently counts as failing. */
  get degraded(): boolean {
    return !Number.isNaN(this.degradedSince);
  }

  /**
   * Whether a value may be asked of Redis now: while it is healthy, or (`'fail-closed'`) as
   * the probe when one is due. Under the other policies a due probe goes on its own and the
   * value goes to its policy.
   */
  maySend(): boolean {
    if (!this.degraded) return true;
    const now = this.clock();
    const ownProbe = this.policy !== 'fail-closed';
    // A probe of its own unanswered for `timeout` is lost (a value's call has its own timeout).
    if (this.probeInFlight && !(ownProbe && now - this.lastProbeAt >= this.timeout)) return false;
    if (now - this.lastProbeAt < this.probeInterval) return false;
    if (!ownProbe) return true;
    this.sendProbe(now);
    return false;
  }

  /** Notes a value's call sent at `now`; returns whether it is a probe (sent while Redis counts as failing). */
  sending(now: number): boolean {
    const probe = this.degraded;
    if (probe) {
      this.probeInFlight = true;
      this.lastProbeAt = now;
    }
    return probe;
  }

  /** A call was answered, failed or timed out. */
  settled(call: StoreCall): void {
    if (call.probe) this.probeInFlight = false;
  }

  /** A call failed or timed out: Redis counts as failing until a call succeeds. */
  failed(error: RedisStoreError): void {
    const now = this.clock();
    this.errors++;
    this.lastError = error;
    if (Number.isNaN(this.degradedSince)) {
      this.degradedSince = now;
      this.fallback?.outageBegins(this.answeredAt);
    }
    if (this.events.observers > 0) this.events.emit({ type: 'store-error', time: now, error, policy: this.policy });
  }

  /**
   * A call succeeded at `now`: an outage, if there was one, is over. Under `'local'` the end
   * is applied at the end of this turn, after the refunds of the answer that ended it went
   * out: the local share's charge, or a value sent back to Redis, sent before them would
   * leave those late reservations no longer the latest, so they could not be given back.
   */
  recovered(now: number): void {
    this.answeredAt = now;
    if (Number.isNaN(this.degradedSince) || this.recovering) return;
    const fallback = this.fallback;
    if (fallback === null) {
      this.endOutage(now);
      return;
    }
    this.recovering = true;
    const failures = this.errors;
    queueMicrotask(() => {
      this.recovering = false;
      if (this.errors !== failures) return; // failed again meanwhile: still an outage
      this.endOutage(now);
      fallback.outageEnds();
      this.links.run();
    });
  }

  /** A ticket was granted: counted if `onStoreError` let it through; its slot may take a value back from the local share. */
  granted(ticket: Ticket): void {
    if (ticket.source === 'fail-open') this.failOpenGrants++;
    else if (ticket.source === 'local') this.localGrants++;
    this.fallback?.resendReturning();
  }

  /** The counts for `stats()`. */
  stats(): Pick<RedisTokenBucketStats, 'failOpenGrants' | 'localGrants' | 'storeErrors' | 'timeouts' | 'degraded'> {
    const { failOpenGrants, localGrants, errors, timeouts } = this;
    return { failOpenGrants, localGrants, storeErrors: errors, timeouts, degraded: this.degraded };
  }

  /**
   * Applies `onStoreError` to a ticket Redis could not answer for (`error`: its own call's,
   * or else the outage's last): granted unlimited (`'fail-open'`), handed to the local share
   * (`'local'`, if it fits), or failed with the error.
   */
  apply(ticket: Ticket, error: RedisStoreError = this.lastError!): void {
    if (this.policy === 'fail-open') {
      ticket.source = 'fail-open';
      this.tickets.enter(ticket, 'ready');
    } else if (this.fallback !== null && ticket.cost <= this.fallback.capacity) {
      ticket.source = 'local';
      this.tickets.enter(ticket, 'local');
    } else {
      const failure =
        this.fallback !== null
          ? new RedisStoreError(
              `${error.message}; cost ${ticket.cost} exceeds the local share's capacity ${this.fallback.capacity}`,
              this.key,
              error,
            )
          : error;
      this.tickets.settle(ticket, (waiter) => waiter.failed(failure));
    }
  }

  private endOutage(now: number): void {
    const downFor = now - this.degradedSince;
    this.degradedSince = Number.NaN;
    this.lastError = null;
    if (this.events.observers > 0) this.events.emit({ type: 'store-recovered', time: now, downFor });
  }

  /** Sends a probe of its own: a success ends the outage and runs the pump, so waiting values go to Redis again. */
  private sendProbe(now: number): void {
    const probe = ++this.probeCount;
    this.probeInFlight = true;
    this.lastProbeAt = now;
    this.links.probe().then(
      () => {
        if (probe === this.probeCount) this.probeInFlight = false;
        this.recovered(this.clock());
        this.links.run();
      },
      (cause: unknown) => {
        if (probe !== this.probeCount) return; // a newer probe went meanwhile
        this.probeInFlight = false;
        const message = cause instanceof Error ? cause.message : String(cause);
        this.failed(
          cause instanceof RedisStoreError
            ? cause
            : new RedisStoreError(`Redis probe for key ${this.key} failed: ${message}`, this.key, cause),
        );
      },
    );
  }
}
