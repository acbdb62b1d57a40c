import { describe, expect, it } from 'vitest';
import { defer, map, NEVER, of, range, timer, type Observable } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import { adaptiveThrottle } from '../../src/operators/adaptiveThrottle';
import type { RateLimitFeedback } from '../../src/arithmetic/adaptation';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { createTestScheduler } from '../support/marbles';
import { worstWindow } from '../support/slidingWindow';

/** A response as the tests' fake servers send it: a status and already-parsed feedback. */
interface Reply {
  status: number;
  info?: RateLimitFeedback;
  value?: string;
}
const feedback = (reply: Reply): RateLimitFeedback | undefined => reply.info;
const ok = (value: string): Reply => ({ status: 200, value });

describe('adaptiveThrottle: a synchronous throttled reply racing a synchronous retry grant (issue 11, item 1)', () => {
  /**
   * a is sent at 0 and told to come back in 10 ms; the bucket's timer sends it again at 10 and
   * the reply, a bare 429, comes synchronously; the retry is granted at once (the pause earned
   * 2 tokens) and answered 200 at 12. The second try's completion must not clear the third's
   * entry: the 200 is emitted, the output completes only after it, and unsubscribing cancels it.
   */
  function race(cold: TestScheduler['createColdObservable']) {
    const bucket = new TokenBucket({ capacity: 2, refillRate: 1, interval: 1 });
    const comeBack: Reply = { status: 429, info: { retryAfter: 10 } };
    const bare: Reply = { status: 429 };
    const third = cold<Reply>('--r|', { r: ok('a') });
    let calls = 0;
    const request = (): Observable<Reply> => {
      calls++;
      if (calls === 1) return of(comeBack);
      return calls === 2 ? of(bare) : third;
    };
    return { bucket, third, operator: adaptiveThrottle(request, { bucket, feedback, adapt: false }) };
  }

  it('emits the retry’s 200 and completes only after it', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const { third, operator } = race(cold);
      expectObservable(cold('a|').pipe(operator)).toBe('12ms r|', { r: ok('a') });
      expectSubscriptions(third.subscriptions).toBe('10ms ^--!');
    });
  });

  it('unsubscribing while the retry is in flight cancels it and leaves nothing scheduled', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions, flush }) => {
      const { bucket, third, operator } = race(cold);
      expectObservable(cold('a|').pipe(operator), '11ms !').toBe('');
      expectSubscriptions(third.subscriptions).toBe('10ms ^!');
      flush();
      expect(bucket.stats()).toMatchObject({ queued: 0, timerScheduled: false });
    });
  });
});

describe('adaptiveThrottle: the request’s AbortSignal', () => {
  it('aborts when the output is unsubscribed while the request is in flight, not once it has answered', () => {
    createTestScheduler().run(({ cold, expectObservable, flush }) => {
      const bucket = new TokenBucket({ capacity: 5, refillRate: 1, interval: 1 });
      const aborted: string[] = [];
      const signals: AbortSignal[] = [];
      const request = (value: string, _index: number, signal: AbortSignal): Observable<Reply> => {
        signals.push(signal);
        signal.addEventListener('abort', () => aborted.push(value));
        return value === 'a' ? cold('-(r|)', { r: ok(value) }) : cold('-----(r|)', { r: ok(value) });
      };
      // a answers at 1; b is still in flight at 2, when the output is unsubscribed.
      expectObservable(cold('(ab)').pipe(adaptiveThrottle(request, { bucket, feedback })), '--!').toBe('-a', { a: ok('a') });
      flush();
      expect(aborted).toEqual(['b']);
      expect(signals.map((signal) => signal.aborted)).toEqual([false, true]);
    });
  });

  it('never aborts a request that completed, even when the output ends later', () => {
    createTestScheduler().run(({ cold, flush }) => {
      const bucket = new TokenBucket({ capacity: 5, refillRate: 1, interval: 1 });
      const signals: AbortSignal[] = [];
      const request = (value: string, _index: number, signal: AbortSignal): Observable<Reply> => {
        signals.push(signal);
        return cold('-(r|)', { r: ok(value) });
      };
      const subscription = cold('(ab)-').pipe(adaptiveThrottle(request, { bucket, feedback })).subscribe();
      flush();
      subscription.unsubscribe();
      expect(signals.map((signal) => signal.aborted)).toEqual([false, false]);
    });
  });

  it('aborts the other requests in flight when one errors, and hands a fresh signal to each retry', () => {
    createTestScheduler().run(({ cold, flush }) => {
      const bucket = new TokenBucket({ capacity: 5, refillRate: 1, interval: 1 });
      const broken = new Error('boom');
      const seen: { value: string; signal: AbortSignal }[] = [];
      let aCalls = 0;
      const request = (value: string, _index: number, signal: AbortSignal): Observable<Reply> => {
        seen.push({ value, signal });
        if (value === 'a') return ++aCalls === 1 ? of({ status: 429 }) : cold('--(r|)', { r: ok('a') });
        return value === 'b' ? cold('---#', undefined, broken) : NEVER;
      };
      let failure: unknown;
      cold('(abc)')
        .pipe(adaptiveThrottle(request, { bucket, feedback, adapt: false }))
        .subscribe({ error: (error: unknown) => (failure = error) });
      flush();
      expect(failure).toBe(broken);
      // a's first try answered (429) and got no abort; its retry answered at 2; c was in flight when b failed at 3.
      expect(seen.map(({ value, signal }) => `${value}:${signal.aborted}`)).toEqual(['a:false', 'a:false', 'b:false', 'c:true']);
      expect(seen[0]!.signal).not.toBe(seen[1]!.signal);
    });
  });
});

