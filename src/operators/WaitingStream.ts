import type { Subscriber } from 'rxjs';
import { RateLimitExceededError, type RefusalReason } from '../shared/errors';
import type { Refusal } from '../limiters/TokenLimiter';
import type { Waiter } from '../waiting/WaitQueue';
import type { RefusalSettings } from './refusalSettings';
import { SourceObserver } from './SourceObserver';

/** What a waiting value reports its answer to: its subscription's stream. */
export interface PendingOwner<T> {
  granted(pending: PendingValue<T>): void;
  refused(pending: PendingValue<T>, retryAfter: number): void;
  fail(error: unknown): void;
}

/**
 * A value waiting for its tokens: the limiter's queue entry, the value, and its place in its
 * subscription's chain, in one object (one small object per waiting value, no closure).
 */
export class PendingValue<T> implements Waiter {
  queuedAt = 0;
  previousWaiter: Waiter | null = null;
  nextWaiter: Waiter | null = null;
  /** The subscription's waiting values in arrival order, doubly linked: grants may come out of order. */
  earlierInStream: PendingValue<T> | null = null;
  laterInStream: PendingValue<T> | null = null;
  /** Absent: priority 0 (a subclass sets it). */
  declare readonly priority?: number;
  constructor(
    readonly value: T,
    readonly cost: number,
    private readonly stream: PendingOwner<T>,
    /** Why a refusal of this value is reported: the strategy's, or `max-queue` when asked past it. */
    readonly refusalReason: RefusalReason,
  ) {}
  granted(): void {
    this.stream.granted(this);
  }
  refused(retryAfter: number): void {
    this.stream.refused(this, retryAfter);
  }
  failed(error: Error): void {
    this.stream.fail(error);
  }
}

/**
 * One subscription of a waiting operator (`throttleByTokens`, `perKey`), and its source's
 * observer: the chain of its waiting values, whether the source is done, and what a grant,
 * a refusal, completion, an error and teardown do — written once for both operators.
 * `K` is what a refusal is recorded against (a key for `perKey`).
 */
export abstract class WaitingStream<T, K> extends SourceObserver<T> implements PendingOwner<T> {
  /** Index of the next value, for a cost function. */
  protected index = 0;
  private sourceDone = false;
  private firstWaiting: PendingValue<T> | null = null;
  private lastWaiting: PendingValue<T> | null = null;
  /** Values of this subscription waiting for tokens. */
  protected waitingCount = 0;

  constructor(
    protected readonly subscriber: Subscriber<T>,
    protected readonly settings: RefusalSettings<T, unknown>,
  ) {
    super();
  }

  /** What a refusal of `pending` is recorded against. */
  protected abstract keyOfPending(pending: PendingValue<T>): K;
  /** Records a refusal with the limiter, for its stats and events. */
  protected abstract recordRefusal(key: K, refusal: Refusal): void;
  /** Tells the user's `onDrop` of a discarded value. */
  protected abstract notifyDrop(value: T, reason: RefusalReason, key: K): void;
  /** Withdraws the detached chain `first`..`last` from the limiter (links still set; clear them as you go). */
  protected abstract withdraw(first: PendingValue<T>, last: PendingValue<T>): void;

  /** Adds a value to the chain before it asks the limiter: an answer given at once unlinks it again. */
  protected link(pending: PendingValue<T>): void {
    pending.earlierInStream = this.lastWaiting;
    if (this.lastWaiting === null) this.firstWaiting = pending;
    else this.lastWaiting.laterInStream = pending;
    this.lastWaiting = pending;
    this.waitingCount++;
  }

  granted(pending: PendingValue<T>): void {
    this.unlink(pending);
    this.subscriber.next(pending.value);
    this.completeIfDone();
  }

  refused(pending: PendingValue<T>, retryAfter: number): void {
    this.unlink(pending);
    this.refuse(pending.value, this.keyOfPending(pending), pending.cost, pending.refusalReason, retryAfter);
    this.completeIfDone();
  }

  protected sourceCompleted(): void {
    this.sourceDone = true;
    this.completeIfDone();
  }

  /** Errors the stream at once, withdrawing every waiting value first. */
  fail(error: unknown): void {
    this.withdrawAll();
    this.subscriber.error(error);
  }

  withdrawAll(): void {
    const first = this.firstWaiting;
    const last = this.lastWaiting;
    this.firstWaiting = this.lastWaiting = null;
    this.waitingCount = 0;
    if (first !== null) this.withdraw(first, last!);
  }

  /** A value refused: dropped (with `onDrop`) or rejected (the stream errors), as the settings say. */
  protected refuse(value: T, key: K, cost: number, reason: RefusalReason, retryAfter: number): void {
    const outcome = this.settings.refusalOutcome;
    this.recordRefusal(key, { cost, outcome, reason, retryAfter });
    if (outcome === 'rejected') {
      this.fail(new RateLimitExceededError(retryAfter, cost, reason));
      return;
    }
    try {
      this.notifyDrop(value, reason, key);
    } catch (error) {
      this.fail(error);
    }
  }

  private completeIfDone(): void {
    if (this.sourceDone && this.waitingCount === 0 && !this.subscriber.closed) this.subscriber.complete();
  }

  /** Removes a granted or refused value from the chain; harmless if it is not in it (answered at once, or withdrawn). */
  private unlink(pending: PendingValue<T>): void {
    const { earlierInStream, laterInStream } = pending;
    if (earlierInStream === null && this.firstWaiting !== pending) return;
    if (earlierInStream === null) this.firstWaiting = laterInStream;
    else earlierInStream.laterInStream = laterInStream;
    if (laterInStream === null) this.lastWaiting = earlierInStream;
    else laterInStream.earlierInStream = earlierInStream;
    pending.earlierInStream = pending.laterInStream = null;
    this.waitingCount--;
  }
}
