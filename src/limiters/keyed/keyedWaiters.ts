/** `KeyedBuckets`' own ways to wait for one key's tokens: `take()` (an Observable), `acquire()` and `execute()` (Promises). */
import { Observable } from 'rxjs';
import { checkCost } from '../../shared/checks';
import { describe } from '../../shared/describe';
import { resampleMonotonicClock } from '../../waiting/monotonicScheduler';
import type { Waiter } from '../../waiting/WaitQueue';
import { acquireTokens, executeWith, type AcquireOptions, type AcquirePort, type ExecuteOptions, type PromiseWaiter } from '../acquire';
import { TakeWaiter, type TakeSubscriber } from '../TakeWaiter';
import type { Refusal } from '../TokenLimiter';
import type { KeyedEngine } from './KeyedEngine';
import type { Admission, KeyedWaiter } from './KeyedLimiter';
import { annotate } from './KeyLimitTable';

/** Options of `KeyedBuckets.execute`: those of `TokenBucket.execute` but `actualCost` (a key has no debit or refund). */
export type KeyedExecuteOptions<R> = Omit<ExecuteOptions<R>, 'actualCost'>;

/** What a value of a new key gets when `maxKeys` keys are held and it may not wait for a key to be freed. */
function maxKeysError(maxKeys: number, key: unknown): RangeError {
  return new RangeError(`KeyedBuckets: ${maxKeys} keys held (maxKeys); key ${describe(key)} refused`);
}

/** `KeyedBuckets.take(key, cost)`: a cold Observable that waits in the key's queue, then emits once and completes. */
export function takeFromKey<K>(engine: KeyedEngine<K>, key: K, cost: number): Observable<void> {
  return new Observable<void>((subscriber) => {
    resampleMonotonicClock();
    let admission: Admission;
    try {
      admission = engine.admit(key, cost, Infinity, Infinity);
    } catch (error) {
      subscriber.error(error);
      return undefined;
    }
    if (admission.verdict === 'granted') {
      subscriber.next();
      subscriber.complete();
      return undefined;
    }
    if (admission.verdict === 'refused') {
      subscriber.error(maxKeysError(engine.registry.maxKeys, key));
      return undefined;
    }
    const waiter = new KeyedTakeWaiter(key, cost, subscriber);
    engine.enqueue(waiter, Infinity);
    return () => engine.cancel(waiter);
  });
}

/** The waiter behind `KeyedBuckets.take()`. */
class KeyedTakeWaiter<K> extends TakeWaiter implements KeyedWaiter<K> {
  keyedTicket: KeyedWaiter<K>['keyedTicket'] = null;
  constructor(
    readonly key: K,
    cost: number,
    subscriber: TakeSubscriber,
  ) {
    super(cost, subscriber);
  }
  override refused(retryAfter: number): void {
    this.failed(new RangeError(`KeyedBuckets: key ${describe(this.key)} refused (retry after ${retryAfter} ms)`));
  }
}

/** `KeyedBuckets.acquire(key, cost, options)`: `acquireTokens` through the port of one key. */
export function acquireFromKey<K>(engine: KeyedEngine<K>, key: K, cost: unknown, options: AcquireOptions): Promise<number> {
  const owner = 'KeyedBuckets.acquire';
  try {
    checkCostOfKey(owner, key, cost);
  } catch (error) {
    return Promise.reject(error as Error);
  }
  return acquireTokens(new KeyAcquisition(engine, key), owner, cost, options);
}

/** `KeyedBuckets.execute(key, fn, options)`: `executeWith` through the port of one key; `actualCost` is refused. */
export function executeForKey<K, R>(
  engine: KeyedEngine<K>,
  key: K,
  fn: (signal: AbortSignal) => R | PromiseLike<R>,
  options: KeyedExecuteOptions<R>,
): Promise<R> {
  const owner = 'KeyedBuckets.execute';
  try {
    if ((options as ExecuteOptions<R> | null)?.actualCost !== undefined) {
      throw new TypeError(
        `${owner} option "actualCost" is not supported for KeyedBuckets: a key has no debit or refund (use a TokenBucket's execute for costs known afterwards)`,
      );
    }
    checkCostOfKey(owner, key, (options as KeyedExecuteOptions<R> | null)?.cost ?? 1);
  } catch (error) {
    return Promise.reject(error as Error);
  }
  return executeWith(new KeyAcquisition(engine, key), owner, fn, options);
}

/** `checkCost`, its error naming the key (a cost above a capacity is `admit`'s to refuse, naming it too). */
function checkCostOfKey(owner: string, key: unknown, cost: unknown): void {
  try {
    checkCost(cost);
  } catch (error) {
    throw annotate(error, `${owner}, key ${describe(key)}`);
  }
}

/**
 * One `acquire` (or `execute`) of one key, as one object: the port `acquireTokens` talks to —
 * its `enqueue` is the key's `admit`, then the engine's `enqueue` — and the waiter that stands
 * in the key's queue for the `PromiseWaiter`, answering it.
 */
class KeyAcquisition<K> implements AcquirePort, KeyedWaiter<K> {
  /** `acquireTokens` only checks the cost is valid: `admit` checks it against the key's and the global capacity, naming the key. */
  readonly capacity = Infinity;
  queuedAt = 0;
  previousWaiter: Waiter | null = null;
  nextWaiter: Waiter | null = null;
  keyedTicket: Waiter | null = null;
  cost = 0;
  priority = 0;
  private promise: PromiseWaiter | null = null;

  constructor(
    private readonly engine: KeyedEngine<K>,
    readonly key: K,
  ) {}

  get scheduler(): { now(): number } {
    return this.engine.scheduler;
  }

  enqueue(promise: PromiseWaiter, maxWait: number): void {
    this.promise = promise;
    this.cost = promise.cost;
    this.priority = promise.priority;
    let admission: Admission;
    try {
      admission = this.engine.admit(this.key, promise.cost, maxWait, Infinity, promise.priority);
    } catch (error) {
      promise.failed(error as Error); // settles, and stops listening to the signal
      return;
    }
    if (admission.verdict === 'granted') promise.granted();
    else if (admission.verdict === 'wait') this.engine.enqueue(this, maxWait);
    else if (admission.rule !== 'max-keys') promise.refused(admission.retryAfter);
    else {
      this.recordRefusal({ cost: promise.cost, outcome: 'rejected', reason: 'max-keys', retryAfter: admission.retryAfter });
      promise.failed(maxKeysError(this.engine.registry.maxKeys, this.key));
    }
  }

  cancel(): void {
    this.engine.cancel(this);
  }

  recordRefusal(refusal: Refusal): void {
    this.engine.recordRefusal(this.key, refusal);
  }

  // ---- answers of the key's queue, passed on to the promise ----

  granted(): void {
    this.promise!.granted();
  }
  refused(retryAfter: number): void {
    this.promise!.refused(retryAfter);
  }
  failed(error: Error): void {
    this.promise!.failed(error);
  }
}
