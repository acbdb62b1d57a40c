import { describe } from '../../shared/describe';
import { annotate } from './KeyLimitTable';

/** A key's share of the global tokens under deficit round robin (`KeyedBucketsOptions.weight`). */
export type KeyWeight<K> = (key: K) => number;

/** Checks the `weight` option once, at construction: absent, or a function of the key. */
export function checkWeightOption<K>(weight: unknown): KeyWeight<K> | undefined {
  if (weight === undefined || typeof weight === 'function') return weight as KeyWeight<K> | undefined;
  throw new TypeError(`KeyedBuckets option "weight" must be a function of the key returning a number > 0, got ${describe(weight)}`);
}

/**
 * The weight of `key`, read when the key is created in memory: a finite number > 0. Throws
 * naming the option and the key when `weight` throws (its error, annotated) or returns anything else.
 */
export function readWeight<K>(weight: KeyWeight<K>, key: K): number {
  let value: unknown;
  try {
    value = weight(key);
  } catch (error) {
    throw annotate(error, `KeyedBuckets option "weight" for key ${describe(key)}`);
  }
  if (typeof value === 'number' && value > 0 && Number.isFinite(value)) return value;
  throw new (typeof value === 'number' ? RangeError : TypeError)(
    `KeyedBuckets option "weight" must return a finite number > 0, got ${describe(value)} for key ${describe(key)}`,
  );
}
