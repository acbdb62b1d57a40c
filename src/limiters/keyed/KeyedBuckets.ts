import { Observable, type SchedulerLike } from 'rxjs';
import { LedgerGate } from './GlobalGate';
import { KeyedBucketsEngine, type EngineSetup } from './KeyedBucketsEngine';
import type { KeyedBucketsEvent, KeyedBucketsStats, KeyStats } from './KeyedBucketsStats';
import { Admission } from './KeyedLimiter';
import { TakeWaiter, type KeyEntry } from './KeyEntry';
import { KeyLimitTable, type BucketFor, type KeyLimitsPatch } from './KeyLimitTable';
import { monotonicScheduler } from '../../waiting/monotonicScheduler';
import { checkBucketOptions, type TokenBucketOptions } from '../bucketOptions';
import { isLimiter, type TokenLimiter } from '../TokenLimiter';
import type { LedgerLimits } from '../../arithmetic/TokenLedger';
import { checkKnownKeys, checkNumberOption } from '../../shared/checks';
import { describe } from '../../shared/describe';

/** Default bound on the keys held in memory at once (`maxKeys`). */
export const DEFAULT_MAX_KEYS = 100_000;

export interface KeyedBucketsOptions {
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
   * round robin. Default: the global capacity (>= every cost, so each turn grants at
   * least one value). Smaller is fairer at a finer grain; costs above it take several rounds.
   */
  quantum?: number;
  /**
   * Clock and timers. Default: the global `TokenLimiter`'s scheduler if there is one,
   * else `performance.now()` with `asyncScheduler` timers (virtualised in `TestScheduler.run()`).
   */
  scheduler?: SchedulerLike;
}

const OPTION_KEYS = ['global', 'maxKeys', 'quantum', 'scheduler'] as const;
const GLOBAL_OPTION_KEYS = ['capacity', 'refillRate', 'interval', 'initialTokens'] as const;
const TOP_KEYS = 10;

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
 * global tokens by deficit round robin weighted by cost, with one outstanding request.
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
export class KeyedBuckets<K> extends KeyedBucketsEngine<K> {
  /** What happens, as it happens, each event with its key. Hot; never completes. */
  readonly events$: Observable<KeyedBucketsEvent<K>> = new Observable<KeyedBucketsEvent<K>>((subscriber) => {
    this.eventObservers++;
    const subscription = this.eventsSubject.subscribe(subscriber);
    return () => {
      this.eventObservers--;
      subscription.unsubscribe();
    };
  });

  /**
   * @param bucketFor Every key's limits; or a rule table `{ rules: [{ match, limit }], default }`
   *   (first match wins); or a function of the key returning limits or a `TokenLimiter`.
   */
  constructor(bucketFor: BucketFor<K>, options: KeyedBucketsOptions = {}) {
    checkKnownKeys('KeyedBuckets', options, OPTION_KEYS);
    const maxKeys = checkNumberOption('KeyedBuckets', 'maxKeys', options.maxKeys ?? DEFAULT_MAX_KEYS, 'positive', true);
    const quantum = options.quantum === undefined ? undefined : checkNumberOption('KeyedBuckets', 'quantum', options.quantum, 'positive');
    const global = options.global;
    const scheduler = options.scheduler ?? (isLimiter(global) ? global.scheduler : undefined) ?? monotonicScheduler;
    if (typeof scheduler?.now !== 'function' || typeof scheduler?.schedule !== 'function') {
      throw new TypeError('KeyedBuckets option "scheduler" must be a SchedulerLike with now() and schedule()');
    }
    let checkedGlobal: EngineSetup<K>['global'];
    if (isLimiter(global) || global === undefined) checkedGlobal = global;
    else {
      checkKnownKeys('KeyedBuckets option "global"', global, GLOBAL_OPTION_KEYS);
      checkedGlobal = checkBucketOptions(global);
    }
    super({ scheduler, maxKeys, quantum, table: new KeyLimitTable(bucketFor, maxKeys), global: checkedGlobal });
  }

  // ---- public surface ----

  /**
   * Changes the limits of one key, live: tokens it earned are kept (clamped to a smaller
   * capacity), waiting values are re-planned, and any whose cost now exceeds the capacity
   * fail with a `RangeError`. The override is kept for the key while it is forgotten and
   * re-created, until cleared with `configure(key, null)` (which restores `bucketFor`'s
   * limits). At most `maxKeys` keys may have an override. Throws for an invalid patch or a
   * key backed by a `TokenLimiter`.
   */
  configure(key: K, patch: KeyLimitsPatch | null): void {
    const limits = this.table.override(key, patch);
    const entry = this.entries.get(key);
    const now = this.clock();
    if (entry === undefined) return;
    const requestedHead = this.requesting === entry ? entry.queue!.head : null;
    entry.reconfigure(limits, now);
    const failing = entry.queue === null ? [] : entry.queue.toArray().filter((waiter) => waiter.cost > limits.capacity);
    for (const waiter of failing) entry.queue!.remove(waiter);
    if (requestedHead !== null) {
      const head = entry.queue!.head;
      if (head !== requestedHead || head === null || entry.timeUntil(head.cost, now) > 0) this.withdrawRequest();
    }
    this.reposition(entry, now, true);
    if (this.eventObservers > 0) {
      this.emit({ type: 'reconfigured', key, time: now, ...limits, available: Math.max(0, entry.tokensAt(now)), cause: 'configure' });
    }
    for (const waiter of failing)
      waiter.failed(new RangeError(`cost ${waiter.cost} exceeds capacity ${limits.capacity} of key ${describe(key)}`));
    this.run();
  }