describe('adaptiveThrottle: a throw inside the learner or the bucket ends the stream with it (issue 11, item 2)', () => {
  /** A bucket whose retuning fails, as a broken shared limiter's would. */
  class FailingBucket extends TokenBucket {
    constructor(private readonly failure: Error) {
      super({ capacity: 5, refillRate: 1, interval: 1 });
    }
    override adapt(): void {
      throw this.failure;
    }
    override configure(): void {
      throw this.failure;
    }
  }

  it('a success whose feedback the bucket cannot take errors the output, never escapes as uncaught', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const failure = new RangeError('adapt failed');
      const bucket = new FailingBucket(failure);
      const told: Reply = { status: 200, info: { limit: 10, window: 1000 } };
      const request = (): Observable<Reply> => cold('-(r|)', { r: told });
      expectObservable(cold('ab|').pipe(adaptiveThrottle(request, { bucket, feedback }))).toBe('-#', undefined, failure);
    });
  });

  it('a throttle signal whose retuning throws errors the output', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const failure = new RangeError('configure failed');
      const bucket = new FailingBucket(failure);
      const request = (): Observable<Reply> => of({ status: 429, info: { retryAfter: 5 } });
      expectObservable(cold('a|').pipe(adaptiveThrottle(request, { bucket, feedback }))).toBe('#', undefined, failure);
    });
  });
});

describe('adaptiveThrottle: one hostile response cannot poison the bucket (issue 11, item 2)', () => {
  it('remaining 1e308 before a reset in 1 ms gives a finite rate; configure and a later bare 429 still work', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, flush }) => {
      const bucket = new TokenBucket({ capacity: 5, refillRate: 5 });
      const hostile: Reply = { status: 200, info: { remaining: 1e308, resetAfter: 1 } };
      const replies: Reply[] = [hostile, hostile, hostile, { status: 429 }, ok('e')];
      let call = 0;
      const rates: number[] = [];
      bucket.events$.subscribe((event) => {
        if (event.type === 'reconfigured') rates.push(event.refillRate);
      });
      let emitted = 0;
      let ended = '';
      cold('abcd|')
        .pipe(adaptiveThrottle(() => cold('-(r|)', { r: replies[call++] ?? ok('x') }), { bucket, feedback, concurrency: 1 }))
        .subscribe({ next: () => emitted++, complete: () => (ended = 'complete'), error: () => (ended = 'error') });
      flush();
      expect(ended).toBe('complete');
      expect(emitted).toBe(4);
      for (const rate of rates) expect(Number.isFinite(rate) && rate > 0).toBe(true);
      // Without a policy and with maxRate Infinity, each response raises the rate at most 16×.
      expect(rates[0]!).toBeLessThanOrEqual(5 * 16);
      expect(Number.isFinite(bucket.refillRate)).toBe(true);
    });
    // configure afterwards holds again: at most capacity + rate over a second.
    const bucket = new TokenBucket({ capacity: 5, refillRate: 5, scheduler: ts });
    for (let i = 0; i < 40; i++) bucket.adapt({ remaining: 1e308, resetAfter: 1 });
    expect(Number.isFinite(bucket.refillRate)).toBe(true);
    bucket.configure({ refillRate: 5 });
    ts.run(() => {
      let granted = 0;
      for (let ms = 0; ms <= 1000; ms += 10) ts.schedule(() => (granted += tryAll(bucket)), ms);
      ts.flush();
      expect(granted).toBeLessThanOrEqual(5 + 5 + 1);
    });
  });
});

function tryAll(bucket: TokenBucket): number {
  let granted = 0;
  while (granted < 1000 && bucket.tryTake(1)) granted++;
  return granted;
}

/**
 * An IETF-style server as the tests' referee: `limit` requests per fixed window of `windowMs`,
 * deciding when a request arrives, answering `latency(i)` ms later with the policy, what is
 * left and the reset in whole seconds (delta-seconds, rounded up, as the drafts define it); a
 * request over the limit gets 429 with Retry-After (whole seconds) until the window ends.
 */
