import { describe, expect, it } from 'vitest';
import { of } from 'rxjs';
import { adaptiveThrottle } from '../../src/operators/adaptiveThrottle';
import { planAdaptation, type AdaptationSettings, type BucketShape } from '../../src/arithmetic/adaptation';
import { AimdRateSearch } from '../../src/arithmetic/aimd';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { createTestScheduler } from '../support/marbles';

const bucket: BucketShape = { capacity: 10, refillRate: 5, interval: 1000, available: 4 };
const settings: AdaptationSettings = { safetyFactor: 0.9, minRate: 0.5, maxRate: 100, inFlight: 0 };

describe('planAdaptation', () => {
  it('pauses for Retry-After, whatever else the feedback says', () => {
    expect(planAdaptation({ retryAfter: 3000, remaining: 50, resetAfter: 10_000 }, bucket, settings)).toMatchObject({
      pauseFor: 3000,
      cause: 'retry-after',
    });
  });

  it('caps spending before the reset to remaining × safetyFactor − in flight', () => {
    // 20 left, 2 in flight: 0.9·20 − 2 = 16 usable; keep ≤ 15 in hand (here the 4 held), spread 12 over 6 s.
    const plan = planAdaptation({ remaining: 20, resetAfter: 6000 }, bucket, { ...settings, inFlight: 2 });
    expect(plan?.capTokens).toBe(4);
    expect(plan?.refillRate).toBeCloseTo(2, 12); // 12 tokens / 6 s, in tokens per 1000 ms
    // What the plan lets through before the reset never exceeds the usable budget.
    expect(plan!.capTokens! + (plan!.refillRate! / 1000) * 6000).toBeCloseTo(16, 9);
  });

  it('pauses until the reset when less than one unit is usable', () => {
    expect(planAdaptation({ remaining: 3, resetAfter: 5000 }, bucket, { ...settings, inFlight: 2 })).toMatchObject({
      pauseFor: 5000,
      cause: 'budget-exhausted',
    });
  });

  it('sets the rate to limit / window × safetyFactor, clamped to [minRate, maxRate]', () => {
    expect(planAdaptation({ limit: 600, window: 60_000 }, bucket, settings)?.refillRate).toBeCloseTo(9, 12);
    expect(planAdaptation({ limit: 600_000, window: 60_000 }, bucket, settings)?.refillRate).toBe(100);
    expect(planAdaptation({ limit: 1, window: 60_000 }, bucket, settings)?.refillRate).toBe(0.5);
  });

  it('paces a continuously refilled budget at its policy rate, holding no more than what is left', () => {
    const plan = planAdaptation({ limit: 60, window: 60_000, remaining: 2, resetAfter: 58_000, refill: 'continuous' }, bucket, settings);
    expect(plan).toMatchObject({ cause: 'continuous-budget', capTokens: 1.8 });
    expect(plan?.refillRate).toBeCloseTo(0.9, 12);
  });

  it('changes nothing for feedback without usable numbers, and never yields NaN or a rate <= 0', () => {
    expect(planAdaptation({}, bucket, settings)).toBeUndefined();
    expect(planAdaptation({ limit: Number.NaN, window: 1000 }, bucket, settings)).toBeUndefined();
    for (const feedback of [
      { remaining: 0, resetAfter: 1 },
      { remaining: 1e9, resetAfter: 1 },
      { limit: 1e-9, window: 1e9 },
    ]) {
      const plan = planAdaptation(feedback, bucket, settings);
      if (plan?.refillRate !== undefined) expect(plan.refillRate).toBeGreaterThan(0);
    }
  });
});

describe('TokenBucket.adapt', () => {
  it('grants nothing during a pause, then resumes with what the pause earned', () => {
    const scheduler = createTestScheduler();
    const limited = new TokenBucket({ capacity: 3, refillRate: 1, interval: 10, scheduler });
    limited.adapt({ retryAfter: 50 });
    expect(limited.tryTake()).toBe(false);
    expect(limited.timeUntil(1)).toBe(50);
    expect(limited.available()).toBe(0);
    scheduler.schedule(() => {
      expect(limited.tryTake(3)).toBe(true); // 50 ms at 1 per 10 ms, capped at capacity 3
    }, 50);
    scheduler.flush();
  });
});

describe('AimdRateSearch', () => {
  const search = (): AimdRateSearch => new AimdRateSearch({ decrease: 0.8, increase: 0.001, interval: 1000 });

  it('grows 2 % per success before any throttle signal (slow start), then halves at the first', () => {
    const aimd = search();
    expect(aimd.afterSuccess(10)).toBeCloseTo(10.2, 12);
    expect(aimd.afterThrottle(40, 0, 1)).toBe(20);
  });

  it('ignores signals for requests sent before the last decrease (echoes)', () => {
    const aimd = search();
    const after = aimd.afterThrottle(40, 0, 10);
    expect(aimd.afterThrottle(after, 5, 12)).toBe(after);
    expect(aimd.afterThrottle(after, 11, 20)).toBe(after * 0.8);
  });

  it('returns towards 97 % of the ceiling, then probes above it additively', () => {
    const aimd = search();
    aimd.afterThrottle(100, 0, 1); // ceiling 100
    let rate = 50;
    for (let i = 0; i < 200; i++) rate = aimd.afterSuccess(rate);
    expect(rate).toBeGreaterThan(97);
    const above = aimd.afterSuccess(rate);
    expect(above - rate).toBeCloseTo(0.1, 12); // increase × ceiling
  });

  it('caps the ceiling at the rate the server has been admitting', () => {
    const aimd = search();
    // A server admitting 20/s for 2 s while the client asked for 50/s.
    for (let t = 0; t <= 2000; t += 50) aimd.recordOutcome(false, 1, t);
    const cut = aimd.afterThrottle(50, 1990, 2000);
    expect(cut).toBeCloseTo(20.5 * 0.5, 1); // slow-start exit: half the admitted rate (41 in 2 s)
  });
});

describe('adaptiveThrottle reading real headers', () => {
  it('retunes from IETF structured fields on a fetch-like response', () => {
    const scheduler = createTestScheduler();
    scheduler.run(({ flush }) => {
      const shared = new TokenBucket({ capacity: 1, refillRate: 1 });
      const response = {
        status: 200,
        headers: new Headers({ RateLimit: '"default";r=50;t=30', 'RateLimit-Policy': '"default";q=100;w=60' }),
      };
      of(1)
        .pipe(adaptiveThrottle(() => of(response), { bucket: shared, safetyFactor: 1 }))
        .subscribe();
      flush();
      // 50 left for 30 s, 0 in flight: keep ≤ 49 (the bucket holds 0 after the request), spread 50 over 30 s.
      expect(shared.refillRate).toBeCloseTo(50 / 30, 9);
    });
  });
});
