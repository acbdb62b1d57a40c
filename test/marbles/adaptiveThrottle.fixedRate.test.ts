/**
 * `adaptiveThrottle(request, { bucket, concurrency, adapt: false })`: a fixed-rate executor.
 * The rate is the bucket's and stays so whatever the responses say; a throttled result's
 * Retry-After pauses the bucket (through `adapt({ retryAfter })` alone) before its retry;
 * concurrency and rate hold at once; tokens are taken when a request starts.
 */
import { describe, expect, it } from 'vitest';
import { map, mergeMap, of, timer, type Observable } from 'rxjs';
import { adaptiveThrottle } from '../../src/operators/adaptiveThrottle';
import { throttleByTokens } from '../../src/operators/throttleByTokens';
import type { RateLimitFeedback } from '../../src/arithmetic/adaptation';
import type { AdaptOptions } from '../../src/limiters/adaptOptions';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { createTestScheduler } from '../support/marbles';

interface Reply {
  status: number;
  info?: RateLimitFeedback;
}
const feedback = (reply: Reply): RateLimitFeedback | undefined => reply.info;

/** A bucket whose `adapt` and `configure` calls are recorded. */
function watchedBucket(options: ConstructorParameters<typeof TokenBucket>[0]) {
  const bucket = new TokenBucket(options);
  const adapted: Array<[RateLimitFeedback, AdaptOptions | undefined]> = [];
  const configured: unknown[] = [];
  const adapt = bucket.adapt.bind(bucket);
  const configure = bucket.configure.bind(bucket);
  bucket.adapt = (info, adaptOptions) => {
    adapted.push([info, adaptOptions]);
    adapt(info, adaptOptions);
  };
  bucket.configure = (limits) => {
    configured.push(limits);
    configure(limits);
  };
  return { bucket, adapted, configured };
}

/** What every kind of feedback would do to the rate if it were listened to. */
const TALKATIVE: Record<string, Reply> = {
  policy: { status: 200, info: { limit: 5, window: 10 } },
  remaining: { status: 200, info: { remaining: 0, resetAfter: 30 } },
  continuous: { status: 200, info: { limit: 100, remaining: 1, resetAfter: 500, window: 1000, refill: 'continuous' } },
  silent: { status: 200 },
};

describe('adaptiveThrottle adapt: false — the rate never changes', () => {
  for (const [kind, reply] of Object.entries(TALKATIVE)) {
    it(`keeps 1 per 10 ms whatever the responses say (${kind})`, () => {
      createTestScheduler().run(({ cold, hot, expectObservable, flush }) => {
        const { bucket, adapted, configured } = watchedBucket({ capacity: 1, refillRate: 1, interval: 10 });
        const result = hot('(abc)|').pipe(adaptiveThrottle(() => cold('(r|)', { r: reply }), { bucket, feedback, adapt: false }));
        expectObservable(result).toBe('r 9ms r 9ms (r|)', { r: reply });
        flush();
        expect(adapted).toEqual([]);
        expect(configured).toEqual([]);
        expect(bucket.refillRate).toBe(1);
      });
    });
  }

  it('with adapt left on, the same responses do move the rate (the option is what makes the difference)', () => {
    createTestScheduler().run(({ cold, hot, expectObservable }) => {
      const bucket = new TokenBucket({ capacity: 1, refillRate: 1, interval: 10 });
      const reply = TALKATIVE.policy!;
      const result = hot('(abc)|').pipe(adaptiveThrottle(() => cold('(r|)', { r: reply }), { bucket, feedback, safetyFactor: 1 }));
      expectObservable(result).toBe('r-r-r|', { r: reply }); // 5 per 10 ms: one every 2 ms
    });
  });

  it('a 429 without Retry-After changes no rate (no AIMD decrease): the value is retried at the bucket rate', () => {
    createTestScheduler().run(({ cold, hot, expectObservable, flush }) => {
      const { bucket, adapted, configured } = watchedBucket({ capacity: 1, refillRate: 1, interval: 10 });
      let calls = 0;
      const ok: Reply = { status: 200 };
      const request = (): Observable<Reply> => cold('(r|)', { r: calls++ === 0 ? { status: 429 } : ok });
      const result = hot('(ab)|').pipe(adaptiveThrottle(request, { bucket, feedback, adapt: false }));
      // a's 429 at 0; its retry (first in line) at 10, b at 20.
      expectObservable(result).toBe('10ms r 9ms (r|)', { r: ok });
      flush();
      expect(adapted).toEqual([]);
      expect(configured).toEqual([]);
    });
  });
});

