/**
 * What adaptiveThrottle is held to against a server whose limit it must learn, and what
 * "settled" means: one definition for the demo (real time) and for the scenario tests and the
 * benchmark (virtual time, test/support), so a run is judged the same way wherever it runs.
 *
 * Settled after a change of the limit: from the first instant after which every two-second
 * window, for five seconds, has the server admitting at least 85 % of what the client aims at
 * (limit × safetyFactor) and refusing at most 10 % of what it saw. A later probe's dip does not
 * unsettle it; how steadily the flow held shows in the goodput and the 429 share. Sending a
 * little above the limit while the server still admits it (its burst refilled during a pause)
 * counts as settled: the cost of that shows as the 429 it leads to.
 */

export interface Targets {
  /** Admitted ÷ the most the server admits, at least (at safetyFactor 1; scaled by the factor otherwise). */
  readonly goodput: number;
  /** 429s ÷ all requests the server saw, at most. */
  readonly refused: number;
  /** Time to settle after the limit drops, and after it rises (the start counts as a rise), ms. */
  readonly settleDrop: number;
  readonly settleRise: number;
  /** Jain's index of independent clients' admitted counts, at least. */
  readonly fairness: number;
}

/** With rate-limit headers the server says its limit: tighter targets. Without, every upward probe costs a 429. */
export function targetsWith(headers: boolean): Targets {
  return headers
    ? { goodput: 0.95, refused: 0.01, settleDrop: 5000, settleRise: 5000, fairness: 0.95 }
    : { goodput: 0.9, refused: 0.02, settleDrop: 5000, settleRise: 15_000, fairness: 0.9 };
}

/** A window counts as settled when it admits at least this share of the aim ... */
export const SETTLED_GOODPUT = 0.85;
/** ... and refuses at most this share of the requests it saw. */
export const SETTLED_REFUSED = 0.1;
/** The window over which settling is judged, ms, slid by one bin. */
export const SETTLE_WINDOW_MS = 2000;
/** Settled means good windows for this long in a row (the first window's start to the last one's end), ms. */
export const SETTLE_HOLD_MS = 5000;

/** Answers counted in bins of `binMs` from the run's start: admitted and refused (429) in each. */
export interface AnswerBins {
  readonly binMs: number;
  readonly ok: readonly number[];
  readonly refused: readonly number[];
}

/** A limit in force from `fromMs` on, `rate` per second. */
export interface RatePhase {
  readonly fromMs: number;
  readonly rate: number;
}

/**
 * Time from the start of each phase until the flow settled, ms (Infinity: not within the
 * phase, or the run, whichever ends first); `safetyFactor` scales the aim.
 */
export function settleTimes(bins: AnswerBins, phases: readonly RatePhase[], endMs: number, safetyFactor = 1): number[] {
  const { binMs } = bins;
  const windowBins = Math.round(SETTLE_WINDOW_MS / binMs);
  return phases.map((phase, i) => {
    const firstBin = Math.ceil(phase.fromMs / binMs);
    const endBin = Math.floor(Math.min(endMs, phases[i + 1]?.fromMs ?? endMs) / binMs);
    const leastOk = (SETTLED_GOODPUT * phase.rate * safetyFactor * SETTLE_WINDOW_MS) / 1000;
    let goodSince = firstBin;
    for (let bin = firstBin; bin + windowBins <= endBin; bin++) {
      const ok = sumOfBins(bins.ok, bin, bin + windowBins);
      const refused = sumOfBins(bins.refused, bin, bin + windowBins);
      if (!(ok >= leastOk && refused <= SETTLED_REFUSED * (ok + refused))) goodSince = bin + 1;
      else if ((bin + windowBins - goodSince) * binMs >= SETTLE_HOLD_MS) return goodSince * binMs - phase.fromMs;
    }
    return Infinity;
  });
}

/** The target for settling after phase `i`: a step to a lower rate is a drop; the start and a step up are rises. */
export function settleTarget(targets: Targets, phases: readonly RatePhase[], i: number): number {
  const before = phases[i - 1]?.rate;
  return before !== undefined && phases[i]!.rate < before ? targets.settleDrop : targets.settleRise;
}

const percent = (share: number): string => `${Math.round(share * 100)} %`;

/** The rule for "settled" in words, for the notes the demo and the benchmark print beside their figures. */
export function describeSettled(): string {
  return (
    `every ${SETTLE_WINDOW_MS / 1000} s window for ${SETTLE_HOLD_MS / 1000} s admits ≥ ${percent(SETTLED_GOODPUT)} ` +
    `of the aim (limit × safetyFactor) and refuses ≤ ${percent(SETTLED_REFUSED)} of what it saw`
  );
}

/** The targets in words; `withFairness` adds the split between independent clients (where a run has several). */
export function describeTargets(withFairness: boolean): string {
  const settle = ({ settleDrop, settleRise }: Targets): string =>
    settleDrop === settleRise
      ? `≤ ${settleDrop / 1000} s`
      : `≤ ${settleDrop / 1000} s after a drop and ≤ ${settleRise / 1000} s after a rise or the start`;
  const side = (targets: Targets): string =>
    `goodput ≥ ${percent(targets.goodput)}, ≤ ${percent(targets.refused)} 429s, settled ${settle(targets)}` +
    (withFairness ? `, fairness ≥ ${targets.fairness}` : '');
  return `with headers ${side(targetsWith(true))}; without, ${side(targetsWith(false))}`;
}

/** The total of `counts[from..to)` (bins past the end count 0). */
export function sumOfBins(counts: readonly number[], from: number, to: number): number {
  let total = 0;
  for (let bin = from; bin < to; bin++) total += counts[bin] ?? 0;
  return total;
}
