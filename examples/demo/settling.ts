/**
 * How long the client took to settle after each change of the limit (the start counts as
 * one: the client starts from a wrong guess), and the 429s it cost meanwhile; "settled" as
 * the scenario tests and the benchmark judge it (./targets).
 */
import type { LimitPhase } from './limitPlan';
import { settleTimes, sumOfBins } from './targets';
import { SLOT_MS, type Timeline } from './timeline';

export interface Settling {
  readonly phase: LimitPhase;
  /** Seconds from the change to settled; undefined if it never settled before the next change. */
  readonly seconds: number | undefined;
  /** 429s from the change until settled (to the next change if never). */
  readonly throttled: number;
}

export function settlingAfterEachChange(timeline: Timeline, phases: readonly LimitPhase[], safetyFactor: number): Settling[] {
  const bins = { binMs: SLOT_MS, ok: timeline.ok, refused: timeline.throttled };
  const times = settleTimes(bins, phases, timeline.slots * SLOT_MS, safetyFactor);
  return phases.map((phase, i) => {
    const ms = times[i]!;
    const until = Number.isFinite(ms) ? phase.fromMs + ms : (phases[i + 1]?.fromMs ?? timeline.slots * SLOT_MS);
    const throttled = sumOfBins(timeline.throttled, Math.ceil(phase.fromMs / SLOT_MS), Math.floor(until / SLOT_MS));
    return { phase, seconds: Number.isFinite(ms) ? ms / 1000 : undefined, throttled };
  });
}
