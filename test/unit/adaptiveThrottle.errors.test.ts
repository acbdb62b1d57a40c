import { describe, expect, it } from 'vitest';
import { of, type ObservableInput } from 'rxjs';
import { adaptiveThrottle } from '../../src/operators/adaptiveThrottle';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { createTestScheduler } from '../support/marbles';

/** Errors that tell the fix (issue 13): each names adaptiveThrottle and says what to write instead. */
describe('adaptiveThrottle: mistakes users make, and the message each gets', () => {
  const request = (): ObservableInput<number> => of(200);

  it('a limiter passed as the second argument instead of { bucket }', () => {
    const bucket = new TokenBucket({ capacity: 5, refillRate: 5 });
    expect(() => adaptiveThrottle(request, bucket as never)).toThrow(
      'adaptiveThrottle: the second argument is a config object; pass `{ bucket }`, not the bucket itself',
    );
  });

  it('no config at all, or not an object', () => {
    expect(() => adaptiveThrottle(request, undefined as never)).toThrow(
      /^adaptiveThrottle: the second argument is a config object; pass `\{ bucket \}` .*got undefined$/,
    );
    expect(() => adaptiveThrottle(request, 5 as never)).toThrow(/the second argument is a config object; pass `\{ bucket \}`.*got 5/);
  });

  it('the bucket’s options passed directly instead of { bucket: { capacity, refillRate } }', () => {
    expect(() => adaptiveThrottle(request, { capacity: 5, refillRate: 5 } as never)).toThrow(
      "adaptiveThrottle: the second argument is a config object, not the bucket's options; pass `{ bucket: { capacity, refillRate } }`",
    );
  });

  it('a config without a bucket', () => {
    expect(() => adaptiveThrottle(request, { concurrency: 2 } as never)).toThrow(
      /adaptiveThrottle option "bucket" is required: pass \{ bucket:/,
    );
  });

  it('throttleByTokens options given to adaptiveThrottle get a hint', () => {
    const bucket = { capacity: 5, refillRate: 5 };
    for (const option of ['strategy', 'maxWait', 'overflow', 'onDrop', 'priority']) {
      expect(() => adaptiveThrottle(request, { bucket, [option]: 'x' } as never)).toThrow(
        new RegExp(
          `adaptiveThrottle has no option "${option}" \\(an option of throttleByTokens\\).*maxQueue.*throttleByTokens\\(bucket, \\{ ${option} \\}\\)`,
        ),
      );
    }
  });

  it('minRate above maxRate', () => {
    expect(() => adaptiveThrottle(request, { bucket: { capacity: 5, refillRate: 5 }, minRate: 10, maxRate: 2 })).toThrow(
      'adaptiveThrottle option "minRate" (10) exceeds "maxRate" (2); write minRate <= maxRate',
    );
  });

  it('a request that is not a function', () => {
    expect(() => adaptiveThrottle({} as never, { bucket: { capacity: 5, refillRate: 5 } })).toThrow(
      /^adaptiveThrottle: the first argument is the request, a function \(value, index, signal\) => ObservableInput; got an object$/,
    );
  });

  it('a request returning something that is not an ObservableInput errors the stream naming the value’s index and what it returned', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const bucket = { capacity: 5, refillRate: 5 };
      const returnsPlainObject = (value: string) => (value === 'b' ? ({ status: 200 } as never) : of(value));
      expectObservable(cold('ab|').pipe(adaptiveThrottle(returnsPlainObject, { bucket }))).toBe(
        'a#',
        { a: 'a' },
        expect.objectContaining({
          name: 'TypeError',
          message: expect.stringMatching(
            /^adaptiveThrottle: request\(value #1\) returned an object, which is not an ObservableInput; return an Observable/,
          ),
        }),
      );
    });
  });
});

describe('adaptiveThrottle: a cost function returning a bad cost', () => {
  it('errors the stream naming adaptiveThrottle and the value’s index', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const cost = (value: { size?: number }) => value.size as number;
      const request = () => of(200);
      expectObservable(
        cold('ab|', { a: { size: 1 }, b: {} }).pipe(adaptiveThrottle(request, { bucket: { capacity: 5, refillRate: 5 }, cost })),
      ).toBe(
        'a#',
        { a: 200 },
        expect.objectContaining({ message: expect.stringMatching(/^adaptiveThrottle: cost\(value #1\) returned undefined/) }),
      );
    });
  });
});