class FixedWindowServer {
  admitted: number[] = [];
  refused = 0;
  private windowStart = 0;
  private count = 0;
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}
  arrive(now: number): Reply {
    while (now >= this.windowStart + this.windowMs) {
      this.windowStart += this.windowMs;
      this.count = 0;
    }
    const reset = Math.ceil((this.windowStart + this.windowMs - now) / 1000) * 1000;
    if (this.count >= this.limit) {
      this.refused++;
      return { status: 429, info: { limit: this.limit, window: this.windowMs, remaining: 0, resetAfter: reset, retryAfter: reset } };
    }
    this.count++;
    this.admitted.push(now);
    return { status: 200, info: { limit: this.limit, window: this.windowMs, remaining: this.limit - this.count, resetAfter: reset } };
  }
}

/** Runs `values` requests against `server` with latency 10–40 ms (a fixed pseudo-random sequence) until `untilMs`. */
function runAgainst(
  ts: TestScheduler,
  server: FixedWindowServer,
  bucket: { capacity: number; refillRate: number },
  safetyFactor: number,
  untilMs: number,
): void {
  let seed = 7;
  const latency = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return 10 + Math.floor((seed / 2147483648) * 30);
  };
  const request = (): Observable<Reply> =>
    defer(() => {
      const reply = server.arrive(ts.now());
      return timer(latency()).pipe(map(() => reply));
    });
  const subscription = range(0, 100_000)
    .pipe(adaptiveThrottle(request, { bucket, feedback, safetyFactor, concurrency: 8, retry: 1000 }))
    .subscribe();
  ts.schedule(() => subscription.unsubscribe(), untilMs);
  ts.flush();
}

describe('adaptiveThrottle: safetyFactor is a ceiling when a policy is known (issue 11, item 5)', () => {
  it('policy 600 per 30 s, safetyFactor 0.5: no 30 s window spends more than 300 + the burst, and it runs close to 10/s', () => {
    const ts = createTestScheduler();
    ts.run(() => {
      const server = new FixedWindowServer(600, 30_000);
      runAgainst(ts, server, { capacity: 5, refillRate: 5 }, 0.5, 120_000);
      const sends = server.admitted.map((time) => ({ time, cost: 1 }));
      const worst = worstWindow(sends, { capacity: 5, rate: 10 / 1000, window: 30_000 - 1e-9, tolerance: 0 });
      expect(worst.cost).toBeLessThanOrEqual(worst.bound);
      expect(server.refused).toBe(0);
      // Not merely slow: after the first window it spends (almost) all it may, ~10/s.
      const late = server.admitted.filter((time) => time >= 30_000).length;
      expect(late / 90).toBeGreaterThan(9.5);
    });
  });
});

describe('adaptiveThrottle: coarse resets do not starve the flow (issue 11, item 7)', () => {
  it('20 per 1 s window with the reset always reading 1 s: ≥ 95 % of what the server admits, safetyFactor 1', () => {
    const ts = createTestScheduler();
    ts.run(() => {
      const server = new FixedWindowServer(20, 1000);
      runAgainst(ts, server, { capacity: 1, refillRate: 10 }, 1, 30_000);
      const goodput = server.admitted.length / (20 * 30);
      expect(goodput).toBeGreaterThanOrEqual(0.95);
      expect(server.refused / (server.admitted.length + server.refused)).toBeLessThanOrEqual(0.01);
    });
  });
});

describe('adaptiveThrottle: a shared bucket starting outside the flow’s bounds, no headers (capacity 5)', () => {
  it('is pulled into [minRate, maxRate] when the flow subscribes, not left at its own rate', () => {
    createTestScheduler().run(({ flush }) => {
      const bucket = new TokenBucket({ capacity: 5, refillRate: 100 }); // 100/s, the flow allows 10/s
      const sentAt: number[] = [];
      let now = 0;
      const request = () => defer(() => (sentAt.push(now), of<Reply>(ok('x'))));
      range(0, 100)
        .pipe(adaptiveThrottle(request, { bucket, maxRate: 10, feedback }))
        .subscribe();
      for (let frame = 0; frame <= 2000; frame += 100) {
        timer(frame).subscribe(() => (now = frame));
      }
      flush();
      expect(bucket.refillRate).toBe(10);
      // The burst of 5, then 10/s: at most 15 in the first second (at 100/s it would be 100).
      expect(sentAt.filter((t) => t < 1000).length).toBeLessThanOrEqual(15);
    });
  });

  it('below minRate, is raised to it', () => {
    createTestScheduler().run(({ flush }) => {
      const bucket = new TokenBucket({ capacity: 5, refillRate: 1 });
      range(0, 3)
        .pipe(adaptiveThrottle(() => of<Reply>(ok('x')), { bucket, minRate: 4, feedback }))
        .subscribe();
      flush();
      expect(bucket.refillRate).toBe(4);
    });
  });
});
