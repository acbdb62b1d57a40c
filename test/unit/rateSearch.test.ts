/**
 * `RateSearch`, the header-less learner: worked examples of each rule, a fast-check property
 * against a reference model written here from the rules in its doc (every admission kept in
 * a plain array, no rings), and hostile inputs that must still give a finite rate in bounds.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CLIMB_BACK_AFTER, PROBE_AFTER, RateSearch, type RateSearchSettings } from '../../src/arithmetic/rateSearch';

const SETTINGS: RateSearchSettings = { decrease: 0.85, increase: 0.0002, interval: 1000, minRate: 0.01, maxRate: 1000 };

/** The rules as the doc states them, written independently of the implementation (plain arrays, no rings but the last 8 refusals). */
class ReferenceSearch {
  private ceiling = 0;
  private lastDecrease = -Infinity;
  private lastRaise: number | undefined;
  private probeStart: number | undefined;
  private hold = 4000;
  private signs = 1;
  private paced = false;
  private forgetBefore = -Infinity;
  private readonly answers: boolean[] = [];
  private readonly admissions: { at: number; cost: number }[] = [];
  /** Each refusal, and how many admissions had been recorded before it. */
  private readonly refusals: { at: number; admittedBefore: number }[] = [];

  constructor(private readonly settings: RateSearchSettings) {}

  record(refused: boolean, cost: number, now: number): void {
    this.answers.push(refused);
    if (refused) this.refusals.push({ at: now, admittedBefore: this.admissions.length });
    else this.admissions.push({ at: now, cost });
  }

  success(rate: number, now: number): number {
    const current = this.bound(rate);
    if (this.settings.increase === 0) return current;
    if (!this.paced && now - this.lastDecrease < 1000) {
      this.lastRaise = now;
      return current;
    }
    const elapsed = this.lastRaise === undefined ? 0 : Math.min(1000, Math.max(0, now - this.lastRaise));
    this.lastRaise = now;
    const growthBound = current * 2 ** (elapsed / 1000);
    let goal = growthBound; // slow start: only the growth bound
    if (this.ceiling > 0) {
      const hold = this.paced ? this.hold : this.hold * (1 + this.signs);
      if (this.probeStart === undefined && now - this.lastDecrease >= hold) this.probeStart = now;
      if (this.probeStart === undefined) goal = 0.97 * this.ceiling;
      else {
        const seconds = Math.max(0, now - this.probeStart) / 1000;
        goal = this.ceiling * (0.97 + 0.05 * (this.settings.increase / 0.0002) * seconds ** 3);
      }
    }
    return this.bound(Math.max(current, Math.min(growthBound, goal)));
  }

