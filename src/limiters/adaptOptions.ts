import type { AdaptationSettings } from '../arithmetic/adaptation';
import { checkKnownKeys, checkNumberOption } from '../shared/checks';

/** Settings of one `adapt` call. */
export interface AdaptOptions {
  /** Spend at most this share of what the server reports, in (0, 1]. Default 0.9. */
  safetyFactor?: number;
  /** Bounds on the adapted `refillRate` (tokens per `interval`). Defaults 0 (exclusive) and Infinity. */
  minRate?: number;
  maxRate?: number;
  /** Requests sent but not yet answered: the server's `remaining` does not count them yet. Default 0. */
  inFlight?: number;
}

const ADAPT_KEYS = ['safetyFactor', 'minRate', 'maxRate', 'inFlight'] as const;

/** `adapt`'s options with their defaults, checked: every limiter that adapts reads them here. */
export function checkAdaptOptions(owner: string, options: AdaptOptions): AdaptationSettings {
  checkKnownKeys(owner, options, ADAPT_KEYS);
  const safetyFactor = checkNumberOption(owner, 'safetyFactor', options.safetyFactor ?? 0.9, 'positive');
  if (safetyFactor > 1) throw new RangeError(`${owner} option "safetyFactor" must be in (0, 1], got ${safetyFactor}`);
  return {
    safetyFactor,
    minRate: checkNumberOption(owner, 'minRate', options.minRate ?? 0, 'non-negative'),
    maxRate: checkNumberOption(owner, 'maxRate', options.maxRate ?? Infinity, 'positive', true),
    inFlight: checkNumberOption(owner, 'inFlight', options.inFlight ?? 0, 'non-negative'),
  };
}
