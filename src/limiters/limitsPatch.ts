import type { LedgerLimits } from '../arithmetic/TokenLedger';
import { checkKnownKeys, checkNumberOption } from '../shared/checks';

/** The limits a live `configure` may change. */
export const LIMIT_KEYS = ['capacity', 'refillRate', 'interval'] as const;

/**
 * Checks a live change of limits (`configure`) against `current`: unknown keys and bad
 * values throw naming `owner` and the option; omitted fields keep their value.
 */
export function checkLimitsPatch(owner: string, patch: Partial<LedgerLimits>, current: LedgerLimits): LedgerLimits {
  checkKnownKeys(owner, patch, LIMIT_KEYS);
  return {
    capacity: checkNumberOption(owner, 'capacity', patch.capacity ?? current.capacity, 'positive'),
    refillRate: checkNumberOption(owner, 'refillRate', patch.refillRate ?? current.refillRate, 'positive'),
    interval: checkNumberOption(owner, 'interval', patch.interval ?? current.interval, 'positive'),
  };
}