  throttle(rate: number, sentAt: number, now: number, paced = false): number {
    const current = this.bound(rate);
    if (this.settings.decrease === 1 || sentAt < this.lastDecrease) return current;
    const slowStart = this.ceiling === 0;
    const probing = this.probeStart !== undefined;
    const sinceDecrease = now - this.lastDecrease;
    this.lastDecrease = now;
    this.lastRaise = now;
    this.paced = paced;
    const first = this.admissions[0]?.at ?? NaN;
    const since = Math.max(now - 4000, first);
    let admitted: number | undefined;
    if (now - since >= 1000) {
      const cost = this.admissions.filter((admission) => admission.at >= since).reduce((sum, admission) => sum + admission.cost, 0);
      admitted = (cost / (now - since)) * this.settings.interval;
    }
    let drained: number | undefined;
    if (!slowStart) {
      for (const refusal of this.refusals.slice(-8).reverse()) {
        if (refusal.at < this.forgetBefore || now - refusal.at > 60_000) break;
        if (now - refusal.at < 1000) continue;
        const cost = this.admissions.slice(refusal.admittedBefore).reduce((sum, admission) => sum + admission.cost, 0);
        drained = (cost / (now - refusal.at)) * this.settings.interval;
        break;
      }
    }
    const previous = this.ceiling;
    let cut: number;
    if (drained !== undefined) {
      const raised = probing && admitted !== undefined && admitted > drained * 1.25;
      if (raised) this.forgetBefore = now;
      // Paced: the span holds the flow's own pause, so at most half the rate at once; and no decrease on top of the pause.
      this.ceiling = this.bound(raised ? Math.min(admitted!, current) : paced ? Math.max(drained, current / 2) : drained);
      cut = Math.min(current, this.ceiling) * (paced ? 1 : this.settings.decrease);
    } else {
      const measured = admitted !== undefined && admitted < current;
      const factor = slowStart ? Math.min(0.5, this.settings.decrease) : this.settings.decrease;
      cut = Math.min(measured ? admitted! * this.settings.decrease : current, current * factor);
      this.ceiling = this.bound(measured && !slowStart ? admitted! : cut);
    }
    if (probing) this.signs = Math.max(0, this.signs - 1);
    else if (!slowStart && sinceDecrease >= 1000) this.signs = Math.min(4, this.signs + 1);
    if (this.ceiling > previous * 1.1 || this.ceiling < previous * 0.8) this.hold = 4000;
    else if (probing) this.hold = Math.min(8000, this.hold * 1.5);
    this.probeStart = undefined;
    const recent = this.answers.slice(-16);
    const share = recent.length < 16 ? 1 : recent.filter((refused) => !refused).length / 16;
    return this.bound(Math.min(cut, current * share));
  }

  private bound(rate: number): number {
    return Math.min(this.settings.maxRate, Math.max(this.settings.minRate, rate));
  }
}

