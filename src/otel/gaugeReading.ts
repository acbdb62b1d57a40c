import type { LimiterKind } from './limiterKind';

/** What one collection observes of a limiter; a field left out is not observed this time. */
export interface GaugeReading {
  readonly queued?: number;
  readonly queuedCost?: number;
  readonly available?: number;
  readonly capacity?: number;
  /** Tokens per second. */
  readonly refillRate?: number;
  readonly keys?: number;
}

/** A finite number >= 0 from a stats field, or undefined: nothing else reaches an instrument. */
function amount(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** `refillRate` per `interval` ms as tokens per second, if both are sane. */
function perSecond(refillRate: unknown, interval: unknown): number | undefined {
  const rate = amount(refillRate);
  const ms = amount(interval);
  if (rate === undefined || ms === undefined || ms === 0) return undefined;
  const value = (rate * 1000) / ms;
  return Number.isFinite(value) ? value : undefined;
}

interface LimitsFields {
  readonly capacity?: unknown;
  readonly refillRate?: unknown;
  readonly interval?: unknown;
  readonly available?: unknown;
}

function limitsOf(fields: LimitsFields): Pick<GaugeReading, 'available' | 'capacity' | 'refillRate'> {
  return {
    available: amount(fields.available),
    capacity: amount(fields.capacity),
    refillRate: perSecond(fields.refillRate, fields.interval),
  };
}

/**
 * Reads a `stats()` snapshot. A bucket reports its own tokens and limits; a `KeyedBuckets`
 * reports its keys and, with a global limit, the global bucket's (per-key tokens would be a
 * series per key: see `perKeyAttribute` for the counters instead).
 */
export function readGauges(kind: LimiterKind, stats: object): GaugeReading {
  const fields = stats as LimitsFields & {
    readonly queued?: unknown;
    readonly queuedCost?: unknown;
    readonly keys?: unknown;
    readonly global?: unknown;
  };
  const queue = { queued: amount(fields.queued), queuedCost: amount(fields.queuedCost) };
  if (kind !== 'KeyedBuckets') return { ...queue, ...limitsOf(fields) };
  const global = typeof fields.global === 'object' && fields.global !== null ? limitsOf(fields.global as LimitsFields) : {};
  return { ...queue, ...global, keys: amount(fields.keys) };
}
