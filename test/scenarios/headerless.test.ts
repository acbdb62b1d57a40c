/**
 * Issue 11's scenarios for servers that say nothing but 429 (`none`) or 429 with Retry-After
 * (`retry-after-only`), in virtual time against `SimulatedApi`, with `safetyFactor: 1` and
 * `maxRate` set (opting into learning above the start), beside the AWS SDK's adaptive
 * limiter (`DefaultRateLimiter`, token bucket + CUBIC) in the same simulation. Each side's
 * figures are medians over the seven seeds the benchmark reports (one seed's goodput moves by
 * a few tenths of a percent, as much as the gap to AWS in some rows). Targets: goodput ≥ 90 %,
 * ≤ 2 % answered 429, re-settled within 5 s of a drop and 15 s of a rise, fairness ≥ 0.9, and
 * no worse than the AWS limiter. The one target missed (starting 10× too slow, where AWS does
 * not limit at all until its first 429) holds the figure measured, with the margin noted, so a
 * regression still fails it; BENCHMARKS.md reports it.
 */
import { describe, expect, it } from 'vitest';
import { runAdaptive, runAwsAdaptive, type ScenarioPlan } from '../support/scenarioClients';
import { fixedLimit, heavyTail, medianFigures, SCENARIO_SEEDS, sharedLimit, steppingLimit, targetsFor } from '../support/scenarioPlans';

async function both(plan: ScenarioPlan) {
  const aws = [];
  for (const seed of SCENARIO_SEEDS) aws.push(await runAwsAdaptive({ ...plan, seed }));
  return {
    ours: medianFigures(SCENARIO_SEEDS.map((seed) => runAdaptive({ ...plan, seed }))),
    aws: medianFigures(aws),
  };
}

for (const style of ['retry-after-only', 'none'] as const) {
  const targets = targetsFor(style);
  describe(`adaptiveThrottle against a server that says only 429 (${style})`, () => {
    it('(a) starting 2.5× too fast: on target, more goodput and fewer 429s than the AWS limiter', async () => {
      const { ours, aws } = await both(fixedLimit(style, 'fast'));
      expect(ours.goodput).toBeGreaterThanOrEqual(targets.goodput);
      expect(ours.refusedShare).toBeLessThanOrEqual(targets.refused);
      expect(ours.settleMs[0]).toBeLessThanOrEqual(targets.settleDrop);
      expect(ours.goodput).toBeGreaterThanOrEqual(aws.goodput);
      expect(ours.refusedShare).toBeLessThan(aws.refusedShare);
    });

    it('(a) starting 10× too slow: on target, fewer 429s than the AWS limiter (which starts unlimited)', async () => {
      const { ours, aws } = await both(fixedLimit(style, 'slow'));
      expect(ours.goodput).toBeGreaterThanOrEqual(targets.goodput);
      expect(ours.refusedShare).toBeLessThanOrEqual(targets.refused);
      expect(ours.settleMs[0]).toBeLessThanOrEqual(targets.settleRise);
      expect(ours.refusedShare).toBeLessThan(aws.refusedShare);
      // Missed: the AWS limiter does not limit at all until its first 429 and takes the server's
      // burst at once; slow start from 2/s leaves it unused (ours ≈ 94.4–95.3 %, AWS ≈ 98.2 %).
      expect(ours.goodput).toBeGreaterThanOrEqual(aws.goodput - 0.04);
    });

    it('(b) re-settles within 5 s of the drop (20 → 8/s) and 15 s of the rise (→ 30/s), ahead of the AWS limiter', async () => {
      const { ours, aws } = await both(steppingLimit(style));
      expect(ours.goodput).toBeGreaterThanOrEqual(targets.goodput);
      expect(ours.refusedShare).toBeLessThanOrEqual(targets.refused);
      expect(ours.settleMs[1]).toBeLessThanOrEqual(targets.settleDrop);
      expect(ours.settleMs[2]).toBeLessThanOrEqual(targets.settleRise);
      expect(ours.goodput).toBeGreaterThanOrEqual(aws.goodput);
      expect(ours.refusedShare).toBeLessThan(aws.refusedShare);
    });

    it('(c) four independent clients: fair, and far fewer 429s than four AWS limiters', async () => {
      const { ours, aws } = await both(sharedLimit(style));
      expect(ours.goodput).toBeGreaterThanOrEqual(targets.goodput);
      expect(ours.goodput).toBeGreaterThanOrEqual(aws.goodput);
      expect(ours.fairness).toBeGreaterThanOrEqual(targets.fairness);
      expect(ours.refusedShare).toBeLessThanOrEqual(targets.refused);
      expect(ours.refusedShare).toBeLessThan(aws.refusedShare / 2);
    });

    it('(d) heavy-tailed latency (p50 20 ms, p99 400 ms): on target, ahead of the AWS limiter', async () => {
      const { ours, aws } = await both(heavyTail(style));
      expect(ours.goodput).toBeGreaterThanOrEqual(targets.goodput);
      expect(ours.refusedShare).toBeLessThanOrEqual(targets.refused);
      expect(ours.goodput).toBeGreaterThanOrEqual(aws.goodput);
      expect(ours.refusedShare).toBeLessThan(aws.refusedShare);
    });
  });
}
