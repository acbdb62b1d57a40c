import type { RefusalReason } from '../shared/errors';
import { checkChoice, checkNumberOption, checkPriority } from '../shared/checks';
import { describe } from '../shared/describe';

/** The cost of a value in tokens: a constant, or computed from the value and its index. */
export type Cost<T> = number | ((value: T, index: number) => number);

/** Where a waiting value stands in its queue (higher first): a constant, or computed from the value and its index. */
export type Priority<T> = number | ((value: T, index: number) => number);

/** The options `throttleByTokens` and `perKey` share, as the user wrote them. */
interface RefusalConfig<T, OnDrop> {
  cost?: Cost<T>;
  priority?: Priority<T>;
  strategy?: 'delay' | 'drop' | 'error';
  maxQueue?: number;
  maxWait?: number;
  overflow?: 'drop' | 'error';
  onDrop?: OnDrop;
}

/** What those options come to, checked once when the operator is created. */
export interface RefusalSettings<T, OnDrop> {
  readonly costOf: Cost<T>;
  /** A finite number (checked here), or a function whose results `priorityOf` checks. */
  readonly priorityOf: Priority<T>;
  /** `maxWait` handed to the limiter: 0 for drop/error ("now or never"). */
  readonly maxWait: number;
  readonly maxQueue: number;
  /** What a refusal becomes. */
  readonly refusalOutcome: 'dropped' | 'rejected';
  /** Why a value the limiter refused was refused: its wait (delay) or no tokens now (drop/error). */
  readonly refusalReason: RefusalReason;
  readonly onDrop: OnDrop | undefined;
}

/** Checks the shared options; errors name the operator (`owner`) and the option. */
export function checkRefusalSettings<T, OnDrop>(owner: string, config: RefusalConfig<T, OnDrop>): RefusalSettings<T, OnDrop> {
  const costOf = config.cost ?? 1;
  if (typeof costOf !== 'function') checkConstantCost(owner, costOf);
  const priorityOf = config.priority ?? 0;
  if (typeof priorityOf !== 'function') checkPriority(owner, priorityOf);
  const strategy = checkChoice(owner, 'strategy', config.strategy ?? 'delay', ['delay', 'drop', 'error'] as const);
  const overflow = checkChoice(owner, 'overflow', config.overflow ?? 'error', ['drop', 'error'] as const);
  const maxQueue = checkNumberOption(owner, 'maxQueue', config.maxQueue ?? Infinity, 'non-negative', true);
  const maxWait = checkNumberOption(owner, 'maxWait', config.maxWait ?? Infinity, 'non-negative', true);
  if (strategy !== 'delay' && (config.maxQueue !== undefined || config.maxWait !== undefined || config.overflow !== undefined)) {
    throw new TypeError(`${owner} options "maxQueue", "maxWait" and "overflow" apply to strategy "delay", not ${describe(strategy)}`);
  }
  if (config.onDrop !== undefined && typeof config.onDrop !== 'function') {
    throw new TypeError(`${owner} option "onDrop" must be a function, got ${describe(config.onDrop)}`);
  }
  const dropping = strategy === 'drop' || (strategy === 'delay' && overflow === 'drop');
  return {
    costOf,
    priorityOf,
    maxWait: strategy === 'delay' ? maxWait : 0,
    maxQueue,
    refusalOutcome: dropping ? 'dropped' : 'rejected',
    refusalReason: strategy === 'delay' ? 'max-wait' : 'no-tokens',
    onDrop: config.onDrop,
  };
}

/** The priority of `value` (the `index`th): the constant, or the function's result checked finite (errors name `owner`). */
export function priorityOfValue<T>(owner: string, priorityOf: Priority<T>, value: T, index: number): number {
  return typeof priorityOf === 'number' ? priorityOf : checkPriority(owner, priorityOf(value, index));
}

/** The `cost` option as a constant: a finite number >= 0 (a function is checked per value, by `costOfValue`). */
function checkConstantCost(owner: string, cost: unknown): void {
  if (typeof cost !== 'number' || !Number.isFinite(cost) || cost < 0) {
    throw new (typeof cost === 'number' ? RangeError : TypeError)(
      `${owner} option "cost" must be a finite number >= 0 or a function (value, index) => number, got ${describe(cost)}`,
    );
  }
}

/**
 * The cost of `value` (the `index`th): the constant, or the function's result, checked to be
 * a finite number >= 0 that a bucket of `capacity` could ever grant. Errors name `owner` and
 * the value's index, since a cost function that returns `undefined` for one value in a
 * thousand is otherwise hard to find.
 */
export function costOfValue<T>(owner: string, costOf: Cost<T>, value: T, index: number, capacity: number): number {
  const cost: unknown = typeof costOf === 'number' ? costOf : costOf(value, index);
  if (typeof cost !== 'number' || !Number.isFinite(cost) || cost < 0) {
    throw new (typeof cost === 'number' ? RangeError : TypeError)(
      `${owner}: cost(value #${index}) returned ${describe(cost)}; the cost function must return a finite number >= 0 (tokens) for every value`,
    );
  }
  if (cost > capacity) {
    throw new RangeError(
      `${owner}: value #${index} costs ${cost}, more than the bucket's capacity ${capacity}, so it could never be granted; raise capacity or split the value`,
    );
  }
  return cost;
}
