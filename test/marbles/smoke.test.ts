import { describe, it } from 'vitest';
import { throttleByTokens, TokenBucket } from '../../src';
import { createTestScheduler } from '../support/marbles';

describe('smoke', () => {
  it('capacity 3, 1 token / 10 ms, six values at 0', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable }) => {
      const source = cold('(abcdef|)');
      const expected = '   (abc) 5ms d 9ms e 9ms (f|)';
      expectObservable(source.pipe(throttleByTokens({ capacity: 3, refillRate: 1, interval: 10 }))).toBe(expected);
    });
  });
});
