/**
 * Issue 11's scenarios in virtual time (test/support/scenarioPlans.ts, the same plans the
 * tests in test/scenarios run): a simulated API (test/support/simulatedApi.ts) with a hidden
 * limit in four header styles, driven by
 * - `adaptiveThrottle` (inside `TestScheduler.run`, safetyFactor 1; `maxRate` 10× the limit
 *   for the header-less styles, opting into learning above the start);
 * - the AWS SDK's adaptive limiter, `DefaultRateLimiter` of @smithy/util-retry (token bucket +
 *   CUBIC), its clock and timer stubbed onto a discrete-event loop (test/support/virtualEventLoop.ts);
 * - bottleneck told the true limit (`minTime`, re-told at each step: the oracle), under the
 *   same loop with Node's timers and `Date.now` swapped for it.
 * Each subject meets a fresh server with the same seed. Goodput: admitted ÷ the most the server
 * admits (its first burst + rate × time); 429 %: refused ÷ all requests it saw; settle: from
 * each phase's start until settled as examples/demo/targets.ts defines it (the demo's rule
 * too); fairness: Jain's index of the clients' admitted counts. Full mode repeats every
 * scenario over `runs` seeds and reports medians; quick mode runs one seed of fewer scenarios.
 */
import { significant, trace, type BenchRatio, type BenchRow, type BenchSuite } from '../harness';
import { runAdaptive, runAwsAdaptive, runBottleneckOracle, type ScenarioPlan, type ScenarioRun } from '../../test/support/scenarioClients';
import {
  fixedLimit,
  heavyTail,
  isHeaderless,
  medianFigures,
  SCENARIO_SEEDS,
  sharedLimit,
  steppingLimit,
  targetsFor,
  type MedianFigures,
} from '../../test/support/scenarioPlans';
import { HEADER_STYLES, type HeaderStyle } from '../../test/support/simulatedApi';
import { describeSettled, describeTargets } from '../../examples/demo/targets';

interface Scenario {
  readonly id: string;
  readonly plan: (style: HeaderStyle) => ScenarioPlan;
}

const SCENARIOS: readonly Scenario[] = [
  { id: 'a: fixed 20/s, start 2.5× fast', plan: (style) => fixedLimit(style, 'fast') },
  { id: 'a: fixed 20/s, start 10× slow', plan: (style) => fixedLimit(style, 'slow') },
  { id: 'b: 20 → 8 → 30/s', plan: steppingLimit },
  { id: 'c: 4 clients, 40/s', plan: sharedLimit },
  { id: 'd: heavy-tailed latency', plan: heavyTail },
];
const QUICK_SCENARIOS = [SCENARIOS[0]!, SCENARIOS[2]!, SCENARIOS[3]!];
const QUICK_STYLES: readonly HeaderStyle[] = ['ietf', 'none'];

type Subject = 'adaptiveThrottle' | 'AWS DefaultRateLimiter' | 'bottleneck (told the limit)';
const SUBJECTS: readonly Subject[] = ['adaptiveThrottle', 'AWS DefaultRateLimiter', 'bottleneck (told the limit)'];

async function runSubject(subject: Subject, plan: ScenarioPlan): Promise<ScenarioRun> {
  if (subject === 'adaptiveThrottle') return runAdaptive(plan);
  if (subject === 'AWS DefaultRateLimiter') return runAwsAdaptive(plan);
  return runBottleneckOracle(plan);
}

const seconds = (ms: number): string => (Number.isFinite(ms) ? (ms / 1000).toFixed(1) : 'never');

