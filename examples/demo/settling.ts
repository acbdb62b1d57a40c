/**
 * How long the client took to settle after each change of the limit (the start counts as
 * one: the client starts from a wrong guess), and the 429s it cost meanwhile.
 *
 * Settled: the start of the first two seconds after the change in which every one-second
 * window has the API admitting at least 85 % of what the client aims at (limit ×
 * safetyFactor) and seeing at most 15 % more requests than the limit (the rest are 429s).
 * Two seconds, not "until the next change", so one stall of a loaded machine later on does
 * not count as never settling; how steadily it held shows in the goodput and 429 share.
 */
import type { LimitPhase } from './limitPlan';
import { SLOT_MS, type Timeline } from './timeline';

/** Slots in a window of one second. */
const WINDOW_SLOTS = 1000 / SLOT_MS;
/** Slots the windows must hold for. */
const HOLD_SLOTS = 2000 / SLOT_MS;
const LEAST_ADMITTED = 0.85;
const MOST_SENT = 1.15;

export interface Settling {
  readonly phase: LimitPhase;
  /** Seconds from the change to settled; undefined if it never settled before the next change. */
  readonly seconds: number | undefined;
  /** 429s from the change until settled (to the next change if never). */
  readonly throttled: number;
}

export function settlingAfterEachChange(timeline: Timeline, phases: readonly LimitPhase[], safetyFactor: number): Settling[] {
  return phases.map((phase, i) => {
    const first = Math.ceil(phase.fromMs / SLOT_MS);
    const end = Math.min(timeline.slots, Math.floor((phases[i + 1]?.fromMs ?? Infinity) / SLOT_MS));
    const windowOk = (slot: number): boolean => {
      const ok = sum(timeline.ok, slot, slot + WINDOW_SLOTS);
      const sent = ok + sum(timeline.throttled, slot, slot + WINDOW_SLOTS);
      return ok >= LEAST_ADMITTED * phase.rate * safetyFactor && sent <= MOST_SENT * phase.rate;
    };
    let settledAt: number | undefined;
    for (let slot = first; slot + HOLD_SLOTS <= end && settledAt === undefined; slot++) {
      let held = true;
      for (let window = slot; window + WINDOW_SLOTS <= slot + HOLD_SLOTS && held; window++) held = windowOk(window);
      if (held) settledAt = slot;
    }
    return {
      phase,
      seconds: settledAt === undefined ? undefined : ((settledAt - first) * SLOT_MS) / 1000,
      throttled: sum(timeline.throttled, first, settledAt ?? end),
    };
  });
}

function sum(counts: readonly number[], from: number, to: number): number {
  let total = 0;
  for (let slot = from; slot < to; slot++) total += counts[slot] ?? 0;
  return total;
}
