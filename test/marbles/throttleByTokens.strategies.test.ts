import { describe, expect, it } from 'vitest';
import type { TestScheduler } from 'rxjs/testing';
import { RateLimitExceededError, type RefusalReason } from '../../src/shared/errors';
import { throttleByTokens } from '../../src/operators/throttleByTokens';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { type TokenBucketEvent } from '../../src/limiters/TokenBucketStats';
import { createTestScheduler } from '../support/marbles';
import { itHandlesEmptyNeverAndErrorSources } from '../support/sourceCases';
import { expectNothingLeft, probeAt } from '../support/virtualTime';

/** Runs `subscribe` and returns what the stream did, with virtual times. */
function record<T>(ts: TestScheduler, observable: import('rxjs').Observable<T>) {
  const log = { values: [] as Array<[number, T]>, error: undefined as unknown, errorAt: -1, completedAt: -1 };
  observable.subscribe({
    next: (value) => log.values.push([ts.now(), value]),
    error: (error: unknown) => {
      log.error = error;
      log.errorAt = ts.now();
    },
    complete: () => (log.completedAt = ts.now()),
  });
  return log;
}

describe("strategy 'drop': capacity 2, 1 token / 10 ms", () => {
  const options = { capacity: 2, refillRate: 1, interval: 10 };

  it('passes a value only if its tokens are there at arrival; onDrop gets the value and reason', () => {
    const ts = createTestScheduler();
    const drops: Array<[number, string, RefusalReason]> = [];
    ts.run(({ cold, expectObservable }) => {
      const bucket = new TokenBucket(options);
      const onDrop = (value: string, reason: RefusalReason) => {
        drops.push([ts.now(), value, reason]);
        // A refused attempt takes nothing: still what b left plus the refill since.
        expect(bucket.stats()).toMatchObject({ queued: 0, granted: 2 });
        expect(bucket.available()).toBeCloseTo(0.1 + (ts.now() - 1) / 10, 12);
      };
      const source = cold('abcd 8ms e|');
      const expected = '   ab-- 8ms e|';
      expectObservable(source.pipe(throttleByTokens(bucket, { strategy: 'drop', onDrop }))).toBe(expected);
      probeAt(ts, 14, () => {
        expect(bucket.stats()).toMatchObject({ granted: 3, grantedCost: 3, dropped: 2, rejected: 0 });
        expectNothingLeft(ts, bucket);
      });
    });
    expect(drops).toEqual([
      [2, 'c', 'no-tokens'],
      [3, 'd', 'no-tokens'],
    ]);
  });

  it('drops behind values another stream has waiting, even if the tokens are there (FIFO)', () => {
    createTestScheduler().run(({ hot, expectObservable }) => {
      const bucket = new TokenBucket({ capacity: 3, refillRate: 1, interval: 1, initialTokens: 0 });
      const waiting = hot('a|        '); // cost 3: waits until 3 ms
      const dropping = hot('-bc-d|   '); // cost 1: tokens are there at 1 and 2, but a waits
      expectObservable(waiting.pipe(throttleByTokens(bucket, { cost: 3 }))).toBe('---(a|)');
      expectObservable(dropping.pipe(throttleByTokens(bucket, { strategy: 'drop' }))).toBe('----d|');
    });
  });

  it('a weighted value too heavy for now is dropped while a lighter one after it passes', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const costs: Record<string, number> = { a: 1, h: 2, l: 1 };
      const source = cold('ahl|');
      const expected = '   a-l|';
      const throttled = source.pipe(throttleByTokens(options, { strategy: 'drop', cost: (v: string) => costs[v]! }));
      expectObservable(throttled).toBe(expected);
    });
  });

  it('onDrop that throws errors the stream with that error and leaves nothing behind', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const bucket = new TokenBucket(options);
      const failure = new Error('onDrop failed');
      const onDrop = () => {
        throw failure;
      };
      const source = cold('abcd|');
      const expected = '   ab# ';
      expectObservable(source.pipe(throttleByTokens(bucket, { strategy: 'drop', onDrop }))).toBe(expected, undefined, failure);
      expectSubscriptions(source.subscriptions).toBe('^-!');
      probeAt(ts, 10, () => {
        expect(bucket.stats()).toMatchObject({ granted: 2, dropped: 1 });
        expectNothingLeft(ts, bucket);
      });
    });
  });

  itHandlesEmptyNeverAndErrorSources(() => throttleByTokens(options, { strategy: 'drop' }));

  it('unsubscribing releases the source: what it would push later is neither emitted nor dropped', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const bucket = new TokenBucket(options);
      const source = cold('a 9ms b 9ms c');
      const unsub = '     ^ 14ms !     ';
      const expected = '   a 9ms b      ';
      expectObservable(source.pipe(throttleByTokens(bucket, { strategy: 'drop' })), unsub).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(unsub);
      probeAt(ts, 16, () => {
        // Before c was due (20): nothing of the stream is scheduled any more.
        expect(bucket.stats()).toMatchObject({ granted: 2, dropped: 0 });
        expectNothingLeft(ts, bucket);
      });
    });
  });
});

