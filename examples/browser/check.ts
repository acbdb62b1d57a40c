/**
 * The page's deterministic mode (`?check`): the generated stream through the lanes inside
 * `TestScheduler.run`, so every timer and clock reading of the library is virtual and the
 * whole run takes a few milliseconds. The result is what the browser test compares with its
 * own model of a token bucket.
 */
import { asyncScheduler, interval, take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { LANE_NAMES, startLanes, type LaneName, type Lanes, type Outcome } from './lanes';
import { CHECK_WINDOW_MS, type Arrival } from './scenario';

/** What `window.__rtbCheck` holds once the run is done. */
export interface CheckResult {
  readonly arrivals: readonly Arrival[];
  readonly outcomes: Record<LaneName, readonly Outcome[]>;
}

/** Token levels are sampled this often (virtual ms) for the drawing. */
const SAMPLE_MS = 20;

/** Runs `arrivals` through fresh lanes in virtual time; returns the lanes (for drawing) and the result. */
export function runInVirtualTime(arrivals: readonly Arrival[]): { lanes: Lanes; result: CheckResult } {
  const scheduler = new TestScheduler(() => {
    /* no marble assertions here: the browser test compares the result */
  });
  let lanes: Lanes | undefined;
  scheduler.run(() => {
    // Inside run(), asyncScheduler (which the library's default scheduler uses) reads virtual time.
    const started = startLanes(() => asyncScheduler.now());
    lanes = started;
    for (const arrival of arrivals) asyncScheduler.schedule(() => started.input.next(arrival), arrival.at);
    const last = arrivals.reduce((latest, arrival) => Math.max(latest, arrival.at), 0);
    asyncScheduler.schedule(() => started.input.complete(), last + 1);
    started.sample();
    interval(SAMPLE_MS)
      .pipe(take(CHECK_WINDOW_MS / SAMPLE_MS))
      .subscribe(() => started.sample());
  });
  const done = lanes!;
  const outcomes = Object.fromEntries(LANE_NAMES.map((lane) => [lane, [...done.timelines[lane].outcomes]])) as Record<LaneName, Outcome[]>;
  return { lanes: done, result: { arrivals, outcomes } };
}