  /**
   * Changes the global limit held by this `KeyedBuckets` (given as options), live. A
   * waiting value whose cost exceeds the new capacity fails when its turn comes. Throws if
   * `global` was a `TokenLimiter` (configure that instead) or absent.
   */
  configureGlobal(patch: KeyLimitsPatch): void {
    const gate = this.gate;
    if (!(gate instanceof LedgerGate)) {
      throw new TypeError(
        'KeyedBuckets.configureGlobal: the global limit is not held by this KeyedBuckets (absent, or a TokenLimiter to configure itself)',
      );
    }
    checkKnownKeys('KeyedBuckets.configureGlobal', patch, ['capacity', 'refillRate', 'interval']);
    const current = gate.limits();
    const limits: LedgerLimits = {
      capacity: checkNumberOption('KeyedBuckets.configureGlobal', 'capacity', patch.capacity ?? current.capacity, 'positive'),
      refillRate: checkNumberOption('KeyedBuckets.configureGlobal', 'refillRate', patch.refillRate ?? current.refillRate, 'positive'),
      interval: checkNumberOption('KeyedBuckets.configureGlobal', 'interval', patch.interval ?? current.interval, 'positive'),
    };
    const now = this.clock();
    gate.reconfigure(limits, now);
    if (this.requesting !== null && this.requesting.queue!.head!.cost > limits.capacity) this.withdrawRequest();
    if (this.eventObservers > 0) this.emit({ type: 'global-reconfigured', time: now, ...limits, available: gate.available(now) });
    this.run();
  }

  /** A fresh snapshot. Forgets the keys that have refilled first, so `keys` is exact now. */
  stats(): KeyedBucketsStats<K> {
    const now = this.clock();
    this.forgetRefilled(now);
    let queued = 0;
    let queuedCost = 0;
    const busy: { key: K; queued: number; queuedCost: number }[] = [];
    const count = (entry: KeyEntry<K>): void => {
      const size = (entry.queue?.size ?? 0) + entry.tickets;
      if (size === 0) return;
      let cost = entry.queue?.totalCost ?? 0;
      cost += entry.ticketCost;
      queued += size;
      queuedCost += cost;
      busy.push({ key: entry.key, queued: size, queuedCost: cost });
    };
    for (const entry of this.waiting.toArray()) count(entry);
    for (const entry of this.contending.toArray()) if (entry.limiter === null) count(entry);
    for (const entry of this.remoteEntries) count(entry);
    busy.sort((a, b) => b.queuedCost - a.queuedCost);
    const gate = this.gate;
    return {
      keys: this.entries.size,
      maxKeys: this.maxKeys,
      waitingKeys: busy.length,
      contendingKeys: this.contending.size,
      queued,
      queuedCost,
      granted: this.grantedCount,
      grantedCost: this.grantedCost,
      dropped: this.droppedCount,
      rejected: this.rejectedCount,
      refusedMaxKeys: this.maxKeysCount,
      cancelled: this.cancelledCount,
      forgotten: this.forgottenCount,
      overrides: this.table.overrideCount,
      timerScheduled: this.timerScheduled,
      global: gate === null ? null : { ...gate.limits(), available: gate.available(now), requesting: gate.pending },
      topKeys: busy.slice(0, TOP_KEYS),
    };
  }

  /** One key now. A key not held in memory reports a fresh (full) bucket; throws if `bucketFor` has none for it. */
  keyStats(key: K): KeyStats {
    const now = this.clock();
    this.forgetRefilled(now);
    const entry = this.entries.get(key);
    const limits = entry === undefined ? this.table.resolve(key) : (entry.limiter ?? entry);
    if (isLimiter(limits)) {
      return {
        held: entry !== undefined,
        capacity: limits.capacity,
        refillRate: undefined,
        interval: undefined,
        available: undefined,
        queued: (entry?.queue?.size ?? 0) + (entry?.tickets ?? 0),
        queuedCost: entry === undefined ? 0 : (entry.queue?.totalCost ?? 0) + entry.ticketCost,
      };
    }
    return {
      held: entry !== undefined,
      capacity: limits.capacity,
      refillRate: limits.refillRate,
      interval: limits.interval,
      available: entry === undefined ? limits.capacity : Math.max(0, entry.tokensAt(now)),
      queued: entry?.queue?.size ?? 0,
      queuedCost: entry?.queue?.totalCost ?? 0,
    };
  }

  /**
   * Takes `cost` tokens for `key` now (and from the global bucket) if they are there and
   * nothing of the key waits or contends ahead; never overtakes. Returns false otherwise,
   * including when `maxKeys` keys are held and `key` is new. Throws for an invalid cost.
   */
  tryTake(key: K, cost = 1): boolean {
    return this.admit(key, cost, 0, Infinity) === Admission.Granted;
  }

  /**
   * A cold Observable that waits for `cost` tokens of `key` (and the global bucket), then
   * emits once and completes. Unsubscribing before that takes nothing. Errors with a
   * `RangeError` for an invalid cost, and if `maxKeys` keys are held and `key` is new.
   */
  take(key: K, cost = 1): Observable<void> {
    return new Observable<void>((subscriber) => {
      const waiter = new TakeWaiter(key, cost, subscriber);
      let admission: Admission;
      try {
        admission = this.admit(key, cost, Infinity, Infinity);
      } catch (error) {
        subscriber.error(error);
        return;
      }
      if (admission === Admission.Granted) {
        subscriber.next();
        subscriber.complete();
        return;
      }
      if (admission === Admission.MaxKeys) {
        subscriber.error(new RangeError(`KeyedBuckets: ${this.maxKeys} keys held (maxKeys); key ${describe(key)} refused`));
        return;
      }
      this.enqueue(waiter, Infinity);
      return () => this.cancel(waiter);
    });
  }
}
