import { Observable, type MonoTypeOperatorFunction, type Subscriber } from 'rxjs';
import { RateLimitExceededError } from '../shared/errors';
import { KeyedBuckets, type KeyedBucketsOptions } from '../limiters/keyed/KeyedBuckets';
import { Admission, type KeyedLimiter, type KeyedRefusalReason, type KeyedWaiter } from '../limiters/keyed/KeyedLimiter';
import type { BucketFor } from '../limiters/keyed/KeyLimitTable';
import { checkKnownKeys } from '../shared/checks';
import { describe } from '../shared/describe';
import type { Waiter } from '../waiting/WaitQueue';
import type { ThrottleByTokensConfig } from './throttleByTokens';
import { checkRefusalSettings, type RefusalSettings } from './refusalSettings';
import { SourceObserver } from './SourceObserver';

export interface PerKeyConfig<T, K> extends Omit<ThrottleByTokensConfig<T>, 'onDrop' | 'maxQueue'>, KeyedBucketsOptions {
  /**
   * `'delay'` only: most values of one key waiting at once (in the `KeyedBuckets`, so
   * across every pipe sharing it). Default `Infinity`.
   */
  maxQueue?: number;
  /** Called with each discarded value, why, and its key. If it throws, the stream errors with that error. */
  onDrop?: (value: T, reason: KeyedRefusalReason, key: K) => void;
}

const CONFIG_KEYS = ['cost', 'strategy', 'maxQueue', 'maxWait', 'overflow', 'onDrop', 'global', 'maxKeys', 'quantum', 'scheduler'] as const;
const KEYED_OPTION_KEYS = ['global', 'maxKeys', 'quantum', 'scheduler'] as const;

/** Options checked once, when the operator is created. */
type Settings<T, K> = RefusalSettings<T, (value: T, reason: KeyedRefusalReason, key: K) => void>;

/**
 * Throttles each key of a stream (user, endpoint, connection) by its own token bucket,
 * optionally all keys under one global bucket shared fairly between them.
 *
 * ```
 * keyOf = first letter; every key: capacity 1, refill 1 token / 10 ms
 * source:  (a1 a2 b1)---------(b2|)
 * result:  (a1 b1)------------(b2 a2|)
 *          0                  10
 * ```
 * a2 waits for key a's next token; b1 and b2 never wait for key a.
 *
 * Each key has its own FIFO queue: values of different keys never wait for each other,
 * and within a key they keep their order, each emitted at the earliest instant its key's
 * bucket covers its cost (with `global`, the global bucket too: a value takes both or
 * neither; keys whose own tokens are there take turns for the global ones by deficit round
 * robin weighted by cost, so a hot key cannot starve a cold one). A key is forgotten once
 * nothing of it waits and its bucket is full again, which is exactly a fresh one's state:
 * memory follows the keys that are busy, not the keys ever seen (bounded by `maxKeys`;
 * a value of a new key past it is refused with reason `'max-keys'`).
 *
 * Pass a `KeyedBuckets` to share the per-key limits between pipes; pass bucket options
 * (the same limits for every key, a rule table, or a function of the key) to give each
 * subscription its own.
 *
 * @example
 * ```ts
 * import { perKey } from 'rxjs-token-bucket';
 *
 * // 10 messages/s per user, bursts of 20; 500/s over all users.
 * messages$.pipe(
 *   perKey((message) => message.userId, { capacity: 20, refillRate: 10 }, { global: { capacity: 500, refillRate: 500 } }),
 * ).subscribe(deliver);
 * ```
 *
 * - Emits: each source value, at the instant its key's tokens (and the global ones) are granted.
 * - Completes: when the source has completed and every waiting value has been emitted.
 * - Errors: at once when the source errors (waiting values are withdrawn); when `keyOf`,
 *   `cost` or `onDrop` throws; when a cost is invalid or above its key's or the global
 *   capacity (`RangeError` naming it), or `bucketFor` has no valid limits for a key; when a
 *   value is refused under `'error'` or `overflow: 'error'` (`RateLimitExceededError` with
 *   `retryAfter` and `reason`).
 * - Unsubscribes: withdraws every waiting value of this subscription; they take no tokens,
 *   and no timer is left behind for them.
 */
