import { Observable, Subject } from 'rxjs';

/**
 * A limiter's `events$`: hot, never completing, with a plain count of observers that the
 * hot path reads before building an event, so nobody pays for events nobody watches.
 */
export class LimiterEvents<E> {
  /** Subscribers of `stream` now. */
  observers = 0;
  private readonly subject = new Subject<E>();
  readonly stream: Observable<E> = new Observable<E>((subscriber) => {
    this.observers++;
    const subscription = this.subject.subscribe(subscriber);
    return () => {
      this.observers--;
      subscription.unsubscribe();
    };
  });

  emit(event: E): void {
    this.subject.next(event);
  }
}
