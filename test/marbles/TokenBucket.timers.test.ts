import { afterEach, describe, expect, it, vi } from 'vitest';
import { firstValueFrom, type SchedulerAction, type SchedulerLike, type Subscription } from 'rxjs';
import { type TestScheduler } from 'rxjs/testing';
import { throttleByTokens } from '../../src/operators/throttleByTokens';
import { monotonicScheduler } from '../../src/waiting/monotonicScheduler';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { MAX_TIMER_DELAY } from '../../src/waiting/SingleTimer';
import { createTestScheduler } from '../support/marbles';
import { probeAt } from '../support/virtualTime';

/** Probes at `frames`, each scheduling the next, so that no probe is pending while one checks. */
function probeChain(ts: TestScheduler, frames: readonly number[], check: (frame: number) => void, start = 0): void {
  const [next, ...rest] = frames;
  if (next === undefined) return;
  ts.schedule(() => {
    check(next);
    probeChain(ts, rest, check, next);
  }, next - start);
}

/**
 * A SchedulerLike over a TestScheduler that records every `schedule` call, counts the
 * actions still pending, and can fire early (`fireAt(delay)` < delay) or shift the clock
 * (`clockOffset`). It refuses to run away: a timer loop that never lets time pass fails the test.
 */
class SpyScheduler implements SchedulerLike {
  readonly delays: number[] = [];
  readonly pending = new Set<Subscription>();
  maxPending = 0;
  clockOffset = 0;
  constructor(
    private readonly ts: TestScheduler,
    private readonly fireAt: (delay: number) => number = (delay) => delay,
    private readonly limit = 1000,
  ) {}
  now(): number {
    return this.ts.now() + this.clockOffset;
  }
  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T): Subscription {
    this.delays.push(delay);
    if (this.delays.length > this.limit) throw new Error(`runaway timer: ${this.limit} schedule calls`);
    const pending = this.pending;
    const action: Subscription = this.ts.schedule(
      function (this: SchedulerAction<T>, s?: T) {
        pending.delete(action);
        work.call(this, s);
      },
      this.fireAt(delay),
      state,
    );
    pending.add(action);
    action.add(() => pending.delete(action));
    this.maxPending = Math.max(this.maxPending, pending.size);
    return action;
  }
}

describe('one timer per bucket (capacity 3, 1 token / 10 ms)', () => {
  const limits = { capacity: 3, refillRate: 1, interval: 10 };

  it('six values at 0: exactly one timer per wait, never two at once, none when idle', () => {
    const ts = createTestScheduler();
    const spy = new SpyScheduler(ts);
    ts.run(({ cold, expectObservable }) => {
      const bucket = new TokenBucket({ ...limits, scheduler: spy });
      expectObservable(cold('(abcdef|)').pipe(throttleByTokens(bucket))).toBe('(abc) 5ms d 9ms e 9ms (f|)');
      for (const frame of [1, 5, 11, 15, 21, 29]) {
        probeAt(ts, frame, () => {
          expect(spy.pending.size).toBe(1);
          expect(bucket.stats().timerScheduled).toBe(true);
        });
      }
      probeAt(ts, 31, () => {
        expect(spy.pending.size).toBe(0);
        expect(bucket.stats().timerScheduled).toBe(false);
        expect(ts.actions.length).toBe(0);
      });
    });
    // No polling: one timer for each of d, e, f, each aimed exactly.
    expect(spy.delays).toEqual([10, 10, 10]);
    expect(spy.maxPending).toBe(1);
  });

  it('many streams, weighted costs, cancellations and a configure: still at most one pending action', () => {
    const ts = createTestScheduler();
    const spy = new SpyScheduler(ts);
    ts.run(({ cold, hot }) => {
      const bucket = new TokenBucket({ ...limits, scheduler: spy });
      const costs: Record<string, number> = { a: 1, b: 2.5, c: 0.5, d: 3, e: 1.25 };
      const cost = (v: string) => costs[v]!;
      hot('abcde-a-b').pipe(throttleByTokens(bucket, { cost })).subscribe();
      hot('-edcba--c').pipe(throttleByTokens(bucket, { cost })).subscribe();
      const leaving = cold('(ddd)').pipe(throttleByTokens(bucket, { cost })).subscribe();
      probeAt(ts, 41, () => leaving.unsubscribe());
      probeAt(ts, 33, () => bucket.configure({ refillRate: 2 }));
      probeAt(ts, 70, () => bucket.configure({ capacity: 4, interval: 5 }));
      for (let frame = 0.5; frame < 300; frame += 3) probeAt(ts, frame, () => expect(spy.pending.size).toBeLessThanOrEqual(1));
      probeAt(ts, 1000, () => {
        expect(bucket.stats()).toMatchObject({ queued: 0, timerScheduled: false });
        expect(spy.pending.size).toBe(0);
      });
    });
    expect(spy.maxPending).toBe(1);
  });

  it('with the default scheduler: one action in the TestScheduler while values wait, none after', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable }) => {
      const bucket = new TokenBucket(limits); // monotonicScheduler: virtual inside run()
      expect(bucket.scheduler).toBe(monotonicScheduler);
      expectObservable(cold('(abcdef|)').pipe(throttleByTokens(bucket))).toBe('(abc) 5ms d 9ms e 9ms (f|)');
      probeChain(ts, [1, 12, 25, 31], (frame) => {
        // Only the bucket's timer is pending (the probes schedule one another as they run).
        expect(ts.actions.length).toBe(frame < 30 ? 1 : 0);
        expect(bucket.stats().timerScheduled).toBe(frame < 30);
      });
    });
  });
});

