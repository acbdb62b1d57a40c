import type { SchedulerLike } from 'rxjs';
import type { LedgerLimits } from '../arithmetic/TokenLedger';
import { checkKnownKeys, checkNumberOption, checkScheduler } from '../shared/checks';

export interface TokenBucketOptions {
  /** Burst size: the most tokens the bucket holds. Finite, > 0. Required. */
  capacity: number;
  /** Tokens added per `interval` ms. Finite, > 0. Required. */
  refillRate: number;
  /** The period of `refillRate`, in ms. Finite, > 0. Default `1000` (so `refillRate` is per second). */
  interval?: number;
  /** Tokens at creation, 0..capacity. Default `capacity` (a full bucket). */
  initialTokens?: number;
  /**
   * Clock and timers. Default: `performance.now()` with `asyncScheduler` timers, both
   * virtualised inside `TestScheduler.run()`. Pass a `TestScheduler` or any `SchedulerLike`.
   */
  scheduler?: SchedulerLike;
}

/** A live change of limits; omitted fields keep their value. */
export type TokenBucketLimits = Partial<LedgerLimits>;

/** What `checkBucketOptions` returns: the limits and the starting count, with defaults applied. */
export type CheckedBucketOptions = LedgerLimits & { readonly initialTokens: number };

const OPTION_KEYS = ['capacity', 'refillRate', 'interval', 'initialTokens', 'scheduler'] as const;

/** Options of the operators, which users put into the bucket's options by mistake. */
const OPERATOR_OPTION_KEYS: readonly string[] = ['cost', 'strategy', 'maxQueue', 'maxWait', 'overflow', 'onDrop', 'priority'];

/** Where an option found among a bucket's options belongs instead, if it is a known mistake. */
export function misplacedBucketOption(key: string): string | undefined {
  if (key === 'bucket') return 'pass the bucket itself (a TokenBucket) or its options { capacity, refillRate }, not { bucket }';
  if (OPERATOR_OPTION_KEYS.includes(key)) {
    return `"${key}" is an option of the operator, not of the bucket: write throttleByTokens(bucket, { ${key} }) or perKey(keyOf, limits, { ${key} })`;
  }
  return undefined;
}

/**
 * Validates a bucket's options once; the error names `owner` (default `TokenBucket`; an
 * operator given bucket options names itself: `throttleByTokens bucket`), the option and the value.
 */
export function checkBucketOptions(options: TokenBucketOptions, owner = 'TokenBucket'): CheckedBucketOptions {
  checkKnownKeys(owner, options, OPTION_KEYS, misplacedBucketOption);
  const capacity = checkNumberOption(owner, 'capacity', options.capacity, 'positive');
  const refillRate = checkNumberOption(owner, 'refillRate', options.refillRate, 'positive');
  const interval = checkNumberOption(owner, 'interval', options.interval ?? 1000, 'positive');
  const initialTokens = checkNumberOption(owner, 'initialTokens', options.initialTokens ?? capacity, 'non-negative');
  if (initialTokens > capacity) {
    throw new RangeError(`${owner} option "initialTokens" (${initialTokens}) exceeds capacity ${capacity}`);
  }
  checkScheduler(owner, options.scheduler);
  return { capacity, refillRate, interval, initialTokens };
}
