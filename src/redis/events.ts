import type { LimiterStats } from '../limiters/LimiterCounters';
import type { TokenBucketEvent } from '../limiters/TokenBucketStats';
import type { RedisStoreError } from './errors';
import type { StoreErrorPolicy } from './options';

/**
 * A snapshot of a Redis bucket as this process sees it, taken when `stats()` is called: the
 * fields of every limiter (`available` is estimated from the last state Redis reported, as
 * other processes spend too; `granted` counts grants from every source), plus the store's.
 */
export interface RedisTokenBucketStats extends LimiterStats {
  /** Redis calls for values awaiting an answer. */
  readonly inFlight: number;
  /** Values holding a reservation, waiting for its time. */
  readonly reserved: number;
  /** Of the grants, those unlimited because Redis failed (`'fail-open'`), or by the local share (`'local'`). */
  readonly failOpenGrants: number;
  readonly localGrants: number;
  /**
   * Tokens reserved for values that left (or timed out) and given back, and those that could
   * not be: taken with no wait, or with later reservations behind them (see `RefundedEvent`).
   */
  readonly refundedCost: number;
  readonly forfeitedCost: number;
  /**
   * The lease (see `RedisTokenBucketOptions.lease`): tokens Redis leased to this process and
   * not yet granted or given back; values granted from a lease (also counted in `granted`);
   * leased tokens given back to Redis unused, and those dropped (Redis failing: the shared
   * count keeps them as spent).
   */
  readonly leasedTokens: number;
  readonly leaseGrants: number;
  readonly leaseReturned: number;
  readonly leaseDropped: number;
  /** Failed Redis calls (errors, timeouts and malformed replies), and of those the timeouts. */
  readonly storeErrors: number;
  readonly timeouts: number;
  /** Whether Redis is currently treated as failing (values go to `onStoreError`, one probe at a time). */
  readonly degraded: boolean;
  /**
   * Tokens owed in the shared count, as last reported and refilled since (an estimate): debits
   * not yet paid back and reservations made ahead, of every process; refill pays them back
   * before a newcomer's reservation falls due.
   */
  readonly debt: number;
}

/** Where a grant came from. */
export type GrantSource = 'store' | 'fail-open' | 'local';

/** `granted`, with where the tokens came from and, for Redis grants, the instant on the server's clock. */
export interface RedisGrantedEvent {
  readonly type: 'granted';
  readonly time: number;
  readonly cost: number;
  readonly waited: number;
  readonly available: number;
  readonly source: GrantSource;
  /** Epoch ms on the store's clock at which the reservation fell due; undefined unless from Redis. */
  readonly storeTime: number | undefined;
}

/** A Redis call failed, timed out or answered with a malformed reply; `policy` says what became of its value. */
export interface StoreErrorEvent {
  readonly type: 'store-error';
  readonly time: number;
  readonly error: RedisStoreError;
  readonly policy: StoreErrorPolicy;
}

/** Redis answered again after an outage. */
export interface StoreRecoveredEvent {
  readonly type: 'store-recovered';
  readonly time: number;
  /** Ms since the first error of the outage. */
  readonly downFor: number;
}

/**
 * Reservations of values that left were sent back. Only the latest reservations of the
 * shared state can be returned: one with later reservations (of any process) behind it is
 * forfeited, since returning it would let a newcomer be granted beside them, beyond the burst.
 */
export interface RefundedEvent {
  readonly type: 'refunded';
  readonly time: number;
  readonly returned: number;
  readonly forfeited: number;
}

/** What `events$` reports: `TokenBucket`'s events plus the store's. `time` is the scheduler's `now()`. */
export type RedisTokenBucketEvent =
  Exclude<TokenBucketEvent, { type: 'granted' }> | RedisGrantedEvent | StoreErrorEvent | StoreRecoveredEvent | RefundedEvent;
