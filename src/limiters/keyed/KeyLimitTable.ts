import { checkBucketOptions, misplacedBucketOption, type TokenBucketOptions } from '../bucketOptions';
import { LIMIT_KEYS } from '../limitsPatch';
import { isLimiter, type TOKEN_LIMITER, type TokenLimiter } from '../TokenLimiter';
import type { LedgerLimits } from '../../arithmetic/TokenLedger';
import { checkKnownKeys, checkNumberOption } from '../../shared/checks';
import { describe } from '../../shared/describe';

/**
 * One key's bucket: `TokenBucketOptions` without `scheduler` (the `KeyedBuckets` one is
 * used). `initialTokens`, if given, must equal `capacity`: a key is forgotten once its
 * bucket is full again, and re-created full, so a key may not start with less.
 */
export type KeyLimits = Omit<TokenBucketOptions, 'scheduler'> & {
  /** Never set: it makes TypeScript refuse a `TokenBucket` (one bucket every key would share) where each key's limits belong. */
  readonly [TOKEN_LIMITER]?: never;
};

/** A live change of one key's limits; omitted fields keep their value. */
export type KeyLimitsPatch = Partial<LedgerLimits>;

/**
 * One row of a rule table. `match` is tested against the key: a string pattern (`*`
 * matches any run of characters, otherwise the whole key must equal it) or a RegExp is
 * tested against `String(key)`; a function gets the key itself.
 */
export interface KeyRule<K> {
  readonly match: string | RegExp | ((key: K) => boolean);
  readonly limit: KeyLimits;
}

/** An endpoint-style table: the first rule whose `match` fits the key applies, else `default`. */
export interface KeyRules<K> {
  readonly rules: readonly KeyRule<K>[];
  /** Limits of keys no rule matches. Without it, such a key is an error naming it. */
  readonly default?: KeyLimits;
}

/**
 * How each key's bucket is made: the same limits for every key, a rule table, or a
 * function of the key returning limits or a `TokenLimiter` (such as a store shared
 * between processes). The function is called whenever a key is (re)created in memory.
 */
export type BucketFor<K> = KeyLimits | KeyRules<K> | ((key: K) => KeyLimits | TokenLimiter);

const KEY_LIMIT_KEYS = ['capacity', 'refillRate', 'interval', 'initialTokens'] as const;
const RULES_KEYS = ['rules', 'default'] as const;
const RULE_KEYS = ['match', 'limit'] as const;

type Matcher<K> = (key: K) => boolean;

interface CompiledRule<K> {
  readonly matches: Matcher<K>;
  readonly limits: LedgerLimits;
}

/**
 * Resolves a key to its limits (validated) or to its `TokenLimiter`, applying the live
 * overrides of `KeyedBuckets.configure`. Static limits and rules are validated once, here.
 */
export class KeyLimitTable<K> {
  private readonly uniform: LedgerLimits | undefined;
  private readonly rules: readonly CompiledRule<K>[] | undefined;
  private readonly fallback: LedgerLimits | undefined;
  private readonly factory: ((key: K) => KeyLimits | TokenLimiter) | undefined;
  /** Per-key overrides set by `configure`, kept until cleared; at most `maxOverrides`. */
  private readonly overrides = new Map<K, KeyLimitsPatch>();

  constructor(
    bucketFor: BucketFor<K>,
    private readonly maxOverrides: number,
  ) {
    if (isLimiter(bucketFor)) {
      throw new TypeError(
        'KeyedBuckets: bucketFor is one TokenBucket, which every key would share; pass the limits of each key ({ capacity, refillRate }), ' +
          'a rule table, or (key) => limits or a limiter of its own',
      );
    }
    if (typeof bucketFor === 'function') {
      this.factory = bucketFor;
    } else if (bucketFor !== null && typeof bucketFor === 'object' && 'rules' in bucketFor) {
      checkKnownKeys('KeyedBuckets rules', bucketFor, RULES_KEYS);
      if (!Array.isArray(bucketFor.rules)) {
        throw new TypeError(`KeyedBuckets option "rules" must be an array, got ${describe(bucketFor.rules)}`);
      }
      this.rules = bucketFor.rules.map((rule, index) => compileRule(rule, index));
      if (bucketFor.default !== undefined) this.fallback = checkKeyLimits(bucketFor.default, 'KeyedBuckets rules.default');
    } else {
      this.uniform = checkKeyLimits(bucketFor as KeyLimits, 'KeyedBuckets bucketFor');
    }
  }

