import { Observable } from 'rxjs';
import { checkCostWithin, checkKnownKeys, checkPriority } from '../shared/checks';
import { resampleMonotonicClock } from '../waiting/monotonicScheduler';
import type { Waiter } from '../waiting/WaitQueue';
import type { TokenLimiter } from './TokenLimiter';

/** Options of `take()`. */
export interface TakeOptions {
  /** Higher goes first, FIFO within a level. A finite number; default 0. */
  priority?: number;
}

const TAKE_KEYS = ['priority'] as const;

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
    readonly priority = 0,
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
 * and completes when `cost` tokens are granted (with `options.priority`, in that priority's
 * place in the queue). Unsubscribing before that withdraws it,
 * taking nothing. Errors at subscription for an invalid cost or one above capacity.
 */
export function takeFrom(limiter: TokenLimiter, owner: string, cost: number, options: TakeOptions): Observable<void> {
  return new Observable<void>((subscriber) => {
    resampleMonotonicClock();
    let priority: number;
    try {
      checkCostWithin(cost, limiter.capacity);
      checkKnownKeys(owner, options, TAKE_KEYS);
      priority = options.priority === undefined ? 0 : checkPriority(owner, options.priority);
    } catch (error) {
      subscriber.error(error);
      return undefined;
    }
    const waiter = new TakeWaiter(cost, subscriber, priority);
    limiter.enqueue(waiter, Infinity);
    return () => limiter.cancel(waiter);
  });
}
