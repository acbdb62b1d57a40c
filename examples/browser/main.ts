/**
 * The browser page: the lanes (lanes.ts) drawn live on canvases (draw.ts), fed by clicks and
 * the generated stream (scenario.ts, looped). With `?check` in the address it instead runs the
 * generated stream once in virtual time (check.ts), draws the whole run, and leaves the result
 * on `window.__rtbCheck` for the browser test.
 *
 *   npx vite examples/browser            # then open the address vite prints
 *   npx vite build examples/browser      # a static build in examples/browser/dist
 *   npx tsx examples/browser/main.ts     # in Node: the deterministic run's outcome, printed
 */
import { runInVirtualTime, type CheckResult } from './check';
import { drawLane } from './draw';
import { LANE_NAMES, startLanes, type LaneName, type LaneTimeline } from './lanes';
import { CHECK_WINDOW_MS, generatedStream, SCENARIO_MS, USER_KEYS, type Arrival, type UserKey } from './scenario';

declare global {
  interface Window {
    /** Set in `?check` mode once the virtual run is drawn. */
    __rtbCheck?: CheckResult;
  }
}

/** The live view shows this many ms, ending now. */
const LIVE_WINDOW_MS = 10_000;

const canvasOf = (lane: LaneName): HTMLCanvasElement => document.getElementById(`lane-${lane}`) as HTMLCanvasElement;

function showCounts(lane: LaneName, timeline: LaneTimeline): void {
  const counts = { emitted: 0, dropped: 0, rejected: 0 };
  for (const outcome of timeline.outcomes) counts[outcome.kind]++;
  const waiting = timeline.arrivals.length - timeline.outcomes.length;
  const text = `arrived ${timeline.arrivals.length} · emitted ${counts.emitted} · dropped ${counts.dropped} · rejected ${counts.rejected}`;
  document.getElementById(`counts-${lane}`)!.textContent = lane === 'delay' || lane === 'perKey' ? `${text} · waiting ${waiting}` : text;
}

function runCheck(): void {
  const { lanes, result } = runInVirtualTime(generatedStream());
  for (const lane of LANE_NAMES) {
    drawLane(canvasOf(lane), lane, lanes.timelines[lane], { from: 0, to: CHECK_WINDOW_MS });
    showCounts(lane, lanes.timelines[lane]);
  }
  window.__rtbCheck = result;
  document.body.dataset['check'] = 'done';
}

function runLive(): void {
  const startedAt = performance.now();
  const now = (): number => performance.now() - startedAt;
  const lanes = startLanes(now);
  let nextId = 0;
  const send = (cost: number, key: UserKey): void => lanes.input.next({ id: nextId++, at: now(), cost, key });

  // The generated stream, looped: fed on each animation frame with the values now due.
  const stream = generatedStream();
  let loopStart = 0;
  let cursor = 0;
  const auto = document.getElementById('auto') as HTMLInputElement;
  const feed = (t: number): void => {
    while (t - loopStart >= SCENARIO_MS) {
      loopStart += SCENARIO_MS;
      cursor = 0;
    }
    while (cursor < stream.length && loopStart + stream[cursor]!.at <= t) {
      const arrival: Arrival = stream[cursor++]!;
      if (auto.checked) send(arrival.cost, arrival.key);
    }
  };

  document.getElementById('send-one')!.addEventListener('click', () => send(1, 'A'));
  document.getElementById('send-burst')!.addEventListener('click', () => {
    for (let i = 0; i < 5; i++) send(1, 'A');
  });
  for (const lane of LANE_NAMES) {
    canvasOf(lane).addEventListener('click', (event) => {
      const canvas = event.currentTarget as HTMLCanvasElement;
      const row = Math.floor((event.offsetY / canvas.clientHeight) * USER_KEYS.length);
      send(1, lane === 'perKey' ? (USER_KEYS[Math.min(row, USER_KEYS.length - 1)] ?? 'A') : 'A');
    });
  }

  const frame = (): void => {
    const t = now();
    feed(t);
    lanes.sample();
    for (const lane of LANE_NAMES) {
      drawLane(canvasOf(lane), lane, lanes.timelines[lane], { from: t - LIVE_WINDOW_MS, to: t });
      showCounts(lane, lanes.timelines[lane]);
    }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

/**
 * Run by Node (`npm run examples` starts every examples/<name>/main.ts): there is no page to
 * draw, so it prints the deterministic run's outcome and says how to open the page.
 */
function runInNode(): void {
  const { result } = runInVirtualTime(generatedStream());
  console.log('browser: a page, opened with `npx vite examples/browser`; in Node, its deterministic run (?check):');
  for (const lane of LANE_NAMES) {
    const kinds = result.outcomes[lane].map((outcome) => outcome.kind);
    const count = (kind: string): number => kinds.filter((k) => k === kind).length;
    console.log(
      `  ${lane.padEnd(6)}  arrived ${result.arrivals.length}, emitted ${count('emitted')}, dropped ${count('dropped')}, rejected ${count('rejected')}`,
    );
  }
}

if (typeof document === 'undefined') runInNode();
else if (new URLSearchParams(location.search).has('check')) runCheck();
else runLive();
