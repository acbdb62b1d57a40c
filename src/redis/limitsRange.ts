import type { LedgerLimits } from '../arithmetic/TokenLedger';

/**
 * The limits a Redis bucket can hold exactly. Its state is floats in Lua, written as text,
 * with times in µs since the state's base; the ranges keep every count, time and TTL finite
 * and exact to well under a token and a µs:
 * - `capacity` in [1e-6, 1e15] (counts of whole tokens stay exact integers below 2^53);
 * - the refill, `refillRate / interval`, at most 1e12 tokens per ms;
 * - the time to fill the bucket from empty, `capacity * interval / refillRate`, at most
 *   1e12 ms (about 31.7 years): beyond that a wait or a key's TTL leaves the exact range
 *   (the rate `1e-303` once made a wait of `inf`, which granted at once).
 */
export const REDIS_LIMIT_RANGES = {
  minCapacity: 1e-6,
  maxCapacity: 1e15,
  maxTokensPerMs: 1e12,
  maxFillMs: 1e12,
} as const;

/** Throws a `RangeError` naming `owner`, the option, the value and the range when Redis cannot hold `limits` exactly. */
export function checkRedisLimits<T extends LedgerLimits>(owner: string, limits: T): T {
  const { capacity, refillRate, interval } = limits;
  const { minCapacity, maxCapacity, maxTokensPerMs, maxFillMs } = REDIS_LIMIT_RANGES;
  if (capacity < minCapacity || capacity > maxCapacity) {
    throw new RangeError(
      `${owner} option "capacity" must be in [${minCapacity}, ${maxCapacity}] for Redis to hold it exactly, got ${capacity}`,
    );
  }
  const perMs = refillRate / interval;
  if (perMs > maxTokensPerMs) {
    throw new RangeError(
      `${owner} option "refillRate" ${refillRate} per interval ${interval} ms is ${perMs} tokens per ms, above the ${maxTokensPerMs} Redis can hold exactly: write a refillRate of at most ${maxTokensPerMs * interval}`,
    );
  }
  const fillMs = capacity / perMs;
  if (!(fillMs <= maxFillMs)) {
    throw new RangeError(
      `${owner} option "refillRate" ${refillRate} per interval ${interval} ms takes ${fillMs} ms to fill capacity ${capacity}, beyond the ${maxFillMs} ms (about 31.7 years) Redis can hold exactly: write a refillRate of at least ${(capacity / maxFillMs) * interval}`,
    );
  }
  return limits;
}

/** A rate learned from a server's feedback, clamped into the range Redis holds exactly for `capacity` and `interval`. */
export function clampRedisRate(refillRate: number, capacity: number, interval: number): number {
  const { maxTokensPerMs, maxFillMs } = REDIS_LIMIT_RANGES;
  const lowest = (capacity / maxFillMs) * interval;
  const highest = maxTokensPerMs * interval;
  return Math.min(highest, Math.max(lowest, refillRate));
}