describe('timers that fire early (capacity 3, 1 token / 10 ms)', () => {
  it('a timer firing at half its delay re-checks and waits the rest; nothing is granted early', () => {
    const ts = createTestScheduler();
    const spy = new SpyScheduler(ts, (delay) => delay / 2);
    const times: number[] = [];
    ts.run(({ cold }) => {
      const bucket = new TokenBucket({ capacity: 3, refillRate: 1, interval: 10, scheduler: spy });
      cold('(abcdef|)')
        .pipe(throttleByTokens(bucket))
        .subscribe(() => times.push(ts.now()));
    });
    expect(times.slice(0, 3)).toEqual([0, 0, 0]);
    const ideal = [10, 20, 30];
    times.slice(3).forEach((time, i) => {
      expect(time).toBeGreaterThanOrEqual(ideal[i]!);
      expect(time).toBeLessThanOrEqual(ideal[i]! + 0.001);
    });
    expect(spy.maxPending).toBe(1);
  });

  it('a single timer firing 4 ms early is followed by one more for the remaining 4 ms', () => {
    const ts = createTestScheduler();
    let first = true;
    const spy = new SpyScheduler(ts, (delay) => {
      if (!first) return delay;
      first = false;
      return delay - 4;
    });
    ts.run(({ cold, expectObservable }) => {
      const bucket = new TokenBucket({ capacity: 3, refillRate: 1, interval: 10, scheduler: spy });
      expectObservable(cold('(abcd|)').pipe(throttleByTokens(bucket))).toBe('(abc) 5ms (d|)');
    });
    expect(spy.delays).toEqual([10, 4]);
  });
});

describe('timers that fire late (capacity 1, 1 token / 10 ms, cost 1)', () => {
  it('a late timer makes its grant late but does not push back what follows (jitter does not add up)', () => {
    const ts = createTestScheduler();
    const spy = new SpyScheduler(ts, (delay) => delay + 1); // every timer 1 ms late
    const times: number[] = [];
    ts.run(({ cold }) => {
      const bucket = new TokenBucket({ capacity: 1, refillRate: 1, interval: 10, initialTokens: 0, scheduler: spy });
      cold('(abcde|)')
        .pipe(throttleByTokens(bucket))
        .subscribe(() => {
          times.push(ts.now());
          expect(bucket.available()).toBeLessThanOrEqual(1);
        });
      probeAt(ts, 100, () => expect(bucket.available()).toBe(1)); // clamped again once nothing waits
    });
    // Due 10, 20, 30, 40, 50; each timer fires 1 ms late. Each grant is booked when it was due,
    // so the rate stays 1 per 10 ms instead of drifting to 1 per 11 ms (11, 22, 33, ...).
    expect(times).toEqual([11, 21, 31, 41, 51]);
    // With a constant lateness the emissions still keep capacity + rate·(t2 − t1) in every window.
    for (let i = 0; i < times.length; i++) {
      for (let j = i; j < times.length; j++) expect(j - i + 1).toBeLessThanOrEqual(1 + (times[j]! - times[i]!) / 10 + 1e-9);
    }
  });

  it('a head whose cost is the whole capacity, on a rate off the µs grid, is granted exactly on time', () => {
    const ts = createTestScheduler();
    const times: number[] = [];
    const interval = 1.4130000000000285; // 1 token per 1.41300000000003 ms: each wait rounds up
    ts.run(({ cold }) => {
      const bucket = new TokenBucket({ capacity: 1, refillRate: 1, interval, initialTokens: 0, scheduler: ts });
      cold('(abcdefghij|)')
        .pipe(throttleByTokens(bucket))
        .subscribe(() => times.push(ts.now()));
    });
    expect(times).toHaveLength(10);
    // Rounding each wait up (to 1 µs) would let the full bucket clamp meanwhile: 1 µs lost per value.
    times.forEach((time, i) => expect(time).toBeCloseTo((i + 1) * interval, 9));
  });
});

