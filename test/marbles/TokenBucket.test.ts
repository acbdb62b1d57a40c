import { describe, expect, it } from 'vitest';
import { concatMap, mergeMap, type Observable } from 'rxjs';
import { throttleByTokens } from '../../src/operators/throttleByTokens';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { type TokenBucketEvent, type TokenBucketStats } from '../../src/limiters/TokenBucketStats';
import type { Waiter } from '../../src/waiting/WaitQueue';
import { createTestScheduler } from '../support/marbles';
import { probeAt } from '../support/virtualTime';

/** `bucket.take(cost)` subscribed at `frame` (a cold marble delays the subscription). */
function takeAt(cold: (marbles: string) => Observable<string>, marbles: string, bucket: TokenBucket, cost: number): Observable<void> {
  return cold(marbles).pipe(mergeMap(() => bucket.take(cost)));
}

const granted = { g: undefined };

describe('take(cost): capacity 3, 1 token / ms, starting empty', () => {
  const options = { capacity: 3, refillRate: 1, interval: 1, initialTokens: 0 };

  it('is cold: nothing is taken or queued until subscription', () => {
    const ts = createTestScheduler();
    ts.run(() => {
      const bucket = new TokenBucket({ ...options, initialTokens: 3 });
      const taking = bucket.take(2);
      expect(bucket.stats()).toMatchObject({ available: 3, queued: 0, granted: 0 });
      taking.subscribe();
      taking.subscribe();
      expect(bucket.stats()).toMatchObject({ queued: 1, granted: 1, grantedCost: 2 });
    });
  });

  it('emits once and completes when granted, in FIFO order', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const bucket = new TokenBucket(options);
      expectObservable(bucket.take(3)).toBe('             ---(g|)', granted);
      expectObservable(takeAt(cold, '-x|', bucket, 1)).toBe('----(g|)', granted);
      expectObservable(takeAt(cold, '--x|', bucket, 0)).toBe('----(g|)', granted);
    });
  });

  it('unsubscribing before the grant takes nothing and lets the next waiter through', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable }) => {
      const bucket = new TokenBucket(options);
      expectObservable(bucket.take(3), '^-!').toBe('-');
      expectObservable(takeAt(cold, '-x|', bucket, 1)).toBe('--(g|)', granted);
      probeAt(ts, 3, () => {
        expect(bucket.stats()).toMatchObject({ granted: 1, grantedCost: 1, cancelled: 1, queued: 0, timerScheduled: false });
        expect(bucket.available()).toBe(2);
      });
    });
  });

  it('unsubscribing after the grant gives nothing back and counts no cancellation', () => {
    const ts = createTestScheduler();
    ts.run(({ expectObservable }) => {
      const bucket = new TokenBucket({ ...options, interval: 10, initialTokens: 3 });
      expectObservable(bucket.take(2), '^-!').toBe('(g|)', granted);
      probeAt(ts, 3, () => {
        expect(bucket.stats()).toMatchObject({ granted: 1, cancelled: 0 });
        expect(bucket.available()).toBeCloseTo(1.3, 12);
      });
    });
  });

  it('errors at subscription for an invalid cost or one above capacity', () => {
    createTestScheduler().run(({ expectObservable }) => {
      const bucket = new TokenBucket(options);
      expectObservable(bucket.take(4)).toBe('#', undefined, new RangeError('cost 4 exceeds capacity 3'));
      expectObservable(bucket.take(-2)).toBe('#', undefined, new RangeError('cost must be a finite number >= 0, got -2'));
      expectObservable(bucket.take('1' as never)).toBe('#', undefined, new TypeError('cost must be a number, got "1"'));
      expectObservable(bucket.take(Number.NaN)).toBe('#', undefined, new RangeError('cost must be a finite number >= 0, got NaN'));
    });
  });
});

