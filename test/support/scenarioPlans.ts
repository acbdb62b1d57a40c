/**
 * Issue 11's scenarios, written once for the tests (test/scenarios) and the benchmark
 * (bench/suites/adaptive.ts), so both run the same simulations. Every plan runs with
 * `safetyFactor: 1`; header-less styles set `maxRate` (10× the limit), opting into learning
 * above the start, which without it no header-less evidence may do.
 */
import { targetsWith, type Targets } from '../../examples/demo/targets';
import type { ScenarioPlan } from './scenarioClients';
import { limitSteps } from './scenarioClients';
import { median } from './median';
import { HEADERLESS_STYLES, type HeaderStyle, type LatencySpec, type ScenarioFigures } from './simulatedApi';

/** The demo's response times, and the heavy tail of scenario (d). */
export const DEMO_LATENCY: LatencySpec = { kind: 'uniform', min: 5, max: 25 };
export const HEAVY_TAIL_LATENCY: LatencySpec = { kind: 'lognormal', p50: 20, p99: 400 };
export const CONCURRENCY = 8;
/** The demo's hidden limit, requests per second (a burst of two seconds' worth). */
export const LIMIT = 20;

export function isHeaderless(style: HeaderStyle): boolean {
  return HEADERLESS_STYLES.includes(style);
}

function base(style: HeaderStyle, limit: number): Pick<ScenarioPlan, 'style' | 'latency' | 'concurrency' | 'safetyFactor' | 'maxRate'> {
  return {
    style,
    latency: DEMO_LATENCY,
    concurrency: CONCURRENCY,
    safetyFactor: 1,
    ...(isHeaderless(style) ? { maxRate: 10 * limit } : {}),
  };
}

/** (a) A fixed hidden limit of 20/s; the client starts 2.5× too fast (50/s) or 10× too slow (2/s). */
export function fixedLimit(style: HeaderStyle, start: 'fast' | 'slow', seconds = 60): ScenarioPlan {
  return {
    ...base(style, LIMIT),
    phases: limitSteps([[0, LIMIT]]),
    seconds,
    start: { capacity: 2, refillRate: start === 'fast' ? 2.5 * LIMIT : LIMIT / 10 },
  };
}

/** (b) The limit steps 20/s → 8/s at 30 s → 30/s at 60 s, for 90 s; the client starts at the first limit. */
export function steppingLimit(style: HeaderStyle): ScenarioPlan {
  return {
    ...base(style, 30),
    phases: limitSteps([
      [0, 20],
      [30, 8],
      [60, 30],
    ]),
    seconds: 90,
    start: { capacity: 2, refillRate: 20 },
  };
}

/** (c) Four independent clients, each starting 2.5× too fast for its share (25/s), against one limit of 40/s. */
export function sharedLimit(style: HeaderStyle, seconds = 60): ScenarioPlan {
  return {
    ...base(style, 40),
    phases: limitSteps([[0, 40]]),
    seconds,
    clients: 4,
    start: { capacity: 2, refillRate: 25 },
  };
}

/** (d) Scenario (a), starting too fast, with heavy-tailed response times (p50 20 ms, p99 400 ms). */
export function heavyTail(style: HeaderStyle, seconds = 60): ScenarioPlan {
  return { ...fixedLimit(style, 'fast', seconds), latency: HEAVY_TAIL_LATENCY };
}

/** The targets for a style (examples/demo/targets): with headers, and without (where every upward probe costs a 429). */
export function targetsFor(style: HeaderStyle): Targets {
  return targetsWith(!isHeaderless(style));
}

/** The seeds the tests run every header-less scenario with; the benchmark counts from the first, one per run (7 by default, 1 in quick mode). */
export const SCENARIO_SEEDS: readonly number[] = [7, 8, 9, 10, 11, 12, 13];

/** One subject's medians over seeds: the figures the tests assert and the benchmark reports. */
export interface MedianFigures {
  goodput: number;
  refusedShare: number;
  settleMs: number[];
  refusedByPhase: number[];
  fairness: number;
}

export function medianFigures(runs: readonly ScenarioFigures[]): MedianFigures {
  const perPhase = (pick: (run: ScenarioFigures) => number[]) =>
    runs[0]!.settleMs.map((_, phase) => median(runs.map((run) => pick(run)[phase]!)));
  return {
    goodput: median(runs.map((run) => run.goodput)),
    refusedShare: median(runs.map((run) => run.refusedShare)),
    settleMs: perPhase((run) => run.settleMs),
    refusedByPhase: perPhase((run) => run.refusedByPhase),
    fairness: median(runs.map((run) => run.fairness)),
  };
}
