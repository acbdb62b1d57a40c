/**
 * The chart of a run, in text: per style, the API's limit, what it admitted (ok/s) and what
 * it refused (429/s), on one scale, so the client is seen learning at the start and
 * re-learning after each step. Half-second columns for the first seconds (the learning is
 * quick), then coarser ones to fit the width.
 */
import { phaseAt, secondsOf, type LimitPhase } from './limitPlan';
import { SLOT_MS, type Timeline } from './timeline';

const SPARKS = ' ▁▂▃▄▅▆▇█';
const LEVELS = SPARKS.length - 1;
/** Seconds shown at the finest grain, when the width does not allow it for the whole run. */
const FINE_SECONDS = 10;
const LABEL = '    limit  ';
const SEPARATOR = '┊';

/** A column of the chart: the slots [from, to) of the timeline. */
interface Column {
  readonly from: number;
  readonly to: number;
}

export interface ChartLayout {
  readonly columns: readonly (Column | typeof SEPARATOR)[];
  /** Slots per column after the fine part (1 when the whole run is fine). */
  readonly coarseSlots: number;
  readonly fineSlots: number;
}

/** Columns for `slots` half-second slots in `width` columns of text. */
export function chartLayout(slots: number, width: number): ChartLayout {
  const room = Math.max(8, width - LABEL.length - 2);
  const columns: (Column | typeof SEPARATOR)[] = [];
  if (slots <= room) {
    for (let slot = 0; slot < slots; slot++) columns.push({ from: slot, to: slot + 1 });
    return { columns, coarseSlots: 1, fineSlots: slots };
  }
  const fineSlots = Math.min((FINE_SECONDS * 1000) / SLOT_MS, Math.floor(room / 3));
  for (let slot = 0; slot < fineSlots; slot++) columns.push({ from: slot, to: slot + 1 });
  columns.push(SEPARATOR);
  const coarseSlots = Math.ceil((slots - fineSlots) / (room - fineSlots - 1));
  for (let slot = fineSlots; slot < slots; slot += coarseSlots) columns.push({ from: slot, to: Math.min(slots, slot + coarseSlots) });
  return { columns, coarseSlots, fineSlots };
}

/** Per second, over a column's slots. */
function ratePerSecond(counts: readonly number[], { from, to }: Column): number {
  let total = 0;
  for (let slot = from; slot < to; slot++) total += counts[slot] ?? 0;
  return (total * 1000) / ((to - from) * SLOT_MS);
}

function meanLimit(phases: readonly LimitPhase[], { from, to }: Column): number {
  let total = 0;
  for (let slot = from; slot < to; slot++) total += phaseAt(phases, (slot + 0.5) * SLOT_MS).rate;
  return total / (to - from);
}

/** A spark for `value` on a scale whose full block is `top`; anything above 0 shows at least the lowest. */
function spark(value: number, top: number): string {
  if (value <= 0) return SPARKS[0]!;
  return SPARKS[Math.max(1, Math.min(LEVELS, Math.round((value / top) * LEVELS)))]!;
}

function row(label: string, layout: ChartLayout, valueOf: (column: Column) => number, top: number): string {
  const bars = layout.columns.map((column) => (column === SEPARATOR ? SEPARATOR : spark(valueOf(column), top))).join('');
  return `${label}│${bars}│`;
}

/** Tick labels under the chart: the start, the end of the fine part, each step and the end. */
function axis(layout: ChartLayout, phases: readonly LimitPhase[], slots: number): string {
  const cells = new Array<string>(layout.columns.length + 2).fill(' ');
  const put = (slot: number, text: string): void => {
    let at = layout.columns.findIndex((column) => column !== SEPARATOR && column.from <= slot && slot < column.to);
    if (at < 0) at = layout.columns.length;
    at += 1; // the chart's left border
    if (cells.slice(at, at + text.length + 1).some((cell) => cell !== ' ')) return; // no room: skip the tick
    Array.from(text).forEach((char, i) => (cells[at + i] = char));
  };
  put(0, '0 s');
  for (const phase of phases.slice(1)) put(Math.round(phase.fromMs / SLOT_MS), `${secondsOf(phase.fromMs)} s`);
  if (layout.coarseSlots > 1) put(layout.fineSlots, `${(layout.fineSlots * SLOT_MS) / 1000} s`);
  const endText = `${(slots * SLOT_MS) / 1000} s`;
  const endAt = Math.max(0, layout.columns.length + 2 - endText.length);
  if (cells.slice(endAt - 1).every((cell) => cell === ' ')) Array.from(endText).forEach((char, i) => (cells[endAt + i] = char));
  return ' '.repeat(LABEL.length) + cells.join('');
}

/** The chart's lines for each run: a name line, then limit, ok/s and 429/s on one scale. */
export function chartLines(runs: readonly { name: string; timeline: Timeline; phases: readonly LimitPhase[] }[], width: number): string[] {
  const first = runs[0];
  if (first === undefined) return [];
  const slots = first.timeline.slots;
  const layout = chartLayout(slots, width);
  const top = Math.max(...runs.flatMap((run) => run.phases.map((phase) => phase.rate)));
  const fine = `${SLOT_MS / 1000} s`;
  const grain =
    layout.coarseSlots === 1
      ? `a column is ${fine}`
      : `a column is ${fine} to ${(layout.fineSlots * SLOT_MS) / 1000} s, then ${(layout.coarseSlots * SLOT_MS) / 1000} s`;
  const lines = [`  requests/s (a full block is ${top}/s; ${grain}):`];
  for (const { name, timeline, phases } of runs) {
    lines.push(`  ${name}`);
    lines.push(row(LABEL, layout, (column) => meanLimit(phases, column), top));
    lines.push(row('    ok/s   ', layout, (column) => ratePerSecond(timeline.ok, column), top));
    lines.push(row('    429/s  ', layout, (column) => ratePerSecond(timeline.throttled, column), top));
  }
  lines.push(axis(layout, first.phases, slots));
  return lines;
}
