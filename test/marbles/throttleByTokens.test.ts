import { describe, expect, it } from 'vitest';
import { EMPTY, NEVER, Observable, repeat, retry, take, throwError } from 'rxjs';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { throttleByTokens } from '../../src/operators/throttleByTokens';
import { createTestScheduler } from '../support/marbles';
import { itHandlesEmptyNeverAndErrorSources } from '../support/sourceCases';
import { expectNothingLeft, probeAt } from '../support/virtualTime';

describe('delay: capacity 3, 1 token / 10 ms, cost 1 (the README example)', () => {
  const options = { capacity: 3, refillRate: 1, interval: 10 };

  it('six values at 0 ms are emitted at 0, 0, 0, 10, 20, 30 and completion waits for the last', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('(abcdef|)                 ');
      const expected = '   (abc) 5ms d 9ms e 9ms (f|)';
      expectObservable(source.pipe(throttleByTokens(options))).toBe(expected);
    });
  });

  it('values spaced wider than the refill period pass untouched', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a 9ms b 9ms c 9ms d 9ms e|');
      const expected = '   a 9ms b 9ms c 9ms d 9ms e|';
      expectObservable(source.pipe(throttleByTokens(options))).toBe(expected);
    });
  });

  it('a burst after a pause uses the refilled capacity (never more than capacity)', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      // 3 spent at 0; by 100 ms the bucket is full again (3, not 10).
      const source = cold('(abc) 95ms (defgh|)              ');
      const expected = '   (abc) 95ms (def) 5ms g 9ms (h|)';
      expectObservable(source.pipe(throttleByTokens(options))).toBe(expected);
    });
  });
});

describe('delay: capacity 1.5, refill 0.25 / 2.5 ms (0.1 token/ms), cost 0.7 (fractional)', () => {
  it('emits at the exact instants the fractional costs are covered', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      // 1.5 → 0.8 → 0.1 at 0; 0.7 covered at 6 ms; the next 0.7 at 13 ms.
      const source = cold('(abcd|)          ');
      const expected = '   (ab) 2ms c 6ms (d|)';
      const throttled = source.pipe(throttleByTokens({ capacity: 1.5, refillRate: 0.25, interval: 2.5 }, { cost: 0.7 }));
      expectObservable(throttled).toBe(expected);
    });
  });

  it('initialTokens 0.35 and a fractional interval: first value at 3.5 ms (virtual time is exact)', () => {
    const ts = createTestScheduler();
    const times: number[] = [];
    ts.run(({ cold }) => {
      const bucket = new TokenBucket({ capacity: 1.5, refillRate: 0.25, interval: 2.5, initialTokens: 0.35 });
      cold('(ab|)')
        .pipe(throttleByTokens(bucket, { cost: 0.7 }))
        .subscribe(() => times.push(ts.now()));
    });
    expect(times).toHaveLength(2);
    expect(times[0]).toBeCloseTo(3.5, 9);
    expect(times[1]).toBeCloseTo(10.5, 9);
  });
});

describe('delay: capacity 5, 1 token / ms, weighted costs', () => {
  const options = { capacity: 5, refillRate: 1, interval: 1 };

  it('a heavy value at the head is not overtaken by lighter ones behind it', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const costs: Record<string, number> = { a: 5, b: 4, c: 1, d: 1 };
      // b (4) is covered at 4 ms; c (1) would be covered at 1 ms but waits behind b: 5 ms; d: 6 ms.
      const source = cold('abcd|    ');
      const expected = '   a---bc(d|)';
      expectObservable(source.pipe(throttleByTokens(options, { cost: (v: string) => costs[v]! }))).toBe(expected);
    });
  });

  it('the cost function receives (value, index) for every value, refused or not', () => {
    const calls: Array<[string, number]> = [];
    createTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('abc|    ');
      const expected = '   a-b-(c|)';
      const cost = (value: string, index: number): number => {
        calls.push([value, index]);
        return index === 0 ? 5 : 2; // a empties the bucket; b (2) is covered at 2 ms, c at 4 ms
      };
      expectObservable(source.pipe(throttleByTokens(options, { cost }))).toBe(expected);
    });
    expect(calls).toEqual([
      ['a', 0],
      ['b', 1],
      ['c', 2],
    ]);
  });

  it('a zero cost passes at once, but still in order behind a waiting value', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const costs: Record<string, number> = { a: 5, b: 2, z: 0 };
      // b (2) is covered at 2 ms; z (0) arrives then, behind b, and passes with it.
      const source = cold('abz 5ms   |');
      const expected = '   a-(bz) 2ms |';
      expectObservable(source.pipe(throttleByTokens(options, { cost: (v: string) => costs[v]! }))).toBe(expected);
    });
  });
});