describe("strategy 'error': capacity 2, 1 token / 10 ms", () => {
  const options = { capacity: 2, refillRate: 1, interval: 10 };

  it('fails with RateLimitExceededError carrying the exact retryAfter and cost; the bucket is unchanged', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const bucket = new TokenBucket(options);
      const source = cold('ab c|');
      const expected = '   ab #';
      const error = new RateLimitExceededError(8, 1, 'no-tokens');
      expectObservable(source.pipe(throttleByTokens(bucket, { strategy: 'error' }))).toBe(expected, undefined, error);
      expectSubscriptions(source.subscriptions).toBe('^-!');
      probeAt(ts, 2.5, () => {
        // The refused attempt at 2 took nothing: 0.1 left after b at 1, plus 1.5 ms of refill.
        expect(bucket.available()).toBeCloseTo(0.25, 12);
        expect(bucket.stats()).toMatchObject({ granted: 2, rejected: 1, dropped: 0 });
        expectNothingLeft(ts, bucket);
      });
    });
  });

  itHandlesEmptyNeverAndErrorSources(() => throttleByTokens(options, { strategy: 'error' }));

  it('unsubscribing releases the source: what it would push later neither passes nor fails the stream', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const bucket = new TokenBucket(options);
      const source = cold('(ab) 6ms c');
      const unsub = '     ^ 5ms !    ';
      const expected = '   (ab)       ';
      expectObservable(source.pipe(throttleByTokens(bucket, { strategy: 'error' })), unsub).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(unsub);
      probeAt(ts, 8, () => {
        // Before c was due (10): nothing of the stream is scheduled any more.
        expect(bucket.stats()).toMatchObject({ granted: 2, rejected: 0 });
        expectNothingLeft(ts, bucket);
      });
    });
  });

  it('does not fail while the tokens are there', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('(abc)d|');
      const expected = '   (abc)d|';
      expectObservable(source.pipe(throttleByTokens(options, { strategy: 'error', cost: 0.5 }))).toBe(expected);
    });
  });

  it('retryAfter counts the values of other streams queued ahead', () => {
    const ts = createTestScheduler();
    let log!: ReturnType<typeof record<string>>;
    ts.run(({ hot, expectSubscriptions }) => {
      const bucket = new TokenBucket({ capacity: 4, refillRate: 1, interval: 10, initialTokens: 0 });
      hot('a')
        .pipe(throttleByTokens(bucket, { cost: 3 }))
        .subscribe(); // waits 30 ms
      const refused = hot('--x');
      log = record(ts, refused.pipe(throttleByTokens(bucket, { strategy: 'error', cost: 2 })));
      expectSubscriptions(refused.subscriptions).toBe('^-!');
    });
    expect(log.values).toEqual([]);
    expect(log.errorAt).toBe(2);
    const error = log.error as RateLimitExceededError;
    expect(error).toBeInstanceOf(RateLimitExceededError);
    expect(error.name).toBe('RateLimitExceededError');
    // At 2: 0.2 tokens; 3 + 2 needed in total: 4.8 tokens more at 0.1 / ms.
    expect(error.retryAfter).toBeCloseTo(48, 9);
    expect(error.cost).toBe(2);
    expect(error.reason).toBe('no-tokens');
    expect(error.message).toContain('cost 2');
  });
});

