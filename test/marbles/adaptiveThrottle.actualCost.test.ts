/**
 * `adaptiveThrottle`'s `actualCost`: a request takes its estimate (`cost`) when it starts, and
 * the real cost read from its result is settled at once — the difference debited (into debt,
 * which refill pays back before anything else is granted) or refunded. A throttled attempt
 * costs nothing.
 */
import { describe, expect, it } from 'vitest';
import { concat, map, of, throwError, timer, type Observable } from 'rxjs';
import { adaptiveThrottle } from '../../src/operators/adaptiveThrottle';
import type { RateLimitFeedback } from '../../src/arithmetic/adaptation';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { TOKEN_LIMITER } from '../../src/limiters/TokenLimiter';
import { createTestScheduler } from '../support/marbles';
import { probeAt } from '../support/virtualTime';

/** An answer of the tests' fake server: a status, the tokens it says the call used, already-parsed feedback. */
interface Answer {
  status: number;
  used: number;
  info?: RateLimitFeedback;
}
const feedback = (answer: Answer): RateLimitFeedback | undefined => answer.info;
const used = (answer: Answer): number => answer.used;
const answer = (usedTokens: number, status = 200, info?: RateLimitFeedback): Answer => ({ status, used: usedTokens, info });

describe('adaptiveThrottle actualCost: the real cost is settled against the estimate', () => {
  it('debits a real cost above the estimate: the debt is paid back before the next request goes', () => {
    createTestScheduler().run(({ cold, expectObservable, flush }) => {
      const bucket = new TokenBucket({ capacity: 3, refillRate: 1, interval: 1 });
      const result = cold('(abcd|)').pipe(
        adaptiveThrottle((letter: string) => of(answer(3)).pipe(map(() => letter)), {
          bucket,
          cost: 1,
          actualCost: () => 3,
          adapt: false,
        }),
      );
      // a at 0 (3 → 2, settled to 3 → 0); b at 1 (→ 0, debt 2); c once the debt and its 1 are earned: 4; d at 7.
      expectObservable(result).toBe('ab--c--(d|)');
      flush();
      expect(bucket.stats()).toMatchObject({ grantedCost: 4, debt: 2, available: 0 });
    });
  });

  it('without actualCost the same requests go at the estimate (the feature is what makes the difference)', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, flush }) => {
      const bucket = new TokenBucket({ capacity: 3, refillRate: 1, interval: 1 });
      const times: number[] = [];
      cold('(abcd|)')
        .pipe(adaptiveThrottle((letter: string) => of(letter), { bucket, cost: 1, adapt: false }))
        .subscribe(() => times.push(ts.now()));
      flush();
      expect(times).toEqual([0, 0, 0, 1]);
    });
  });

  it('refunds a real cost below the estimate: what follows goes earlier', () => {
    createTestScheduler().run(({ cold, expectObservable, flush }) => {
      const bucket = new TokenBucket({ capacity: 3, refillRate: 1, interval: 1 });
      const events: string[] = [];
      bucket.events$.subscribe((event) => event.type === 'adjusted' && events.push(`${event.cause} ${event.amount}@${event.time}`));
      // Each call is estimated at 3 and really costs 1; answers come 1 ms after the call.
      const result = cold('(abc|)').pipe(
        adaptiveThrottle((letter: string) => timer(1).pipe(map(() => letter)), {
          bucket,
          cost: 3,
          actualCost: () => 1,
          adapt: false,
        }),
      );
      // a at 0 takes all 3; its answer at 1 gives 2 back (2 + 1 earned = 3): b goes at 1 and
      // is answered at 2 (2 back + 1 earned = 3): c goes at 2, answered at 3.
      expectObservable(result).toBe('-ab(c|)');
      flush();
      expect(events).toEqual(['refund 2@1', 'refund 2@2', 'refund 2@3']);
      expect(bucket.stats()).toMatchObject({ grantedCost: 9, debt: 0 });
    });
  });

  it("passes the result and the value to actualCost, and a request's real cost is the sum over its results", () => {
    createTestScheduler().run(({ flush }) => {
      const bucket = new TokenBucket({ capacity: 10, refillRate: 1, interval: 1000 });
      const seen: unknown[] = [];
      const adjustments: string[] = [];
      bucket.events$.subscribe((event) => event.type === 'adjusted' && adjustments.push(`${event.cause} ${event.amount}`));
      // One request answers twice (a stream of chunks): 1 token reported, then 6 more.
      of('x')
        .pipe(
          adaptiveThrottle(() => concat(of(answer(1)), timer(5).pipe(map(() => answer(6)))), {
            bucket,
            cost: 4,
            adapt: false,
            actualCost: (result, value) => {
              seen.push([result.used, value]);
              return result.used;
            },
          }),
        )
        .subscribe();
      flush();
      expect(seen).toEqual([
        [1, 'x'],
        [6, 'x'],
      ]);
      // Estimate 4, then 1 (3 refunded), then 1 + 6 (6 debited): 7 in all.
      expect(adjustments).toEqual(['refund 3', 'debit 6']);
      expect(bucket.stats().grantedCost + 6 - 3).toBe(7);
    });
  });

  it('settles before reading the feedback: a continuous budget caps what is left after the real cost', () => {
    createTestScheduler().run(({ flush }) => {
      const bucket = new TokenBucket({ capacity: 100, refillRate: 1, interval: 1000 });
      // The server says 50 of 100 left (its count includes the 30 this call really used).
      const info: RateLimitFeedback = { limit: 100, remaining: 50, resetAfter: 500, window: 1000, refill: 'continuous' };
      of('x')
        .pipe(adaptiveThrottle(() => of(answer(30, 200, info)), { bucket, cost: 10, actualCost: used, feedback, safetyFactor: 1 }))
        .subscribe();
      flush();
      // 100 − 10 (estimate) − 20 (debited) = 70, then capped to what the server has left: 50.
      expect(bucket.available()).toBeCloseTo(50, 9);
    });
  });

  it('counts the cost (not the number) of the other requests in flight against a remaining budget', () => {
    const ts = createTestScheduler();
    ts.run(({ flush }) => {
      const bucket = new TokenBucket({ capacity: 100, refillRate: 1, interval: 1000 });
      const info: RateLimitFeedback = { limit: 100, remaining: 60, resetAfter: 400, window: 1000, refill: 'continuous' };
      // b (cost 25) is still in flight when a (cost 5) is answered at 1: the server's 60 may not count b yet.
      const request = (letter: string): Observable<Answer> => timer(letter === 'a' ? 1 : 50).pipe(map(() => answer(5, 200, info)));
      of('b', 'a')
        .pipe(adaptiveThrottle(request, { bucket, cost: (letter) => (letter === 'a' ? 5 : 25), feedback, safetyFactor: 1 }))
        .subscribe();
      let availableAfterA = Number.NaN;
      probeAt(ts, 1, () => (availableAfterA = bucket.available()));
      flush();
      // 60 left − 25 in flight = 35 (counting requests, not their cost, would leave 59).
      expect(availableAfterA).toBeCloseTo(35, 9);
    });
  });
});

