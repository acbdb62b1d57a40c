import type { Subscribable } from 'rxjs';
import { isKeyedLimiter } from '../limiters/keyed/KeyedLimiter';
import { isLimiter } from '../limiters/TokenLimiter';
import { describe } from '../shared/describe';

/** The kinds of limiter `instrumentLimiter` knows; the default `name` is the kind. */
export type LimiterKind = 'TokenBucket' | 'KeyedBuckets' | 'RedisTokenBucket';

/**
 * What is read of a limiter: its `events$` and `stats()`. Events and stats are read as loose
 * records, every field checked, since a limiter may come from another copy of this package
 * (the CJS build, the `redis` entry) and is recognised by its brand and shape, not its class.
 */
export interface ObservedLimiter {
  readonly events$: Subscribable<LooseEvent>;
  stats(): object;
}

/** An event of any limiter, every field but `type` unchecked. */
export interface LooseEvent {
  readonly type: string;
  readonly cost?: unknown;
  readonly waited?: unknown;
  readonly reason?: unknown;
  readonly source?: unknown;
  readonly policy?: unknown;
  readonly key?: unknown;
}

const EXPECTED = 'a TokenBucket, KeyedBuckets or RedisTokenBucket (a limiter of this package: events$ and stats())';

/** The limiter's kind, told by its brand and the fields of its stats; throws naming the argument otherwise. */
export function limiterKind(owner: string, limiter: unknown): LimiterKind {
  const candidate = limiter as Partial<ObservedLimiter> | null;
  const observable =
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.stats === 'function' &&
    typeof (candidate.events$ as Partial<Subscribable<unknown>> | undefined)?.subscribe === 'function';
  if (observable && isKeyedLimiter(limiter)) return 'KeyedBuckets';
  if (observable && isLimiter(limiter)) return 'inFlight' in candidate.stats!() ? 'RedisTokenBucket' : 'TokenBucket';
  const hint =
    isLimiter(limiter) || isKeyedLimiter(limiter)
      ? ': a limiter of your own has no events$/stats() to read; instrument the TokenBucket or KeyedBuckets it wraps'
      : '; pass the limiter itself, e.g. instrumentLimiter(bucket, { meter })';
  throw new TypeError(`${owner}: the first argument must be ${EXPECTED}, got ${describe(limiter)}${hint}`);
}
