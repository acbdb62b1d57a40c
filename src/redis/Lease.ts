import type { BucketStore } from './BucketStore';
import type { CountMirror } from './CountMirror';
import type { RedisTokenBucketStats } from './events';
import type { LeaseSettings } from './options';
import type { ReserveReply } from './replies';
import type { Ticket } from './tickets';

/**
 * Tokens Redis took for this process beyond the values it asked for (the reserve script's
 * lease: whole tokens the bucket held at that instant), which the pump grants to later values
 * at once, without a call. Redis counted them as spent when it leased them, so a grant from the
 * lease is a reservation like any other, only made before its value arrived. Two rules keep the
 * shared limit: the pump grants from the lease only the head of the queue (never ahead of a
 * value waiting for Redis), and only while the lease is young — until `time` after the answer
 * that brought it, and never later than the call's timeout after it was sent, so a leased token
 * is granted no later than the latest answer ReserveCalls accepts. What is not granted by then
 * goes back to Redis in one refund call (the settle script), and is never granted after that;
 * so is the lease on `configure`, `adapt`'s cap or pause, `returnLease`, and when a reply shows
 * the state was lost (a new generation). While Redis fails the lease is dropped without a call:
 * the shared count the local share continues already counts it as spent, so nothing is counted
 * twice, and a call would fail anyway.
 */
export class Lease {
  private tokens = 0;
  /** The scheduler instant from which nothing more is granted from the lease. */
  private until = Number.NEGATIVE_INFINITY;
  /** The reply that leased the tokens held (the latest, if several did): its generation and instant. */
  private reply: ReserveReply | null = null;
  /** When this process last granted a value (scheduler clock): a lease is asked for only while it is busy. */
  private lastGrantAt = Number.NEGATIVE_INFINITY;
  private grants = 0;
  private returned = 0;
  private dropped = 0;

  constructor(
    private readonly settings: LeaseSettings,
    private readonly store: BucketStore,
    private readonly mirror: CountMirror,
    private readonly clock: () => number,
    /** A refund call failed (counted as a store error; no value waits on it). */
    private readonly onCallFailed: () => void,
  ) {}

  /**
   * The most tokens a reserve call of `values` sent at `now` may lease: none unless this
   * process is busy — the call carries several values, or a value was granted within the
   * lease's time — so a process asking now and then makes one call per value, as without a
   * lease, instead of a second call to give an unused lease back.
   */
  askFor(values: number, now: number): number {
    return values > 1 || now - this.lastGrantAt <= this.settings.time ? this.settings.maxTokens : 0;
  }

  /** A value was granted at `now` (from anywhere). */
  granted(now: number): void {
    this.lastGrantAt = now;
  }

  /** When the tokens held stop being granted (scheduler clock), or undefined if none are held. */
  get expiresAt(): number | undefined {
    return this.tokens > 0 ? this.until : undefined;
  }

  /**
   * A reserve `reply` was answered at `now`, leasing `reply.lease` tokens; `latest` is when
   * its call's timeout would have run out. Tokens still held keep their earlier end, which then
   * serves both (never later than either's).
   */
  add(reply: ReserveReply, now: number, latest: number): void {
    if (this.tokens > 0 && reply.generation !== this.reply!.generation) this.giveBack();
    const amount = reply.lease ?? 0;
    if (!(amount > 0)) return;
    const until = Math.min(now + this.settings.time, latest);
    this.until = this.tokens > 0 ? Math.min(this.until, until) : until;
    this.tokens += amount;
    this.reply = reply;
  }

  /**
   * Grants `ticket` from the lease at `now` if it holds the cost, is young and belongs to the
   * state Redis last reported; the ticket then holds the lease's reservation (taken at the
   * lease's instant on the server's clock).
   */
  take(ticket: Ticket, now: number): boolean {
    const reply = this.reply;
    if (this.tokens === 0 || reply === null) return false;
    if (now >= this.until || reply.generation !== this.mirror.generation) {
      this.giveBack();
      return false;
    }
    if (ticket.cost > this.tokens) return false;
    const left = this.tokens - ticket.cost;
    // Whole tokens less fractional costs: a float residue is not a token to grant.
    this.tokens = left < 1e-9 ? 0 : left;
    this.grants++;
    ticket.reserve(reply, reply.leaseAnswer!);
    return true;
  }

  /** Gives the rest back if its time is up at `now`. */
  expire(now: number): void {
    if (this.tokens > 0 && now >= this.until) this.giveBack();
  }

  /** Gives back what is held, in one refund call; nothing held is ever granted after this. */
  giveBack(): void {
    const amount = this.tokens;
    this.tokens = 0;
    this.until = Number.NEGATIVE_INFINITY;
    if (amount > 0) this.send(amount);
  }

  /** Tokens a call that timed out leased after all: they go straight back. */
  giveBackLate(amount = 0): void {
    if (amount > 0) this.send(amount);
  }

  /** Redis is failing: the rest is dropped without a call (the shared count already counts it as spent). */
  drop(): void {
    this.dropped += this.tokens;
    this.tokens = 0;
    this.until = Number.NEGATIVE_INFINITY;
  }

  /** The counts for `stats()`. */
  stats(): Pick<RedisTokenBucketStats, 'leasedTokens' | 'leaseGrants' | 'leaseReturned' | 'leaseDropped'> {
    return { leasedTokens: this.tokens, leaseGrants: this.grants, leaseReturned: this.returned, leaseDropped: this.dropped };
  }

  private send(amount: number): void {
    this.mirror.refund(amount, this.clock());
    this.store.settle(-amount).then(
      (reply) => {
        this.returned += amount;
        this.mirror.heard(reply, this.clock());
      },
      () => {
        this.dropped += amount;
        this.onCallFailed();
      },
    );
  }
}
