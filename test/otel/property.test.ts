/**
 * A property of `instrumentLimiter`: over random arrival schedules, the exported counters and
 * the time-in-queue histogram agree with the grants and waits the test itself saw leave
 * `throttleByTokens` (its own record, not the library's arithmetic).
 */
import type { Histogram } from '@opentelemetry/sdk-metrics';
import fc from 'fast-check';
import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { throttleByTokens } from '../../src/operators/throttleByTokens';
import { instrumentLimiter, RATE_LIMITING_METRICS as M } from '../../src/otel/index';
import { Collected, expectedCounts, meterWithReader } from '../support/otelMetrics';
import { handDrivenScheduler } from '../support/promises';

describe('instrumentLimiter, a property', () => {
  it('the counters and the histogram agree with the grants and waits the test saw', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 1, max: 5 })), { minLength: 1, maxLength: 25 }),
        async (capacity, rate, rawArrivals) => {
          const { reader, meter } = meterWithReader();
          const { ts, flushTo } = handDrivenScheduler();
          const bucket = new TokenBucket({ capacity, refillRate: rate, scheduler: ts });
          instrumentLimiter(bucket, { meter, name: 'p' });
          const arrivals = rawArrivals.map(([at, cost]) => [at, Math.min(cost, capacity)] as [number, number]);
          const source = new Subject<number>();
          const arrivedAt: number[] = [];
          const waits: number[] = [];
          let cost = 0;
          source.pipe(throttleByTokens(bucket, { cost: (index) => arrivals[index]![1] })).subscribe((index) => {
            waits.push(ts.now() - arrivedAt[index]!);
            cost += arrivals[index]![1];
          });
          arrivals.forEach(([at], index) =>
            ts.schedule(() => {
              arrivedAt[index] = ts.now();
              source.next(index);
            }, at),
          );
          await flushTo(3000 + (25 * 5 * 1000) / rate);
          expect(waits).toHaveLength(arrivals.length);
          const seen = await Collected.from(reader);
          const granted = { 'rate_limiting.limiter': 'p', 'rate_limiting.result': 'granted' };
          expect(seen.value(M.requests, granted)).toBe(arrivals.length);
          expect(seen.value(M.requestCost, granted)).toBe(cost);
          const queuedWaits = waits.filter((wait) => wait > 0).map((wait) => wait / 1000);
          const histogram = seen.value(M.timeInQueue, granted) as Histogram | undefined;
          if (queuedWaits.length === 0) expect(histogram).toBeUndefined();
          else {
            expect(histogram!.count).toBe(queuedWaits.length);
            expect(histogram!.sum).toBeCloseTo(
              queuedWaits.reduce((a, b) => a + b, 0),
              9,
            );
            expect(histogram!.buckets.counts).toEqual(expectedCounts(queuedWaits));
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
