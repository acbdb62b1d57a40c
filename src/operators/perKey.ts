import { Observable, type MonoTypeOperatorFunction, type Subscriber } from 'rxjs';
import { KeyedBuckets, type KeyedBucketsOptions } from '../limiters/keyed/KeyedBuckets';
import {
  isKeyedLimiter,
  type Admission,
  type KeyedLimiter,
  type KeyedRefusalReason,
  type KeyedWaiter,
} from '../limiters/keyed/KeyedLimiter';
import type { BucketFor } from '../limiters/keyed/KeyLimitTable';
import { isLimiter, type Refusal } from '../limiters/TokenLimiter';
import { checkKnownKeys } from '../shared/checks';
import { describe } from '../shared/describe';
import type { Waiter } from '../waiting/WaitQueue';
import { checkRefusalSettings, costOfValue, priorityOfValue, type RefusalSettings } from './refusalSettings';
import { observeSource } from './SourceObserver';
import type { ThrottleByTokensConfig } from './throttleByTokens';
import { PendingValue, WaitingStream, type PendingOwner } from './WaitingStream';

export interface PerKeyConfig<T, K> extends Omit<ThrottleByTokensConfig<T>, 'onDrop' | 'maxQueue'>, KeyedBucketsOptions<K> {
  /**
   * `'delay'` only: most values of one key waiting at once (in the `KeyedBuckets`, so
   * across every pipe sharing it). Default `Infinity`.
   */
  maxQueue?: number;
  /** Called with each discarded value, why, and its key. If it throws, the stream errors with that error. */
  onDrop?: (value: T, reason: KeyedRefusalReason, key: K) => void;
}

const KEYED_OPTION_KEYS = ['global', 'maxKeys', 'quantum', 'weight', 'scheduler'] as const;
const CONFIG_KEYS = ['cost', 'strategy', 'maxQueue', 'maxWait', 'overflow', 'onDrop', 'priority', ...KEYED_OPTION_KEYS] as const;

/** Options checked once, when the operator is created. */
type Settings<T, K> = RefusalSettings<T, (value: T, reason: KeyedRefusalReason, key: K) => void>;

/**
 * Throttles each key of a stream (user, endpoint, connection) by its own token bucket,
 * optionally all keys under one global bucket shared fairly between them.
 *
 * ```
 * keyOf = the letter, case ignored (a and A share key a); every key: capacity 1, refill 1 token / 10 ms
 * source:  (aAb)-----(B|)
 * result:  (ab)------(BA|)
 *          0         10
 * ```
 * A waits for key a's next token; b and B never wait for key a.
 *
 * Each key has its own FIFO queue: values of different keys never wait for each other,
 * and within a key they keep their order, each emitted at the earliest instant its key's
 * bucket covers its cost (with `global`, the global bucket too: a value takes both or
 * neither; keys whose own tokens are there take turns for the global ones by deficit round
 * robin weighted by cost, so a hot key cannot starve a cold one; with `weight`, backlogged
 * keys share the global tokens in proportion to their weights — an interactive lane of
 * weight 9 and a batch lane of weight 1 get 90 % and 10 % — and a key alone gets them all).
 * A key is forgotten once nothing of it waits and its bucket is full again, which is exactly
 * a fresh one's state: memory follows the keys that are busy, not the keys ever seen (bounded
 * by `maxKeys`; a value of a new key past it is refused with reason `'max-keys'`).
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
 *   capacity (`RangeError` naming it), or `bucketFor` has no valid limits (or `weight` no
 *   valid weight) for a key; when a
 *   value is refused under `'error'` or `overflow: 'error'` (`RateLimitExceededError` with
 *   `retryAfter` and `reason`).
 * - Unsubscribes: withdraws every waiting value of this subscription; they take no tokens,
 *   and no timer is left behind for them.
 */
