/**
 * Each operator observes its source with its own state object (`SourceObserver`). These tests
 * hold it to what RxJS's own operators do: when the output ends during a synchronous
 * subscribe (a downstream `take`, or a callback that throws), the source stops at once
 * instead of pushing the rest of its values into a closed stream; and a throwing user
 * callback errors the output rather than escaping as an unhandled error.
 */
import { describe, expect, it } from 'vitest';
import { firstValueFrom, Observable, of, range, take, tap, toArray, lastValueFrom } from 'rxjs';
import { adaptiveThrottle } from '../../src/operators/adaptiveThrottle';
import { perKey } from '../../src/operators/perKey';
import { throttleByTokens } from '../../src/operators/throttleByTokens';

const plenty = { capacity: 1e9, refillRate: 1e9 };
const VALUES = 100_000;

/** A synchronous source that counts what it pushes and pushes while its subscriber is open. */
function countingRange(): { source: Observable<number>; pushed: () => number } {
  let pushed = 0;
  return { source: range(0, VALUES).pipe(tap(() => pushed++)), pushed: () => pushed };
}

describe('throttleByTokens: the source stops when the output ends', () => {
  it('a downstream take(1) stops a synchronous source after one value', () => {
    const { source, pushed } = countingRange();
    source.pipe(throttleByTokens(plenty), take(1)).subscribe();
    expect(pushed()).toBe(1);
  });

  it('a throwing cost function errors the output and stops the source', () => {
    const { source, pushed } = countingRange();
    const errors: unknown[] = [];
    source
      .pipe(
        throttleByTokens(plenty, {
          cost: (value: number) => {
            if (value === 3) throw new Error('bad value 3');
            return 1;
          },
        }),
      )
      .subscribe({ error: (error) => errors.push(error) });
    expect(errors).toEqual([new Error('bad value 3')]);
    expect(pushed()).toBe(4);
  });

  it('a source that loops while its subscriber is open ends (it would spin forever otherwise)', () => {
    let pushed = 0;
    const looping = new Observable<number>((subscriber) => {
      while (!subscriber.closed && pushed < 1_000_000) subscriber.next(pushed++);
    });
    looping.pipe(throttleByTokens(plenty), take(2)).subscribe();
    expect(pushed).toBe(2);
  });
});

describe('perKey: the source stops when the output ends', () => {
  it('a downstream take(1) stops a synchronous source after one value', () => {
    const { source, pushed } = countingRange();
    source
      .pipe(
        perKey((value: number) => value % 10, plenty),
        take(1),
      )
      .subscribe();
    expect(pushed()).toBe(1);
  });

  it('a throwing keyOf errors the output and stops the source', () => {
    const { source, pushed } = countingRange();
    const errors: unknown[] = [];
    source
      .pipe(
        perKey((value: number) => {
          if (value === 2) throw new Error('no key for 2');
          return value;
        }, plenty),
      )
      .subscribe({ error: (error) => errors.push(error) });
    expect(errors).toEqual([new Error('no key for 2')]);
    expect(pushed()).toBe(3);
  });
});

describe('adaptiveThrottle: the source stops when the output ends; callbacks that throw error the output', () => {
  it('a downstream take(1) stops a synchronous source after one value', () => {
    const { source, pushed } = countingRange();
    source
      .pipe(
        adaptiveThrottle((value: number) => of(value), { bucket: plenty }),
        take(1),
      )
      .subscribe();
    expect(pushed()).toBe(1);
  });

  it('a throwing request errors the output and stops the source', () => {
    const { source, pushed } = countingRange();
    const errors: unknown[] = [];
    source
      .pipe(
        adaptiveThrottle(
          (value: number) => {
            if (value === 1) throw new Error('cannot send 1');
            return of(value);
          },
          { bucket: plenty },
        ),
      )
      .subscribe({ error: (error) => errors.push(error) });
    expect(errors).toEqual([new Error('cannot send 1')]);
    expect(pushed()).toBe(2);
  });

  it('a throwing isThrottled or feedback errors the output with its error', async () => {
    const throwingIsThrottled = lastValueFrom(
      of(1, 2).pipe(
        adaptiveThrottle((value: number) => of(value), {
          bucket: plenty,
          isThrottled: () => {
            throw new Error('isThrottled broke');
          },
        }),
        toArray(),
      ),
    );
    await expect(throwingIsThrottled).rejects.toThrow('isThrottled broke');
    const throwingFeedback = firstValueFrom(
      of(1).pipe(
        adaptiveThrottle((value: number) => of(value), {
          bucket: plenty,
          feedback: () => {
            throw new Error('feedback broke');
          },
        }),
      ),
    );
    await expect(throwingFeedback).rejects.toThrow('feedback broke');
  });
});