describe('RateSearch: the rules, by example', () => {
  it('slow start: up to 2× per second of held-back successes, never above maxRate', () => {
    const search = new RateSearch({ ...SETTINGS, maxRate: 25 });
    expect(search.afterSuccess(10, 0)).toBe(10); // no time has passed since anything
    expect(search.afterSuccess(10, 500)).toBeCloseTo(10 * Math.SQRT2, 12);
    expect(search.afterSuccess(14, 5000)).toBe(25); // a long gap counts as one second at most, then maxRate
  });

  it('first throttle, too soon to measure: at least halves, and the cut is the ceiling the rate holds at', () => {
    const search = new RateSearch(SETTINGS);
    expect(search.afterThrottle(40, 0, 100)).toBe(20);
    expect(search.limitEstimate).toBe(20);
    // Back towards 97 % of the ceiling only: 20 already stands above it, nothing rises during the hold.
    expect(search.afterSuccess(20, 1000)).toBe(20);
    expect(search.afterSuccess(15, 2000)).toBeCloseTo(0.97 * 20, 12);
  });

  it('ignores signals for requests sent before the last decrease (echoes of one overshoot)', () => {
    const search = new RateSearch(SETTINGS);
    const after = search.afterThrottle(40, 0, 10);
    expect(search.afterThrottle(after, 5, 12)).toBe(after);
    expect(search.afterThrottle(after, 11, 20)).toBeCloseTo(after * 0.85, 12);
  });

  it('measures the ceiling from what the server admitted: 20/s while the client asked for 50/s', () => {
    const search = new RateSearch(SETTINGS);
    for (let t = 0; t <= 2000; t += 50) search.recordOutcome(false, 1, t); // 41 admitted in 2 s
    const cut = search.afterThrottle(50, 1990, 2000);
    expect(cut).toBeCloseTo(20.5 * 0.85, 9); // below half of 50: the measure wins
    // Leaving slow start the measure still counts the server's burst: the cut is the ceiling.
    expect(search.limitEstimate).toBeCloseTo(20.5 * 0.85, 9);
    // Later, a throttle in steady state takes the measured rate itself as the ceiling.
    for (let t = 2050; t <= 6000; t += 62.5) search.recordOutcome(false, 1, t); // 16/s
    const next = search.afterThrottle(17, 5990, 6000);
    expect(search.limitEstimate).toBeCloseTo(16, 0);
    expect(next).toBeCloseTo(search.limitEstimate! * 0.85, 9);
  });

  it('cuts to the share of the last 16 answers admitted when that is lower', () => {
    const search = new RateSearch(SETTINGS);
    search.afterThrottle(40, 0, 1); // ceiling 20
    for (let i = 0; i < 8; i++) search.recordOutcome(true, 1, 100 + i);
    for (let i = 0; i < 8; i++) search.recordOutcome(false, 1, 200 + i);
    expect(search.afterThrottle(20, 50, 300)).toBeCloseTo(10, 12); // half refused: 20 × 0.5 < 20 × 0.85
  });

  it('after a paced throttle (Retry-After): holds PROBE_AFTER, then probes above the ceiling on a cubic, within the growth bound', () => {
    const search = new RateSearch(SETTINGS);
    search.afterThrottle(40, 0, 0, true); // ceiling 20, hold 4 s
    let rate = 20;
    for (let t = 100; t < PROBE_AFTER; t += 100) rate = search.afterSuccess(rate, t);
    expect(rate).toBe(20);
    rate = search.afterSuccess(rate, PROBE_AFTER); // the probe starts here: 0.97 × ceiling still
    expect(rate).toBe(20);
    for (let t = PROBE_AFTER + 100; t <= PROBE_AFTER + 2000; t += 100) rate = search.afterSuccess(rate, t);
    expect(rate).toBeCloseTo(20 * (0.97 + 0.05 * 2 ** 3), 9); // 2 s into the probe: 27.4
  });

  it('probes less often after a probe that found the limit unchanged, and soon again once it moved', () => {
    const search = new RateSearch(SETTINGS);
    search.afterThrottle(40, 0, 0, true); // ceiling 20, hold 4 s
    search.afterSuccess(20, 4000); // the probe begins
    search.afterThrottle(21, 4500, 5000, true); // it failed: unmeasured, ceiling 21 × 0.85 ≈ 17.9, within 0.8–1.1 of 20
    expect(search.limitEstimate).toBeCloseTo(17.85, 9);
    // Hold now 6 s: at 5000 + 5999 still holding, from 5000 + 6000 the probe climbs again.
    const held = 17.85 * 0.97;
    expect(search.afterSuccess(held, 5000 + 5999)).toBeCloseTo(held, 9);
    expect(search.afterSuccess(held, 5000 + 6000)).toBeCloseTo(held, 9); // the probe's first instant
    expect(search.afterSuccess(held, 5000 + 7000)).toBeCloseTo(17.85 * (0.97 + 0.05), 9);
    // A throttle that shows the limit dropped (ceiling below 0.8 × the last) brings the hold back to 4 s.
    for (let t = 12_100; t <= 16_000; t += 200) search.recordOutcome(false, 1, t); // 5/s admitted
    search.afterThrottle(17.85, 15_900, 16_000, true);
    expect(search.limitEstimate).toBeCloseTo(5.1, 1);
    const low = search.limitEstimate! * 0.97;
    expect(search.afterSuccess(low, 16_000 + 3999)).toBeCloseTo(low, 9);
    expect(search.afterSuccess(low, 16_000 + 4000)).toBeCloseTo(low, 9);
    expect(search.afterSuccess(low, 16_000 + 5000)).toBeCloseTo(search.limitEstimate! * 1.02, 9);
  });

  it('takes the drained measure as the ceiling: what was admitted between two refusals, not the burst saved before', () => {
    const search = new RateSearch(SETTINGS);
    for (let i = 0; i < 30; i++) search.recordOutcome(false, 1, 100 + i); // the server's saved-up burst
    search.recordOutcome(true, 1, 200);
    search.afterThrottle(60, 190, 200); // slow-start exit: too soon to measure, halved to 30
    for (let t = 250; t <= 2200; t += 50) search.recordOutcome(false, 1, t); // 40 admitted in 2 s: 20/s
    search.recordOutcome(true, 1, 2200);
    // The 4 s window says (30 + 40) / 2.1 s ≈ 33/s, counting the burst; between the refusals it was 20/s.
    expect(search.afterThrottle(30, 2190, 2200)).toBeCloseTo(20 * 0.85, 9);
    expect(search.limitEstimate).toBeCloseTo(20, 9);
    // A refusal less than 1 s after the last measures from the one before it.
    for (let t = 2250; t <= 2600; t += 50) search.recordOutcome(false, 1, t); // 8 more
    search.recordOutcome(true, 1, 2600);
    search.afterThrottle(20, 2590, 2600);
    expect(search.limitEstimate).toBeCloseTo(48 / 2.4, 9);
  });

  it('with a server pause: the drained measure (the pause counted) is the ceiling and the cut, at most halving at once', () => {
    const run = (admittedPerSecond: number) => {
      const search = new RateSearch(SETTINGS);
      for (let i = 0; i < 30; i++) search.recordOutcome(false, 1, 100 + i);
      search.recordOutcome(true, 1, 200);
      search.afterThrottle(60, 190, 200, true); // slow-start exit: halved to 30
      const every = 1000 / admittedPerSecond;
      for (let t = 200 + every; t <= 2200; t += every) search.recordOutcome(false, 1, t);
      search.recordOutcome(true, 1, 2200);
      return { rate: search.afterThrottle(30, 2190, 2200, true), ceiling: search.limitEstimate };
    };
    // 20/s between the refusals: the cut is to 20 itself, not 0.85 × 20 (the pause has let the server refill).
    expect(run(20).rate).toBeCloseTo(20, 9);
    expect(run(20).ceiling).toBeCloseTo(20, 9);
    // 2/s (a refusal right after the flow's own pause measures mostly the pause): no lower than half of 30 at once.
    expect(run(2).rate).toBeCloseTo(15, 9);
    expect(run(2).ceiling).toBeCloseTo(15, 9);
  });

  it('without a server pause: stays where the cut left it for CLIMB_BACK_AFTER, then returns to 97 % of the ceiling', () => {
    const search = new RateSearch(SETTINGS);
    search.recordOutcome(true, 1, 0);
    search.afterThrottle(40, 0, 0); // ceiling 20
    for (let t = 50; t <= 1000; t += 50) search.recordOutcome(false, 1, t); // 20/s
    search.recordOutcome(true, 1, 1000);
    const cut = search.afterThrottle(25, 990, 1000); // drained 20/s: cut to 17
    expect(cut).toBeCloseTo(17, 9);
    expect(search.afterSuccess(cut, 1000 + CLIMB_BACK_AFTER - 1)).toBe(cut);
    // The growth bound counts from the end of the wait: 0.5 s later, up to √2 × the cut, here capped at 97 % of 20.
    expect(search.afterSuccess(cut, 1000 + CLIMB_BACK_AFTER + 500)).toBeCloseTo(0.97 * 20, 9);
  });

  it('a refusal while holding is a sign of a shared limit: each sign lengthens the hold by one hold, its own probe removes one', () => {
    const search = new RateSearch(SETTINGS);
    search.afterThrottle(40, 0, 0); // ceiling 20; one sign to start with: the hold is 2 × 4 s
    expect(search.afterSuccess(20, 7999)).toBe(20);
    expect(search.afterSuccess(19.4, 8000)).toBeCloseTo(19.4, 9); // the probe's first instant
    expect(search.afterSuccess(19.4, 9000)).toBeCloseTo(20 * (0.97 + 0.05), 9);
    search.afterThrottle(20.4, 9500, 10_000); // its own probe ended: no sign left, hold 6 s (limit unchanged)
    expect(search.afterSuccess(16, 15_999)).toBeCloseTo(Math.min(16 * 2, search.limitEstimate! * 0.97), 9);
    const held = search.limitEstimate! * 0.97;
    expect(search.afterSuccess(held, 16_000)).toBeCloseTo(held, 9); // the probe's first instant
    expect(search.afterSuccess(held, 17_000)).toBeCloseTo(search.limitEstimate! * (0.97 + 0.05), 9);
    // A refusal 2 s after its own cut, while holding: someone else's; the next hold is 2 × 6 s.
    const other = new RateSearch(SETTINGS);
    other.afterThrottle(40, 0, 0, true); // paced: the hold is 4 s, signs do not apply
    expect(other.afterSuccess(19.4, 4000)).toBeCloseTo(19.4, 9);
    expect(other.afterSuccess(19.4, 5000)).toBeCloseTo(20 * (0.97 + 0.05), 9);
    const shared = new RateSearch(SETTINGS);
    shared.afterThrottle(40, 0, 0); // ceiling 20, one sign
    shared.afterThrottle(19.4, 1900, 2000); // while holding: two signs, ceiling 19.4 × 0.85 within 0.8 of 20: hold stays 4 s
    const level = shared.limitEstimate! * 0.97;
    expect(shared.afterSuccess(level, 2000 + 3 * PROBE_AFTER - 1)).toBeCloseTo(level, 9);
    expect(shared.afterSuccess(level, 2000 + 3 * PROBE_AFTER)).toBeCloseTo(level, 9);
    expect(shared.afterSuccess(level, 2000 + 3 * PROBE_AFTER + 1000)).toBeCloseTo(shared.limitEstimate! * (0.97 + 0.05), 9);
  });

  it('a probe that finds a raised limit takes the 4 s measure and forgets the refusals of the old limit', () => {
    const search = new RateSearch(SETTINGS);
    search.recordOutcome(true, 1, 0);
    search.afterThrottle(20, 0, 0, true); // ceiling 10, paced: hold 4 s
    search.afterSuccess(9.7, 4000); // the probe begins
    for (let t = 4025; t <= 8000; t += 25) search.recordOutcome(false, 1, t); // 40/s admitted: the limit rose
    search.recordOutcome(true, 1, 8000);
    // Drained since the refusal at 0: 160 / 8 s = 20/s; the last 4 s: 40/s, above 1.25 × 20.
    search.afterThrottle(60, 7990, 8000);
    expect(search.limitEstimate).toBeCloseTo(160 / 3.975, 6);
    // The refusal at 0 is forgotten: one 0.6 s later (the one at 8000 too recent) has no drained measure
    // (it would be 184 / 8.6 s ≈ 21/s), so the 4 s measure, below the rate, is the ceiling.
    for (let t = 8025; t <= 8600; t += 25) search.recordOutcome(false, 1, t);
    search.recordOutcome(true, 1, 8600);
    search.afterThrottle(60, 8590, 8600);
    expect(search.limitEstimate).toBeCloseTo(161 / 4, 6); // 137 + 24 admitted in [4600, 8600]
  });

  it('increase 0 turns every increase off; decrease 1 every decrease', () => {
    const frozen = new RateSearch({ ...SETTINGS, increase: 0 });
    expect(frozen.afterSuccess(10, 0)).toBe(10);
    expect(frozen.afterSuccess(10, 1000)).toBe(10);
    const steady = new RateSearch({ ...SETTINGS, decrease: 1 });
    expect(steady.afterThrottle(10, 0, 1)).toBe(10);
  });
});

