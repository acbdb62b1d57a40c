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

/** Validates a bucket's options once; the error names the option and the value. */
export function checkBucketOptions(options: TokenBucketOptions): CheckedBucketOptions {
  checkKnownKeys('TokenBucket', options, OPTION_KEYS);
  const capacity = checkNumberOption('TokenBucket', 'capacity', options.capacity, 'positive');
  const refillRate = checkNumberOption('TokenBucket', 'refillRate', options.refillRate, 'positive');
  const interval = checkNumberOption('TokenBucket', 'interval', options.interval ?? 1000, 'positive');
  const initialTokens = checkNumberOption('TokenBucket', 'initialTokens', options.initialTokens ?? capacity, 'non-negative');
  if (initialTokens > capacity) {
    throw new RangeError(`TokenBucket option "initialTokens" (${initialTokens}) exceeds capacity ${capacity}`);
  }
  checkScheduler('TokenBucket', options.scheduler);
  return { capacity, refillRate, interval, initialTokens };
}