describe('float boundaries (capacity 1, 0.1 token / 5 ms)', () => {
  it('a cost within float noise of the slack never loops on zero-delay timers', () => {
    const ts = createTestScheduler();
    const spy = new SpyScheduler(ts, (delay) => delay, 10);
    const times: number[] = [];
    ts.run(({ cold }) => {
      const bucket = new TokenBucket({ capacity: 1, refillRate: 0.1, interval: 5.0000000000001, initialTokens: 0, scheduler: spy });
      const record = () => times.push(ts.now());
      bucket.take(0.9999999999999999).subscribe(record);
      cold('-(a|)').subscribe(() => {
        bucket.take(1.0001110223024625e-12).subscribe(record);
        bucket.take(5e-324).subscribe(record);
      });
    });
    expect(times).toHaveLength(3);
    expect(times[0]).toBeCloseTo(50, 2);
    expect(times[2]! - times[0]!).toBeLessThanOrEqual(0.002);
  });
});

describe('waits longer than a timer can hold (capacity 1, 1 token per 3e9 ms)', () => {
  it('are exact in virtual time, in steps of at most 2^31−1 ms', () => {
    const ts = createTestScheduler();
    const spy = new SpyScheduler(ts);
    const times: number[] = [];
    ts.run(() => {
      const bucket = new TokenBucket({ capacity: 1, refillRate: 1, interval: 3e9, initialTokens: 0, scheduler: spy });
      bucket.take(1).subscribe(() => times.push(ts.now()));
      bucket.take(1).subscribe(() => times.push(ts.now()));
      probeAt(ts, 2e9, () => expect(bucket.stats()).toMatchObject({ queued: 2, timerScheduled: true }));
    });
    expect(times).toEqual([3e9, 6e9]);
    expect(MAX_TIMER_DELAY).toBe(2 ** 31 - 1);
    expect(Math.max(...spy.delays)).toBeLessThanOrEqual(MAX_TIMER_DELAY);
    expect(spy.delays).toEqual([MAX_TIMER_DELAY, 3e9 - MAX_TIMER_DELAY, MAX_TIMER_DELAY, 3e9 - MAX_TIMER_DELAY]);
  });

  it('a fractional cost over 1e10 ms: several capped steps, still exact', () => {
    const ts = createTestScheduler();
    const spy = new SpyScheduler(ts);
    const times: number[] = [];
    ts.run(({ cold }) => {
      const bucket = new TokenBucket({ capacity: 1, refillRate: 0.3, interval: 3e9, initialTokens: 0, scheduler: spy });
      cold('(ab|)')
        .pipe(throttleByTokens(bucket, { cost: 0.7 }))
        .subscribe({
          next: () => times.push(ts.now()),
          complete: () => times.push(-ts.now()),
        });
    });
    expect(times).toEqual([7e9, 14e9, -14e9]);
    expect(spy.delays.every((delay) => delay > 0 && delay <= MAX_TIMER_DELAY)).toBe(true);
    expect(spy.delays.length).toBe(8); // 4 steps per 7e9 ms wait
  });

  it('a tiny fractional deficit never produces a zero-delay timer loop', () => {
    const ts = createTestScheduler();
    const spy = new SpyScheduler(ts, (delay) => delay, 20);
    const times: number[] = [];
    ts.run(() => {
      const bucket = new TokenBucket({ capacity: 1, refillRate: 1, interval: 1, initialTokens: 0, scheduler: spy });
      bucket.take(0.0010000005).subscribe(() => times.push(ts.now()));
    });
    expect(times).toHaveLength(1);
    expect(times[0]).toBeGreaterThanOrEqual(0.0010000005);
    expect(times[0]).toBeLessThanOrEqual(0.0010000005 + 0.001);
    expect(spy.delays.every((delay) => delay > 0)).toBe(true);
  });
});

