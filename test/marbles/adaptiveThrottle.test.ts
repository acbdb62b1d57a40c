import { describe, expect, it } from 'vitest';
import { throwError, type Observable } from 'rxjs';
import { adaptiveThrottle } from '../../src/operators/adaptiveThrottle';
import type { RateLimitFeedback } from '../../src/arithmetic/adaptation';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { createTestScheduler } from '../support/marbles';
import { MAX_RESET_MS } from '../../src/http/parseRateLimitHeaders';
import { readFileSync } from 'node:fs';
import docSetups from '../docs/setups/adaptiveThrottle';

/** A response as the tests' fake server sends it: a status and already-parsed feedback. */
interface Reply {
  status: number;
  info?: RateLimitFeedback;
}
const ok: Reply = { status: 200 };
const feedback = (reply: Reply): RateLimitFeedback | undefined => reply.info;

describe('adaptiveThrottle', () => {
  describe('with a fixed bucket (no feedback)', () => {
    it('runs one request per value at the bucket rate and emits results as they arrive', () => {
      createTestScheduler().run(({ cold, hot, expectObservable }) => {
        const bucket = new TokenBucket({ capacity: 1, refillRate: 1, interval: 10 });
        const source = hot('  (abc)|');
        const response = cold('--r|', { r: ok });
        const expected = '    --a 9ms b 9ms c|';
        const result = source.pipe(adaptiveThrottle(() => response, { bucket, feedback, increase: 0 }));
        expectObservable(result).toBe(expected, { a: ok, b: ok, c: ok });
      });
    });

    it('holds the concurrency cap and the rate at once', () => {
      createTestScheduler().run(({ cold, hot, expectObservable }) => {
        // Plenty of tokens, but one request at a time, each taking 5 ms.
        const bucket = new TokenBucket({ capacity: 10, refillRate: 1000, interval: 1 });
        const source = hot('  (abc)|');
        const response = cold('-----(r|)', { r: ok });
        const expected = '    -----a----b----(c|)';
        expectObservable(source.pipe(adaptiveThrottle(() => response, { bucket, concurrency: 1, feedback }))).toBe(expected, {
          a: ok,
          b: ok,
          c: ok,
        });
      });
    });
  });

  describe('with a policy in the feedback', () => {
    it('retunes the rate to limit/window × safetyFactor after the first response', () => {
      createTestScheduler().run(({ cold, hot, expectObservable }) => {
        const bucket = new TokenBucket({ capacity: 1, refillRate: 1, interval: 20 });
        const told: Reply = { status: 200, info: { limit: 2, window: 10 } }; // 1 per 5 ms
        const source = hot('  (abcd)|');
        const response = cold('(r|)', { r: told });
        // a at 0 (full bucket); the response retunes to 1/5 ms at once: b at 5, c at 10, d at 15.
        const expected = '    a----b----c----(d|)';
        const result = source.pipe(adaptiveThrottle(() => response, { bucket, feedback, safetyFactor: 1 }));
        expectObservable(result).toBe(expected, { a: told, b: told, c: told, d: told });
      });
    });

    it('never goes above maxRate', () => {
      createTestScheduler().run(({ cold, hot, expectObservable }) => {
        const bucket = new TokenBucket({ capacity: 1, refillRate: 1, interval: 20 });
        const told: Reply = { status: 200, info: { limit: 100, window: 10 } };
        const source = hot('  (abc)|');
        const response = cold('(r|)', { r: told });
        const expected = '    a---------b---------(c|)'; // maxRate 2 per 20 ms: one per 10 ms
        const result = source.pipe(adaptiveThrottle(() => response, { bucket, feedback, safetyFactor: 1, maxRate: 2 }));
        expectObservable(result).toBe(expected, { a: told, b: told, c: told });
      });
    });
  });

  describe('with remaining budget and a reset', () => {
    it('pauses until the reset when the budget is spent', () => {
      createTestScheduler().run(({ cold, hot, expectObservable }) => {
        const bucket = new TokenBucket({ capacity: 2, refillRate: 1, interval: 1 });
        const spent: Reply = { status: 200, info: { remaining: 0, resetAfter: 30 } };
        const fresh: Reply = { status: 200, info: { remaining: 100, resetAfter: 100 } }; // 1 per ms
        const replies = [spent, fresh, fresh];
        const source = hot('  (abc)|');
        // a at 0 says "0 left, reset in 30": nothing more until 30, when b and c go together
        // (the bucket refilled meanwhile, as the server's budget did at its reset).
        const expected = '    a 29ms (bc|)';
        const result = source.pipe(
          adaptiveThrottle((_v: string, i: number) => cold('(r|)', { r: replies[i]! }), {
            bucket,
            feedback,
            concurrency: 1,
            safetyFactor: 1,
          }),
        );
        expectObservable(result).toBe(expected, { a: spent, b: fresh, c: fresh });
      });
    });

    it('counts requests still in flight against the remaining budget', () => {
      const bucket = new TokenBucket({ capacity: 10, refillRate: 1, interval: 1, scheduler: createTestScheduler() });
      // 3 left, 2 of ours in flight the server has not counted yet: 1 usable before the reset.
      bucket.adapt({ remaining: 3, resetAfter: 100 }, { safetyFactor: 1, inFlight: 2 });
      expect(bucket.available()).toBe(0);
      // tokens held + rate × 100 ms = 1: the rate spreads one request over the 100 ms.
      expect(bucket.refillRate * (100 / bucket.interval)).toBeCloseTo(1, 9);
      bucket.adapt({ remaining: 2, resetAfter: 100 }, { safetyFactor: 1, inFlight: 2 });
      expect(bucket.pausedUntil).toBe(100);
    });
  });

  describe('with throttle signals (429 + Retry-After)', () => {
    it('pauses for Retry-After and retries the value before values not yet tried', () => {
      createTestScheduler().run(({ cold, hot, expectObservable }) => {
        const bucket = new TokenBucket({ capacity: 3, refillRate: 1, interval: 1 });
        const slowDown: Reply = { status: 429, info: { retryAfter: 20 } };
        let calls = 0;
        const request = (value: string): Observable<Reply> => {
          calls++;
          return cold('(r|)', { r: value === 'a' && calls === 1 ? slowDown : ({ status: 200, info: undefined, value } as Reply) });
        };
        const source = hot('  a-(bc)|');
        // a is throttled at 0: nothing is granted for 20 ms, while the bucket refills (to 3);
        // then a (retried first), b and c at once.
        const expected = '    20ms (abc|)';
        const result = source.pipe(adaptiveThrottle(request, { bucket, feedback, concurrency: 1, increase: 0, decrease: 1 }));
        const v = (value: string): Reply => ({ status: 200, info: undefined, value }) as Reply;
        expectObservable(result).toBe(expected, { a: v('a'), b: v('b'), c: v('c') });
      });
    });

    it('errors with RateLimitExceededError once a value is throttled more than `retry` times', () => {
      createTestScheduler().run(({ cold, hot, expectObservable }) => {
        const bucket = new TokenBucket({ capacity: 1, refillRate: 1, interval: 1 });
        const slowDown: Reply = { status: 429, info: { retryAfter: 5 } };
        const source = hot('  a|');
        const expected = '    -----#'; // tried at 0, retried once at 5, throttled again: error
        const result = source.pipe(adaptiveThrottle(() => cold('(r|)', { r: slowDown }), { bucket, feedback, retry: 1, decrease: 1 }));
        expectObservable(result).toBe(
          expected,
          undefined,
          expect.objectContaining({ name: 'RateLimitExceededError', retryAfter: 5, cost: 1, reason: 'retry-limit', cause: slowDown }),
        );
      });
    });

    it('treats a thrown 429 as a throttle signal and other errors as errors', () => {
      createTestScheduler().run(({ cold, hot, expectObservable }) => {
        const bucket = new TokenBucket({ capacity: 5, refillRate: 1, interval: 1 });
        const throttled = Object.assign(new Error('429'), { status: 429, headers: { 'retry-after': '0' } });
        const broken = new Error('boom');
        let calls = 0;
        const request = (): Observable<Reply> => {
          calls++;
          if (calls === 1) return throwError(() => throttled);
          return calls === 2 ? cold('(r|)', { r: ok }) : throwError(() => broken);
        };
        const source = hot('  a-b|');
        const expected = '    a-#';
        expectObservable(source.pipe(adaptiveThrottle(request, { bucket, feedback, feedbackFromError: () => undefined }))).toBe(
          expected,
          { a: ok },
          broken,
        );
      });
    });
  });

  describe('without any headers (RateSearch)', () => {
    it('decreases once per round trip on throttle signals and raises the rate on held-back successes', () => {
      const scheduler = createTestScheduler();
      scheduler.run(({ cold, hot, flush }) => {
        const bucket = new TokenBucket({ capacity: 2, refillRate: 100, interval: 1000 });
        const replies: Reply[] = [{ status: 429 }, { status: 429 }];
        const source = hot('(abcd|)');
        let call = 0;
        const requested: string[] = [];
        const result = source.pipe(
          adaptiveThrottle(
            (value: string) => {
              requested.push(`${value}@${scheduler.now()}`);
              return cold('--(r|)', { r: replies[call++] ?? ok });
            },
            { bucket, feedback, decrease: 0.5, increase: 0.01 },
          ),
        );
        const rates: number[] = [];
        bucket.events$.subscribe((event) => {
          if (event.type === 'reconfigured') rates.push(event.refillRate);
        });
        let emitted = 0;
        let completed = false;
        result.subscribe({ next: () => emitted++, complete: () => (completed = true) });
        flush();
        // a and b go at once (2 tokens) and both come back 429 at 2: the first signal ends slow
        // start and halves the rate (100 → 50, too soon to measure what the server admits, so 50
        // is the ceiling); b's, from a request sent with a's, is an echo. c, d and the retried
        // a and b are held back by the rate, but it already stands above 97 % of the ceiling,
        // and the probe above it waits 4 s: nothing raises it (RateSearch).
        expect(rates).toEqual([50]);
        expect(requested.slice(0, 2)).toEqual(['a@0', 'b@0']);
        expect(requested.map((r) => r.split('@')[0])).toEqual(['a', 'b', 'c', 'd', 'a', 'b']);
        expect(emitted).toBe(4);
        expect(completed).toBe(true);
      });
    });
  });

  describe('edge sources', () => {
    it('completes with an empty source, never ends with a never source, errors with an error source', () => {
      createTestScheduler().run(({ cold, expectObservable }) => {
        const bucket = { capacity: 1, refillRate: 1 };
        const request = (): Observable<Reply> => cold('r|', { r: ok });
        expectObservable(cold('|').pipe(adaptiveThrottle(request, { bucket }))).toBe('|');
        expectObservable(cold('-').pipe(adaptiveThrottle(request, { bucket }))).toBe('-');
        expectObservable(cold('--#').pipe(adaptiveThrottle(request, { bucket }))).toBe('--#');
      });
    });

    it('on unsubscribe cancels requests in flight and withdraws waiting values', () => {
      const scheduler = createTestScheduler();
      scheduler.run(({ cold, hot, expectObservable, expectSubscriptions, flush }) => {
        const bucket = new TokenBucket({ capacity: 1, refillRate: 1, interval: 100 });
        const response = cold('------r|', { r: ok });
        const source = hot('  (abc)');
        const unsub = '       ---!';
        expectObservable(source.pipe(adaptiveThrottle(() => response, { bucket, feedback })), unsub).toBe('---');
        expectSubscriptions(response.subscriptions).toBe('^--!');
        flush();
        expect(bucket.stats().queued).toBe(0);
        expect(bucket.stats().timerScheduled).toBe(false);
        expect(scheduler.frame).toBe(3); // nothing was left scheduled after the unsubscribe
      });
    });

    it('errors at once for bad options, naming them', () => {
      const request = (): Observable<Reply> => throwError(() => new Error('unused'));
      expect(() => adaptiveThrottle(request, { bucket: { capacity: 1, refillRate: 1 }, safetyFactor: 2 })).toThrow(/safetyFactor.*2/);
      expect(() => adaptiveThrottle(request, { bucket: { capacity: -1, refillRate: 1 } })).toThrow(/capacity.*-1/);
      expect(() => adaptiveThrottle(request, { bucket: { capacity: 1, refillRate: 1 }, concurrency: 0 })).toThrow(/concurrency.*0/);
      expect(() => adaptiveThrottle(request, { bucket: { capacity: 1, refillRate: 1 }, retry: 1.5 })).toThrow(/retry.*1.5/);
      expect(() => adaptiveThrottle(request, {} as never)).toThrow(/bucket/);
    });
  });
});