describe('take(cost) for each value of a source (concatMap): capacity 3, 1 token / ms, starting empty', () => {
  const options = { capacity: 3, refillRate: 1, interval: 1, initialTokens: 0 };

  it('empty source: completes at once and asks for nothing', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const bucket = new TokenBucket(options);
      const source = cold('|');
      expectObservable(source.pipe(concatMap(() => bucket.take(1)))).toBe('|');
      expectSubscriptions(source.subscriptions).toBe('(^!)');
      probeAt(ts, 1, () => expect(bucket.stats()).toMatchObject({ granted: 0, queued: 0, cancelled: 0, timerScheduled: false }));
    });
  });

  it('never source: asks for nothing; unsubscribing releases the source', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const bucket = new TokenBucket(options);
      const source = cold('-');
      const unsub = '      ^ 50ms !';
      expectObservable(source.pipe(concatMap(() => bucket.take(1))), unsub).toBe('-');
      expectSubscriptions(source.subscriptions).toBe(unsub);
      probeAt(ts, 60, () => {
        expect(bucket.stats()).toMatchObject({ granted: 0, queued: 0, cancelled: 0, timerScheduled: false });
        expect(ts.actions.length).toBe(0);
      });
    });
  });

  it('error source: errors at once and withdraws the take still waiting; it took nothing', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const bucket = new TokenBucket(options);
      const source = cold('a#');
      expectObservable(source.pipe(concatMap(() => bucket.take(3)))).toBe('-#');
      expectSubscriptions(source.subscriptions).toBe('^!');
      probeAt(ts, 2, () => {
        expect(bucket.stats()).toMatchObject({ granted: 0, queued: 0, cancelled: 1, timerScheduled: false });
        expect(bucket.available()).toBe(2);
        expect(ts.actions.length).toBe(0);
      });
    });
  });

  it('unsubscribing mid-wait withdraws the waiting take: no tokens taken, no timer left', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const bucket = new TokenBucket(options);
      // a's take is granted at 2; b's take is asked then (concatMap) and would be granted at 4.
      const source = cold('ab     ');
      const unsub = '   ^ 2ms !';
      const expected = '--g     ';
      expectObservable(source.pipe(concatMap(() => bucket.take(2))), unsub).toBe(expected, granted);
      expectSubscriptions(source.subscriptions).toBe(unsub);
      probeAt(ts, 3.5, () => {
        expect(bucket.stats()).toMatchObject({ granted: 1, grantedCost: 2, cancelled: 1, queued: 0, timerScheduled: false });
        expect(bucket.available()).toBeCloseTo(1.5, 12); // 1.5 ms of refill since a's grant at 2: b took nothing
        expect(ts.actions.length).toBe(0);
      });
    });
  });
});

describe('tryTake(cost): capacity 3, 1 token / ms, starting with 2', () => {
  it('takes when covered, refuses and changes nothing when not', () => {
    createTestScheduler().run(() => {
      const bucket = new TokenBucket({ capacity: 3, refillRate: 1, interval: 1, initialTokens: 2 });
      expect(bucket.tryTake(2.5)).toBe(false);
      expect(bucket.stats()).toMatchObject({ available: 2, granted: 0, queued: 0, timerScheduled: false });
      expect(bucket.tryTake()).toBe(true); // default cost 1
      expect(bucket.tryTake(0.75)).toBe(true);
      expect(bucket.available()).toBeCloseTo(0.25, 15);
      expect(bucket.stats()).toMatchObject({ granted: 2, grantedCost: 1.75 });
    });
  });

  it('never overtakes a waiting value, even when the tokens are there', () => {
    const ts = createTestScheduler();
    const answers: Array<[number, boolean]> = [];
    ts.run(({ expectObservable }) => {
      const bucket = new TokenBucket({ capacity: 3, refillRate: 1, interval: 1, initialTokens: 2 });
      expectObservable(bucket.take(3)).toBe('-(g|)', granted);
      probeAt(ts, 0, () => answers.push([ts.now(), bucket.tryTake(1)]));
      probeAt(ts, 0.5, () => answers.push([ts.now(), bucket.tryTake(0.5)]));
      probeAt(ts, 2, () => answers.push([ts.now(), bucket.tryTake(1)]));
    });
    expect(answers).toEqual([
      [0, false],
      [0.5, false],
      [2, true],
    ]);
  });

  it('throws for an invalid cost or one above capacity', () => {
    createTestScheduler().run(() => {
      const bucket = new TokenBucket({ capacity: 3, refillRate: 1 });
      expect(() => bucket.tryTake(3.01)).toThrow(new RangeError('cost 3.01 exceeds capacity 3'));
      expect(() => bucket.tryTake(-0.5)).toThrow(RangeError);
      expect(() => bucket.tryTake(Infinity)).toThrow(/got Infinity/);
      expect(() => bucket.tryTake(null as never)).toThrow(new TypeError('cost must be a number, got null'));
      expect(bucket.available()).toBe(3);
    });
  });
});

