/**
 * The results of the runs as text: what each client achieved beside the API's limit, and
 * how fast it settled after each change of the limit, against issue 11's targets.
 */
import { meanLimit, mostAdmitted, secondsOf } from './limitPlan';
import type { Outcome } from './runStyle';
import type { HeaderStyle } from './server';
import { settlingAfterEachChange, type Settling } from './settling';
import { settleTarget, targetsWith, type Targets } from './targets';

/** Styles whose replies carry the limit: rate-limit headers are evidence, and the targets are tighter. */
const WITH_HEADERS: readonly HeaderStyle[] = ['github', 'ietf'];

function targetsOf(style: HeaderStyle): Targets {
  return targetsWith(WITH_HEADERS.includes(style));
}

export interface StyleResult {
  outcome: Outcome;
  okPerSecond: number;
  meanLimit: number;
  throttledShare: number;
  goodput: number;
  settling: Settling[];
  met: boolean;
}

export function resultOf(outcome: Outcome, safetyFactor: number): StyleResult {
  const { phases, seconds } = outcome;
  const targets = targetsOf(outcome.style);
  const throttledShare = outcome.throttled / Math.max(1, outcome.sent);
  const goodput = outcome.ok / mostAdmitted(phases, seconds);
  const settling = settlingAfterEachChange(outcome.timeline, phases, safetyFactor);
  const settledInTime = settling.every((s, i) => s.seconds !== undefined && s.seconds * 1000 <= settleTarget(targets, phases, i));
  return {
    outcome,
    okPerSecond: outcome.ok / seconds,
    meanLimit: meanLimit(phases, seconds),
    throttledShare,
    goodput,
    settling,
    met: goodput >= targets.goodput * safetyFactor && throttledShare <= targets.refused && settledInTime,
  };
}

const percent = (share: number): string => `${(share * 100).toFixed(1)} %`;

export function resultsTable(results: readonly StyleResult[]): string[] {
  const lines = [
    `  ${'style'.padEnd(17)}${'ok'.padStart(6)}${'ok/s'.padStart(7)}${'limit/s'.padStart(9)}${'429s'.padStart(6)}` +
      `${'429 share'.padStart(11)}${'goodput'.padStart(9)}  targets`,
  ];
  for (const r of results) {
    lines.push(
      `  ${r.outcome.style.padEnd(17)}${String(r.outcome.ok).padStart(6)}${r.okPerSecond.toFixed(1).padStart(7)}` +
        `${r.meanLimit.toFixed(1).padStart(9)}${String(r.outcome.throttled).padStart(6)}${percent(r.throttledShare).padStart(11)}` +
        `${percent(r.goodput).padStart(9)}  ${r.met ? 'met' : 'MISSED'}`,
    );
  }
  return lines;
}

/** Seconds to settle after each change of the limit, and the 429s until then; `!` past the target. */
export function settlingTable(results: readonly StyleResult[]): string[] {
  const phases = results[0]?.outcome.phases ?? [];
  const cell = 16;
  const heads = phases.map((phase, i) =>
    (i === 0 ? `start, ${phase.rate}/s` : `${secondsOf(phase.fromMs)} s: → ${phase.rate}/s`).padStart(cell),
  );
  const lines = [`  ${'settled after, 429s'.padEnd(20)}${heads.join('')}`];
  for (const r of results) {
    const targets = targetsOf(r.outcome.style);
    const cells = r.settling.map((s, i) => {
      const time = s.seconds === undefined ? 'never' : `${s.seconds.toFixed(1)} s`;
      const late = s.seconds === undefined || s.seconds * 1000 > settleTarget(targets, phases, i);
      return `${time}${late ? '!' : ' '} ${String(s.throttled).padStart(4)}`.padStart(cell);
    });
    lines.push(`  ${r.outcome.style.padEnd(20)}${cells.join('')}`);
  }
  return lines;
}