describe('adaptiveThrottle adapt: false — throttled results wait for their Retry-After', () => {
  it('pauses through adapt({ retryAfter }) alone, which leaves the rate as it is, and retries the value first', () => {
    createTestScheduler().run(({ cold, hot, expectObservable, flush }) => {
      const { bucket, adapted, configured } = watchedBucket({ capacity: 3, refillRate: 1, interval: 1 });
      const rates: number[] = [];
      bucket.events$.subscribe((event) => event.type === 'reconfigured' && rates.push(event.refillRate));
      // The 429 also states a policy (100 per 10 ms) that adapting would take: it is ignored.
      const slowDown: Reply = { status: 429, info: { retryAfter: 20, limit: 100, window: 10 } };
      let calls = 0;
      const request = (value: string): Observable<Reply & { value: string }> =>
        cold('(r|)', { r: { ...(value === 'a' && calls++ === 0 ? slowDown : { status: 200 }), value } });
      const result = hot('a-(bc)|').pipe(
        adaptiveThrottle(request, { bucket, feedback, concurrency: 1, adapt: false }),
        map((reply) => reply.value),
      );
      // Nothing before 20; then a (retried first), b, c from the 3 tokens the pause earned.
      expectObservable(result).toBe('20ms (abc|)');
      flush();
      expect(adapted).toEqual([[{ retryAfter: 20 }, undefined]]);
      expect(configured).toEqual([]);
      expect(rates).toEqual([1]); // the pause's `reconfigured` event: the same rate
      expect(bucket.refillRate).toBe(1);
    });
  });

  it('after the pause, spends at the fixed rate, not a burst of what a server might allow', () => {
    createTestScheduler().run(({ cold, hot, expectObservable }) => {
      const bucket = new TokenBucket({ capacity: 1, refillRate: 1, interval: 5 });
      let calls = 0;
      const request = (): Observable<Reply> =>
        cold('(r|)', { r: calls++ === 0 ? { status: 429, info: { retryAfter: 12 } } : { status: 200 } });
      const result = hot('(abc)|').pipe(
        adaptiveThrottle(request, { bucket, feedback, adapt: false }),
        map(() => 'x'),
      );
      expectObservable(result).toBe('12ms x 4ms x 4ms (x|)');
    });
  });
});