describe('timeUntil(cost): capacity 4, 1 token / 10 ms, starting empty', () => {
  it('is 0 when covered now and otherwise counts every value queued ahead', () => {
    const ts = createTestScheduler();
    ts.run(() => {
      const bucket = new TokenBucket({ capacity: 4, refillRate: 1, interval: 10, initialTokens: 0 });
      expect(bucket.timeUntil(2)).toBe(20);
      expect(bucket.timeUntil(0)).toBe(0);
      bucket.take(3).subscribe();
      expect(bucket.timeUntil()).toBe(40); // 3 ahead + 1
      expect(bucket.timeUntil(2)).toBe(50); // beyond capacity in total, still exact
      expect(bucket.timeUntil(0)).toBe(30); // a free value still waits its turn
      probeAt(ts, 12.5, () => expect(bucket.timeUntil(0.5)).toBeCloseTo(22.5, 9));
      probeAt(ts, 30, () => expect(bucket.timeUntil(1)).toBe(10));
      probeAt(ts, 100, () => expect(bucket.timeUntil(4)).toBe(0));
    });
  });

  it('throws for an invalid cost or one above capacity', () => {
    createTestScheduler().run(() => {
      const bucket = new TokenBucket({ capacity: 4, refillRate: 1 });
      expect(() => bucket.timeUntil(5)).toThrow(new RangeError('cost 5 exceeds capacity 4'));
      expect(() => bucket.timeUntil(Number.NaN)).toThrow(RangeError);
    });
  });
});

describe('configure mid-stream: capacity 3, 1 token / 10 ms, six values at 0', () => {
  const options = { capacity: 3, refillRate: 1, interval: 10 };

  it('rate up at 5 ms: tokens earned so far are kept, the waiters are re-planned at the new rate', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable }) => {
      const bucket = new TokenBucket(options);
      const source = cold('(abcdef|)              ');
      const expected = '   (abc) 1ms d-e-(f|)';
      expectObservable(source.pipe(throttleByTokens(bucket))).toBe(expected);
      probeAt(ts, 5, () => {
        bucket.configure({ refillRate: 5 }); // 0.5 token / ms from now on; 0.5 earned at the old rate
        expect(bucket.available()).toBeCloseTo(0.5, 12);
        expect(bucket.stats().timerScheduled).toBe(true);
      });
    });
  });

  it('rate down at 5 ms: waiters are re-planned later', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable }) => {
      const bucket = new TokenBucket(options);
      const source = cold('(abcdef|)                     ');
      const expected = '   (abc) 10ms d 19ms e 19ms (f|)';
      expectObservable(source.pipe(throttleByTokens(bucket))).toBe(expected);
      probeAt(ts, 5, () => bucket.configure({ interval: 20 })); // 0.05 token / ms
    });
  });

  it('capacity shrinking below a waiting cost fails that waiter with a RangeError; lighter waiters continue', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const bucket = new TokenBucket({ capacity: 5, refillRate: 1, interval: 1, initialTokens: 0 });
      const heavySource = hot('  h     ');
      const lightSource = hot('  -l    ');
      const heavy = heavySource.pipe(throttleByTokens(bucket, { cost: 4 }));
      const light = lightSource.pipe(throttleByTokens(bucket, { cost: 1 }));
      expectObservable(heavy).toBe('--#', undefined, new RangeError('cost 4 exceeds capacity 3'));
      expectObservable(light).toBe('--l');
      expectSubscriptions(heavySource.subscriptions).toBe('^-!'); // the failed stream releases its source at 2
      expectSubscriptions(lightSource.subscriptions).toBe('^'); // the lighter one goes on
      expectObservable(takeAt(cold, '-x|', bucket, 3.5)).toBe('--#', undefined, new RangeError('cost 3.5 exceeds capacity 3'));
      probeAt(ts, 2, () => bucket.configure({ capacity: 3 }));
      probeAt(ts, 2.5, () => {
        expect(bucket.stats()).toMatchObject({ capacity: 3, queued: 0, granted: 1, timerScheduled: false });
        expect(bucket.available()).toBeCloseTo(1.5, 12);
      });
    });
  });

  it('a waiter withdrawn by another failing waiter is not failed as well (exactly one answer per waiter)', () => {
    createTestScheduler().run(() => {
      const bucket = new TokenBucket({ capacity: 5, refillRate: 1, interval: 1, initialTokens: 0 });
      const answers: string[] = [];
      const waiter = (name: string, cost: number, onFail?: () => void): Waiter => ({
        cost,
        queuedAt: 0,
        previousWaiter: null,
        nextWaiter: null,
        granted: () => answers.push(`${name} granted`),
        refused: () => answers.push(`${name} refused`),
        failed: (error) => {
          answers.push(`${name} failed: ${error.message}`);
          onFail?.();
        },
      });
      const second = waiter('second', 5);
      const first = waiter('first', 4, () => bucket.cancel(second));
      bucket.enqueue(first, Infinity);
      bucket.enqueue(second, Infinity);
      bucket.configure({ capacity: 3 });
      expect(answers).toEqual(['first failed: cost 4 exceeds capacity 3']);
      expect(bucket.stats()).toMatchObject({ queued: 0, cancelled: 1, timerScheduled: false });
    });
  });

  it('tokens are kept, clamped to a smaller capacity, and not refilled by a larger one', () => {
    const ts = createTestScheduler();
    ts.run(() => {
      const bucket = new TokenBucket({ capacity: 10, refillRate: 1, interval: 10 });
      bucket.configure({ capacity: 4 });
      expect(bucket.available()).toBe(4);
      bucket.configure({ capacity: 10 });
      expect(bucket.available()).toBe(4);
      probeAt(ts, 20, () => {
        expect(bucket.available()).toBeCloseTo(6, 12);
        bucket.configure({ interval: 5 }); // 6 kept, then 0.2 / ms
      });
      probeAt(ts, 25, () => expect(bucket.available()).toBeCloseTo(7, 12));
      probeAt(ts, 100, () => expect(bucket.available()).toBe(10));
    });
  });

  it('invalid or unknown options are refused naming the option, and nothing changes', () => {
    createTestScheduler().run(() => {
      const bucket = new TokenBucket(options);
      bucket.take(2).subscribe();
      const before = bucket.stats();
      expect(() => bucket.configure({ capacity: 0 })).toThrow(
        new RangeError('TokenBucket.configure option "capacity" must be a finite number > 0, got 0'),
      );
      expect(() => bucket.configure({ refillRate: -1 })).toThrow(
        'TokenBucket.configure option "refillRate" must be a finite number > 0, got -1',
      );
      expect(() => bucket.configure({ interval: Infinity })).toThrow('option "interval" must be a finite number > 0, got Infinity');
      expect(() => bucket.configure({ refillRate: '2' as never })).toThrow(
        new TypeError('TokenBucket.configure option "refillRate" must be a finite number > 0, got "2"'),
      );
      expect(() => bucket.configure({ capacity: 2, initialTokens: 1 } as never)).toThrow(
        'TokenBucket.configure has no option "initialTokens"',
      );
      expect(() => bucket.configure({ capacity: 1, refillRate: Number.NaN })).toThrow(/"refillRate" .* got NaN/);
      expect(bucket.stats()).toEqual(before);
    });
  });
});

