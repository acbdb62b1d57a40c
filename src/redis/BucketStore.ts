import type { StoreClockReader } from './StoreClockReader';
import type { CountReply, RefundReply, Reservation, ReserveReply } from './replies';
import { BucketScripts, type CallContext, type RedisClient, type ReserveAsk, type ScriptLimits } from './scripts';

/** What this process knows of the shared state, passed with every call. */
export interface StoreView {
  /** The limits to compute with, read at each call. */
  scriptLimits(): ScriptLimits;
  /** The generation of the state last heard of ('' for none). */
  readonly generation: string;
  /** The count at `now` as last heard and refilled since (negative while reservations are owed). */
  carry(now: number): number;
}

/**
 * One bucket's shared state in Redis, as this process calls it: the scripts, run on its
 * key with the limits of the moment, the chosen clock and what this process knows of the
 * state (its generation and count, carried into a new state if the old one was lost), so
 * callers pass only what varies. Every reply's clock shift goes to the clock reader.
 */
export class BucketStore {
  private readonly scripts: BucketScripts;

  constructor(
    redis: RedisClient,
    /** The Redis key holding the state. */
    readonly key: string,
    private readonly clock: StoreClockReader,
    private readonly view: StoreView,
    /** The scheduler's clock, for the carry. */
    private readonly now: () => number,
  ) {
    this.scripts = new BucketScripts(redis);
  }

  /**
   * Asks for each cost in order, in one call: taken now, or reserved ahead if its wait is at
   * most its `maxWaitMicros` (-1: any); and a lease of at most `leaseMax` tokens (0: none).
   */
  reserve(asks: readonly ReserveAsk[], leaseMax = 0): Promise<ReserveReply> {
    return this.call((context) => this.scripts.reserve(this.key, context, asks, leaseMax));
  }

  /** Returns reservations sorted latest due first. */
  refund(latestFirst: readonly Reservation[]): Promise<RefundReply> {
    return this.call((context) => this.scripts.refund(this.key, context, latestFirst));
  }

  /** Lowers the count to at most `cap` (if given) and pauses grants for `pauseMicros`. */
  adjust(cap: number | undefined, pauseMicros: number): Promise<CountReply> {
    return this.call((context) => this.scripts.adjust(this.key, context, cap, pauseMicros));
  }

  /** Takes `amount` tokens (> 0: a debit, into debt if need be) or gives `-amount` back (< 0: a refund). */
  settle(amount: number): Promise<CountReply> {
    return this.call((context) => this.scripts.settle(this.key, context, amount));
  }

  private call<R extends CountReply>(run: (context: CallContext) => Promise<R>): Promise<R> {
    const { reading, epoch } = this.clock.read();
    const view = this.view;
    const context: CallContext = {
      limits: view.scriptLimits(),
      clock: reading,
      generation: view.generation,
      carry: view.generation === '' ? 0 : view.carry(this.now()),
      untrusted: this.clock.untrusted,
    };
    return run(context).then((reply) => {
      this.clock.heard(reply.shift, epoch);
      return reply;
    });
  }
}
