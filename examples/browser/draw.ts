/**
 * Draws a lane's timeline on a canvas over a window of time: the bucket's tokens as a filled
 * curve (one band per user for perKey), each arrival as a tick above, and what became of it
 * below: a dot where it was emitted (joined to its arrival by its wait), and between the two a
 * grey cross where it was dropped, a red one where it was rejected.
 */
import type { LaneName, LaneTimeline } from './lanes';
import { KEY_LIMITS, LANE_LIMITS, USER_KEYS } from './scenario';

const COLORS = {
  background: '#0f1720',
  grid: '#25313d',
  text: '#9fb0c0',
  tokens: '#2f7dd1',
  arrival: '#d8dee9',
  emitted: '#3fbf6f',
  dropped: '#8a949e',
  rejected: '#e5484d',
} as const;
const USER_COLORS: Record<string, string> = { A: '#f5a524', B: '#2f7dd1', C: '#a97cf5' };

export interface TimeWindow {
  readonly from: number;
  readonly to: number;
}

/** Fits the canvas's backing store to its CSS size and the device's pixel ratio. */
function prepare(canvas: HTMLCanvasElement): { context: CanvasRenderingContext2D; width: number; height: number } {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || canvas.width;
  const height = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const context = canvas.getContext('2d')!;
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.fillStyle = COLORS.background;
  context.fillRect(0, 0, width, height);
  return { context, width, height };
}

interface Band {
  readonly top: number;
  readonly height: number;
}

/** The tokens of one series as a filled step-free curve in `band`, 0 at the bottom, `capacity` at the top. */
function drawTokens(
  context: CanvasRenderingContext2D,
  samples: readonly [number, number][],
  band: Band,
  x: (t: number) => number,
  capacity: number,
  color: string,
): void {
  context.strokeStyle = COLORS.grid;
  context.lineWidth = 1;
  for (let level = 0; level <= capacity; level++) {
    const y = band.top + band.height - (level / capacity) * band.height;
    context.beginPath();
    context.moveTo(0, y + 0.5);
    context.lineTo(context.canvas.width, y + 0.5);
    context.stroke();
  }
  if (samples.length === 0) return;
  const y = (tokens: number): number => band.top + band.height - (Math.min(tokens, capacity) / capacity) * band.height;
  context.beginPath();
  context.moveTo(x(samples[0]![0]), band.top + band.height);
  for (const [t, tokens] of samples) context.lineTo(x(t), y(tokens));
  context.lineTo(x(samples[samples.length - 1]![0]), band.top + band.height);
  context.closePath();
  context.globalAlpha = 0.35;
  context.fillStyle = color;
  context.fill();
  context.globalAlpha = 1;
  context.strokeStyle = color;
  context.lineWidth = 1.5;
  context.beginPath();
  samples.forEach(([t, tokens], i) => (i === 0 ? context.moveTo(x(t), y(tokens)) : context.lineTo(x(t), y(tokens))));
  context.stroke();
}

function cross(context: CanvasRenderingContext2D, cx: number, cy: number, size: number, color: string): void {
  context.strokeStyle = color;
  context.lineWidth = 2;
  context.beginPath();
  context.moveTo(cx - size, cy - size);
  context.lineTo(cx + size, cy + size);
  context.moveTo(cx + size, cy - size);
  context.lineTo(cx - size, cy + size);
  context.stroke();
}

/** Arrival ticks on the `arrivalsY` line and outcomes on `outcomesY`, for the values `accept` keeps. */
function drawMarks(
  context: CanvasRenderingContext2D,
  timeline: LaneTimeline,
  x: (t: number) => number,
  arrivalsY: number,
  outcomesY: number,
  accept: (key: string) => boolean,
): void {
  const arrivedAt = new Map<number, { at: number; cost: number }>();
  for (const arrival of timeline.arrivals) {
    if (!accept(arrival.key)) continue;
    arrivedAt.set(arrival.id, { at: arrival.seenAt, cost: arrival.cost });
    context.fillStyle = COLORS.arrival;
    context.fillRect(x(arrival.seenAt) - 1, arrivalsY - 4 * arrival.cost, 2, 4 * arrival.cost);
  }
  for (const outcome of timeline.outcomes) {
    const arrival = arrivedAt.get(outcome.id);
    if (arrival === undefined) continue;
    const size = 2 + arrival.cost * 1.5;
    if (outcome.kind === 'emitted') {
      context.strokeStyle = COLORS.emitted;
      context.globalAlpha = 0.4;
      context.lineWidth = 1;
      context.beginPath();
      context.moveTo(x(arrival.at), arrivalsY);
      context.lineTo(x(outcome.at), outcomesY);
      context.stroke();
      context.globalAlpha = 1;
      context.fillStyle = COLORS.emitted;
      context.beginPath();
      context.arc(x(outcome.at), outcomesY, size, 0, 2 * Math.PI);
      context.fill();
    } else {
      // Refusals on a row of their own, between arrivals and emissions, so a burst's crosses and dots do not cover each other.
      const refusedY = (arrivalsY + outcomesY) / 2;
      cross(context, x(outcome.at), refusedY, size, outcome.kind === 'dropped' ? COLORS.dropped : COLORS.rejected);
    }
  }
}

/** Draws one lane over `window`. */
export function drawLane(canvas: HTMLCanvasElement, lane: LaneName, timeline: LaneTimeline, window: TimeWindow): void {
  const { context, width, height } = prepare(canvas);
  const x = (t: number): number => ((t - window.from) / (window.to - window.from)) * width;
  context.font = '11px system-ui, sans-serif';
  if (lane !== 'perKey') {
    const band = { top: 8, height: height * 0.5 };
    drawTokens(context, timeline.tokens.get('bucket') ?? [], band, x, LANE_LIMITS.capacity, COLORS.tokens);
    context.fillStyle = COLORS.text;
    context.fillText(`tokens (0–${LANE_LIMITS.capacity})`, 4, 20);
    drawMarks(context, timeline, x, height * 0.5 + 34, height - 16, () => true);
    return;
  }
  const row = height / USER_KEYS.length;
  USER_KEYS.forEach((key, i) => {
    const top = i * row;
    drawTokens(context, timeline.tokens.get(key) ?? [], { top: top + 6, height: row * 0.32 }, x, KEY_LIMITS.capacity, USER_COLORS[key]!);
    context.fillStyle = USER_COLORS[key]!;
    context.fillText(`user ${key}`, 4, top + 16);
    drawMarks(context, timeline, x, top + row * 0.62, top + row - 10, (owner) => owner === key);
  });
}