export function perKey<T, K>(
  keyOf: (value: T) => K,
  keyedOrBucketFor: KeyedBuckets<K> | BucketFor<K>,
  config: PerKeyConfig<T, K> = {},
): MonoTypeOperatorFunction<T> {
  if (typeof keyOf !== 'function') throw new TypeError(`perKey: keyOf must be a function, got ${describe(keyOf)}`);
  const settings = checkConfig<T, K>(config);
  const shared = keyedOrBucketFor instanceof KeyedBuckets ? keyedOrBucketFor : undefined;
  const keyedOptions: KeyedBucketsOptions = {};
  for (const option of KEYED_OPTION_KEYS) {
    if (config[option] === undefined) continue;
    if (shared !== undefined) {
      throw new TypeError(`perKey option "${option}" applies when given bucket options; set it on the KeyedBuckets instead`);
    }
    (keyedOptions as Record<string, unknown>)[option] = config[option];
  }
  const bucketFor = keyedOrBucketFor as BucketFor<K>;
  // Validates the bucket options once, now, rather than at each subscription.
  if (shared === undefined) new KeyedBuckets(bucketFor, keyedOptions);

  return (source) =>
    new Observable<T>((subscriber) => {
      const keyed = shared ?? new KeyedBuckets(bucketFor, keyedOptions);
      const stream = new KeyedStream(subscriber, keyed, keyOf, settings);
      // Linked first, so an output that ends during a synchronous subscribe stops the source at once.
      subscriber.add(stream);
      source.subscribe(stream);
      return () => {
        stream.unsubscribe();
        stream.withdrawAll();
      };
    });
}

function checkConfig<T, K>(config: PerKeyConfig<T, K>): Settings<T, K> {
  checkKnownKeys('perKey', config, CONFIG_KEYS);
  return checkRefusalSettings('perKey', config);
}

