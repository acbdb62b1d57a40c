import type { LimiterEvents } from '../limiters/LimiterEvents';
import { RedisStoreError } from './errors';
import type { RedisTokenBucketEvent, RedisTokenBucketStats } from './events';
import type { LocalFallback } from './LocalFallback';
import type { StoreErrorPolicy } from './options';
import type { TicketQueue } from './TicketQueue';
import type { StoreCall, Ticket } from './tickets';

/**
 * Whether Redis answers, as this process has seen it, and what becomes of a value while it
 * does not (`onStoreError`). One place decides when to try Redis again: while it is
 * failing, one value at a time is sent as a probe, at most once per `probeInterval`.
 */
export class StoreHealth {
  /** When the current outage began (NaN: Redis is healthy), its last error, and the last probe. */
  private degradedSince = Number.NaN;
  private lastError: RedisStoreError | null = null;
  private lastProbeAt = Number.NEGATIVE_INFINITY;
  private probeInFlight = false;
  /** Failed Redis calls (errors, malformed replies, timeouts; those of `adapt`, `debit` and `refund` too), and of those the timeouts. */
  errors = 0;
  timeouts = 0;
  /** Grants `onStoreError` made: unlimited (`'fail-open'`), or by the local share. */
  private failOpenGrants = 0;
  private localGrants = 0;

  constructor(
    private readonly policy: StoreErrorPolicy,
    private readonly probeInterval: number,
    /** The bucket's Redis key, for error messages. */
    private readonly key: string,
    private readonly tickets: TicketQueue,
    /** The local share, under `onStoreError: 'local'` (else null). */
    private readonly fallback: LocalFallback | null,
    private readonly events: LimiterEvents<RedisTokenBucketEvent>,
    private readonly clock: () => number,
  ) {}

  /** Whether Redis currently counts as failing. */
  get degraded(): boolean {
    return !Number.isNaN(this.degradedSince);
  }

  /** Whether a value may be asked of Redis now: while it is healthy, or as the probe when one is due. */
  maySend(): boolean {
    return !this.degraded || (!this.probeInFlight && this.clock() - this.lastProbeAt >= this.probeInterval);
  }

  /** Notes a call sent at `now`; returns whether it is a probe (sent while Redis counts as failing). */
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
    if (Number.isNaN(this.degradedSince)) this.degradedSince = now;
    if (this.events.observers > 0) this.events.emit({ type: 'store-error', time: now, error, policy: this.policy });
  }

  /** A call succeeded at `now`: an outage, if there was one, is over. */
  recovered(now: number): void {
    if (Number.isNaN(this.degradedSince)) return;
    const downFor = now - this.degradedSince;
    this.degradedSince = Number.NaN;
    this.lastError = null;
    if (this.events.observers > 0) this.events.emit({ type: 'store-recovered', time: now, downFor });
  }

  /** A ticket was granted: counted if `onStoreError` let it through. */
  granted(ticket: Ticket): void {
    if (ticket.source === 'fail-open') this.failOpenGrants++;
    else if (ticket.source === 'local') this.localGrants++;
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
}
