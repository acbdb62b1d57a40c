/**
 * Issue 11, item 4 ("no evidence, no increase"): without rate-limit headers the rate never
 * rises above `evidenceFreeMaxRate` (the user's `maxRate`, else the starting rate); it still
 * moves down on throttle signals and probes back up to that ceiling.
 */
import { describe, expect, it } from 'vitest';
import { defer, map, range, timer } from 'rxjs';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { adaptiveThrottle } from '../../src/operators/adaptiveThrottle';
import { createTestScheduler } from '../support/marbles';
import { limitSteps, runAdaptive } from '../support/scenarioClients';
import { DEMO_LATENCY } from '../support/scenarioPlans';

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

describe('adaptiveThrottle without rate-limit headers: no evidence, no increase', () => {
  it('holds a {capacity 5, refillRate 5} bucket at 5/s for 2000 values against a server that never throttles', () => {
    const scheduler = createTestScheduler();
    let peak = 0;
    let emitted = 0;
    let lastAt = 0;
    scheduler.run(({ flush }) => {
      const bucket = new TokenBucket({ capacity: 5, refillRate: 5 });
      bucket.events$.subscribe((event) => {
        if (event.type === 'reconfigured') peak = Math.max(peak, event.refillRate);
      });
      range(0, 2000)
        .pipe(adaptiveThrottle(() => defer(() => timer(20).pipe(map(() => ({ status: 200, headers: {} })))), { bucket, concurrency: 8 }))
        .subscribe(() => {
          emitted++;
          lastAt = scheduler.now();
        });
      flush();
      peak = Math.max(peak, bucket.refillRate);
    });
    // Before the fix slow start took it to 200/s within 20 s (2000 values in ~25 s).
    expect(peak).toBeLessThanOrEqual(5);
    expect(emitted).toBe(2000);
    // 5 at once, then 1995 at 5/s, the last answered 20 ms after it was sent.
    expect(lastAt).toBeCloseTo((1995 / 5) * 1000 + 20, 3);
  });

  for (const style of ['none', 'retry-after-only'] as const) {
    it(`(${style}) moves down on 429s and probes back up to the starting rate, never above it, when the limit rises past it`, () => {
      // The limit: 10/s for 20 s, then 40/s; the client starts at 20/s and sets no maxRate.
      const run = runAdaptive({
        style,
        phases: limitSteps([
          [0, 10],
          [20, 40],
        ]),
        seconds: 50,
        latency: DEMO_LATENCY,
        concurrency: 8,
        safetyFactor: 1,
        start: { capacity: 2, refillRate: 20 },
      });
      const trace = run.rateTrace!;
      expect(run.peakRates![0]).toBeLessThanOrEqual(20);
      // Down on the 429s of the first phase, near its limit (the median: probes above it are brief; with
      // Retry-After the pauses do part of the limiting) ...
      expect(median(trace.slice(10, 20))).toBeLessThanOrEqual(12);
      expect(run.refusedTrace.slice(10, 20).reduce((sum, refused) => sum + refused, 0)).toBeLessThanOrEqual(5);
      // ... and back up to the ceiling it may reach (the start) once the limit allows it.
      expect(Math.min(...trace.slice(40, 50))).toBeGreaterThanOrEqual(19);
      expect(run.refusedByPhase[1]).toBe(0); // at 20/s under a 40/s limit nothing more is refused
    });
  }

  it('rises past the start without headers only as far as maxRate, when the user sets it', () => {
    const run = runAdaptive({
      style: 'none',
      phases: limitSteps([[0, 100]]),
      seconds: 20,
      latency: DEMO_LATENCY,
      concurrency: 8,
      safetyFactor: 1,
      maxRate: 30,
      start: { capacity: 2, refillRate: 10 },
    });
    expect(run.peakRates![0]).toBe(30);
    expect(run.finalRates[0]).toBe(30);
  });
});
