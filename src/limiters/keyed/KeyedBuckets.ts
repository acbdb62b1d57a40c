import type { Observable, SchedulerLike } from 'rxjs';
import type { LedgerLimits } from '../../arithmetic/TokenLedger';
import { checkKnownKeys, checkNumberOption, checkScheduler } from '../../shared/checks';
import { describe } from '../../shared/describe';
import { monotonicScheduler } from '../../waiting/monotonicScheduler';
import { checkBucketOptions, type TokenBucketOptions } from '../bucketOptions';
import { checkLimitsPatch } from '../limitsPatch';
import type { AcquireOptions } from '../acquire';
import { isLimiter, type TokenLimiter } from '../TokenLimiter';
import { LedgerGate } from './GlobalGate';
import type { KeyedBucketsEvent, KeyedBucketsStats, KeyStats } from './KeyedBucketsStats';
import { readKeyedStats, readKeyStats } from './readKeyedStats';
import { KeyedEngine, type EngineSetup } from './KeyedEngine';
import { KEYED_LIMITER, type Admission, type KeyedLimiter, type KeyedRefusal, type KeyedWaiter } from './KeyedLimiter';
import { acquireFromKey, executeForKey, takeFromKey, type KeyedExecuteOptions } from './keyedWaiters';
import { KeyLimitTable, type BucketFor, type KeyLimitsPatch } from './KeyLimitTable';
import { checkWeightOption, type KeyWeight } from './keyWeight';

/** Default bound on the keys held in memory at once (`maxKeys`). */
export const DEFAULT_MAX_KEYS = 100_000;

export interface KeyedBucketsOptions<K = unknown> {
  /**
   * A limit over all keys together: a `TokenLimiter` (e.g. a `TokenBucket` shared with
   * other pipes) or the options of a bucket this `KeyedBuckets` holds itself (no
   * `scheduler`: it uses its own). A value takes its cost from its key's bucket and from
   * this one at the same instant, or from neither. Default: none.
   */
  global?: TokenLimiter | Omit<TokenBucketOptions, 'scheduler'>;
  /**
   * Most keys held in memory at once: keys with values waiting, or whose bucket is still
   * refilling (a full, idle key is forgotten). A value of a new key arriving when this
   * many are held is refused with reason `'max-keys'` (dropped or rejected as the
   * operator's `overflow`/`strategy` says); no held key is ever evicted early. Also bounds
   * the keys with a `configure` override. Default `100_000` (`DEFAULT_MAX_KEYS`).
   */
  maxKeys?: number;
  /**
   * Tokens of the global bucket each contending key is credited per round of deficit
   * round robin, times its `weight`. Default: the global capacity (>= every cost, so each
   * turn grants at least one value). Smaller is fairer at a finer grain; costs above a key's
   * credit take it several rounds.
   */
  quantum?: number;
  /**
   * Each key's share of the global tokens, by weighted deficit round robin: each turn credits
   * a key `quantum × weight`, so keys backlogged together (their own tokens there, waiting for
   * the global ones) get the global tokens in proportion to their weights (weights 9 and 1:
   * 90 % and 10 %), while a key contending alone gets the whole global rate. Order within a
   * key is unchanged. Read once when a key is created in memory (again after it was
   * forgotten), and only with `global` (without it there is nothing to share). It must return
   * a finite number > 0: otherwise, or if it throws, that value fails naming the option and
   * the key (`perKey`'s stream errors, `tryTake` throws, `take` errors, `acquire` rejects).
   * Default: 1 for every key.
   */
  weight?: KeyWeight<K>;
  /**
   * Clock and timers. Default: the global `TokenLimiter`'s scheduler if there is one,
   * else `performance.now()` with `asyncScheduler` timers (virtualised in `TestScheduler.run()`).
   */
  scheduler?: SchedulerLike;
}

const OPTION_KEYS = ['global', 'maxKeys', 'quantum', 'weight', 'scheduler'] as const;
const GLOBAL_OPTION_KEYS = ['capacity', 'refillRate', 'interval', 'initialTokens'] as const;

