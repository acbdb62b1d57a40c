import type { Subscription } from 'rxjs';
import type { Waiter } from '../../waiting/WaitQueue';

/** What an attempt reports to. */
export interface AttemptOwner<T> {
  send(attempt: Attempt<T>): void;
  fail(error: unknown): void;
}

/** One value on its way: waiting for a slot, for tokens, or in flight. */
export class Attempt<T> implements Waiter {
  queuedAt = 0;
  previousWaiter: Waiter | null = null;
  nextWaiter: Waiter | null = null;
  /** Throttle signals so far. */
  throttled = 0;
  /** When its request was sent (scheduler time); a throttle signal for a request sent before the last decrease does not decrease again. */
  sentAt = 0;
  /** When it last asked for tokens, and whether it had to wait for them (the rate was what held it back). */
  askedAt = 0;
  waitedForTokens = false;
  /**
   * Tokens this try of it holds: its cost when sent; with `actualCost`, the real cost of its
   * results once settled, and 0 once a throttle gave its cost back.
   */
  charged = 0;
  /** Results of this try settled by `actualCost`. */
  results = 0;
  request: Subscription | null = null;
  constructor(
    readonly value: T,
    readonly index: number,
    readonly cost: number,
    private readonly flow: AttemptOwner<T>,
  ) {}
  granted(): void {
    this.flow.send(this);
  }
  refused(): void {
    // Asked with maxWait Infinity: never refused.
  }
  failed(error: Error): void {
    this.flow.fail(error);
  }
}
