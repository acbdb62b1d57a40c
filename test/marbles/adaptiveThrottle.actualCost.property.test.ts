/**
 * `actualCost` over random runs, against a model written here. Requests are estimated at one
 * cost and really cost another (sometimes several times the estimate, sometimes nothing),
 * answer after random latencies, sometimes in two results. Checked:
 *
 * 1. the tokens taken from the bucket (estimates granted + debits − refunds) equal the sum of
 *    the real costs, to 1e-9;
 * 2. the bucket's count follows an independent refill model replaying the grants and
 *    settlements (never granting before the estimate is covered), and ends where it does;
 * 3. in every window [t1, t2] the tokens charged (estimates at the start of a request, the
 *    difference to the real cost when it is known) stay within capacity + rate × (t2 − t1)
 *    plus the debt left at t2;
 * 4. with one request at a time, the real costs themselves hold the rate: the real costs of
 *    the requests started in [s_j, s_k), plus the estimate of the one started at s_k, stay
 *    within capacity + rate × (s_k − s_j);
 * 5. with throttled attempts (429, with or without Retry-After) in the mix and the rate left to
 *    adapt, (1) still holds: a throttled attempt costs nothing.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { concat, map, merge, mergeMap, of, timer, type Observable } from 'rxjs';
import { adaptiveThrottle } from '../../src/operators/adaptiveThrottle';
import type { RateLimitFeedback } from '../../src/arithmetic/adaptation';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { createTestScheduler } from '../support/marbles';

interface Call {
  readonly at: number;
  readonly estimate: number;
  /** The real cost, reported in one result or split over two. */
  readonly parts: readonly number[];
  readonly latency: number;
  /** Answered 429 on its first try, with this Retry-After (ms; 0: none). */
  readonly throttledFor: number | undefined;
}

interface Scenario {
  readonly capacity: number;
  /** Tokens per ms. */
  readonly rate: number;
  readonly concurrency: number;
  readonly calls: readonly Call[];
}

const realCost = (call: Call): number => call.parts.reduce((sum, part) => sum + part, 0);

function scenarioArbitrary(throttles: boolean): fc.Arbitrary<Scenario> {
  const cost = fc.oneof(fc.integer({ min: 0, max: 30 }), fc.double({ min: 0, max: 30, noNaN: true }));
  return fc
    .record({
      capacity: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.double({ min: 1, max: 40, noNaN: true })),
      rate: fc.oneof(fc.constantFrom(0.25, 0.5, 1, 2), fc.double({ min: 0.05, max: 3, noNaN: true })),
      concurrency: fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 5 }), fc.constant(Infinity)),
      calls: fc.array(
        fc.record({
          gap: fc.integer({ min: 0, max: 12 }),
          estimateShare: fc.double({ min: 0, max: 1, noNaN: true }),
          parts: fc.array(cost, { minLength: 1, maxLength: 2 }),
          latency: fc.integer({ min: 0, max: 20 }),
          throttledFor: throttles ? fc.option(fc.constantFrom(0, 3, 10), { nil: undefined, freq: 3 }) : fc.constant(undefined),
        }),
        { minLength: 1, maxLength: 25 },
      ),
    })
    .map(({ capacity, rate, concurrency, calls }) => {
      let at = 0;
      return {
        capacity,
        rate,
        concurrency,
        calls: calls.map(({ gap, estimateShare, parts, latency, throttledFor }) => {
          at += gap;
          return { at, estimate: estimateShare * capacity, parts, latency, throttledFor };
        }),
      };
    });
}

/** What the bucket saw, in order: grants of estimates, and debits or refunds of differences. */
type Entry =
  | { readonly kind: 'grant'; readonly time: number; readonly amount: number }
  | { readonly kind: 'debit' | 'refund'; readonly time: number; readonly amount: number };

interface Run {
  readonly entries: Entry[];
  /** When each call's request was sent (every try), by call. */
  readonly sentAt: number[][];
  readonly results: number;
  readonly completed: boolean;
  /** When `available` and `debt` were read. */
  readonly readAt: number;
  readonly available: number;
  readonly debt: number;
  readonly grantedCost: number;
}

interface Answer {
  readonly status: number;
  readonly used: number;
  readonly info?: RateLimitFeedback;
}

function runScenario(scenario: Scenario, adapt: boolean): Run {
  const ts = createTestScheduler();
  let run: Run | undefined;
  ts.run(({ flush }) => {
    const bucket = new TokenBucket({ capacity: scenario.capacity, refillRate: scenario.rate, interval: 1 });
    const entries: Entry[] = [];
    bucket.events$.subscribe((event) => {
      if (event.type === 'granted') entries.push({ kind: 'grant', time: event.time, amount: event.cost });
      else if (event.type === 'adjusted') entries.push({ kind: event.cause, time: event.time, amount: event.amount });
    });
    const sentAt: number[][] = scenario.calls.map(() => []);
    const request = (index: number): Observable<Answer> => {
      const call = scenario.calls[index]!;
      const tries = sentAt[index]!;
      tries.push(ts.now());
      if (tries.length === 1 && call.throttledFor !== undefined) {
        const info = call.throttledFor > 0 ? { retryAfter: call.throttledFor } : undefined;
        return timer(call.latency).pipe(map(() => ({ status: 429, used: 0, info })));
      }
      const [first, second] = call.parts;
      const answers = of<Answer>({ status: 200, used: first! });
      const answered = second === undefined ? answers : concat(answers, timer(3).pipe(map((): Answer => ({ status: 200, used: second }))));
      // Latency 0 answers synchronously, inside the grant: the re-entrant path.
      return call.latency === 0 ? answered : timer(call.latency).pipe(mergeMap(() => answered));
    };
    const source = merge(...scenario.calls.map((call, index) => timer(call.at).pipe(map(() => index))));
    let results = 0;
    let completed = false;
    let failure: unknown;
    source
      .pipe(
        adaptiveThrottle(request, {
          bucket,
          cost: (index) => scenario.calls[index]!.estimate,
          actualCost: (answer) => answer.used,
          feedback: (answer) => answer.info,
          concurrency: scenario.concurrency,
          retry: 1,
          ...(adapt ? {} : { adapt: false }),
        }),
      )
      .subscribe({
        next: () => results++,
        error: (error: unknown) => (failure = error),
        complete: () => (completed = true),
      });
    flush();
    expect(failure).toBeUndefined();
    const stats = bucket.stats();
    const readAt = ts.now();
    run = { entries, sentAt, results, completed, readAt, available: stats.available, debt: stats.debt, grantedCost: stats.grantedCost };
  });
  return run!;
}