describe('delay: a shared TokenBucket (capacity 1, 1 token / 4 ms) across two pipes', () => {
  it('keeps one FIFO queue across both streams', () => {
    createTestScheduler().run(({ hot, expectObservable }) => {
      const bucket = new TokenBucket({ capacity: 1, refillRate: 1, interval: 4 });
      const first = hot('  -a-b-c|              ');
      const second = hot(' --x-y|               ');
      const expected1 = '  -a-------b-------(c|)';
      const expected2 = '  -----x-------(y|)    ';
      expectObservable(first.pipe(throttleByTokens(bucket))).toBe(expected1);
      expectObservable(second.pipe(throttleByTokens(bucket))).toBe(expected2);
    });
  });

  it('a heavy head of one stream holds back the light values of the other', () => {
    createTestScheduler().run(({ hot, expectObservable }) => {
      const bucket = new TokenBucket({ capacity: 2, refillRate: 1, interval: 4, initialTokens: 0 });
      const heavy = hot('  h|      ');
      const light = hot('  -l|     ');
      const expected1 = '  --------(h|)    ';
      const expected2 = '  ------------(l|)';
      expectObservable(heavy.pipe(throttleByTokens(bucket, { cost: 2 }))).toBe(expected1);
      expectObservable(light.pipe(throttleByTokens(bucket, { cost: 1 }))).toBe(expected2);
    });
  });
});

describe('delay: options instead of a bucket (capacity 2, 1 token / 10 ms)', () => {
  const options = { capacity: 2, refillRate: 1, interval: 10 };

  it('gives each subscriber a fresh, full bucket', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const throttled = cold('(abc|)').pipe(throttleByTokens(options));
      const expected = '      (ab) 6ms (c|)';
      expectObservable(throttled).toBe(expected);
      expectObservable(throttled).toBe(expected);
    });
  });

  it('retry resubscribes with a full bucket', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('ab#  ');
      const expected = '   abab#';
      expectObservable(source.pipe(throttleByTokens(options), retry(1))).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(['^-!', '--^-!']); // released at its error, then subscribed again
    });
  });

  it('repeat resubscribes with a full bucket', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('(ab|)  ');
      const expected = '   (abab|)';
      expectObservable(source.pipe(throttleByTokens(options), repeat(2))).toBe(expected);
    });
  });

  it('whereas a shared bucket is one limit across retry', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const bucket = new TokenBucket(options);
      const source = cold('(ab|)              ');
      const expected = '   (ab) 6ms a 9ms (b|)';
      expectObservable(source.pipe(throttleByTokens(bucket), repeat(2))).toBe(expected);
    });
  });

  itHandlesEmptyNeverAndErrorSources(() => throttleByTokens(options));

  it("unsubscribing mid-wait releases the source and leaves no timer of the subscription's own bucket", () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('(abc)  ');
      const unsub = '     ^ 5ms !';
      const expected = '   (ab)   ';
      expectObservable(source.pipe(throttleByTokens(options)), unsub).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(unsub);
      probeAt(ts, 8, () => expect(ts.actions.length).toBe(0)); // c's timer (due at 10) went with the subscription
    });
  });
});