describe('a clock that goes backwards (capacity 10, 1 token / 10 ms)', () => {
  it('neither mints nor loses tokens, and refill resumes from the earlier reading', () => {
    const ts = createTestScheduler();
    const spy = new SpyScheduler(ts);
    ts.run(() => {
      spy.clockOffset = 1000;
      const bucket = new TokenBucket({ capacity: 10, refillRate: 1, interval: 10, initialTokens: 0, scheduler: spy });
      probeAt(ts, 20, () => {
        expect(bucket.available()).toBeCloseTo(2, 12);
        spy.clockOffset = 500; // the clock jumps back 500 ms
        expect(bucket.available()).toBeCloseTo(2, 12);
        expect(bucket.timeUntil(3)).toBeCloseTo(10, 9);
      });
      probeAt(ts, 30, () => expect(bucket.available()).toBeCloseTo(3, 12));
      probeAt(ts, 35, () => {
        expect(bucket.tryTake(3.5)).toBe(true);
        spy.clockOffset = -1e6; // far back, while nothing is read in between
        expect(bucket.available()).toBeCloseTo(0, 12);
      });
      probeAt(ts, 45, () => expect(bucket.available()).toBeCloseTo(1, 12));
    });
  });

  it('a waiter is granted once the clock has moved on by its deficit, never early, with one timer', () => {
    const ts = createTestScheduler();
    const spy = new SpyScheduler(ts);
    const times: number[] = [];
    ts.run(() => {
      spy.clockOffset = 100;
      const bucket = new TokenBucket({ capacity: 10, refillRate: 1, interval: 10, initialTokens: 0, scheduler: spy });
      bucket.take(2).subscribe(() => times.push(ts.now()));
      probeAt(ts, 5, () => {
        expect(bucket.available()).toBeCloseTo(0.5, 12);
        spy.clockOffset = 40; // back 60 ms
        expect(bucket.available()).toBeCloseTo(0.5, 12);
        expect(bucket.stats()).toMatchObject({ queued: 1, timerScheduled: true });
      });
    });
    // 0.5 earned by frame 5, then 1.5 over the next 15 ms of the (earlier) clock: due at 20 as planned.
    expect(times).toEqual([20]);
    expect(spy.maxPending).toBe(1);
  });
});