/** The net of what the bucket took: grants + debits − refunds. */
function tokensTaken(entries: readonly Entry[]): number {
  return entries.reduce((sum, entry) => sum + (entry.kind === 'refund' ? -entry.amount : entry.amount), 0);
}

/**
 * An independent bucket: full at 0, refilled continuously at `rate` up to `capacity`, the
 * entries applied in order (a refund never lifts the count above capacity). Returns the count
 * after each entry; fails if a grant finds its estimate not covered.
 */
function replay(scenario: Scenario, entries: readonly Entry[]): number[] {
  let tokens = scenario.capacity;
  let time = 0;
  return entries.map((entry) => {
    tokens = Math.min(scenario.capacity, tokens + (entry.time - time) * scenario.rate);
    time = entry.time;
    if (entry.kind === 'grant') {
      expect(tokens + 1e-9, `grant of ${entry.amount} at ${entry.time} with ${tokens} tokens`).toBeGreaterThanOrEqual(entry.amount);
      tokens -= entry.amount;
    } else if (entry.kind === 'debit') tokens -= entry.amount;
    else tokens = Math.min(scenario.capacity, tokens + entry.amount);
    return tokens;
  });
}

const TOLERANCE = 1e-9;

describe('adaptiveThrottle actualCost over random runs (fixed rate)', () => {
  it('takes exactly the real costs, follows the refill model, and holds the rate in every window', () => {
    fc.assert(
      fc.property(scenarioArbitrary(false), (scenario) => {
        const run = runScenario(scenario, false);
        const calls = scenario.calls;
        expect(run.completed).toBe(true);
        expect(run.results).toBe(calls.reduce((sum, call) => sum + call.parts.length, 0));

        // 1. Tokens taken = sum of real costs.
        const real = calls.reduce((sum, call) => sum + realCost(call), 0);
        expect(Math.abs(tokensTaken(run.entries) - real)).toBeLessThanOrEqual(TOLERANCE);
        expect(Math.abs(run.grantedCost - calls.reduce((sum, call) => sum + call.estimate, 0))).toBeLessThanOrEqual(TOLERANCE);

        // 2. The bucket's count is the model's, at the end of the run.
        const counts = replay(scenario, run.entries);
        const last = run.entries.at(-1)!;
        const modelEnd = Math.min(scenario.capacity, counts.at(-1)! + (run.readAt - last.time) * scenario.rate);
        expect(Math.abs(run.available - Math.max(0, modelEnd))).toBeLessThanOrEqual(TOLERANCE);
        expect(Math.abs(run.debt - Math.max(0, -modelEnd))).toBeLessThanOrEqual(TOLERANCE);

        // 3. Every window, from any entry to any later one: charged <= capacity + rate·Δ + debt after the last.
        const entries = run.entries;
        for (let first = 0; first < entries.length; first++) {
          let charged = 0;
          for (let end = first; end < entries.length; end++) {
            const entry = entries[end]!;
            charged += entry.kind === 'refund' ? -entry.amount : entry.amount;
            const debt = Math.max(0, -counts[end]!);
            const bound = scenario.capacity + scenario.rate * (entry.time - entries[first]!.time) + debt;
            expect(charged, `window [${entries[first]!.time}, ${entry.time}]`).toBeLessThanOrEqual(bound + TOLERANCE);
          }
        }

        // 4. One request at a time (sent in arrival order): the real costs hold the rate.
        if (scenario.concurrency === 1) {
          const order = calls.map((_call, index) => ({ index, sent: run.sentAt[index]![0]! }));
          for (let j = 0; j < order.length; j++) {
            let realSum = 0;
            for (let k = j; k < order.length; k++) {
              const { index, sent } = order[k]!;
              const bound = scenario.capacity + scenario.rate * (sent - order[j]!.sent);
              expect(realSum + calls[index]!.estimate, `requests ${j}..${k}`).toBeLessThanOrEqual(bound + TOLERANCE);
              realSum += realCost(calls[index]!);
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('adaptiveThrottle actualCost over random runs with throttled attempts (rate adapting)', () => {
  it('still takes exactly the real costs: every throttled attempt is given back', () => {
    fc.assert(
      fc.property(scenarioArbitrary(true), (scenario) => {
        const run = runScenario(scenario, true);
        expect(run.completed).toBe(true);
        const real = scenario.calls.reduce((sum, call) => sum + realCost(call), 0);
        expect(Math.abs(tokensTaken(run.entries) - real)).toBeLessThanOrEqual(TOLERANCE);
        // Every throttled call was tried twice, the others once.
        run.sentAt.forEach((tries, index) => expect(tries).toHaveLength(scenario.calls[index]!.throttledFor === undefined ? 1 : 2));
      }),
      { numRuns: 200 },
    );
  });
});
