import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { config, map, of, throwError, timer, type Observable } from 'rxjs';
import { adaptiveThrottle } from '../../src/operators/adaptiveThrottle';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { createTestScheduler } from '../support/marbles';

/** Header sets a hostile, broken or ordinary server sends. */
const HEADER_SETS: readonly (Record<string, string> | undefined)[] = [
  undefined,
  {},
  { 'x-ratelimit-remaining': `1${'0'.repeat(308)}`, 'x-ratelimit-reset': '0.001' },
  { 'x-ratelimit-limit': 'NaN', 'x-ratelimit-remaining': '-1', 'x-ratelimit-reset': 'Infinity' },
  { 'retry-after': '-5' },
  { 'retry-after': '0' },
  { 'retry-after': '1' },
  { 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' },
  { 'ratelimit-policy': '10;w=0' },
  { 'ratelimit-policy': `1${'0'.repeat(308)};w=0.001` },
  { 'ratelimit-policy': '"p";q=3;w=1', ratelimit: '"p";r=0;t=1' },
  { 'ratelimit-policy': '"p";q=20;w=1', ratelimit: '"p";r=7;t=1' },
  { 'x-ratelimit-limit': '5', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1' },
];

type Kind = 'ok' | 'throttled' | 'throttle-error' | 'error';
interface ReplySpec {
  readonly kind: Kind;
  readonly sync: boolean;
  readonly delay: number;
  readonly headers: number;
}
const replySpec: fc.Arbitrary<ReplySpec> = fc.record({
  kind: fc.constantFrom<Kind>('ok', 'ok', 'ok', 'throttled', 'throttle-error', 'error'),
  sync: fc.boolean(),
  delay: fc.integer({ min: 1, max: 30 }),
  headers: fc.integer({ min: 0, max: HEADER_SETS.length - 1 }),
});

interface Answer {
  status: number;
  index: number;
  headers: Record<string, string> | undefined;
}

describe('adaptiveThrottle: any sequence of responses ends the stream properly (issue 11, item 2)', () => {
  let unhandled: unknown[] = [];
  beforeEach(() => {
    unhandled = [];
    config.onUnhandledError = (error) => unhandled.push(error);
  });
  afterEach(() => {
    config.onUnhandledError = null;
  });

  it('completes with every value’s final result exactly once, or errors; never open and idle; rates stay finite', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 3 }),
        fc.array(replySpec, { minLength: 1, maxLength: 30 }),
        fc.record({ capacity: fc.integer({ min: 1, max: 3 }), refillRate: fc.integer({ min: 1, max: 10 }) }),
        (count, concurrency, retry, replies, limits) => {
          const ts = createTestScheduler();
          ts.run(({ cold, flush }) => {
            const bucket = new TokenBucket({ ...limits, interval: 10 });
            const rates: number[] = [];
            bucket.events$.subscribe((event) => {
              if (event.type === 'reconfigured') rates.push(event.refillRate);
            });
            let call = 0;
            const request = (index: number): Observable<Answer> => {
              const spec = replies[call++ % replies.length]!;
              const headers = HEADER_SETS[spec.headers];
              const answer = (status: number): Observable<Answer> => {
                const reply = of({ status, index, headers });
                return spec.sync ? reply : timer(spec.delay).pipe(map(() => ({ status, index, headers })));
              };
              if (spec.kind === 'ok') return answer(200);
              if (spec.kind === 'throttled') return answer(429);
              const failure = Object.assign(new Error(spec.kind), spec.kind === 'throttle-error' ? { status: 429, headers } : {});
              const fail = (): never => {
                throw failure;
              };
              return spec.sync ? throwError(() => failure) : timer(spec.delay).pipe(map(fail));
            };
            const emitted: number[] = [];
            let ended: 'complete' | 'error' | undefined;
            const source = cold<number>(`${'x'.repeat(count)}|`, Object.fromEntries([...Array(count).keys()].map((i) => ['x', i])));
            let next = 0;
            source
              .pipe(
                map(() => next++),
                adaptiveThrottle(request, { bucket, concurrency, retry, wallClock: () => Date.UTC(2026, 0, 1) }),
              )
              .subscribe({
                next: (answer) => emitted.push(answer.index),
                error: () => (ended = 'error'),
                complete: () => (ended = 'complete'),
              });
            flush();
            expect(unhandled).toEqual([]);
            // Everything ran to its end in virtual time: a stream still open now waits for nothing.
            expect(ended).toBeDefined();
            if (ended === 'complete') expect([...emitted].sort((a, b) => a - b)).toEqual([...Array(count).keys()]);
            else expect(new Set(emitted).size).toBe(emitted.length);
            for (const rate of rates) expect(Number.isFinite(rate) && rate > 0).toBe(true);
            expect(bucket.stats()).toMatchObject({ queued: 0, timerScheduled: false });
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});