describe('adaptiveThrottle: its doc diagram', () => {
  it('is what the operator does with the fake server of test/docs/setups/adaptiveThrottle.ts', () => {
    const doc = readFileSync(new URL('../../src/operators/adaptiveThrottle.ts', import.meta.url), 'utf8').split('\n');
    /** The words of a doc line, without its ` * ` prefix. */
    const words = (line: string | undefined): string[] => (line ?? '').replace(/^\s*\*\s*/, '').split(/\s+/);
    for (const setup of docSetups) {
      const at = doc.findIndex((line) => line.replace(/^\s*\* /, '') === setup.header);
      expect(at, setup.header).toBeGreaterThanOrEqual(0);
      const [sourceLabel, source] = words(doc[at + 1]);
      const [resultLabel, result] = words(doc[at + 2]);
      expect([sourceLabel, source, resultLabel, result]).toEqual(['source:', 'abcdef|', 'result:', '--a--b-c-d-e-(f|)']);
      createTestScheduler().run(({ cold, expectObservable }) => {
        expectObservable(cold(source!).pipe(setup.operator())).toBe(result!, setup.values, setup.error);
      });
    }
  });
});

describe('adaptiveThrottle: feedback a callback returns already parsed is checked', () => {
  it('drops what is not a finite number >= 0: a NaN retryAfter does not make an error a throttle signal', () => {
    createTestScheduler().run(({ cold, hot, expectObservable }) => {
      const bucket = new TokenBucket({ capacity: 5, refillRate: 1, interval: 1 });
      const broken = new Error('boom');
      const source = hot('  a|');
      const result = source.pipe(
        adaptiveThrottle(() => cold('#', undefined, broken), { bucket, feedbackFromError: () => ({ retryAfter: Number.NaN }) }),
      );
      expectObservable(result).toBe('#', undefined, broken);
    });
  });

  it('caps a reset beyond 24 h to MAX_RESET_MS, as the header parser does', () => {
    createTestScheduler().run(({ cold, hot, flush }) => {
      const bucket = new TokenBucket({ capacity: 1, refillRate: 1, interval: 1 });
      const spent: Reply = { status: 200, info: { remaining: 0, resetAfter: 1e15 } };
      hot('a|')
        .pipe(adaptiveThrottle(() => cold('(r|)', { r: spent }), { bucket, feedback, safetyFactor: 1 }))
        .subscribe();
      flush();
      expect(bucket.pausedUntil).toBe(MAX_RESET_MS);
    });
  });

  it('with nothing usable left, reads as no feedback: the rate is searched for (RateSearch)', () => {
    createTestScheduler().run(({ cold, hot, flush }) => {
      const bucket = new TokenBucket({ capacity: 1, refillRate: 1, interval: 10 });
      // Unchecked, limit and window would pass for a policy (and stop the search) though neither is usable.
      const junk = { status: 200, info: { limit: -1, window: Infinity, remaining: '3' } } as unknown as Reply;
      hot('(abc)|')
        .pipe(adaptiveThrottle(() => cold('(r|)', { r: junk }), { bucket, feedback, maxRate: 2 }))
        .subscribe();
      flush();
      // b (at 10) and c (at 20) were held back by the rate: slow start grows it up to 2× per
      // second from one held-back success to the next (maxRate opts into rising without headers).
      expect(bucket.refillRate).toBeCloseTo(2 ** (10 / 1000), 9);
    });
  });
});
