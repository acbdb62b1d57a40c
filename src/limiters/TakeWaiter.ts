import { Observable } from 'rxjs';
import { checkCostWithin } from '../shared/checks';
import { resampleMonotonicClock } from '../waiting/monotonicScheduler';
import type { Waiter } from '../waiting/WaitQueue';
import type { TokenLimiter } from './TokenLimiter';

/** Where a `take()` waiter reports: the subscriber of the `take()` Observable. */
export interface TakeSubscriber {
  next(): void;
  complete(): void;
  error(error: unknown): void;
}

/** The waiter behind a limiter's `take()`: one per subscription, answering its subscriber. */
export class TakeWaiter implements Waiter {
  queuedAt = 0;
  previousWaiter: Waiter | null = null;
  nextWaiter: Waiter | null = null;
  constructor(
    readonly cost: number,
    private readonly subscriber: TakeSubscriber,
  ) {}
  granted(): void {
    this.subscriber.next();
    this.subscriber.complete();
  }
  /** `take()` waits as long as it takes (maxWait Infinity), so only a limiter's own bound refuses it. */
  refused(retryAfter: number): void {
    this.subscriber.error(new RangeError(`take(${this.cost}) was refused (it could be granted in ${retryAfter} ms)`));
  }
  failed(error: Error): void {
    this.subscriber.error(error);
  }
}

/**
 * A cold Observable that joins `limiter`'s queue when subscribed, emits once (`undefined`)
 * and completes when `cost` tokens are granted. Unsubscribing before that withdraws it,
 * taking nothing. Errors at subscription for an invalid cost or one above capacity.
 */
export function takeFrom(limiter: TokenLimiter, cost: number): Observable<void> {
  return new Observable<void>((subscriber) => {
    resampleMonotonicClock();
    try {
      checkCostWithin(cost, limiter.capacity);
    } catch (error) {
      subscriber.error(error);
      return undefined;
    }
    const waiter = new TakeWaiter(cost, subscriber);
    limiter.enqueue(waiter, Infinity);
    return () => limiter.cancel(waiter);
  });
}