describe('adaptiveThrottle actualCost: a throttled attempt costs nothing', () => {
  it("refunds a 429's estimate once its Retry-After pause is in force: the retry goes when the pause ends", () => {
    createTestScheduler().run(({ cold, expectObservable, flush }) => {
      // 1 token per 10 ms: without the refund, the retry would wait for 2 tokens until 20.
      const bucket = new TokenBucket({ capacity: 2, refillRate: 1, interval: 10 });
      let calls = 0;
      const request = (): Observable<Answer> => of(calls++ === 0 ? answer(0, 429, { retryAfter: 5 }) : answer(2));
      const result = cold('a|').pipe(
        adaptiveThrottle(request, { bucket, cost: 2, actualCost: used, feedback, adapt: false }),
        map(() => 'a'),
      );
      expectObservable(result).toBe('-----(a|)');
      flush();
      // Taken twice (4), refunded once (2): the tokens spent are the one real cost, 2.
      expect(bucket.stats().grantedCost).toBe(4);
    });
  });

  it('never lets a waiting request out before the pause ends, though the refund covers it', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const bucket = new TokenBucket({ capacity: 2, refillRate: 1, interval: 10 });
      const sent: string[] = [];
      const request = (letter: string): Observable<Answer> => {
        sent.push(letter);
        return letter === 'a' && sent.length === 1 ? timer(3).pipe(map(() => answer(0, 429, { retryAfter: 5 }))) : of(answer(1));
      };
      // a takes both tokens at 0; b waits for them; a's 429 at 3 pauses until 8 and gives a's 2 back.
      const result = cold('(ab|)').pipe(
        adaptiveThrottle(request, { bucket, cost: 2, actualCost: used, feedback, adapt: false }),
        map(() => sent.at(-1)),
      );
      // Nothing before 8. Then b, first in the bucket's queue (a asked again only after its 429),
      // takes the 2 (refunded, and full); its answer gives 1 back; a's retry earns the other by 18.
      expectObservable(result).toBe('--------b 9ms (a|)', { a: 'a', b: 'b' });
    });
  });

  it('refunds a thrown 429 and a 429 without Retry-After (the rate search decides the rest)', () => {
    createTestScheduler().run(({ cold, flush }) => {
      const bucket = new TokenBucket({ capacity: 4, refillRate: 1, interval: 1000 });
      const throttled = Object.assign(new Error('429'), { status: 429 });
      let calls = 0;
      const request = (): Observable<Answer> => {
        calls++;
        if (calls === 1) return throwError(() => throttled);
        return of(calls === 2 ? answer(0, 429) : answer(1));
      };
      const adjustments: string[] = [];
      bucket.events$.subscribe((event) => event.type === 'adjusted' && adjustments.push(`${event.cause} ${event.amount}`));
      cold('a|')
        .pipe(adaptiveThrottle(request, { bucket, cost: 2, actualCost: used, feedback, feedbackFromError: () => undefined, decrease: 1 }))
        .subscribe();
      flush();
      expect(calls).toBe(3);
      expect(adjustments).toEqual(['refund 2', 'refund 2', 'refund 1']);
      expect(bucket.stats().grantedCost - 5).toBe(1);
    });
  });

  it('gives a throttled attempt back even when it is the last try: the stream errors with retry-limit', () => {
    createTestScheduler().run(({ cold, expectObservable, flush }) => {
      const bucket = new TokenBucket({ capacity: 2, refillRate: 1, interval: 1000 });
      const result = cold('a|').pipe(
        adaptiveThrottle(() => of(answer(0, 429)), { bucket, cost: 2, actualCost: used, feedback, retry: 0, adapt: false }),
      );
      expectObservable(result).toBe('#', undefined, expect.objectContaining({ name: 'RateLimitExceededError', reason: 'retry-limit' }));
      flush();
      expect(bucket.available()).toBe(2);
    });
  });
});