describe("bounds: strategy 'delay', capacity 1, 1 token / 10 ms, maxQueue 2", () => {
  const options = { capacity: 1, refillRate: 1, interval: 10 };

  it("overflow 'drop': values past maxQueue are dropped with reason 'max-queue'", () => {
    const ts = createTestScheduler();
    const drops: Array<[number, string, RefusalReason]> = [];
    ts.run(({ cold, expectObservable }) => {
      const bucket = new TokenBucket(options);
      const onDrop = (value: string, reason: RefusalReason) => drops.push([ts.now(), value, reason]);
      const source = cold('(abcde|)            ');
      const expected = '   a 9ms b 9ms (c|)';
      expectObservable(source.pipe(throttleByTokens(bucket, { maxQueue: 2, overflow: 'drop', onDrop }))).toBe(expected);
      probeAt(ts, 25, () => {
        expect(bucket.stats()).toMatchObject({ granted: 3, dropped: 2, rejected: 0 });
        expectNothingLeft(ts, bucket);
      });
    });
    expect(drops).toEqual([
      [0, 'd', 'max-queue'],
      [0, 'e', 'max-queue'],
    ]);
  });

  it("overflow 'error' (the default): fails at once with retryAfter counting the queue; queued values are released", () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const bucket = new TokenBucket(options);
      const source = cold('(abcd|)');
      const expected = '   (a#)  ';
      const error = new RateLimitExceededError(30, 1, 'max-queue');
      expectObservable(source.pipe(throttleByTokens(bucket, { maxQueue: 2 }))).toBe(expected, undefined, error);
      expectSubscriptions(source.subscriptions).toBe('(^!)');
      probeAt(ts, 1, () => {
        expect(bucket.stats()).toMatchObject({ granted: 1, rejected: 1, cancelled: 2 });
        expect(bucket.available()).toBeCloseTo(0.1, 12);
        expectNothingLeft(ts, bucket);
      });
    });
  });

  it('maxQueue counts this subscription only, and frees up as values are granted', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const bucket = new TokenBucket(options);
      // a passes; b, c wait; d at 5 is dropped; e at 12 finds one slot free (b was granted at 10).
      const source = cold('(abc) d 6ms e|     ');
      const expected = '   a 9ms b 9ms c 9ms (e|)';
      expectObservable(source.pipe(throttleByTokens(bucket, { maxQueue: 2, overflow: 'drop' }))).toBe(expected);
    });
  });

  it('maxQueue 0: a value passes if its tokens are there now, and is refused instead of waiting', () => {
    const ts = createTestScheduler();
    const drops: string[] = [];
    ts.run(({ cold, expectObservable }) => {
      const source = cold('(ab) 6ms c|');
      const expected = '   a     9ms c|';
      const throttled = source.pipe(
        throttleByTokens(
          { capacity: 1, refillRate: 1, interval: 10 },
          { maxQueue: 0, overflow: 'drop', onDrop: (v: string) => drops.push(v) },
        ),
      );
      expectObservable(throttled).toBe(expected);
    });
    expect(drops).toEqual(['b']);
  });
});