/**
 * A token bucket per key (user, endpoint, connection), optionally all under one global
 * bucket shared fairly between keys, in memory bounded by the keys that are busy.
 *
 * Each key has its own FIFO queue, so values of different keys never wait for each other.
 * A key is forgotten as soon as nothing of it waits and its bucket has refilled to
 * capacity: that is exactly a fresh bucket's state, so forgetting never changes what is
 * emitted. Forgetting needs no timer: refilling keys sit in a min-heap by the instant they
 * are full, and full ones are dropped by the next operation or `stats()` call.
 *
 * The whole structure uses at most one scheduled action at a time, aimed at the earliest
 * instant a key's head is covered (or the in-memory global bucket covers the request it
 * holds). With `global`, keys whose head is covered by their own bucket take turns for the
 * global tokens by deficit round robin by cost, each in proportion to its `weight`, with one
 * outstanding request.
 *
 * @example
 * ```ts
 * import { KeyedBuckets, perKey } from 'rxjs-token-bucket';
 *
 * const perTenant = new KeyedBuckets<string>(
 *   { rules: [{ match: '/search*', limit: { capacity: 1, refillRate: 1 } }], default: { capacity: 5, refillRate: 5 } },
 *   { global: { capacity: 100, refillRate: 50 } },
 * );
 * requests$.pipe(perKey((request) => request.path, perTenant)).subscribe(send);
 * ```
 */
export class KeyedBuckets<K> implements KeyedLimiter<K> {
  readonly [KEYED_LIMITER] = true as const;
  readonly scheduler: SchedulerLike;
  readonly maxKeys: number;
  private readonly engine: KeyedEngine<K>;
  /** What happens, as it happens, each event with its key. Hot; never completes. */
  readonly events$: Observable<KeyedBucketsEvent<K>>;

  /**
   * @param bucketFor Every key's limits; or a rule table `{ rules: [{ match, limit }], default }`
   *   (first match wins); or a function of the key returning limits or a `TokenLimiter`.
   */
  constructor(bucketFor: BucketFor<K>, options: KeyedBucketsOptions<K> = {}) {
    checkKnownKeys('KeyedBuckets', options, OPTION_KEYS);
    const maxKeys = checkNumberOption('KeyedBuckets', 'maxKeys', options.maxKeys ?? DEFAULT_MAX_KEYS, 'positive', true);
    const quantum = options.quantum === undefined ? undefined : checkNumberOption('KeyedBuckets', 'quantum', options.quantum, 'positive');
    const weight = checkWeightOption<K>(options.weight);
    const global = options.global;
    checkScheduler('KeyedBuckets', options.scheduler);
    const scheduler = options.scheduler ?? (isLimiter(global) ? global.scheduler : undefined) ?? monotonicScheduler;
    checkScheduler('KeyedBuckets', scheduler);
    let checkedGlobal: EngineSetup<K>['global'];
    if (isLimiter(global) || global === undefined) checkedGlobal = global;
    else {
      checkKnownKeys('KeyedBuckets option "global"', global, GLOBAL_OPTION_KEYS);
      checkedGlobal = checkBucketOptions(global);
    }
    this.scheduler = scheduler;
    this.maxKeys = maxKeys;
    this.engine = new KeyedEngine({
      scheduler,
      maxKeys,
      quantum,
      weight,
      table: new KeyLimitTable(bucketFor, maxKeys),
      global: checkedGlobal,
    });
    this.events$ = this.engine.activity.events.stream;
  }

  // ---- the operator protocol (KeyedLimiter), for perKey ----

  admit(key: K, cost: number, maxWait: number, maxQueue: number): Admission {
    return this.engine.admit(key, cost, maxWait, maxQueue);
  }
  enqueue(waiter: KeyedWaiter<K>, maxWait: number): void {
    this.engine.enqueue(waiter, maxWait);
  }
  cancel(waiter: KeyedWaiter<K>): void {
    this.engine.cancel(waiter);
  }
  withdrawing(withdraw: () => void): void {
    this.engine.withdrawing(withdraw);
  }
  recordRefusal(key: K, refusal: KeyedRefusal): void {
    this.engine.recordRefusal(key, refusal);
  }

  // ---- live changes ----

  /**
   * Changes the limits of one key, live: tokens it earned are kept (clamped to a smaller
   * capacity), waiting values are re-planned, and any whose cost now exceeds the capacity
   * fail with a `RangeError`. The override is kept for the key while it is forgotten and
   * re-created, until cleared with `configure(key, null)` (which restores `bucketFor`'s
   * limits). At most `maxKeys` keys may have an override. Throws for an invalid patch or a
   * key backed by a `TokenLimiter`.
   */
  configure(key: K, patch: KeyLimitsPatch | null): void {
    const engine = this.engine;
    const limits = engine.registry.table.override(key, patch);
    const entry = engine.registry.get(key);
    const now = engine.clock();
    if (entry === undefined || entry.remote) return;
    entry.reconfigure(limits, now);
    const failing = entry.queue === null ? [] : entry.queue.toArray().filter((waiter) => waiter.cost > limits.capacity);
    for (const waiter of failing) entry.queue!.remove(waiter);
    // Re-plans the key, withdrawing its global request if its head changed or no longer covers itself.
    engine.reposition(entry, now, true);
    if (engine.activity.events.observers > 0) {
      engine.activity.events.emit({
        type: 'reconfigured',
        key,
        time: now,
        ...limits,
        available: Math.max(0, entry.tokensAt(now)),
        cause: 'configure',
      });
    }
    for (const waiter of failing)
      waiter.failed(new RangeError(`cost ${waiter.cost} exceeds capacity ${limits.capacity} of key ${describe(key)}`));
    engine.run();
  }