describe('stats() and events$: capacity 2, 1 token / 10 ms', () => {
  const options = { capacity: 2, refillRate: 1, interval: 10 };

  it('stats() is a fresh snapshot: mutating it or later changes do not alter it', () => {
    createTestScheduler().run(() => {
      const bucket = new TokenBucket(options);
      const first = bucket.stats();
      const expected: TokenBucketStats = {
        capacity: 2,
        refillRate: 1,
        interval: 10,
        available: 2,
        queued: 0,
        queuedCost: 0,
        granted: 0,
        grantedCost: 0,
        dropped: 0,
        rejected: 0,
        cancelled: 0,
        timerScheduled: false,
        debt: 0,
      };
      expect(first).toEqual(expected);
      (first as { available: number }).available = 99;
      (first as { granted: number }).granted = 99;
      expect(bucket.stats()).toEqual(expected);
      bucket.tryTake(2);
      bucket.take(1).subscribe();
      bucket.configure({ capacity: 3 });
      expect(first).toMatchObject({ available: 99, granted: 99, queued: 0, capacity: 2, timerScheduled: false });
      expect(bucket.stats()).toMatchObject({ available: 0, granted: 1, queued: 1, queuedCost: 1, capacity: 3, timerScheduled: true });
      expect(bucket.stats()).not.toBe(bucket.stats());
    });
  });

  it('events$ reports granted, queued, cancelled and reconfigured with times, while subscribed', () => {
    const ts = createTestScheduler();
    const events: TokenBucketEvent[] = [];
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const bucket = new TokenBucket(options);
      const subscription = bucket.events$.subscribe((event) => events.push(event));
      const source = cold('(abcd)');
      expectObservable(source.pipe(throttleByTokens(bucket)), '^ 14ms !').toBe('(ab) 6ms c');
      expectSubscriptions(source.subscriptions).toBe('^ 14ms !'); // unsubscribed at 15: d is cancelled
      probeAt(ts, 20, () => bucket.configure({ refillRate: 2 }));
      probeAt(ts, 30, () => {
        subscription.unsubscribe();
        bucket.tryTake(1); // not reported: nobody listens
      });
    });
    expect(events).toEqual([
      { type: 'granted', time: 0, cost: 1, waited: 0, available: 1 },
      { type: 'granted', time: 0, cost: 1, waited: 0, available: 0 },
      { type: 'queued', time: 0, cost: 1, queued: 1, queuedCost: 1 },
      { type: 'queued', time: 0, cost: 1, queued: 2, queuedCost: 2 },
      { type: 'granted', time: 10, cost: 1, waited: 10, available: 0 },
      { type: 'cancelled', time: 15, cost: 1 },
      { type: 'reconfigured', time: 20, capacity: 2, refillRate: 2, interval: 10, available: 1, cause: 'configure' },
    ]);
  });

  it('events$ is shared by several observers and each unsubscription counts', () => {
    createTestScheduler().run(() => {
      const bucket = new TokenBucket(options);
      const first: string[] = [];
      const second: string[] = [];
      const a = bucket.events$.subscribe((e) => first.push(e.type));
      const b = bucket.events$.subscribe((e) => second.push(e.type));
      bucket.tryTake(1);
      a.unsubscribe();
      bucket.tryTake(1);
      b.unsubscribe();
      bucket.tryTake(0);
      expect(first).toEqual(['granted']);
      expect(second).toEqual(['granted', 'granted']);
    });
  });
});