describe('RateSearch: against the reference model', () => {
  /** A closed loop, as the operator drives it: the rate handed in is the last one returned, unless `rate` overrides it. */
  type Step =
    | { kind: 'admitted' | 'refused'; dt: number; cost: number }
    | { kind: 'success'; dt: number; rate: number | null }
    | { kind: 'throttle'; dt: number; rate: number | null; sentBack: number; paced: boolean };
  const dt = fc.oneof(
    { weight: 9, arbitrary: fc.double({ min: 0, max: 400, noNaN: true }) },
    { weight: 1, arbitrary: fc.double({ min: 0, max: 3000, noNaN: true }) },
  );
  // Costs in 64ths, so sums are exact: the search subtracts running totals where the model adds
  // a slice, and a cost of 1e-320 would let that rounding flip a comparison with 0.
  const cost = fc.integer({ min: 0, max: 192 }).map((sixtyFourths) => sixtyFourths / 64);
  // Mostly the closed loop (null: the last rate returned), so rules that act on the rate the search set are reached.
  const rate = fc.option(fc.double({ min: 0.5, max: 200, noNaN: true }), { freq: 2 });
  const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: 8, arbitrary: fc.record({ kind: fc.constant('admitted' as const), dt, cost }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('refused' as const), dt, cost: fc.constant(1) }) },
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('success' as const), dt, rate }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('throttle' as const),
        dt,
        rate,
        sentBack: fc.double({ min: 0, max: 1500, noNaN: true }),
        paced: fc.boolean(),
      }),
    },
  );

  it('gives the same rate as the model after every step', () => {
    fc.assert(
      fc.property(
        fc.array(step, { minLength: 100, maxLength: 400, size: 'max' }),
        fc.constantFrom(0.5, 0.85, 1),
        fc.double({ min: 1, max: 100, noNaN: true }),
        (steps, decrease, start) => {
          const settings = { ...SETTINGS, decrease };
          const search = new RateSearch(settings);
          const model = new ReferenceSearch(settings);
          let now = 0;
          let current = start;
          for (const next of steps) {
            now += next.dt;
            if (next.kind === 'success') {
              const asked = next.rate ?? current;
              current = search.afterSuccess(asked, now);
              expect(current).toBeCloseTo(model.success(asked, now), 6);
            } else if (next.kind === 'throttle') {
              const asked = next.rate ?? current;
              current = search.afterThrottle(asked, now - next.sentBack, now, next.paced);
              expect(current).toBeCloseTo(model.throttle(asked, now - next.sentBack, now, next.paced), 6);
            } else {
              search.recordOutcome(next.kind === 'refused', next.cost, now);
              model.record(next.kind === 'refused', next.cost, now);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('RateSearch: hostile numbers', () => {
  const anyNumber = fc.oneof(fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, 0, -1, 1e308, Number.MIN_VALUE));

  it('always returns a finite rate within [minRate, maxRate], even with maxRate Infinity', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('success', 'throttle', 'outcome'), anyNumber, anyNumber, anyNumber), { maxLength: 60 }),
        fc.constantFrom(1000, Infinity),
        (calls, maxRate) => {
          const settings = { ...SETTINGS, maxRate };
          const search = new RateSearch(settings);
          for (const [kind, a, b, c] of calls) {
            if (kind === 'outcome') {
              search.recordOutcome(a > 0, b, c);
              continue;
            }
            const result = kind === 'success' ? search.afterSuccess(a, b) : search.afterThrottle(a, b, c);
            expect(Number.isFinite(result)).toBe(true);
            expect(result).toBeGreaterThanOrEqual(settings.minRate);
            expect(result).toBeLessThanOrEqual(maxRate);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('forgets nothing it should and keeps bounded memory: a full ring of admissions reads as no measure', () => {
    const search = new RateSearch(SETTINGS);
    // 600 admissions within the last 4 s: more than the 512 kept, so the measure would be a floor.
    for (let i = 0; i < 600; i++) search.recordOutcome(false, 1, 1000 + i * 5);
    expect(search.afterThrottle(400, 3990, 4000)).toBe(200); // unmeasured: halved at the slow-start exit
  });
});