/** A value waiting for its key's tokens: the queue entry, the value, and its place in the subscription's chain. */
class PendingValue<T, K> implements KeyedWaiter<K> {
  queuedAt = 0;
  previousWaiter: Waiter | null = null;
  nextWaiter: Waiter | null = null;
  keyedTicket: Waiter | null = null;
  /** The subscription's waiting values, in arrival order, doubly linked: keys are granted out of order. */
  earlierInStream: PendingValue<T, K> | null = null;
  laterInStream: PendingValue<T, K> | null = null;
  /** Set while `enqueue` runs, so a synchronous answer is handled without linking. */
  asking = true;
  constructor(
    readonly value: T,
    readonly key: K,
    readonly cost: number,
    private readonly stream: KeyedStream<T, K>,
    /** Why a refusal of this value is reported: the strategy's, or `max-queue` when asked past it. */
    readonly refusalReason: KeyedRefusalReason,
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

/** One subscription's state, and its source's observer: its waiting values (all keys, one chain) and whether the source is done. */
class KeyedStream<T, K> extends SourceObserver<T> {
  private index = 0;
  private sourceDone = false;
  private firstWaiting: PendingValue<T, K> | null = null;
  private lastWaiting: PendingValue<T, K> | null = null;
  private waitingCount = 0;

  constructor(
    private readonly subscriber: Subscriber<T>,
    private readonly keyed: KeyedLimiter<K>,
    private readonly keyOf: (value: T) => K,
    private readonly settings: Settings<T, K>,
  ) {
    super();
  }

  arrive(value: T): void {
    if (this.subscriber.closed) return; // a synchronous source may push after we errored
    const { costOf, maxWait, maxQueue } = this.settings;
    let key: K;
    let cost: number;
    let admission: Admission;
    try {
      key = this.keyOf(value);
      cost = typeof costOf === 'number' ? costOf : costOf(value, this.index++);
      admission = this.keyed.admit(key, cost, maxWait, maxQueue);
    } catch (error) {
      this.fail(error);
      return;
    }
    switch (admission) {
      case Admission.Granted:
        this.subscriber.next(value);
        return;
      case Admission.Wait:
        break;
      case Admission.AskNowOrNever:
        this.wait(value, key, cost, 0, 'max-queue');
        return;
      case Admission.MaxKeys:
        this.refuse(value, key, cost, 'max-keys', this.keyed.lastRetryAfter);
        return;
      case Admission.MaxQueue:
        this.refuse(value, key, cost, 'max-queue', this.keyed.lastRetryAfter);
        return;
      default:
        this.refuse(value, key, cost, this.settings.refusalReason, this.keyed.lastRetryAfter);
        return;
    }
    this.wait(value, key, cost, maxWait, this.settings.refusalReason);
  }

  /** Hands a value `admit` let wait to the buckets, and links it into this subscription's chain unless answered at once. */
  private wait(value: T, key: K, cost: number, maxWait: number, refusalReason: KeyedRefusalReason): void {
    const pending = new PendingValue(value, key, cost, this, refusalReason);
    this.keyed.enqueue(pending, maxWait);
    if (!pending.asking) return; // answered synchronously
    pending.asking = false;
    pending.earlierInStream = this.lastWaiting;
    if (this.lastWaiting === null) this.firstWaiting = pending;
    else this.lastWaiting.laterInStream = pending;
    this.lastWaiting = pending;
    this.waitingCount++;
  }

  granted(pending: PendingValue<T, K>): void {
    if (pending.asking) pending.asking = false;
    else this.unlink(pending);
    this.subscriber.next(pending.value);
    if (this.sourceDone && this.waitingCount === 0) this.subscriber.complete();
  }

  refused(pending: PendingValue<T, K>, retryAfter: number): void {
    if (pending.asking) pending.asking = false;
    else this.unlink(pending);
    this.refuse(pending.value, pending.key, pending.cost, pending.refusalReason, retryAfter);
    if (this.sourceDone && this.waitingCount === 0 && !this.subscriber.closed) this.subscriber.complete();
  }

  sourceCompleted(): void {
    this.sourceDone = true;
    if (this.waitingCount === 0) this.subscriber.complete();
  }

  /** Errors the stream at once, withdrawing every waiting value first. */
  fail(error: unknown): void {
    this.withdrawAll();
    this.subscriber.error(error);
  }

  /**
   * Withdraws every waiting value, newest first and with grants deferred until all are
   * out: withdrawing a key's head must not grant the next value of this same stream.
   */
  withdrawAll(): void {
    if (this.lastWaiting === null) return;
    this.keyed.withdrawing(() => {
      let pending = this.lastWaiting;
      this.firstWaiting = this.lastWaiting = null;
      this.waitingCount = 0;
      while (pending !== null) {
        const earlier = pending.earlierInStream;
        pending.earlierInStream = pending.laterInStream = null;
        this.keyed.cancel(pending);
        pending = earlier;
      }
    });
  }

  private refuse(value: T, key: K, cost: number, reason: KeyedRefusalReason, retryAfter: number): void {
    const outcome = this.settings.refusalOutcome;
    this.keyed.recordRefusal(key, { cost, outcome, reason, retryAfter });
    if (outcome === 'rejected') {
      this.fail(new RateLimitExceededError(retryAfter, cost, reason));
      return;
    }
    const { onDrop } = this.settings;
    if (onDrop === undefined) return;
    try {
      onDrop(value, reason, key);
    } catch (error) {
      this.fail(error);
    }
  }

  private unlink(pending: PendingValue<T, K>): void {
    const { earlierInStream, laterInStream } = pending;
    if (earlierInStream === null && this.firstWaiting !== pending) return; // not linked (withdrawn)
    if (earlierInStream === null) this.firstWaiting = laterInStream;
    else earlierInStream.laterInStream = laterInStream;
    if (laterInStream === null) this.lastWaiting = earlierInStream;
    else laterInStream.earlierInStream = earlierInStream;
    pending.earlierInStream = pending.laterInStream = null;
    this.waitingCount--;
  }
}
