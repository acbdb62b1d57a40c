import { describe, expect, it } from 'vitest';
import { of } from 'rxjs';
import { adaptiveThrottle } from '../../src/operators/adaptiveThrottle';
import { planAdaptation, type AdaptationSettings, type BucketShape } from '../../src/arithmetic/adaptation';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { checkConfig } from '../../src/operators/adaptive/config';
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

describe('adaptiveThrottle settings: the evidence-free ceiling LEARNER reads (issue 11)', () => {
  it('is the user’s maxRate if given, else the starting refillRate (at least minRate); maxRate stays Infinity by default', () => {
    const options = { capacity: 5, refillRate: 5 };
    expect(checkConfig({ bucket: options })).toMatchObject({ maxRate: Infinity, evidenceFreeMaxRate: 5 });
    expect(checkConfig({ bucket: options, maxRate: 40 })).toMatchObject({ maxRate: 40, evidenceFreeMaxRate: 40 });
    expect(checkConfig({ bucket: options, minRate: 8 })).toMatchObject({ maxRate: Infinity, evidenceFreeMaxRate: 8 });
    const shared = new TokenBucket({ capacity: 5, refillRate: 12, scheduler: createTestScheduler() });
    expect(checkConfig({ bucket: shared })).toMatchObject({ evidenceFreeMaxRate: 12 });
  });
});