describe('adaptiveThrottle actualCost: what it returns is checked', () => {
  const run = (actualCost: (result: Answer) => unknown): unknown => {
    let failure: unknown;
    createTestScheduler().run(({ cold, flush }) => {
      const bucket = new TokenBucket({ capacity: 5, refillRate: 1, interval: 1 });
      cold('ab|')
        .pipe(adaptiveThrottle(() => of(answer(1)), { bucket, actualCost: actualCost as (result: Answer) => number, adapt: false }))
        .subscribe({ error: (error: unknown) => (failure = error) });
      flush();
      expect(bucket.stats().debt).toBe(0);
    });
    return failure;
  };

  it('errors the stream with a RangeError for NaN, a negative number or Infinity, naming actualCost, the value returned and the index', () => {
    for (const bad of [Number.NaN, -1, Infinity, -Infinity]) {
      const error = run(() => bad);
      expect(error, String(bad)).toBeInstanceOf(RangeError);
      expect((error as Error).message).toBe(
        `adaptiveThrottle: actualCost must return a finite number >= 0, got ${String(bad)} for the result of value #0`,
      );
    }
  });

  it('errors with a TypeError for a non-number', () => {
    for (const [bad, shown] of [
      ['3', '"3"'],
      [undefined, 'undefined'],
      [null, 'null'],
      [{ total_tokens: 3 }, 'an object'],
      [3n, '3'],
    ] as const) {
      const error = run(() => bad);
      expect(error, shown).toBeInstanceOf(TypeError);
      expect((error as Error).message).toBe(`adaptiveThrottle: actualCost must return a number, got ${shown} for the result of value #0`);
    }
  });

  it('errors with a TypeError naming actualCost when it throws, the thrown error as its cause', () => {
    const thrown = new Error('no usage in the body');
    const error = run(() => {
      throw thrown;
    });
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe('adaptiveThrottle: actualCost threw for the result of value #0: no usage in the body');
    expect((error as Error).cause).toBe(thrown);
  });

  it('settles nothing for a result whose cost is refused, and nothing is left waiting', () => {
    createTestScheduler().run(({ cold, flush }) => {
      const bucket = new TokenBucket({ capacity: 5, refillRate: 1, interval: 100 });
      const adjustments: unknown[] = [];
      bucket.events$.subscribe((event) => event.type === 'adjusted' && adjustments.push(event));
      cold('(abc|)')
        .pipe(adaptiveThrottle(() => of(answer(1)), { bucket, cost: 2, actualCost: () => -5, adapt: false }))
        .subscribe({ error: () => undefined });
      flush();
      expect(adjustments).toEqual([]);
      expect(bucket.stats()).toMatchObject({ queued: 0, timerScheduled: false, grantedCost: 2 });
    });
  });
});

