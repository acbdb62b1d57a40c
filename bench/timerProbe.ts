/**
 * Counts the timers of this process by wrapping the global `setTimeout`, `setInterval`,
 * `clearTimeout` and `clearInterval`. The bench child installs it before any suite or peer
 * is loaded, so libraries that look the globals up at call time (all of ours do) are seen.
 * A `setTimeout` is live until it fires or is cleared; a `setInterval` until it is cleared.
 */

export interface TimerCounts {
  /** Timers created since the last `resetTimerCounts()`. */
  readonly created: number;
  /** Most timers live at once since the last reset. */
  readonly maxLive: number;
  /** Timers live now. */
  readonly live: number;
}

const live = new Set<unknown>();
let created = 0;
let maxLive = 0;
let installed = false;
/** While off, timers pass straight through: no wrapper closure, no entry in `live` (for heap measurements). */
let counting = true;

function noteCreated(handle: unknown): void {
  created++;
  live.add(handle);
  if (live.size > maxLive) maxLive = live.size;
}

export function installTimerProbe(): void {
  if (installed) return;
  installed = true;
  const realSetTimeout = globalThis.setTimeout;
  const realSetInterval = globalThis.setInterval;
  const realClearTimeout = globalThis.clearTimeout;
  const realClearInterval = globalThis.clearInterval;

  const probedSetTimeout = function (callback: (...args: unknown[]) => void, delay?: number, ...args: unknown[]) {
    if (!counting) return realSetTimeout(callback, delay, ...args);
    const handle: unknown = realSetTimeout(
      (...callArgs: unknown[]) => {
        live.delete(handle);
        callback(...callArgs);
      },
      delay,
      ...args,
    );
    noteCreated(handle);
    return handle;
  };
  const probedSetInterval = function (callback: (...args: unknown[]) => void, delay?: number, ...args: unknown[]) {
    if (!counting) return realSetInterval(callback, delay, ...args);
    const handle: unknown = realSetInterval(callback, delay, ...args);
    noteCreated(handle);
    return handle;
  };
  const probedClear = (real: (handle: never) => void) =>
    function (handle?: unknown) {
      live.delete(handle);
      real(handle as never);
    };

  // Keep util.promisify(setTimeout) and friends working.
  Object.assign(probedSetTimeout, realSetTimeout);
  Object.assign(probedSetInterval, realSetInterval);
  globalThis.setTimeout = probedSetTimeout as unknown as typeof setTimeout;
  globalThis.setInterval = probedSetInterval as unknown as typeof setInterval;
  globalThis.clearTimeout = probedClear(realClearTimeout) as typeof clearTimeout;
  globalThis.clearInterval = probedClear(realClearInterval) as typeof clearInterval;
}

/**
 * Turns counting off (timers pass straight through, adding nothing to the heap) or back on.
 * Timers created while off are never counted as live.
 */
export function setTimerCounting(on: boolean): void {
  counting = on;
}

/** Starts counting afresh: `created` and `maxLive` restart from the timers live now. */
export function resetTimerCounts(): void {
  created = 0;
  maxLive = live.size;
}

export function timerCounts(): TimerCounts {
  return { created, maxLive, live: live.size };
}

/** True once `installTimerProbe()` has run in this process. */
export function timerProbeInstalled(): boolean {
  return installed;
}
