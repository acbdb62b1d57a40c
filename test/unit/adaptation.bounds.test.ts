import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { planAdaptation, type AdaptationSettings, type BucketShape, type RateLimitFeedback } from '../../src/arithmetic/adaptation';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { createTestScheduler } from '../support/marbles';

const DAY_MS = 24 * 60 * 60 * 1000;

/** Numbers a hostile or broken server (or caller) may hand over. */
const hostileNumber = fc.oneof(
  fc.double(),
  fc.constantFrom(0, -0, 1, 1e308, -1e308, 1e-308, 5e-324, Number.MAX_VALUE, Infinity, -Infinity, Number.NaN, 0.001, 1000, 2 ** 53),
  fc.double({ min: 0, max: 1e6, noNaN: true }),
);
const maybe = <V>(arbitrary: fc.Arbitrary<V>): fc.Arbitrary<V | undefined> => fc.option(arbitrary, { nil: undefined });
const hostileFeedback: fc.Arbitrary<RateLimitFeedback> = fc.record({
  limit: maybe(hostileNumber),
  remaining: maybe(hostileNumber),
  resetAfter: maybe(hostileNumber),
  window: maybe(hostileNumber),
  retryAfter: maybe(hostileNumber),
  refill: maybe(fc.constantFrom('at-reset' as const, 'continuous' as const)),
});
const shape: fc.Arbitrary<BucketShape> = fc
  .record({
    capacity: fc.double({ min: 1e-6, max: 1e12, noNaN: true }),
    refillRate: fc.double({ min: 1e-9, max: 1e9, noNaN: true }),
    interval: fc.double({ min: 1e-3, max: 1e9, noNaN: true }),
    share: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(({ share, ...limits }) => ({ ...limits, available: limits.capacity * share }));
const adaptSettings: fc.Arbitrary<AdaptationSettings> = fc
  .record({
    safetyFactor: fc.double({ min: 1e-6, max: 1, noNaN: true }),
    minRate: fc.oneof(fc.constant(0), fc.double({ min: 1e-9, max: 1e6, noNaN: true })),
    maxRate: fc.oneof(fc.constant(Infinity), fc.double({ min: 1e-9, max: 1e9, noNaN: true })),
    inFlight: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1e6, noNaN: true })),
  })
  .map((s) => (s.minRate > s.maxRate ? { ...s, minRate: s.maxRate } : s));

/** A policy the reference believes: a finite limit >= 0 and a window in (0, 366 days]. */
function policyOf(feedback: RateLimitFeedback): { limit: number; window: number } | undefined {
  const { limit, window } = feedback;
  const fine = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0;
  return fine(limit) && fine(window) && window > 0 && window <= 366 * DAY_MS ? { limit: Math.min(limit, 2 ** 53 - 1), window } : undefined;
}

