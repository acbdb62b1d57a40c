import { asyncScheduler, type SchedulerAction, type SchedulerLike, type Subscription } from 'rxjs';

/**
 * Reading the clock costs ~25–60 ns, several times what an RxJS operator spends on a
 * value, so a reading is reused for the rest of the synchronous turn, and for at most
 * this many further calls within it. Time then advances in steps of one turn (or 64
 * values) of synchronous work, which timers never see: each timer callback is its own turn.
 */
const READS_PER_CLOCK_SAMPLE = 64;

/**
 * Inside `TestScheduler.run()`, `asyncScheduler.now()` reads the virtual frame; outside it,
 * it is `Date.now()`. Told apart through the public API only: a virtual frame is more than
 * a day away from the wall clock (no test runs 50 years of virtual time, and two readings of
 * the wall clock are never a day apart).
 */
const VIRTUAL_TIME_DISTANCE = 86_400_000;

let sampled = Number.NaN;
let readsLeft = 0;
let invalidationQueued = false;
/** Once a `TestScheduler.run()` has been seen, this is a test process: every reading checks for virtual time. */
let virtualTimeSeen = false;
/** Whether the next sample must check for virtual time: at a new turn, or where a stream or limiter starts. */
let checkForVirtualTime = true;

const invalidate = (): void => {
  invalidationQueued = false;
  readsLeft = 0;
  checkForVirtualTime = true;
};

/** The virtual frame inside `TestScheduler.run()`, else undefined. */
function virtualNow(): number | undefined {
  const reading = asyncScheduler.now();
  if (Math.abs(reading - Date.now()) <= VIRTUAL_TIME_DISTANCE) return undefined;
  virtualTimeSeen = true;
  return reading;
}

/** `performance.now()`, never moving backwards even across platform clock quirks. */
function performanceNow(): number {
  const reading = performance.now();
  sampled = reading > sampled || Number.isNaN(sampled) ? reading : sampled;
  return sampled;
}

/** The default clock: `performance.now()`, sampled as described above; virtual inside `TestScheduler.run()`. */
export function monotonicNow(): number {
  if (readsLeft > 0) {
    readsLeft--;
    return sampled;
  }
  // A TestScheduler.run() starts between turns or where a stream or limiter starts: a long
  // synchronous burst samples 64 readings at a time without asking again.
  if (checkForVirtualTime || virtualTimeSeen) {
    const virtual = virtualNow();
    if (virtual !== undefined) return virtual;
    checkForVirtualTime = false;
  }
  const reading = performanceNow();
  if (virtualTimeSeen) return reading; // a test process: no reuse, so a run() starting mid-turn is seen at once
  readsLeft = READS_PER_CLOCK_SAMPLE - 1;
  if (!invalidationQueued) {
    invalidationQueued = true;
    queueMicrotask(invalidate);
  }
  return reading;
}

/**
 * Ends the reuse of the current reading: the next `monotonicNow()` reads the clock again.
 * Called where a new stream or limiter starts, since a `TestScheduler.run()` may have begun
 * since the last reading of this synchronous turn.
 */
export function resampleMonotonicClock(): void {
  readsLeft = 0;
  checkForVirtualTime = true;
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

/**
 * A limiter's clock on `scheduler`, held directly so the hot path makes one call: for the
 * default scheduler, `monotonicNow` itself, starting a new reading (a limiter built now may
 * be used inside a `TestScheduler.run()` that began this turn); else a bound `now()`.
 */
export function clockOf(scheduler: SchedulerLike): () => number {
  if (scheduler !== monotonicScheduler) return () => scheduler.now();
  resampleMonotonicClock();
  return monotonicNow;
}