describe("bounds: strategy 'delay', capacity 1, 1 token / 10 ms, maxWait 15", () => {
  const options = { capacity: 1, refillRate: 1, interval: 10 };

  it("overflow 'drop': a value whose predicted wait exceeds maxWait is refused on arrival, not after waiting", () => {
    const ts = createTestScheduler();
    const drops: Array<[number, string, RefusalReason]> = [];
    ts.run(({ cold, expectObservable }) => {
      const bucket = new TokenBucket(options);
      const onDrop = (value: string, reason: RefusalReason) => drops.push([ts.now(), value, reason]);
      // b waits 10 ≤ 15; c would wait 20 > 15: refused at 0; d (at 5) would wait 15 ≤ 15: waits.
      const source = cold('(abc) d|            ');
      const expected = '   a 9ms b 9ms (d|)';
      expectObservable(source.pipe(throttleByTokens(bucket, { maxWait: 15, overflow: 'drop', onDrop }))).toBe(expected);
      probeAt(ts, 21, () => {
        expect(bucket.stats()).toMatchObject({ granted: 3, dropped: 1 });
        expectNothingLeft(ts, bucket);
      });
    });
    expect(drops).toEqual([[0, 'c', 'max-wait']]);
  });

  it('a predicted wait equal to maxWait is allowed', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('(ab|)      ');
      const expected = '   a 9ms (b|)';
      expectObservable(source.pipe(throttleByTokens(options, { maxWait: 10 }))).toBe(expected);
    });
  });

  it("overflow 'error': fails at arrival with the predicted wait; the waiting value is withdrawn", () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const bucket = new TokenBucket(options);
      const source = cold('(abc|)');
      const expected = '   (a#) ';
      const error = new RateLimitExceededError(20, 1, 'max-wait');
      expectObservable(source.pipe(throttleByTokens(bucket, { maxWait: 15, overflow: 'error' }))).toBe(expected, undefined, error);
      expectSubscriptions(source.subscriptions).toBe('(^!)');
      probeAt(ts, 1, () => {
        expect(bucket.stats()).toMatchObject({ granted: 1, rejected: 1, cancelled: 1 });
        expectNothingLeft(ts, bucket);
      });
    });
  });

  it('maxWait 0 under delay behaves like drop, with reason max-wait', () => {
    const drops: Array<[string, RefusalReason]> = [];
    createTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('(ab) 6ms c|');
      const expected = '   a     9ms c|';
      const throttled = source.pipe(
        throttleByTokens(options, { maxWait: 0, overflow: 'drop', onDrop: (v: string, r) => drops.push([v, r]) }),
      );
      expectObservable(throttled).toBe(expected);
    });
    expect(drops).toEqual([['b', 'max-wait']]);
  });
});

describe('refusals are observable: events$ and stats (capacity 1, 1 token / 10 ms)', () => {
  it('reports dropped and rejected with reason, retryAfter and time', () => {
    const ts = createTestScheduler();
    const events: TokenBucketEvent[] = [];
    ts.run(({ cold, hot }) => {
      const bucket = new TokenBucket({ capacity: 1, refillRate: 1, interval: 10 });
      bucket.events$.subscribe((event) => events.push(event));
      cold('ab')
        .pipe(throttleByTokens(bucket, { strategy: 'drop' }))
        .subscribe();
      hot('---c')
        .pipe(throttleByTokens(bucket, { strategy: 'error' }))
        .subscribe({ error: () => {} });
    });
    expect(events.filter((e) => e.type === 'dropped' || e.type === 'rejected')).toEqual([
      { type: 'dropped', time: 1, cost: 1, reason: 'no-tokens', retryAfter: 9 },
      { type: 'rejected', time: 3, cost: 1, reason: 'no-tokens', retryAfter: 7 },
    ]);
  });
});