export function perKey<T, K>(
  keyOf: (value: T) => K,
  keyedOrBucketFor: KeyedLimiter<K> | BucketFor<K>,
  config: PerKeyConfig<T, K> = {},
): MonoTypeOperatorFunction<T> {
  if (typeof keyOf !== 'function') throw new TypeError(`perKey: keyOf must be a function, got ${describe(keyOf)}`);
  checkKnownKeys('perKey', config, CONFIG_KEYS);
  const settings: Settings<T, K> = checkRefusalSettings('perKey', config);
  if (isLimiter(keyedOrBucketFor)) {
    throw new TypeError(
      'perKey: the second argument is one TokenBucket, which every key would share; pass the limits of each key ' +
        '({ capacity, refillRate }: a bucket per key), a KeyedBuckets, or (key) => limits or a limiter of its own',
    );
  }
  const shared = isKeyedLimiter<K>(keyedOrBucketFor) ? keyedOrBucketFor : undefined;
  const keyedOptions: KeyedBucketsOptions<K> = {};
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
      return observeSource(source, subscriber, new KeyedStream(subscriber, keyed, keyOf, settings));
    });
}

/** A value waiting for its key's tokens. */
class KeyedPendingValue<T, K> extends PendingValue<T> implements KeyedWaiter<K> {
  keyedTicket: Waiter | null = null;
  constructor(
    value: T,
    cost: number,
    stream: PendingOwner<T>,
    refusalReason: KeyedRefusalReason,
    readonly key: K,
    override readonly priority: number,
  ) {
    super(value, cost, stream, refusalReason);
  }
}

/** One subscription's state, and its source's observer: its waiting values (all keys, one chain). */
class KeyedStream<T, K> extends WaitingStream<T, K> {
  constructor(
    subscriber: Subscriber<T>,
    private readonly keyed: KeyedLimiter<K>,
    private readonly keyOf: (value: T) => K,
    protected override readonly settings: Settings<T, K>,
  ) {
    super(subscriber, settings);
  }

  protected arrive(value: T): void {
    if (this.subscriber.closed) return; // a synchronous source may push after we errored
    const { costOf, maxWait, maxQueue, refusalReason } = this.settings;
    let key: K;
    let cost: number;
    let priority: number;
    let admission: Admission;
    const index = this.index++;
    try {
      key = this.keyOf(value);
      // A missing key would put every such value silently into one shared bucket.
      if (key === undefined || key === null) {
        throw new TypeError(
          `perKey: keyOf returned ${String(key)} for value #${index}; return a key (a string, a number...) for every value`,
        );
      }
      cost = costOfValue('perKey', costOf, value, index, Infinity); // the key's capacity is checked by admit
      priority = priorityOfValue('perKey', this.settings.priorityOf, value, index);
      admission = this.keyed.admit(key, cost, maxWait, maxQueue, priority);
    } catch (error) {
      this.fail(error);
      return;
    }
    if (admission.verdict === 'granted') {
      this.subscriber.next(value);
    } else if (admission.verdict === 'refused') {
      this.refuse(value, key, cost, admission.rule === 'max-wait' ? refusalReason : admission.rule, admission.retryAfter);
    } else {
      const pending = new KeyedPendingValue(value, cost, this, admission.nowOrNever ? 'max-queue' : refusalReason, key, priority);
      this.link(pending);
      this.keyed.enqueue(pending, admission.nowOrNever ? 0 : maxWait); // may answer at once
    }
  }

  protected keyOfPending(pending: PendingValue<T>): K {
    return (pending as KeyedPendingValue<T, K>).key;
  }

  protected recordRefusal(key: K, refusal: Refusal): void {
    this.keyed.recordRefusal(key, refusal);
  }

  protected notifyDrop(value: T, reason: KeyedRefusalReason, key: K): void {
    const onDrop = this.settings.onDrop;
    if (onDrop !== undefined) onDrop(value, reason, key);
  }

  /** Newest first, with grants deferred until all are out: withdrawing a key's head must not grant the next value of this same stream. */
  protected withdraw(_first: PendingValue<T>, last: PendingValue<T>): void {
    this.keyed.withdrawing(() => {
      let pending: PendingValue<T> | null = last;
      while (pending !== null) {
        const earlier: PendingValue<T> | null = pending.earlierInStream;
        pending.earlierInStream = pending.laterInStream = null;
        this.keyed.cancel(pending as KeyedPendingValue<T, K>);
        pending = earlier;
      }
    });
  }
}