describe('delay: empty, never, error and unsubscribe (capacity 2, 1 token / 10 ms, shared bucket)', () => {
  const options = { capacity: 2, refillRate: 1, interval: 10 };

  it('empty source: completes at once and touches nothing', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const bucket = new TokenBucket(options);
      const empty = cold('|');
      expectObservable(empty.pipe(throttleByTokens(bucket))).toBe('|');
      expectSubscriptions(empty.subscriptions).toBe('(^!)');
      expectObservable(EMPTY.pipe(throttleByTokens(bucket))).toBe('|');
      probeAt(ts, 1, () => {
        expect(bucket.stats()).toMatchObject({ available: 2, granted: 0, queued: 0, timerScheduled: false });
        expectNothingLeft(ts, bucket);
      });
    });
  });

  it('never source: never emits, and unsubscribing leaves nothing behind', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const bucket = new TokenBucket(options);
      const never = cold('-');
      expectObservable(never.pipe(throttleByTokens(bucket)), '^ 50ms !').toBe('-');
      expectSubscriptions(never.subscriptions).toBe('^ 50ms !');
      expectObservable(NEVER.pipe(throttleByTokens(bucket)), '^ 50ms !').toBe('-');
      probeAt(ts, 60, () => expectNothingLeft(ts, bucket));
    });
  });

  it('error source: errors at once', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const bucket = new TokenBucket(options);
      const failing = cold('#');
      expectObservable(failing.pipe(throttleByTokens(bucket))).toBe('#');
      expectSubscriptions(failing.subscriptions).toBe('(^!)');
      expectObservable(throwError(() => 'boom').pipe(throttleByTokens(bucket))).toBe('#', undefined, 'boom');
    });
  });

  it('a source error propagates at once (not after the waiting values) and releases them from the bucket', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const bucket = new TokenBucket(options);
      const source = cold('(abcd) 3ms #');
      const expected = '   (ab) 5ms #';
      expectObservable(source.pipe(throttleByTokens(bucket))).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe('^ 8ms !');
      probeAt(ts, 9.5, () => {
        // c and d were queued at 0; at 9 (the error) they were withdrawn, having taken nothing.
        expect(bucket.stats()).toMatchObject({ granted: 2, cancelled: 2 });
        expect(bucket.available()).toBeCloseTo(0.95, 12);
        expectNothingLeft(ts, bucket);
      });
    });
  });

  it('the waiting values are released before the error is delivered', () => {
    const seen: Array<[number, number]> = [];
    createTestScheduler().run(({ cold }) => {
      const bucket = new TokenBucket(options);
      cold('(abcd) 3ms #')
        .pipe(throttleByTokens(bucket))
        .subscribe({ error: () => seen.push([bucket.stats().queued, bucket.stats().cancelled]) });
    });
    expect(seen).toEqual([[0, 2]]);
  });

  it('unsubscribing mid-wait withdraws the waiting values: no tokens taken, no timer, no action left', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const bucket = new TokenBucket(options);
      const source = cold('(abcde)     ');
      const unsub = '     ^ 15ms !     ';
      const expected = '   (ab) 6ms c';
      expectObservable(source.pipe(throttleByTokens(bucket)), unsub).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(unsub);
      probeAt(ts, 17, () => {
        expect(bucket.stats()).toMatchObject({ granted: 3, cancelled: 2 });
        // c took the last token at 10; 7 ms of refill since.
        expect(bucket.available()).toBeCloseTo(0.7, 12);
        expectNothingLeft(ts, bucket);
      });
    });
  });

  it('unsubscribing withdraws a heavy head without granting the lighter values of the same stream behind it', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const bucket = new TokenBucket({ capacity: 3, refillRate: 1, interval: 10, initialTokens: 0.5 });
      const costs: Record<string, number> = { a: 2, b: 1, c: 0 };
      const source = cold('(abc)       ');
      const unsub = '     ^ 9ms !     ';
      const expected = '   -          ';
      expectObservable(source.pipe(throttleByTokens(bucket, { cost: (v: string) => costs[v]! })), unsub).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(unsub);
      probeAt(ts, 11, () => {
        // At 10 (the unsubscription) 1.5 tokens were there: enough for b, which must not take them.
        expect(bucket.stats()).toMatchObject({ granted: 0, cancelled: 3 });
        expect(bucket.available()).toBeCloseTo(1.6, 12);
        expectNothingLeft(ts, bucket);
      });
    });
  });

  it('unsubscribing from within next (take(1)) while others wait withdraws them', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const bucket = new TokenBucket({ ...options, initialTokens: 0 });
      const source = cold('(abc)     ');
      const expected = '   10ms (a|)';
      expectObservable(source.pipe(throttleByTokens(bucket), take(1))).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe('^ 9ms !'); // released by take(1) at 10
      probeAt(ts, 11, () => {
        expect(bucket.stats()).toMatchObject({ granted: 1, cancelled: 2 });
        expectNothingLeft(ts, bucket);
      });
    });
  });

  it('completion waits for the queue, then leaves nothing behind', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const bucket = new TokenBucket(options);
      const source = cold('(abcd|)        ');
      const expected = '   (ab) 6ms c 9ms (d|)';
      expectObservable(source.pipe(throttleByTokens(bucket))).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe('(^!)'); // released when it completes, while c and d wait
      probeAt(ts, 21, () => {
        expect(bucket.stats()).toMatchObject({ granted: 4, cancelled: 0 });
        expectNothingLeft(ts, bucket);
      });
    });
  });

  it('the source is released when it completes, though values still wait; a value it pushes after completing is ignored', () => {
    let released = 0;
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const bucket = new TokenBucket(options);
      const source = new Observable<string>((subscriber) => {
        subscriber.next('a');
        subscriber.next('b');
        subscriber.next('c');
        subscriber.complete();
        subscriber.next('x'); // a misbehaving source: must not be emitted
        return () => released++;
      });
      expectObservable(source.pipe(throttleByTokens(bucket))).toBe('(ab) 6ms (c|)');
      // The same with a well-behaved cold source (its own bucket): released at 0, while c waits.
      const coldSource = cold('(abc|)');
      expectObservable(coldSource.pipe(throttleByTokens(options))).toBe('(ab) 6ms (c|)');
      expectSubscriptions(coldSource.subscriptions).toBe('(^!)');
    });
    expect(released).toBe(1);
  });

  it("a limiter of the user's own that throws errors the stream with its error", () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const bucket = new TokenBucket(options);
      const failing = Object.assign(Object.create(bucket) as TokenBucket, {
        takeNow(): boolean {
          throw new Error('store is gone');
        },
      });
      const source = cold('a-b|');
      expectObservable(source.pipe(throttleByTokens(failing))).toBe('#', undefined, new Error('store is gone'));
      expectSubscriptions(source.subscriptions).toBe('(^!)');
    });
  });

  it('a synchronous source that keeps pushing after the stream failed is ignored', () => {
    let pushedAfterError = 0;
    createTestScheduler().run(({ expectObservable }) => {
      const bucket = new TokenBucket(options);
      const source = new Observable<number>((subscriber) => {
        subscriber.next(1);
        subscriber.next(-1); // the cost function rejects it: the stream errors
        pushedAfterError++;
        subscriber.next(2);
      });
      const throttled = source.pipe(throttleByTokens(bucket, { cost: (v: number) => (v < 0 ? Number.NaN : 1) }));
      expectObservable(throttled).toBe(
        '(a#)',
        { a: 1 },
        new RangeError(
          'throttleByTokens: cost(value #1) returned NaN; the cost function must return a finite number >= 0 (tokens) for every value',
        ),
      );
    });
    expect(pushedAfterError).toBe(1);
  });
});
