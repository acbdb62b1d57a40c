import { checkObjectOption, checkCostWithin, checkKnownKeys, checkNumberOption, checkPriority } from '../shared/checks';
import { describe } from '../shared/describe';
import { RateLimitExceededError } from '../shared/errors';
import type { Waiter } from '../waiting/WaitQueue';
import type { Refusal } from './TokenLimiter';

/** Options of `acquire`: how long it may wait, where it stands, and how to give up. */
export interface AcquireOptions {
  /** Aborting withdraws the request, taking nothing; the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Most ms it may wait: a request whose predicted wait is longer is rejected at once (`RateLimitExceededError`, reason `'max-wait'`). Default `Infinity`. */
  maxWait?: number;
  /** Higher goes first, FIFO within a level. A finite number; default 0. */
  priority?: number;
}

/** Options of `execute`: `acquire`'s, the cost, and the cost known only once `fn` has answered. */
export interface ExecuteOptions<R> extends AcquireOptions {
  /** Tokens taken before `fn` runs. Default 1. */
  cost?: number;
  /** The real cost, read from `fn`'s result: the difference to `cost` is debited (or refunded) at once. */
  actualCost?: (result: R) => number;
}

/** What `acquire` and `execute` need from a limiter: the waiter protocol, plus `debit`/`refund` for `actualCost`. */
export interface AcquirePort {
  readonly capacity: number;
  readonly scheduler: { now(): number };
  enqueue(waiter: PromiseWaiter, maxWait: number): void;
  cancel(waiter: PromiseWaiter): void;
  recordRefusal(refusal: Refusal): void;
  debit?(amount: number): void;
  refund?(amount: number): void;
}

const ACQUIRE_KEYS = ['signal', 'maxWait', 'priority'] as const;
const EXECUTE_KEYS = ['signal', 'maxWait', 'priority', 'cost', 'actualCost'] as const;

/** A waiting `acquire`: settles its promise once, and stops listening to its signal then. */
export class PromiseWaiter implements Waiter {
  queuedAt = 0;
  previousWaiter: Waiter | null = null;
  nextWaiter: Waiter | null = null;
  private settled = false;
  private readonly askedAt: number;
  constructor(
    readonly cost: number,
    readonly priority: number,
    private readonly port: AcquirePort,
    private readonly signal: AbortSignal | undefined,
    private readonly resolve: (waited: number) => void,
    private readonly reject: (reason: unknown) => void,
  ) {
    this.askedAt = port.scheduler.now();
    signal?.addEventListener('abort', this.onAbort);
  }
  granted(): void {
    if (this.settle()) this.resolve(this.port.scheduler.now() - this.askedAt);
  }
  refused(retryAfter: number): void {
    if (!this.settle()) return;
    this.port.recordRefusal({ cost: this.cost, outcome: 'rejected', reason: 'max-wait', retryAfter });
    this.reject(new RateLimitExceededError(retryAfter, this.cost, 'max-wait'));
  }
  failed(error: Error): void {
    if (this.settle()) this.reject(error);
  }
  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    return true;
  }
  private readonly onAbort = (): void => {
    if (!this.settle()) return;
    this.port.cancel(this); // takes nothing; the waiter behind moves up at once
    this.reject(this.signal!.reason);
  };
}

/**
 * `limiter.acquire(cost, options)`: waits for `cost` tokens in the limiter's one queue (the
 * same FIFO, and priority order, as the operators' values) and resolves with the ms waited.
 * Rejects, taking nothing: with `signal.reason` when aborted first (at once when already
 * aborted); with `RateLimitExceededError` (`'max-wait'`) when the predicted wait exceeds
 * `maxWait`; with `TypeError`/`RangeError` for a bad cost or option.
 */
export function acquireTokens(
  port: AcquirePort,
  owner: string,
  cost: unknown,
  options: AcquireOptions,
  knownKeys: readonly string[] = ACQUIRE_KEYS,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const { maxWait, priority, signal } = checkAcquireOptions(owner, options, knownKeys);
    checkCostWithin(cost, port.capacity);
    if (signal?.aborted === true) {
      reject(signal.reason);
      return;
    }
    port.enqueue(new PromiseWaiter(cost, priority, port, signal, resolve, reject), maxWait);
  });
}

/**
 * `limiter.execute(fn, options)`: acquires `cost` tokens, then runs `fn` with `options.signal`
 * (so an abort after the grant reaches `fn`), and resolves with its result. With
 * `actualCost`, the real cost is read from the result and the difference is debited or refunded.
 */
export async function executeWith<R>(
  port: AcquirePort,
  owner: string,
  fn: (signal: AbortSignal) => R | PromiseLike<R>,
  options: ExecuteOptions<R>,
): Promise<R> {
  if (typeof fn !== 'function') throw new TypeError(`${owner}: fn must be a function, got ${describe(fn)}`);
  const { actualCost } = options;
  if (actualCost !== undefined && typeof actualCost !== 'function') {
    throw new TypeError(`${owner} option "actualCost" must be a function of the result, got ${describe(actualCost)}`);
  }
  if (actualCost !== undefined && (port.debit === undefined || port.refund === undefined)) {
    throw new TypeError(`${owner} option "actualCost" needs a limiter with debit() and refund()`);
  }
  const cost = options.cost ?? 1;
  await acquireTokens(port, owner, cost, options, EXECUTE_KEYS);
  // The caller's signal aborts `fn` as it is (also after the grant); without one, `fn` gets a signal of its own that never aborts.
  const result = await fn(options.signal ?? new AbortController().signal);
  if (actualCost !== undefined) settleActualCost(port, owner, cost as number, actualCost(result));
  return result;
}

/** Debits or refunds the difference between what was taken and what the call really cost. */
function settleActualCost(port: AcquirePort, owner: string, taken: number, real: unknown): void {
  if (typeof real !== 'number' || !Number.isFinite(real) || real < 0) {
    throw new (typeof real === 'number' ? RangeError : TypeError)(
      `${owner}: actualCost must return a finite number >= 0, got ${describe(real)}`,
    );
  }
  settleDifference(port as Settling, taken, real);
}

/** A limiter that can settle a cost known afterwards. */
export type Settling = Required<Pick<AcquirePort, 'debit' | 'refund'>>;

/** Debits what `real` exceeds `taken` by (into debt if need be), or refunds what it falls short by. */
export function settleDifference(limiter: Settling, taken: number, real: number): void {
  if (real > taken) limiter.debit(real - taken);
  else if (real < taken) limiter.refund(taken - real);
}

function checkAcquireOptions(
  owner: string,
  options: AcquireOptions,
  knownKeys: readonly string[],
): { maxWait: number; priority: number; signal: AbortSignal | undefined } {
  checkKnownKeys(owner, options, knownKeys);
  const { signal } = options;
  checkObjectOption(
    owner,
    'signal',
    signal,
    'an AbortSignal',
    (value) => typeof (value as AbortSignal).aborted === 'boolean' && typeof (value as AbortSignal).addEventListener === 'function',
  );
  return {
    maxWait: checkNumberOption(owner, 'maxWait', options.maxWait ?? Infinity, 'non-negative', true),
    priority: options.priority === undefined ? 0 : checkPriority(owner, options.priority),
    signal,
  };
}