describe('constructor options', () => {
  it('invalid options throw naming the option and value', () => {
    const bad: Array<[unknown, ErrorConstructor, string]> = [
      [{ capacity: -1, refillRate: 1 }, RangeError, 'TokenBucket option "capacity" must be a finite number > 0, got -1'],
      [{ capacity: 0, refillRate: 1 }, RangeError, 'TokenBucket option "capacity" must be a finite number > 0, got 0'],
      [{ capacity: Infinity, refillRate: 1 }, RangeError, 'TokenBucket option "capacity" must be a finite number > 0, got Infinity'],
      [{ capacity: Number.NaN, refillRate: 1 }, RangeError, 'TokenBucket option "capacity" must be a finite number > 0, got NaN'],
      [{ capacity: '5', refillRate: 1 }, TypeError, 'TokenBucket option "capacity" must be a finite number > 0, got "5"'],
      [{ refillRate: 1 }, TypeError, 'TokenBucket option "capacity" must be a finite number > 0, got undefined'],
      [{ capacity: 5 }, TypeError, 'TokenBucket option "refillRate" must be a finite number > 0, got undefined'],
      [{ capacity: 5, refillRate: 0 }, RangeError, 'TokenBucket option "refillRate" must be a finite number > 0, got 0'],
      [{ capacity: 5, refillRate: 1, interval: -10 }, RangeError, 'TokenBucket option "interval" must be a finite number > 0, got -10'],
      [
        { capacity: 5, refillRate: 1, initialTokens: -1 },
        RangeError,
        'TokenBucket option "initialTokens" must be a finite number >= 0, got -1',
      ],
      [{ capacity: 5, refillRate: 1, initialTokens: 6 }, RangeError, 'TokenBucket option "initialTokens" (6) exceeds capacity 5'],
      [
        { capacity: 5, refillRate: 1, scheduler: {} },
        TypeError,
        'TokenBucket option "scheduler" must be a SchedulerLike with now() and schedule()',
      ],
      [
        { capacity: 5, refillRate: 1, rate: 3 },
        TypeError,
        'TokenBucket has no option "rate" (known: capacity, refillRate, interval, initialTokens, scheduler)',
      ],
      [null, TypeError, 'TokenBucket options must be an object, got null'],
      [5, TypeError, 'TokenBucket options must be an object, got 5'],
    ];
    for (const [options, type, message] of bad) {
      expect(() => new TokenBucket(options as never), JSON.stringify(options)).toThrow(new type(message));
      let thrown: unknown;
      try {
        new TokenBucket(options as never);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, message).toBeInstanceOf(type);
    }
  });

  it('defaults: interval 1000 ms, full bucket', () => {
    createTestScheduler().run(() => {
      const bucket = new TokenBucket({ capacity: 5, refillRate: 2 });
      expect(bucket.stats()).toMatchObject({ capacity: 5, refillRate: 2, interval: 1000, available: 5 });
      expect([bucket.capacity, bucket.refillRate, bucket.interval]).toEqual([5, 2, 1000]);
    });
  });
});