  /**
   * Changes the global limit held by this `KeyedBuckets` (given as options), live. A
   * waiting value whose cost exceeds the new capacity fails when its turn comes. Throws if
   * `global` was a `TokenLimiter` (configure that instead) or absent.
   */
  configureGlobal(patch: KeyLimitsPatch): void {
    const engine = this.engine;
    const contention = engine.contention;
    const gate = contention?.gate;
    if (!(gate instanceof LedgerGate)) {
      throw new TypeError(
        'KeyedBuckets.configureGlobal: the global limit is not held by this KeyedBuckets (absent, or a TokenLimiter to configure itself)',
      );
    }
    const limits: LedgerLimits = checkLimitsPatch('KeyedBuckets.configureGlobal', patch, gate.limits());
    const now = engine.clock();
    gate.reconfigure(limits, now);
    if (contention!.requesting !== null && contention!.requesting.queue!.head!.cost > limits.capacity) contention!.withdrawRequest();
    if (engine.activity.events.observers > 0)
      engine.activity.events.emit({ type: 'global-reconfigured', time: now, ...limits, available: gate.available(now) });
    engine.run();
  }

  // ---- reading ----

  /** A fresh snapshot. Forgets the keys that have refilled first, so `keys` is exact now. */
  stats(): KeyedBucketsStats<K> {
    return readKeyedStats(this.engine);
  }

  /** One key now. A key not held in memory reports a fresh (full) bucket; throws if `bucketFor` has none for it. */
  keyStats(key: K): KeyStats {
    return readKeyStats(this.engine, key);
  }

  /**
   * Takes `cost` tokens for `key` now (and from the global bucket) if they are there and
   * nothing of the key waits or contends ahead; never overtakes. Returns false otherwise,
   * including when `maxKeys` keys are held and `key` is new. Throws for an invalid cost.
   */
  tryTake(key: K, cost = 1): boolean {
    return this.engine.admit(key, cost, 0, Infinity).verdict === 'granted';
  }

  /**
   * A cold Observable that waits for `cost` tokens of `key` (and the global bucket), then
   * emits once and completes. Unsubscribing before that takes nothing. Errors with a
   * `RangeError` for an invalid cost, and if `maxKeys` keys are held and `key` is new.
   */
  take(key: K, cost = 1): Observable<void> {
    return takeFromKey(this.engine, key, cost);
  }

  /**
   * Waits for `cost` tokens of `key` (and the global bucket) in the key's one queue — the same
   * queue, in the same order (FIFO within a priority, higher priority first), as the values of
   * `perKey` pipes sharing this `KeyedBuckets` — and resolves with the ms waited. Rejects,
   * taking nothing: with `signal.reason` when aborted first (at once if already aborted); with
   * `RateLimitExceededError` (`'max-wait'`) when the predicted wait exceeds `maxWait`; with a
   * `RangeError` if `maxKeys` keys are held and `key` is new; with `TypeError`/`RangeError`
   * naming the key for a bad cost, one above the key's or the global capacity, or a key without
   * valid limits or weight. An aborted request leaves nothing behind: no waiter, no timer, and
   * the key is forgotten once refilled.
   */
  acquire(key: K, cost = 1, options: AcquireOptions = {}): Promise<number> {
    return acquireFromKey(this.engine, key, cost, options);
  }

  /**
   * Acquires `options.cost` (default 1) tokens of `key` as `acquire` does, then runs `fn` and
   * resolves with its result; `fn`'s signal aborts when `options.signal` does, also after the
   * grant. `actualCost` is not supported here (a `TypeError`): a key has no debit or refund.
   */
  execute<R>(key: K, fn: (signal: AbortSignal) => R | PromiseLike<R>, options: KeyedExecuteOptions<R> = {}): Promise<R> {
    return executeForKey(this.engine, key, fn, options);
  }
}
