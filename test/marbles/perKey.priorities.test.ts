import { describe, expect, it } from 'vitest';
import { perKey } from '../../src/operators/perKey';
import { createTestScheduler } from '../support/marbles';

describe('perKey priorities: one key, capacity 1, 1 token / 10 ms', () => {
  const oneKey = () => 'k';
  const limits = { capacity: 1, refillRate: 1, interval: 10 };

  it("a value of higher priority goes ahead of its key's waiting values, FIFO within a level", () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('(abyz|)');
      const priority = (value: string) => (value === 'y' || value === 'z' ? 1 : 0);
      expectObservable(source.pipe(perKey(oneKey, limits, { priority }))).toBe('a 9ms y 9ms z 9ms (b|)');
      expectSubscriptions(source.subscriptions).toBe('(^!)');
    });
  });

  it('keys never wait for each other whatever the priorities', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const keyOf = (value: string) => value.toLowerCase();
      const priority = (value: string) => (value === value.toUpperCase() ? 1 : 0);
      expectObservable(cold('(aAb|)').pipe(perKey(keyOf, limits, { priority }))).toBe('(ab) 6ms (A|)');
    });
  });

  it('a priority that is not a finite number errors the stream naming it, or the operator at creation', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a').pipe(perKey(oneKey, limits, { priority: () => Number.NaN }))).toBe(
        '#',
        undefined,
        new RangeError('perKey option "priority" must be a finite number (higher goes first, default 0), got NaN'),
      );
    });
    expect(() => perKey(oneKey, limits, { priority: Infinity })).toThrow(RangeError);
  });
});