describe('adaptiveThrottle adapt: false — concurrency and rate at once, tokens taken when a request starts', () => {
  it('holds both: never more than 2 in flight, never faster than the bucket', () => {
    const ts = createTestScheduler();
    ts.run(({ hot, expectObservable, flush }) => {
      const bucket = new TokenBucket({ capacity: 2, refillRate: 1, interval: 10 });
      const starts: number[] = [];
      const request = (value: string): Observable<string> => {
        starts.push(ts.now());
        return timer(12).pipe(map(() => value));
      };
      const result = hot('(abcdef)|').pipe(adaptiveThrottle(request, { bucket, concurrency: 2, adapt: false }));
      // a, b at 0 (the burst of 2); both slots free at 12, with 1.2 tokens: c at 12, d at 20 (the
      // rate); c's slot frees at 24, e's token is there at 30; d's at 32, f's token at 40.
      expectObservable(result).toBe('12ms (ab) 8ms c 7ms d 9ms e 9ms (f|)');
      flush();
      expect(starts).toEqual([0, 0, 12, 20, 30, 40]);
    });
  });

  /** Requests started by 'a' at 0 (slow: 10 ms), then by b..f (instant), as either composition sends them. */
  const slowThenFast = (ts: { now(): number }, starts: number[]) => (value: string) => {
    starts.push(ts.now());
    return value === 'a' ? timer(10).pipe(map(() => value)) : of(value);
  };

  /** The most requests started within any `window` ms. */
  const mostStartedWithin = (starts: readonly number[], window: number): number =>
    Math.max(...starts.map((from) => starts.filter((at) => at >= from && at <= from + window).length));

  it('a slot freed after slow requests releases no burst: each request takes its token as it starts', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, flush }) => {
      // 1 token per 2 ms, bursts of 1, one request at a time.
      const bucket = new TokenBucket({ capacity: 1, refillRate: 1, interval: 2 });
      const starts: number[] = [];
      const emitted: string[] = [];
      cold('(abcdef|)')
        .pipe(adaptiveThrottle(slowThenFast(ts, starts), { bucket, concurrency: 1, adapt: false }))
        .subscribe((value) => emitted.push(`${value}@${ts.now()}`));
      flush();
      // a answers at 10; b goes then (the bucket is full again), c..f one per 2 ms.
      expect(starts).toEqual([0, 10, 12, 14, 16, 18]);
      expect(emitted).toEqual(['a@10', 'b@10', 'c@12', 'd@14', 'e@16', 'f@18']);
      // Never more than capacity + rate × window: 1 at any instant, 2 within 2 ms.
      expect(mostStartedWithin(starts, 0)).toBe(1);
      expect(mostStartedWithin(starts, 2)).toBe(2);
    });
  });

  it('the classic composition, throttleByTokens then mergeMap(request, 1), bursts there: 5 requests at one instant', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, flush }) => {
      const bucket = new TokenBucket({ capacity: 1, refillRate: 1, interval: 2 });
      const starts: number[] = [];
      // The tokens are taken when a value leaves throttleByTokens (0, 2, 4, 6, 8, 10), not when
      // its request starts: b..e wait in mergeMap's buffer and all go when a's slot frees.
      cold('(abcdef|)')
        .pipe(throttleByTokens(bucket), mergeMap(slowThenFast(ts, starts), 1))
        .subscribe();
      flush();
      expect(starts).toEqual([0, 10, 10, 10, 10, 10]);
      expect(mostStartedWithin(starts, 0)).toBe(5);
    });
  });
});

describe('adaptiveThrottle adapt: checked when the operator is created', () => {
  const request = (): Observable<Reply> => of({ status: 200 });
  const bucket = { capacity: 1, refillRate: 1 };

  it('must be a boolean, naming the option and the value', () => {
    for (const [bad, shown] of [
      ['false', '"false"'],
      [0, '0'],
      [1, '1'],
      [null, 'null'],
      [{}, 'an object'],
    ] as const) {
      expect(() => adaptiveThrottle(request, { bucket, adapt: bad as never }), shown).toThrow(
        new TypeError(`adaptiveThrottle option "adapt" must be a boolean, got ${shown}`),
      );
    }
    expect(() => adaptiveThrottle(request, { bucket, adapt: true })).not.toThrow();
    expect(() => adaptiveThrottle(request, { bucket, adapt: undefined })).not.toThrow();
  });

  it('with adapt: false, refuses the options that only steer adapting (they would do nothing)', () => {
    for (const option of ['safetyFactor', 'minRate', 'maxRate', 'decrease', 'increase'] as const) {
      expect(() => adaptiveThrottle(request, { bucket, adapt: false, [option]: 0.5 }), option).toThrow(
        new TypeError(`adaptiveThrottle option "${option}" has no effect with adapt: false (the rate is fixed); remove one of them`),
      );
    }
    // Retry-After and concurrency still matter: these are fine.
    expect(() => adaptiveThrottle(request, { bucket, adapt: false, concurrency: 2, retry: 5, feedback: () => undefined })).not.toThrow();
  });
});
