import { describe, expect, it } from 'vitest';
import { perKey } from '../../src/operators/perKey';
import { KeyedBuckets } from '../../src/limiters/keyed/KeyedBuckets';
import { createTestScheduler } from '../support/marbles';

/** Requests of two lanes: i = interactive, b = batch. */
interface Request {
  readonly lane: 'interactive' | 'batch';
}
const V: Record<'i' | 'b', Request> = { i: { lane: 'interactive' }, b: { lane: 'batch' } };
const lane = (request: Request): string => request.lane;
/** Interactive 9 : batch 1. */
const weight = (key: string): number => (key === 'interactive' ? 9 : 1);

/** The lanes' own limits never bind: only the global one does, 1 token per ms (a frame per grant). */
const lanes = { capacity: 100, refillRate: 100, interval: 1 };
const global = { capacity: 1, refillRate: 1, interval: 1 };

describe('perKey weight: interactive 9 : batch 1 over one global limit of 1 token / ms', () => {
  it('backlogged together, the lanes share the global tokens 9 to 1, one grant per ms', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('(bbbbiiiiiiiiiiiiiiiiiiiiiiiiiii|)', V); // 4 batch, then 27 interactive, at 0
      // b takes the global token at 0 and asks for the next (1). Then turns: interactive 9, batch 1.
      const expected = '   bbiiiiiiiiibiiiiiiiiibiiiiiiii(i|)';
      expectObservable(source.pipe(perKey(lane, lanes, { global, weight }))).toBe(expected, V);
    });
  });

  it('a lane alone gets the whole global rate, whatever its weight', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('(bbbbb|)', V).pipe(perKey(lane, lanes, { global, weight }))).toBe('bbbb(b|)', V);
      expectObservable(cold('(iiiii|)', V).pipe(perKey(lane, lanes, { global, weight }))).toBe('iiii(i|)', V);
    });
  });

  it('a KeyedBuckets with weights shared by two pipes: the batch pipe gets a grant in ten while both wait', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const keyed = new KeyedBuckets<string>(lanes, { global, weight });
      const batch = cold('(bbb|)', V);
      const interactive = cold('-(iiiiiiiiiiiiiiiiii|)', V); // 18 interactive at 1
      expectObservable(batch.pipe(perKey(lane, keyed))).toBe('           bb---------(b|)', V);
      expectObservable(interactive.pipe(perKey(lane, keyed))).toBe('  --iiiiiiiii-iiiiiiii(i|)', V);
    });
  });

  it('a weight that is not a finite number > 0 errors the stream at that key’s first value, naming the option and the key', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('(ib)', V);
      const broken = (key: string): number => (key === 'batch' ? 0 : 9);
      expectObservable(source.pipe(perKey(lane, lanes, { global, weight: broken }))).toBe(
        '(i#)',
        V,
        new RangeError('KeyedBuckets option "weight" must return a finite number > 0, got 0 for key "batch"'),
      );
      expectSubscriptions(source.subscriptions).toBe('(^!)');
    });
  });

  it('the option is checked when the operator is made, and belongs on the KeyedBuckets when one is passed', () => {
    expect(() => perKey(lane, lanes, { global, weight: 9 as never })).toThrow(
      new TypeError('KeyedBuckets option "weight" must be a function of the key returning a number > 0, got 9'),
    );
    expect(() => perKey(lane, new KeyedBuckets<string>(lanes, { global }), { weight })).toThrow(
      new TypeError('perKey option "weight" applies when given bucket options; set it on the KeyedBuckets instead'),
    );
  });
});
