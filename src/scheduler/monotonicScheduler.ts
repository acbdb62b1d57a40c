import { asyncScheduler, type SchedulerAction, type SchedulerLike, type Subscription } from 'rxjs';
// RxJS's own monotonic clock (used by `animationFrames`): performance.now(), which
// TestScheduler.run() virtualises along with asyncScheduler's timers.
import { performanceTimestampProvider } from 'rxjs/internal/scheduler/performanceTimestampProvider';

/**
 * Reading the clock costs ~25–60 ns, several times what an RxJS operator spends on a
 * value, so a reading is reused for the rest of the synchronous turn, and for at most
 * this many further calls within it. Time then advances in steps of one turn (or 64
 * values) of synchronous work, which timers never see: each timer callback is its own turn.
 */
const READS_PER_CLOCK_SAMPLE = 64;

/** Held in a local binding: an imported binding may be read through a getter on every call. */
const timestampProvider = performanceTimestampProvider;

let sampled = Number.NaN;
let readsLeft = 0;
let invalidationQueued = false;
const invalidate = (): void => {
  invalidationQueued = false;
  readsLeft = 0;
};

/** The default clock: `performance.now()`, sampled as described above; virtual inside `TestScheduler.run()`. */
export function monotonicNow(): number {
  const virtualClock = timestampProvider.delegate;
  if (virtualClock !== undefined) return virtualClock.now(); // inside TestScheduler.run()
  if (readsLeft > 0) {
    readsLeft--;
    return sampled;
  }
  const reading = performance.now();
  // Never let a sample move backwards, even across platform clock quirks.
  sampled = reading > sampled || Number.isNaN(sampled) ? reading : sampled;
  readsLeft = READS_PER_CLOCK_SAMPLE - 1;
  if (!invalidationQueued) {
    invalidationQueued = true;
    queueMicrotask(invalidate);
  }
  return sampled;
}

/**
 * The default scheduler of every bucket: timers from `asyncScheduler`, time from
 * `performance.now()`. `asyncScheduler.now()` is `Date.now()`, which jumps when the
 * wall clock is set; a monotonic clock never mints or loses tokens that way. Inside
 * `TestScheduler.run()` both halves are virtual, so operators need no scheduler argument there.
 */
export const monotonicScheduler: SchedulerLike = {
  now: monotonicNow,
  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay?: number, state?: T): Subscription {
    return asyncScheduler.schedule(work, delay, state);
  },
};
