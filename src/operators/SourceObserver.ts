import { Subscription, type Observer } from 'rxjs';

/**
 * The base of an operator's per-subscription state that is also its source's observer.
 *
 * Being a `Subscription` with `next`/`error`/`complete`, RxJS subscribes it to the source as it
 * is, without wrapping it in a `SafeSubscriber` (an extra layer on every value, a third of the
 * cost of `throttleByTokens` when tokens are plentiful). It keeps the guarantees that wrapper
 * would give: nothing is taken after `error` or `complete`; the source is released
 * (`unsubscribe`) as soon as it has ended, even while values still wait; and a throw while
 * handling a value ends the stream with that error, as an RxJS operator's would. The operator
 * adds it to its output subscriber before subscribing it to the source, so an output that
 * ends (a downstream `take`, an error) releases the source at once, even mid-subscribe.
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
