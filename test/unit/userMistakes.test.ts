/**
 * The mistakes users make with throttleByTokens, perKey and the buckets, and the messages
 * they get: each names the operator, the option or value, and what to write instead.
 */
import { describe, expect, it } from 'vitest';
import { of } from 'rxjs';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { KeyedBuckets } from '../../src/limiters/keyed/KeyedBuckets';
import { perKey } from '../../src/operators/perKey';
import { throttleByTokens } from '../../src/operators/throttleByTokens';
import { createTestScheduler } from '../support/marbles';

const limits = { capacity: 2, refillRate: 1, interval: 10 };

describe('throttleByTokens: the first argument', () => {
  it('{ bucket } says to pass the bucket itself', () => {
    const bucket = new TokenBucket(limits);
    expect(() => throttleByTokens({ bucket } as never)).toThrow(
      new TypeError(
        'throttleByTokens bucket has no option "bucket": pass the bucket itself (a TokenBucket) or its options { capacity, refillRate }, not { bucket }',
      ),
    );
  });

  it('an operator option among the bucket options says it belongs in the second argument', () => {
    expect(() => throttleByTokens({ ...limits, strategy: 'drop' } as never)).toThrow(
      new TypeError(
        'throttleByTokens bucket has no option "strategy": "strategy" is an option of the operator, not of the bucket: ' +
          'write throttleByTokens(bucket, { strategy }) or perKey(keyOf, limits, { strategy })',
      ),
    );
  });

  it('a bad bucket option names the operator', () => {
    expect(() => throttleByTokens({ capacity: 0, refillRate: 1 })).toThrow(
      new RangeError('throttleByTokens bucket option "capacity" must be a finite number > 0, got 0'),
    );
  });

  it('no bucket at all says what the first argument is', () => {
    expect(() => throttleByTokens(undefined as never)).toThrow(
      new TypeError(
        'throttleByTokens: the first argument is the bucket (a TokenBucket) or its options { capacity, refillRate }, got undefined',
      ),
    );
  });

  it('a TokenBucket given an operator option says where it goes', () => {
    expect(() => new TokenBucket({ ...limits, maxQueue: 10 } as never)).toThrow(
      'TokenBucket has no option "maxQueue": "maxQueue" is an option of the operator',
    );
  });
});

describe('throttleByTokens: a cost function', () => {
  it('returning undefined errors the stream naming the operator and the value index', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('ab', { a: { size: 1 }, b: {} as { size: number } });
      const result = source.pipe(throttleByTokens(limits, { cost: (message) => message.size }));
      expectObservable(result).toBe(
        'a#',
        { a: { size: 1 } },
        new TypeError(
          'throttleByTokens: cost(value #1) returned undefined; the cost function must return a finite number >= 0 (tokens) for every value',
        ),
      );
      expectSubscriptions(source.subscriptions).toBe('^!');
    });
  });

  it('above capacity errors naming the value, the cost and the capacity', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const result = cold('a', { a: 5 }).pipe(throttleByTokens(limits, { cost: (n) => n }));
      expectObservable(result).toBe(
        '#',
        undefined,
        new RangeError(
          "throttleByTokens: value #0 costs 5, more than the bucket's capacity 2, so it could never be granted; raise capacity or split the value",
        ),
      );
    });
  });

  it('a constant cost that is not a number names the option', () => {
    expect(() => throttleByTokens(limits, { cost: '2' as never })).toThrow(
      new TypeError('throttleByTokens option "cost" must be a finite number >= 0 or a function (value, index) => number, got "2"'),
    );
  });
});

describe('perKey: the limits and the key', () => {
  it('a TokenBucket as the limits says each key needs its own (and TypeScript refuses it)', () => {
    const bucket = new TokenBucket(limits);
    const message =
      'perKey: the second argument is one TokenBucket, which every key would share; pass the limits of each key ' +
      '({ capacity, refillRate }: a bucket per key), a KeyedBuckets, or (key) => limits or a limiter of its own';
    // @ts-expect-error a TokenBucket is not the limits of each key
    expect(() => perKey((v: string) => v, bucket)).toThrow(new TypeError(message));
    // @ts-expect-error the same for KeyedBuckets
    expect(() => new KeyedBuckets(bucket)).toThrow('KeyedBuckets: bucketFor is one TokenBucket, which every key would share');
  });

  it('an operator option among the limits says it belongs in the third argument', () => {
    expect(() => perKey((v: string) => v, { ...limits, strategy: 'drop' } as never)).toThrow(
      'KeyedBuckets bucketFor has no option "strategy": "strategy" is an option of the operator, not of the bucket: write throttleByTokens(bucket, { strategy }) or perKey(keyOf, limits, { strategy })',
    );
  });

  for (const missing of [undefined, null]) {
    it(`keyOf returning ${String(missing)} errors the stream naming the value index`, () => {
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('ab|', { a: { user: 'u1' }, b: {} as { user: string } });
        const result = source.pipe(perKey((event) => (event.user === undefined ? missing : event.user), limits));
        expectObservable(result).toBe(
          'a#',
          { a: { user: 'u1' } },
          new TypeError(`perKey: keyOf returned ${String(missing)} for value #1; return a key (a string, a number...) for every value`),
        );
        expectSubscriptions(source.subscriptions).toBe('^!');
      });
    });
  }

  it('a cost function returning undefined names perKey and the value index', () => {
    let error: unknown;
    of('a', 'b')
      .pipe(perKey((v) => v, limits, { cost: (v) => (v === 'a' ? 1 : (undefined as never)) }))
      .subscribe({ error: (e: unknown) => (error = e) });
    expect(error).toEqual(
      new TypeError(
        'perKey: cost(value #1) returned undefined; the cost function must return a finite number >= 0 (tokens) for every value',
      ),
    );
  });
});
