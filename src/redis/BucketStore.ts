import type { StoreClock } from './options';
import type { CountReply, RefundReply, Reservation, ReserveReply } from './replies';
import { BucketScripts, clockReading, SERVER_CLOCK, type ClockReading, type RedisClient, type ScriptLimits } from './scripts';

/**
 * One bucket's shared state in Redis, as this process calls it: the scripts, run on its
 * key with the limits of the moment and the chosen clock, so callers pass only what varies.
 */
export class BucketStore {
  private readonly scripts: BucketScripts;
  private readonly clock: () => ClockReading;

  constructor(
    redis: RedisClient,
    /** The Redis key holding the state. */
    readonly key: string,
    clock: StoreClock,
    /** The limits to compute with, read at each call. */
    private readonly limits: () => ScriptLimits,
  ) {
    this.scripts = new BucketScripts(redis);
    // Client-clock mode needs a clock every process shares: the wall clock, not a monotonic one.
    this.clock = clock === 'server' ? () => SERVER_CLOCK : () => clockReading(Date.now());
  }

  /** Takes `cost` now, or reserves it ahead if the wait is at most `maxWaitMicros` (-1: any wait). */
  reserve(cost: number, maxWaitMicros: number): Promise<ReserveReply> {
    return this.scripts.reserve(this.key, this.limits(), this.clock(), cost, maxWaitMicros);
  }

  /** Returns reservations sorted latest due first. */
  refund(latestFirst: readonly Reservation[]): Promise<RefundReply> {
    return this.scripts.refund(this.key, this.limits(), this.clock(), latestFirst);
  }

  /** Lowers the count to at most `cap` (if given) and pauses grants for `pauseMicros`. */
  adjust(cap: number | undefined, pauseMicros: number): Promise<CountReply> {
    return this.scripts.adjust(this.key, this.limits(), this.clock(), cap, pauseMicros);
  }

  /** Takes `amount` tokens (> 0: a debit, into debt if need be) or gives `-amount` back (< 0: a refund). */
  settle(amount: number): Promise<CountReply> {
    return this.scripts.settle(this.key, this.limits(), this.clock(), amount);
  }
}