describe('a grant and an unsubscribe at the same instant (capacity 5, 1 token / 10 ms, starting empty)', () => {
  const limits = { capacity: 5, refillRate: 1, interval: 10, initialTokens: 0 };

  for (const unsubscribeFirst of [true, false]) {
    it(`conserve tokens: emitted cost + available = refill (${unsubscribeFirst ? 'unsubscribe' : 'grant'} runs first)`, () => {
      const ts = createTestScheduler();
      const emitted: Array<[number, string]> = [];
      let bucket!: TokenBucket;
      ts.run(({ cold }) => {
        bucket = new TokenBucket(limits);
        let subscription: Subscription | undefined;
        const subscribe = () => {
          subscription = cold('(ab)')
            .pipe(throttleByTokens(bucket, { cost: 1 }))
            .subscribe((v) => emitted.push([ts.now(), v]));
          cold('(xy)')
            .pipe(throttleByTokens(bucket, { cost: 0.5 }))
            .subscribe((v) => emitted.push([ts.now(), v]));
        };
        const unsubscribe = () => subscription!.unsubscribe();
        if (unsubscribeFirst) {
          ts.schedule(unsubscribe, 20); // scheduled before the bucket's timer: runs first at 20
          ts.schedule(subscribe, 0);
        } else {
          ts.schedule(subscribe, 0);
          ts.schedule(() => ts.schedule(unsubscribe, 5), 15); // scheduled after b's timer (planned at 10): runs second
        }
        probeAt(ts, 40, () => {
          const emittedCost = emitted.reduce((sum, [, v]) => sum + (v === 'a' || v === 'b' ? 1 : 0.5), 0);
          expect(emittedCost + bucket.available()).toBeCloseTo(4, 12); // 40 ms of refill, never clamped
          expect(bucket.stats().grantedCost).toBeCloseTo(emittedCost, 12);
          expect(bucket.stats()).toMatchObject({ queued: 0, timerScheduled: false });
        });
      });
      // a at 10; b due at 20: cancelled if the unsubscribe comes first (then x, y are covered at once).
      expect(emitted).toEqual(
        unsubscribeFirst
          ? [
              [10, 'a'],
              [20, 'x'],
              [20, 'y'],
            ]
          : [
              [10, 'a'],
              [20, 'b'],
              [25, 'x'],
              [30, 'y'],
            ],
      );
    });
  }

  it('take(): grant and unsubscribe at the same frame, both orders, never double-spend', () => {
    for (const unsubscribeFirst of [true, false]) {
      const ts = createTestScheduler();
      let granted = 0;
      let bucket!: TokenBucket;
      ts.run(() => {
        bucket = new TokenBucket(limits);
        let subscription: Subscription | undefined;
        const unsubscribe = () => subscription!.unsubscribe();
        if (unsubscribeFirst) ts.schedule(unsubscribe, 10);
        subscription = bucket.take(1).subscribe(() => granted++);
        if (!unsubscribeFirst) ts.schedule(unsubscribe, 10);
        probeAt(ts, 15, () => expect(granted + bucket.available()).toBeCloseTo(1.5, 12));
      });
      expect(granted).toBe(unsubscribeFirst ? 0 : 1);
      expect(bucket.stats().cancelled).toBe(unsubscribeFirst ? 1 : 0);
    }
  });
});

describe('the default scheduler', () => {
  afterEach(() => vi.restoreAllMocks());

  it('inside TestScheduler.run, a bucket without a scheduler runs in virtual time', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable }) => {
      const bucket = new TokenBucket({ capacity: 1, refillRate: 1, interval: 1000 });
      expect(bucket.scheduler).toBe(monotonicScheduler);
      expectObservable(cold('(abc|)').pipe(throttleByTokens(bucket))).toBe('a 999ms b 999ms (c|)');
      probeAt(ts, 1500, () => {
        expect(monotonicScheduler.now()).toBe(1500);
        expect(bucket.available()).toBe(0.5);
      });
    });
  });

  it('outside it, now() is performance.now(), not Date.now(), and never goes backwards', async () => {
    const dateNow = vi.spyOn(Date, 'now').mockReturnValue(0);
    const before = performance.now();
    const reading = monotonicScheduler.now();
    expect(reading).toBeGreaterThanOrEqual(before - 1);
    expect(reading).toBeLessThanOrEqual(performance.now() + 1);
    // Date.now() may be asked (to tell virtual time apart), but its reading is never the clock.
    expect(dateNow).toHaveReturnedWith(0);
    expect(reading).not.toBe(0);

    await Promise.resolve(); // a new turn: the next reading samples the clock again
    const start = monotonicScheduler.now();
    const performanceNow = vi.spyOn(performance, 'now').mockReturnValue(start + 50);
    await Promise.resolve();
    expect(monotonicScheduler.now()).toBe(start + 50);
    performanceNow.mockReturnValue(start + 20); // the platform clock goes backwards
    await Promise.resolve();
    expect(monotonicScheduler.now()).toBe(start + 50);
    performanceNow.mockReturnValue(start + 60);
    await Promise.resolve();
    expect(monotonicScheduler.now()).toBe(start + 60);
  });

  it('outside it, timers are real: a take waits its deficit in real time', async () => {
    const bucket = new TokenBucket({ capacity: 1, refillRate: 1, interval: 30, initialTokens: 0 });
    const started = performance.now();
    await firstValueFrom(bucket.take(1));
    expect(performance.now() - started).toBeGreaterThanOrEqual(29);
    expect(bucket.stats()).toMatchObject({ queued: 0, timerScheduled: false, granted: 1 });
  });
});
