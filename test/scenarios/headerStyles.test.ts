/**
 * Issue 11's scenarios for servers that send rate-limit headers (github, ietf), in virtual
 * time against `SimulatedApi`, with `safetyFactor: 1`. Targets: goodput ≥ 95 % of what the
 * server admits, ≤ 1 % of requests answered 429, re-settled within 5 s of every step,
 * Jain's fairness ≥ 0.95 for four independent clients. Headers are evidence: the rate may
 * rise past the start without `maxRate`.
 */
import { describe, expect, it } from 'vitest';
import { runAdaptive, type ScenarioRun } from '../support/scenarioClients';
import { fixedLimit, heavyTail, sharedLimit, steppingLimit, targetsFor } from '../support/scenarioPlans';
import type { HeaderStyle } from '../support/simulatedApi';

function expectTargets(style: HeaderStyle, run: ScenarioRun): void {
  const targets = targetsFor(style);
  expect(run.goodput).toBeGreaterThanOrEqual(targets.goodput);
  expect(run.refusedShare).toBeLessThanOrEqual(targets.refused);
  // Every phase settles, the first one too (from the wrong start), each within 5 s.
  for (const settle of run.settleMs) expect(settle).toBeLessThanOrEqual(targets.settleRise);
}

for (const style of ['github', 'ietf'] as const) {
  describe(`adaptiveThrottle against a server speaking ${style} headers`, () => {
    it('(a) learns a fixed hidden limit starting 2.5× too fast', () => {
      expectTargets(style, runAdaptive(fixedLimit(style, 'fast')));
    });

    it('(a) learns a fixed hidden limit starting 10× too slow (headers are evidence: no maxRate needed)', () => {
      const run = runAdaptive(fixedLimit(style, 'slow'));
      expectTargets(style, run);
      expect(run.finalRates[0]).toBeGreaterThan(10);
    });

    it('(b) re-settles within 5 s after the limit steps 20/s → 8/s → 30/s', () => {
      const run = runAdaptive(steppingLimit(style));
      expectTargets(style, run);
      expect(run.settleMs).toHaveLength(3);
    });

    it('(c) four independent clients split one 40/s limit evenly', () => {
      const run = runAdaptive(sharedLimit(style));
      expectTargets(style, run);
      expect(run.fairness).toBeGreaterThanOrEqual(targetsFor(style).fairness);
    });

    it('(d) keeps its targets with heavy-tailed latency (p50 20 ms, p99 400 ms)', () => {
      expectTargets(style, runAdaptive(heavyTail(style)));
    });
  });
}
