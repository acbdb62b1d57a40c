import { Subscription, type Observer } from 'rxjs';
import type { Waiter } from '../../waiting/WaitQueue';

/** What an attempt and its requests report to. */
export interface AttemptOwner<T, R> {
  send(attempt: Attempt<T, R>): void;
  fail(error: unknown): void;
  answered(request: AttemptRequest<T, R>, result: R): void;
  requestFailed(request: AttemptRequest<T, R>, error: unknown): void;
  requestCompleted(request: AttemptRequest<T, R>): void;
}

/** One value on its way: waiting for a slot, for tokens, or in flight. */
export class Attempt<T, R = unknown> implements Waiter {
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
  /** The try in flight, if any: only its answers count (an earlier try's late `complete` is not this one's). */
  request: AttemptRequest<T, R> | null = null;
  constructor(
    readonly value: T,
    readonly index: number,
    readonly cost: number,
    private readonly flow: AttemptOwner<T, R>,
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

/**
 * One try of an attempt: the observer of its request, and that request's subscription (RxJS
 * subscribes a `Subscription` with `next`/`error`/`complete` as it is, see `SourceObserver`),
 * so it can be released even while the request is still answering synchronously. Nothing it
 * hears after it stopped (ended, released or cancelled) is passed on.
 */
export class AttemptRequest<T, R> extends Subscription implements Observer<R> {
  private stopped = false;
  private readonly abort = new AbortController();

  constructor(
    readonly attempt: Attempt<T, R>,
    private readonly flow: AttemptOwner<T, R>,
  ) {
    super();
  }

  /** Aborts when the request is cancelled: the output unsubscribed or ended while it was in flight. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  next(result: R): void {
    if (!this.stopped) this.flow.answered(this, result);
  }

  error(error: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.flow.requestFailed(this, error);
    this.unsubscribe();
  }

  complete(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.flow.requestCompleted(this);
    this.unsubscribe();
  }

  /** Stops listening: the answer that mattered has come (a throttle signal). */
  release(): void {
    this.stopped = true;
    this.unsubscribe();
  }

  /** Cancelled while in flight: the request is told through its signal, then released. */
  cancel(): void {
    if (this.stopped) return;
    this.release();
    this.abort.abort();
  }
}