describe('planAdaptation: no input makes a rate Infinity, NaN, <= 0 or outside [minRate, maxRate] (issue 11, item 2)', () => {
  it('holds for any feedback, bucket and settings', () => {
    fc.assert(
      fc.property(hostileFeedback, shape, adaptSettings, (feedback, bucket, settings) => {
        const plan = planAdaptation(feedback, bucket, settings);
        if (plan === undefined) return;
        const loose = 1 + 1e-9;
        if (plan.refillRate !== undefined) {
          const rate = plan.refillRate;
          expect(Number.isFinite(rate) && rate > 0).toBe(true);
          expect(rate / bucket.interval).toBeGreaterThan(0);
          expect(rate).toBeGreaterThanOrEqual(settings.minRate);
          expect(rate).toBeLessThanOrEqual(settings.maxRate);
          // Never above the rate that refills the whole capacity within 1 µs (unless minRate asks for more).
          expect(rate).toBeLessThanOrEqual(Math.max(settings.minRate, (bucket.capacity / 0.001) * bucket.interval) * loose);
          const policy = policyOf(feedback);
          if (policy !== undefined) {
            // A known policy is a ceiling (safetyFactor included).
            const policyRate = ((policy.limit * settings.safetyFactor) / policy.window) * bucket.interval;
            expect(rate).toBeLessThanOrEqual(Math.max(settings.minRate, policyRate) * loose);
          } else if (settings.maxRate === Infinity) {
            // Without one, one response raises the rate at most 16×.
            expect(rate).toBeLessThanOrEqual(Math.max(settings.minRate, bucket.refillRate * 16) * loose);
          }
        }
        if (plan.capTokens !== undefined) {
          expect(Number.isFinite(plan.capTokens)).toBe(true);
          expect(plan.capTokens).toBeLessThanOrEqual(bucket.available);
        }
        if (plan.pauseFor !== undefined) {
          expect(Number.isFinite(plan.pauseFor) && plan.pauseFor > 0 && plan.pauseFor <= DAY_MS).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });

  const bucket: BucketShape = { capacity: 5, refillRate: 5, interval: 1000, available: 5 };
  const settings: AdaptationSettings = { safetyFactor: 1, minRate: 0, maxRate: Infinity, inFlight: 0 };

  it('remaining 1e308 before a reset in 1 ms: at most 16× the current rate, or maxRate, or the policy rate', () => {
    expect(planAdaptation({ remaining: 1e308, resetAfter: 1 }, bucket, settings)?.refillRate).toBe(80);
    expect(planAdaptation({ remaining: 1e308, resetAfter: 1 }, bucket, { ...settings, maxRate: 1000 })?.refillRate).toBe(1000);
    // A policy of 2^53 − 1 per 30 s is believed, up to the rate that refills the whole capacity in 1 µs.
    const withPolicy = planAdaptation({ limit: 1e308, window: 30_000, remaining: 1e308, resetAfter: 1 }, bucket, settings);
    expect(withPolicy?.refillRate).toBe((5 / 0.001) * 1000);
    const modest = planAdaptation({ limit: 600, window: 30_000, remaining: 1e308, resetAfter: 1 }, bucket, settings);
    expect(modest?.refillRate).toBeCloseTo(20, 9);
  });
});

describe('planAdaptation: with a policy known (issue 11, items 5 and 7)', () => {
  const bucket: BucketShape = { capacity: 5, refillRate: 5, interval: 1000, available: 5 };
  const settings: AdaptationSettings = { safetyFactor: 1, minRate: 0, maxRate: Infinity, inFlight: 0 };

  it('the remaining-before-reset rule never spends above the policy rate × safetyFactor', () => {
    // 600 per 30 s, 590 left 20 s before the reset: spreading would be 29.5/s; the ceiling is 10/s at 0.5.
    const plan = planAdaptation({ limit: 600, window: 30_000, remaining: 590, resetAfter: 20_000 }, bucket, {
      ...settings,
      safetyFactor: 0.5,
    });
    expect(plan?.refillRate).toBeCloseTo(10, 9);
  });

  it('a whole-second reset is an upper bound: reading "1 s" does not pull the rate below the policy rate', () => {
    const plan = planAdaptation({ limit: 20, window: 1000, remaining: 5, resetAfter: 1000 }, bucket, settings);
    expect(plan?.refillRate).toBeCloseTo(20, 9);
    expect(plan?.capTokens).toBe(5); // no more in hand than is usable
    // Nothing left, the reset any moment: no pause of a whole second, the next request waits one policy interval.
    const spent = planAdaptation({ limit: 20, window: 1000, remaining: 0, resetAfter: 1000 }, bucket, settings);
    expect(spent).toMatchObject({ capTokens: 0, cause: 'remaining-budget' });
    expect(spent?.pauseFor).toBeUndefined();
  });

  it('a precise reset still lets a genuinely low budget spend less than the policy rate', () => {
    // 5 left, 0.4 s to the reset (not a whole second): keep 4 in hand, spread 1 over 0.4 s = 2.5/s < 20/s.
    const plan = planAdaptation({ limit: 20, window: 1000, remaining: 5, resetAfter: 400 }, { ...bucket, available: 5 }, settings);
    expect(plan?.capTokens).toBe(4);
    expect(plan?.refillRate).toBeCloseTo(2.5, 9);
    // Spent with 3 s to go (at least 2 s, at one-second grain): wait the reset out.
    expect(planAdaptation({ limit: 20, window: 10_000, remaining: 0, resetAfter: 3000 }, bucket, settings)).toMatchObject({
      pauseFor: 3000,
      cause: 'budget-exhausted',
    });
  });
});

describe('TokenBucket.adapt validates its arguments (issue 11, item 3)', () => {
  const bucket = (): TokenBucket => new TokenBucket({ capacity: 5, refillRate: 5, scheduler: createTestScheduler() });

  it('refuses feedback that is not an object, naming TokenBucket adapt and the value', () => {
    expect(() => bucket().adapt(undefined as never)).toThrow(/^TokenBucket adapt: feedback must be an object .*got undefined$/);
    expect(() => bucket().adapt(null as never)).toThrow(/TokenBucket adapt: feedback must be an object .*got null/);
    expect(() => bucket().adapt(429 as never)).toThrow(/TokenBucket adapt: feedback must be an object .*got 429/);
  });

  it('refuses a feedback number that is not finite >= 0, naming the field and the value', () => {
    expect(() => bucket().adapt({ remaining: Infinity, resetAfter: 1 })).toThrow(/TokenBucket adapt: feedback\.remaining .*got Infinity/);
    expect(() => bucket().adapt({ retryAfter: -5 })).toThrow(/TokenBucket adapt: feedback\.retryAfter .*got -5/);
    expect(() => bucket().adapt({ limit: '10' as never })).toThrow(/TokenBucket adapt: feedback\.limit .*got "10"/);
    expect(() => bucket().adapt({ refill: 'sometimes' as never })).toThrow(/TokenBucket adapt feedback option "refill".*"sometimes"/);
  });

  it('refuses bad options, naming the option and the value', () => {
    const policy = { limit: 10, window: 1000 };
    expect(() => bucket().adapt(policy, { safetyFactor: 1e308 })).toThrow(
      /TokenBucket adapt option "safetyFactor" must be in \(0, 1\].*1e\+308/,
    );
    expect(() => bucket().adapt(policy, { safetyFactor: 0 })).toThrow(/TokenBucket adapt option "safetyFactor".*got 0/);
    expect(() => bucket().adapt(policy, { minRate: Infinity })).toThrow(
      /TokenBucket adapt option "minRate" must be a finite number > 0, got Infinity/,
    );
    expect(() => bucket().adapt(policy, { minRate: 0 })).toThrow(/TokenBucket adapt option "minRate".*got 0/);
    expect(() => bucket().adapt(policy, { maxRate: Number.NaN })).toThrow(/TokenBucket adapt option "maxRate".*got NaN/);
    expect(() => bucket().adapt(policy, { minRate: 10, maxRate: 2 })).toThrow(
      /TokenBucket adapt option "minRate" \(10\) exceeds "maxRate" \(2\)/,
    );
    expect(() => bucket().adapt(policy, { inFlight: -1 })).toThrow(/TokenBucket adapt option "inFlight".*got -1/);
    expect(() => bucket().adapt(policy, { inFlight: Infinity })).toThrow(/TokenBucket adapt option "inFlight".*got Infinity/);
    expect(() => bucket().adapt(policy, null as never)).toThrow(/TokenBucket adapt options must be an object, got null/);
    expect(() => bucket().adapt(policy, { saftyFactor: 0.5 } as never)).toThrow(/TokenBucket adapt has no option "saftyFactor"/);
  });

  it('a refused call changes nothing; a valid one still retunes', () => {
    const b = bucket();
    expect(() => b.adapt({ limit: 1e9, window: 1 }, { minRate: Infinity })).toThrow();
    expect(b.refillRate).toBe(5);
    b.adapt({ limit: 10, window: 1000 }, { safetyFactor: 1 });
    expect(b.refillRate).toBeCloseTo(10, 9);
  });
});