describe('bad input (capacity 3, 1 token / 10 ms)', () => {
  const options = { capacity: 3, refillRate: 1, interval: 10 };
  type Case = [label: string, cost: unknown, type: typeof TypeError | typeof RangeError, message: string];
  const returned = (got: string): string =>
    `throttleByTokens: cost(value #1) returned ${got}; the cost function must return a finite number >= 0 (tokens) for every value`;
  const cases: Case[] = [
    ['negative', -1, RangeError, returned('-1')],
    ['NaN', Number.NaN, RangeError, returned('NaN')],
    ['Infinity', Infinity, RangeError, returned('Infinity')],
    ['-Infinity', -Infinity, RangeError, returned('-Infinity')],
    ['a string', '2', TypeError, returned('"2"')],
    ['undefined', undefined, TypeError, returned('undefined')],
    [
      'above capacity',
      3.5,
      RangeError,
      "throttleByTokens: value #1 costs 3.5, more than the bucket's capacity 3, so it could never be granted; raise capacity or split the value",
    ],
  ];

  for (const [label, cost, type, message] of cases) {
    it(`a cost function returning ${label} errors the stream at once with ${type.name} naming it; earlier waiters are released`, () => {
      const ts = createTestScheduler();
      let log!: ReturnType<typeof record<string>>;
      let bucket!: TokenBucket;
      ts.run(({ cold, expectSubscriptions }) => {
        bucket = new TokenBucket({ ...options, initialTokens: 0 });
        const source = cold('a-b');
        log = record(ts, source.pipe(throttleByTokens(bucket, { cost: (v: string) => (v === 'b' ? (cost as number) : 1) })));
        probeAt(ts, 3, () => expectNothingLeft(ts, bucket));
        expectSubscriptions(source.subscriptions).toBe('^-!');
      });
      expect(log.values).toEqual([]);
      expect(log.errorAt).toBe(2);
      expect(log.error).toBeInstanceOf(type);
      expect((log.error as Error).message).toBe(message);
      expect(bucket.stats()).toMatchObject({ granted: 0, cancelled: 1 });
    });
  }

  it('a constant invalid cost is refused when the operator is created', () => {
    expect(() => throttleByTokens(options, { cost: -1 })).toThrow(
      new RangeError('throttleByTokens option "cost" must be a finite number >= 0 or a function (value, index) => number, got -1'),
    );
    expect(() => throttleByTokens(options, { cost: Number.NaN })).toThrow(/got NaN/);
    expect(() => throttleByTokens(options, { cost: Infinity })).toThrow(/got Infinity/);
    expect(() => throttleByTokens(options, { cost: '1' as unknown as number })).toThrow(
      new TypeError('throttleByTokens option "cost" must be a finite number >= 0 or a function (value, index) => number, got "1"'),
    );
  });

  it('a constant cost above capacity errors the stream at the first value (it could never be granted)', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('--a');
      const expected = '   --#';
      expectObservable(source.pipe(throttleByTokens(options, { cost: 4 }))).toBe(
        expected,
        undefined,
        new RangeError(
          "throttleByTokens: value #0 costs 4, more than the bucket's capacity 3, so it could never be granted; raise capacity or split the value",
        ),
      );
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
  });

  it('a cost function that throws errors the stream with that very error', () => {
    const ts = createTestScheduler();
    const failure = new Error('cannot weigh');
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const bucket = new TokenBucket({ ...options, initialTokens: 0 });
      const cost = (v: string) => {
        if (v === 'x') throw failure;
        return 1;
      };
      const source = cold('ab-x-c');
      const expected = '   ---#  ';
      expectObservable(source.pipe(throttleByTokens(bucket, { cost }))).toBe(expected, undefined, failure);
      expectSubscriptions(source.subscriptions).toBe('^--!');
      probeAt(ts, 4, () => {
        expect(bucket.stats()).toMatchObject({ granted: 0, cancelled: 2 });
        expectNothingLeft(ts, bucket);
      });
    });
  });

  it('invalid operator options are refused at creation, naming the option', () => {
    const bad: Array<[object, RegExp]> = [
      [{ strategy: 'fast' }, /option "strategy" must be one of "delay", "drop", "error", got "fast"/],
      [{ overflow: 'block' }, /option "overflow" must be one of "drop", "error", got "block"/],
      [{ maxQueue: -1 }, /option "maxQueue" must be a number >= 0, got -1/],
      [{ maxQueue: Number.NaN }, /option "maxQueue" .* got NaN/],
      [{ maxWait: '10' }, /option "maxWait" must be a number >= 0, got "10"/],
      [{ onDrop: 'log' }, /option "onDrop" must be a function, got "log"/],
      [{ costs: 2 }, /throttleByTokens has no option "costs"/],
      [{ strategy: 'drop', maxQueue: 3 }, /"maxQueue", "maxWait" and "overflow" apply to strategy "delay", not "drop"/],
      [{ strategy: 'error', overflow: 'drop' }, /apply to strategy "delay", not "error"/],
    ];
    for (const [config, message] of bad) {
      expect(() => throttleByTokens(options, config as never), JSON.stringify(config)).toThrow(message);
    }
  });

  it('invalid bucket options are refused when the operator is created, not at subscription', () => {
    expect(() => throttleByTokens({ capacity: 0, refillRate: 1 })).toThrow(
      'throttleByTokens bucket option "capacity" must be a finite number > 0, got 0',
    );
    expect(() => throttleByTokens({ capacity: 1, refillRate: 1, rate: 2 } as never)).toThrow(
      'throttleByTokens bucket has no option "rate"',
    );
  });
});
