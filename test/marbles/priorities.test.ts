import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Observable } from 'rxjs';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { throttleByTokens } from '../../src/operators/throttleByTokens';
import { createTestScheduler } from '../support/marbles';
import { probeAt } from '../support/virtualTime';

describe('priorities: a shared bucket of capacity 1, 1 token / 10 ms; batch (priority 0) and interactive (priority 1) pipes', () => {
  const options = { capacity: 1, refillRate: 1, interval: 10 };

  it('an interactive value goes ahead of the batch values that wait, never taking back a grant', () => {
    createTestScheduler().run(({ hot, expectObservable }) => {
      const bucket = new TokenBucket(options);
      const batch = hot('      (abc)       ').pipe(throttleByTokens(bucket));
      const interactive = hot('-----x      ').pipe(throttleByTokens(bucket, { priority: 1 }));
      expectObservable(batch).toBe('      a 19ms b 9ms c');
      expectObservable(interactive).toBe('10ms x');
    });
  });

  it('FIFO within a level: two interactive values keep their order', () => {
    createTestScheduler().run(({ hot, expectObservable }) => {
      const bucket = new TokenBucket(options);
      const batch = hot('      (ab)      ').pipe(throttleByTokens(bucket));
      const interactive = hot('-(xy)     ').pipe(throttleByTokens(bucket, { priority: 1 }));
      expectObservable(batch).toBe('      a 29ms b');
      expectObservable(interactive).toBe('10ms x 9ms y');
    });
  });

  it('a light value of lower priority does not slip past a heavy value of higher priority waiting for its tokens', () => {
    createTestScheduler().run(({ hot, expectObservable }) => {
      const bucket = new TokenBucket({ capacity: 3, refillRate: 1, interval: 10, initialTokens: 0 });
      // h (3, priority 1) waits from 0 to 30; l (1, priority 0) arrives at 15 with 1.5 tokens there, but waits behind h.
      const heavy = hot('h              ').pipe(throttleByTokens(bucket, { cost: 3, priority: 1 }));
      const light = hot('15ms l         ').pipe(throttleByTokens(bucket));
      expectObservable(heavy).toBe('30ms h');
      expectObservable(light).toBe('40ms l');
    });
  });

  it('tryTake never succeeds while anything waits, whatever the priorities', () => {
    const ts = createTestScheduler();
    ts.run(({ cold }) => {
      const bucket = new TokenBucket({ capacity: 2, refillRate: 1, interval: 10, initialTokens: 0 });
      cold('a')
        .pipe(throttleByTokens(bucket, { cost: 2, priority: -5 }))
        .subscribe();
      probeAt(ts, 15, () => {
        expect(bucket.available()).toBeCloseTo(1.5, 12);
        expect(bucket.tryTake(1)).toBe(false);
      });
    });
  });

  it('a priority function sets each value its own level; values of one pipe may then be granted out of order', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const bucket = new TokenBucket({ capacity: 1, refillRate: 1, interval: 10, initialTokens: 0 });
      const priority = (value: string) => (value === 'z' ? 1 : 0);
      expectObservable(cold('(abz|)').pipe(throttleByTokens(bucket, { priority }))).toBe('10ms z 9ms a 9ms (b|)');
    });
  });

  it('a priority that is not a finite number errors the stream naming it, or the operator at creation', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const throttled = cold('(ab|)').pipe(throttleByTokens(options, { priority: (value: string) => (value === 'b' ? Number.NaN : 0) }));
      expectObservable(throttled).toBe(
        '(a#)',
        undefined,
        new RangeError('throttleByTokens option "priority" must be a finite number (higher goes first, default 0), got NaN'),
      );
    });
    expect(() => throttleByTokens(options, { priority: Infinity })).toThrow(RangeError);
    expect(() => throttleByTokens(options, { priority: '1' as never })).toThrow(
      new TypeError('throttleByTokens option "priority" must be a finite number (higher goes first, default 0), got "1"'),
    );
  });

  it('unsubscribing a pipe whose later value is the head withdraws it without granting its own earlier values', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable }) => {
      const bucket = new TokenBucket({ capacity: 1, refillRate: 1, interval: 10, initialTokens: 0 });
      const priority = (value: string) => (value === 'z' ? 1 : 0);
      expectObservable(cold('(az)').pipe(throttleByTokens(bucket, { priority })), '^----!').toBe('');
      probeAt(ts, 6, () => expect(bucket.stats()).toMatchObject({ queued: 0, granted: 0, cancelled: 2, timerScheduled: false }));
    });
  });
});

/**
 * An independent model: integer costs, one token per ms, integer arrival times. At each ms the
 * count grows by one (up to capacity); arrivals join in order (granted at once when nothing
 * waits and the tokens are there; otherwise queued by priority, FIFO within a level, and the
 * covered heads granted when the newcomer became the head); then every covered head is granted.
 */
function model(capacity: number, arrivals: readonly { at: number; cost: number; priority: number }[]): number[] {
  const grantedAt: number[] = new Array<number>(arrivals.length).fill(-1);
  const queue: number[] = [];
  let tokens = capacity;
  const end = Math.max(...arrivals.map((a) => a.at)) + arrivals.reduce((sum, a) => sum + a.cost, 0) + capacity + 1;
  const drain = (t: number): void => {
    while (queue.length > 0 && arrivals[queue[0]!]!.cost <= tokens) {
      const index = queue.shift()!;
      tokens -= arrivals[index]!.cost;
      grantedAt[index] = t;
    }
  };
  for (let t = 0; t <= end; t++) {
    if (t > 0) tokens = Math.min(capacity, tokens + 1);
    arrivals.forEach((arrival, index) => {
      if (arrival.at !== t) return;
      if (queue.length === 0 && arrival.cost <= tokens) {
        tokens -= arrival.cost;
        grantedAt[index] = t;
        return;
      }
      let position = queue.length;
      while (position > 0 && arrivals[queue[position - 1]!]!.priority < arrival.priority) position--;
      queue.splice(position, 0, index);
      if (position === 0) drain(t);
    });
    drain(t);
  }
  return grantedAt;
}

describe('priorities against an independent model (capacity 1..4, 1 token / ms, integer costs)', () => {
  it('every value is granted exactly when the model grants it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(
          fc.record({
            at: fc.integer({ min: 0, max: 30 }),
            cost: fc.integer({ min: 0, max: 4 }),
            priority: fc.integer({ min: -1, max: 2 }),
          }),
          {
            minLength: 1,
            maxLength: 25,
          },
        ),
        (capacity, unsorted) => {
          const arrivals = unsorted.map((a) => ({ ...a, cost: Math.min(a.cost, capacity) })).sort((a, b) => a.at - b.at);
          const expected = model(capacity, arrivals);
          const actual: number[] = new Array<number>(arrivals.length).fill(-1);
          const ts = createTestScheduler();
          ts.run(() => {
            const bucket = new TokenBucket({ capacity, refillRate: 1, interval: 1 });
            arrivals.forEach((arrival, index) => {
              ts.schedule(() => {
                new Observable<number>((subscriber) => subscriber.next(index))
                  .pipe(throttleByTokens(bucket, { cost: arrival.cost, priority: arrival.priority }))
                  .subscribe(() => (actual[index] = ts.now()));
              }, arrival.at);
            });
          });
          expect(actual).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});