const suite: BenchSuite = async ({ quick, runs }) => {
  const seeds = Array.from({ length: quick ? 1 : Math.max(1, runs) }, (_, i) => SCENARIO_SEEDS[0]! + i);
  const scenarios = quick ? QUICK_SCENARIOS : SCENARIOS;
  const styles = quick ? QUICK_STYLES : HEADER_STYLES;
  const rows: BenchRow[] = [];
  const ratios: BenchRatio[] = [];
  const started = performance.now();

  for (const scenario of scenarios) {
    for (const style of styles) {
      const figures = new Map<Subject, MedianFigures>();
      for (const subject of SUBJECTS) {
        const results: ScenarioRun[] = [];
        for (const seed of seeds) results.push(await runSubject(subject, { ...scenario.plan(style), seed }));
        const mine = medianFigures(results);
        figures.set(subject, mine);
        trace(`${scenario.id} · ${style} · ${subject}: goodput ${mine.goodput}, 429 ${mine.refusedShare}`);
        rows.push({
          subject: `${scenario.id} · ${style} · ${subject}`,
          metrics: {
            'goodput %': significant(mine.goodput * 100),
            '429 %': significant(mine.refusedShare * 100),
            'settle s, per phase': mine.settleMs.map(seconds).join(' / '),
            '429s, per phase': mine.refusedByPhase.join(' / '),
            fairness: significant(mine.fairness),
          },
        });
      }
      const ours = figures.get('adaptiveThrottle')!;
      const aws = figures.get('AWS DefaultRateLimiter')!;
      const targets = targetsFor(style);
      const where = `${scenario.id} · ${style}`;
      ratios.push({
        label: `${where}: goodput`,
        value: significant(ours.goodput * 100),
        target: `≥ ${targets.goodput * 100} %`,
        pass: ours.goodput >= targets.goodput,
      });
      ratios.push({
        label: `${where}: 429 share`,
        value: significant(ours.refusedShare * 100),
        target: `≤ ${targets.refused * 100} %`,
        pass: ours.refusedShare <= targets.refused,
      });
      // The first phase settles from the wrong start; later ones after a drop (8/s) or a rise (30/s).
      ours.settleMs.forEach((settle, phase) => {
        const limit = scenario.plan(style).phases[phase]!.rate;
        const rise = phase === 0 || limit > scenario.plan(style).phases[phase - 1]!.rate;
        const most = rise ? targets.settleRise : targets.settleDrop;
        ratios.push({
          label: `${where}: settle after phase ${phase + 1} (${limit}/s) starts, s`,
          value: Number.isFinite(settle) ? significant(settle / 1000) : Infinity,
          target: `≤ ${most / 1000} s`,
          pass: settle <= most,
        });
      });
      if ((scenario.plan(style).clients ?? 1) > 1) {
        ratios.push({
          label: `${where}: fairness (Jain)`,
          value: significant(ours.fairness),
          target: `≥ ${targets.fairness}`,
          pass: ours.fairness >= targets.fairness,
        });
      }
      const goodputRatio = ours.goodput / aws.goodput;
      const refusedRatio = ours.refusedShare / Math.max(aws.refusedShare, 1e-9);
      const needed = isHeaderless(style);
      ratios.push({
        label: `${where}: goodput ours ÷ AWS`,
        value: significant(goodputRatio),
        ...(needed ? { target: '≥ 1', pass: goodputRatio >= 1 } : {}),
      });
      ratios.push({
        label: `${where}: 429 share ours ÷ AWS`,
        value: significant(refusedRatio),
        ...(needed ? { target: '≤ 1', pass: refusedRatio <= 1 } : {}),
      });
    }
  }

  return {
    id: 'adaptive',
    title: `Adaptive scenarios in virtual time (issue 11): adaptiveThrottle vs the AWS SDK's adaptive limiter vs bottleneck told the limit`,
    rows,
    ratios,
    notes: [
      `Simulated server: a token bucket (burst 2 s of its rate) answering 429 past it, in the header style named; response times uniform 5–25 ms ` +
        `(d: log-normal, p50 20 ms, p99 400 ms); concurrency 8 per client; ${seeds.length === 1 ? 'one seed' : `medians of ${seeds.length} seeds`}; ` +
        `${Math.round(performance.now() - started)} ms of real time for the whole suite.`,
      'adaptiveThrottle: safetyFactor 1, retries throttled values (each request the server saw counts once); header-less styles set maxRate 10× the limit. ' +
        'AWS: one DefaultRateLimiter per client as AdaptiveRetryStrategy uses it (getSendToken before every attempt, updateClientSendingRate after ' +
        'every answer); a throttled call is retried in its slot after Retry-After, with no backoff of its own (the SDK would add one). It starts ' +
        'disabled (unlimited) until its first 429. bottleneck: minTime at each client share of the true limit, re-set at each step, no retries.',
      `Settle: from each phase start until ${describeSettled()} ("never": not within the phase; one definition with the demo, ` +
        `examples/demo/targets.ts). Targets (issue 11): ${describeTargets(true)}; header-less no worse than AWS.` +
        (quick
          ? ` Quick mode: styles ${QUICK_STYLES.join(', ')} and scenarios ${QUICK_SCENARIOS.map((s) => s.id.split(':')[0]).join(', ')} only.`
          : ''),
    ],
  };
};

export default suite;
