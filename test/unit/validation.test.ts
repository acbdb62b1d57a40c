import { describe, expect, it } from 'vitest';
import { checkChoice, checkCost, checkCostWithin, checkKnownKeys, checkNumberOption } from '../../src/shared/checks';
import { describe as describeValue } from '../../src/shared/describe';

function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('describe (values in error messages)', () => {
  it('quotes strings and names other kinds', () => {
    expect(describeValue('x')).toBe('"x"');
    expect(describeValue(1.5)).toBe('1.5');
    expect(describeValue(Number.NaN)).toBe('NaN');
    expect(describeValue(-Infinity)).toBe('-Infinity');
    expect(describeValue(true)).toBe('true');
    expect(describeValue(10n)).toBe('10');
    expect(describeValue(null)).toBe('null');
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue(() => 1)).toBe('a function');
    expect(describeValue([1])).toBe('an array');
    expect(describeValue({ a: 1 })).toBe('an object');
  });
});

describe('checkCost', () => {
  it('accepts finite numbers >= 0', () => {
    for (const cost of [0, 1e-12, 0.5, 3, 1e300]) expect(() => checkCost(cost)).not.toThrow();
  });

  it('refuses non-numbers with a TypeError and bad numbers with a RangeError, naming the value', () => {
    const cases: Array<[unknown, ErrorConstructor, string]> = [
      ['3', TypeError, 'cost must be a number, got "3"'],
      [null, TypeError, 'cost must be a number, got null'],
      [{}, TypeError, 'cost must be a number, got an object'],
      [2n, TypeError, 'cost must be a number, got 2'],
      [-1, RangeError, 'cost must be a finite number >= 0, got -1'],
      [-1e-300, RangeError, 'cost must be a finite number >= 0, got -1e-300'],
      [Number.NaN, RangeError, 'cost must be a finite number >= 0, got NaN'],
      [Infinity, RangeError, 'cost must be a finite number >= 0, got Infinity'],
    ];
    for (const [cost, type, message] of cases) {
      const error = thrown(() => checkCost(cost));
      expect(error, message).toBeInstanceOf(type);
      expect(error.message).toBe(message);
    }
  });
});

describe('checkCostWithin', () => {
  it('accepts a cost up to capacity, refuses one above it naming both', () => {
    expect(() => checkCostWithin(3, 3)).not.toThrow();
    const error = thrown(() => checkCostWithin(3.5, 3));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toBe('cost 3.5 exceeds capacity 3');
    expect(thrown(() => checkCostWithin(Number.NaN, 3)).message).toBe('cost must be a finite number >= 0, got NaN');
  });
});

describe('checkNumberOption', () => {
  it('returns a valid value', () => {
    expect(checkNumberOption('T', 'x', 2, 'positive')).toBe(2);
    expect(checkNumberOption('T', 'x', 0, 'non-negative')).toBe(0);
    expect(checkNumberOption('T', 'x', Infinity, 'non-negative', true)).toBe(Infinity);
  });

  it('names the owner, option, rule and value', () => {
    const cases: Array<[unknown, Parameters<typeof checkNumberOption>[3], boolean, ErrorConstructor, string]> = [
      [0, 'positive', false, RangeError, 'T option "x" must be a finite number > 0, got 0'],
      [-0.5, 'non-negative', false, RangeError, 'T option "x" must be a finite number >= 0, got -0.5'],
      [Infinity, 'positive', false, RangeError, 'T option "x" must be a finite number > 0, got Infinity'],
      [Number.NaN, 'non-negative', true, RangeError, 'T option "x" must be a number >= 0, got NaN'],
      [-Infinity, 'non-negative', true, RangeError, 'T option "x" must be a number >= 0, got -Infinity'],
      ['1', 'positive', false, TypeError, 'T option "x" must be a finite number > 0, got "1"'],
      [undefined, 'positive', false, TypeError, 'T option "x" must be a finite number > 0, got undefined'],
    ];
    for (const [value, rule, allowInfinity, type, message] of cases) {
      const error = thrown(() => checkNumberOption('T', 'x', value, rule, allowInfinity));
      expect(error, message).toBeInstanceOf(type);
      expect(error.message).toBe(message);
    }
  });
});

describe('checkKnownKeys', () => {
  it('accepts known keys and refuses an unknown one, listing the known', () => {
    expect(() => checkKnownKeys('T', { a: 1 }, ['a', 'b'])).not.toThrow();
    expect(() => checkKnownKeys('T', {}, ['a'])).not.toThrow();
    const error = thrown(() => checkKnownKeys('T', { a: 1, c: 2 }, ['a', 'b']));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe('T has no option "c" (known: a, b)');
  });

  it('refuses a non-object', () => {
    expect(thrown(() => checkKnownKeys('T', null as never, ['a'])).message).toBe('T options must be an object, got null');
    expect(thrown(() => checkKnownKeys('T', 'x' as never, ['a'])).message).toBe('T options must be an object, got "x"');
  });
});

describe('checkChoice', () => {
  it('returns a listed choice and refuses others, listing them', () => {
    expect(checkChoice('T', 'mode', 'b', ['a', 'b'] as const)).toBe('b');
    const error = thrown(() => checkChoice('T', 'mode', 'c', ['a', 'b'] as const));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe('T option "mode" must be one of "a", "b", got "c"');
    expect(thrown(() => checkChoice('T', 'mode', 1, ['a'] as const)).message).toBe('T option "mode" must be one of "a", got 1');
  });
});
