/** Input checks shared by the limiters and the operators; every message names the bad value. */
import type { SchedulerLike } from 'rxjs';
import { describe } from './describe';

/** Throws unless `cost` is a finite number >= 0. */
export function checkCost(cost: unknown): asserts cost is number {
  if (typeof cost !== 'number') throw new TypeError(`cost must be a number, got ${describe(cost)}`);
  if (!Number.isFinite(cost) || cost < 0) {
    throw new RangeError(`cost must be a finite number >= 0, got ${describe(cost)}`);
  }
}

/** Throws unless `cost` is valid and could ever be granted by a bucket of `capacity`. */
export function checkCostWithin(cost: unknown, capacity: number): asserts cost is number {
  checkCost(cost);
  if (cost > capacity) throw new RangeError(`cost ${cost} exceeds capacity ${capacity}`);
}

export type NumberRule = 'positive' | 'non-negative';

/**
 * Returns `value` if it is a number obeying `rule` (finite unless `allowInfinity`),
 * else throws naming `owner` and `option`: `TokenBucket option "capacity" must be ...`.
 */
export function checkNumberOption(owner: string, option: string, value: unknown, rule: NumberRule, allowInfinity = false): number {
  const bound = rule === 'positive' ? '> 0' : '>= 0';
  const expected = `${allowInfinity ? 'a number' : 'a finite number'} ${bound}`;
  if (typeof value !== 'number') {
    throw new TypeError(`${owner} option "${option}" must be ${expected}, got ${describe(value)}`);
  }
  const tooSmall = rule === 'positive' ? !(value > 0) : !(value >= 0);
  if (Number.isNaN(value) || tooSmall || (!allowInfinity && !Number.isFinite(value))) {
    throw new RangeError(`${owner} option "${option}" must be ${expected}, got ${describe(value)}`);
  }
  return value;
}

/**
 * Throws if `options` has a key outside `known`: a typo such as `rate` would otherwise be
 * ignored. `misplaced` tells, for an option that belongs elsewhere, where to write it.
 */
export function checkKnownKeys(
  owner: string,
  options: object,
  known: readonly string[],
  misplaced?: (key: string) => string | undefined,
): void {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${owner} options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const hint = misplaced?.(key);
      throw new TypeError(`${owner} has no option "${key}"${hint === undefined ? ` (known: ${known.join(', ')})` : `: ${hint}`}`);
    }
  }
}

/** Throws unless `value` is one of `choices`. */
export function checkChoice<C extends string>(owner: string, option: string, value: unknown, choices: readonly C[]): C {
  if (!choices.includes(value as C)) {
    throw new TypeError(`${owner} option "${option}" must be one of ${choices.map((c) => `"${c}"`).join(', ')}, got ${describe(value)}`);
  }
  return value as C;
}

/** Throws unless `scheduler` is absent or a `SchedulerLike` (`now()` and `schedule()`). */
export function checkScheduler(owner: string, scheduler: unknown): asserts scheduler is SchedulerLike | undefined {
  if (scheduler === undefined) return;
  const candidate = scheduler as Partial<SchedulerLike> | null;
  if (typeof candidate?.now !== 'function' || typeof candidate?.schedule !== 'function') {
    throw new TypeError(`${owner} option "scheduler" must be a SchedulerLike with now() and schedule()`);
  }
}

/** Returns `amount` if it is a finite number >= 0, else throws naming `owner` (a method such as `TokenBucket.debit`). */
export function checkAmount(owner: string, amount: unknown): number {
  if (typeof amount !== 'number') throw new TypeError(`${owner}: the amount must be a number, got ${describe(amount)}`);
  if (!Number.isFinite(amount) || amount < 0) {
    throw new RangeError(`${owner}: the amount must be a finite number >= 0, got ${describe(amount)}`);
  }
  return amount;
}

/** Returns `priority` if it is a finite number (any sign; higher goes first), else throws naming `owner`. */
export function checkPriority(owner: string, priority: unknown): number {
  if (typeof priority !== 'number' || !Number.isFinite(priority)) {
    throw new (typeof priority === 'number' ? RangeError : TypeError)(
      `${owner} option "priority" must be a finite number (higher goes first, default 0), got ${describe(priority)}`,
    );
  }
  return priority;
}

/** Throws unless `value` is absent or passes `isValid`; the message says what was `expected`. */
export function checkObjectOption(
  owner: string,
  option: string,
  value: unknown,
  expected: string,
  isValid: (value: object) => boolean,
): void {
  if (value === undefined) return;
  if (typeof value !== 'object' || value === null || !isValid(value)) {
    throw new TypeError(`${owner} option "${option}" must be ${expected}, got ${describe(value)}`);
  }
}