describe('adaptiveThrottle actualCost: checked when the operator is created', () => {
  const request = (): Observable<Answer> => of(answer(1));

  it('must be a function', () => {
    expect(() => adaptiveThrottle(request, { bucket: { capacity: 1, refillRate: 1 }, actualCost: 3 as never })).toThrow(
      new TypeError('adaptiveThrottle option "actualCost" must be a function (result, value) => number, got 3'),
    );
  });

  it('needs a shared bucket with debit() and refund(), naming the option and what is missing', () => {
    const scheduler = createTestScheduler();
    const real = new TokenBucket({ capacity: 1, refillRate: 1, scheduler });
    // A limiter of your own that can adapt but not settle.
    const withoutSettling = {
      [TOKEN_LIMITER]: true as const,
      scheduler,
      capacity: 1,
      refillRate: 1,
      takeNow: (cost: number) => real.takeNow(cost),
      enqueue: real.enqueue.bind(real),
      cancel: real.cancel.bind(real),
      timeUntil: (cost: number) => real.timeUntil(cost),
      recordRefusal: real.recordRefusal.bind(real),
      adapt: real.adapt.bind(real),
      configure: real.configure.bind(real),
    };
    expect(() => adaptiveThrottle(request, { bucket: withoutSettling, actualCost: used })).toThrow(
      new TypeError(
        'adaptiveThrottle option "actualCost" needs a bucket with debit() and refund() to settle real costs, as TokenBucket has; ' +
          'the "bucket" given lacks debit() and refund()',
      ),
    );
    expect(() => adaptiveThrottle(request, { bucket: { ...withoutSettling, debit: real.debit.bind(real) }, actualCost: used })).toThrow(
      /lacks refund\(\)$/,
    );
    // Without actualCost the same limiter is fine, and so is a TokenBucket or bucket options with it.
    expect(() => adaptiveThrottle(request, { bucket: withoutSettling })).not.toThrow();
    expect(() => adaptiveThrottle(request, { bucket: real, actualCost: used })).not.toThrow();
    expect(() => adaptiveThrottle(request, { bucket: { capacity: 1, refillRate: 1 }, actualCost: used })).not.toThrow();
  });
});
