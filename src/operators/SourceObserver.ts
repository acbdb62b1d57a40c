import { Subscription, type Observable, type Observer, type Subscriber, type TeardownLogic } from 'rxjs';
import { resampleMonotonicClock } from '../waiting/monotonicScheduler';

/**
 * The base of an operator's per-subscription state that is also its source's observer.
 *
 * Being a `Subscription` with `next`/`error`/`complete`, RxJS subscribes it to the source as it
 * is, without wrapping it in a `SafeSubscriber` (an extra layer on every value, a third of the
 * cost of `throttleByTokens` when tokens are plentiful). That is RxJS's own test for "already
 * a subscriber"; `test/unit/rxjsContract.test.ts` fails if an upgrade changes it, and nothing
 * here breaks if it does (a wrapped observer is only slower). It keeps the guarantees that
 * wrapper would give: nothing is taken after `error` or `complete`; the source is released
 * (`unsubscribe`) as soon as it has ended, even while values still wait; and a throw while
 * handling a value ends the stream with that error, as an RxJS operator's would.
 */
export abstract class SourceObserver<T> extends Subscription implements Observer<T> {
  /** The source has sent `error` or `complete`. */
  private stopped = false;

  /** Handles one source value. */
  protected abstract arrive(value: T): void;
  /** Ends the output with `error`, withdrawing whatever waits. */
  abstract fail(error: unknown): void;
  /** The source has completed; the output completes once nothing waits. */
  protected abstract sourceCompleted(): void;
  /** Withdraws everything of this subscription that still waits (on unsubscribe, error). */
  abstract withdrawAll(): void;

  next(value: T): void {
    if (this.stopped) return;
    try {
      this.arrive(value);
    } catch (error) {
      this.fail(error);
    }
  }

  error(error: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.fail(error);
    this.unsubscribe();
  }

  complete(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.sourceCompleted();
    this.unsubscribe();
  }
}

/**
 * Subscribes `observer` to `source` for the output `subscriber`, the same way in every
 * operator: linked to the output first, so an output that ends during a synchronous
 * subscribe stops the source at once; on teardown the source is released and whatever
 * still waits is withdrawn.
 */
export function observeSource<T>(source: Observable<T>, subscriber: Subscriber<unknown>, observer: SourceObserver<T>): TeardownLogic {
  resampleMonotonicClock(); // a TestScheduler.run() may have begun since this turn's last reading
  subscriber.add(observer);
  source.subscribe(observer);
  return () => {
    observer.unsubscribe();
    observer.withdrawAll();
  };
}