  /** The limits of `key`, or its limiter. Throws naming the key if it has none or they are invalid. */
  resolve(key: K): LedgerLimits | TokenLimiter {
    const base = this.uniform ?? this.fromRules(key) ?? this.fromFactory(key);
    if (this.overrides.size === 0 || isLimiter(base)) return base;
    const patch = this.overrides.get(key);
    return patch === undefined ? base : { ...base, ...patch };
  }

  /**
   * Sets (merging with an earlier one) or clears (`null`) the override of `key`, and
   * returns the key's resolved limits. Throws for an invalid patch, a key backed by a
   * `TokenLimiter`, or one override too many.
   */
  override(key: K, patch: KeyLimitsPatch | null): LedgerLimits {
    if (patch !== null) checkLimitsPatch(patch);
    const current = this.overrides.get(key);
    if (patch === null) this.overrides.delete(key);
    else if (current === undefined && this.overrides.size >= this.maxOverrides) {
      throw new RangeError(
        `KeyedBuckets.configure: already ${this.maxOverrides} keys configured (maxKeys); clear one with configure(key, null)`,
      );
    }
    const resolved = this.resolve(key);
    if (isLimiter(resolved)) {
      throw new TypeError(`KeyedBuckets.configure: key ${describe(key)} is limited by a TokenLimiter; configure that limiter instead`);
    }
    if (patch !== null) this.overrides.set(key, { ...current, ...patch });
    return this.resolve(key) as LedgerLimits;
  }

  /** Number of keys with an override. */
  get overrideCount(): number {
    return this.overrides.size;
  }

  private fromRules(key: K): LedgerLimits | undefined {
    const rules = this.rules;
    if (rules === undefined) return undefined;
    for (let index = 0; index < rules.length; index++) {
      const rule = rules[index]!;
      let matched: boolean;
      try {
        matched = rule.matches(key);
      } catch (error) {
        throw annotate(error, `KeyedBuckets rules[${index}].match(${describe(key)})`);
      }
      if (matched) return rule.limits;
    }
    if (this.fallback !== undefined) return this.fallback;
    throw new RangeError(`KeyedBuckets: no rule matches key ${describe(key)} and there is no default`);
  }

  private fromFactory(key: K): LedgerLimits | TokenLimiter {
    const made = this.factory!(key);
    if (isLimiter(made)) return made;
    return checkKeyLimits(made, `KeyedBuckets bucketFor(${describe(key)})`);
  }
}

/** Validates one key's limits; errors name the place (`context`) and the option. */
export function checkKeyLimits(limits: KeyLimits, context: string): LedgerLimits {
  try {
    checkKnownKeys(context, limits, KEY_LIMIT_KEYS, misplacedBucketOption);
    const checked = checkBucketOptions(limits);
    if (checked.initialTokens !== checked.capacity) {
      throw new RangeError(
        `option "initialTokens" (${checked.initialTokens}) must equal capacity ${checked.capacity}: a key is forgotten once full, so every key starts full`,
      );
    }
    return { capacity: checked.capacity, refillRate: checked.refillRate, interval: checked.interval };
  } catch (error) {
    throw annotate(error, context);
  }
}

function checkLimitsPatch(patch: KeyLimitsPatch): void {
  checkKnownKeys('KeyedBuckets.configure', patch, LIMIT_KEYS);
  for (const option of LIMIT_KEYS) {
    if (patch[option] !== undefined) checkNumberOption('KeyedBuckets.configure', option, patch[option], 'positive');
  }
}

function compileRule<K>(rule: KeyRule<K>, index: number): CompiledRule<K> {
  const place = `KeyedBuckets rules[${index}]`;
  checkKnownKeys(place, rule, RULE_KEYS);
  return { matches: compileMatch(rule.match, place), limits: checkKeyLimits(rule.limit, `${place}.limit`) };
}

function compileMatch<K>(match: KeyRule<K>['match'], place: string): Matcher<K> {
  if (typeof match === 'function') return match;
  if (match instanceof RegExp) {
    // A global or sticky RegExp keeps state between tests (lastIndex): use a stateless copy.
    const pattern = new RegExp(match.source, match.flags.replace(/[gy]/g, ''));
    return (key) => pattern.test(String(key));
  }
  if (typeof match === 'string') {
    if (!match.includes('*')) return (key) => String(key) === match;
    const source = match
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    const pattern = new RegExp(`^${source}$`, 's');
    return (key) => pattern.test(String(key));
  }
  throw new TypeError(`${place}.match must be a string, a RegExp or a function, got ${describe(match)}`);
}

/** Prefixes an error's message with where it happened, keeping its class. */
export function annotate(error: unknown, context: string): unknown {
  if (error instanceof Error && !error.message.startsWith(context)) error.message = `${context}: ${error.message}`;
  return error;
}
