/**
 * The shared limit's bound, checked over every sliding window: in any window of `window` ms,
 * the grants of every process together cost at most `capacity + rate × (window + tolerance)`
 * (`rate` in tokens per ms; `tolerance` covers latency: a reservation is granted when its
 * answer arrives, so two processes' grants can be closer than their reservations were).
 * An independent reference for the fault tests: it knows nothing of the implementation.
 */
export interface TimedGrant {
  /** When it was granted, in ms on one clock shared by every process measured. */
  readonly time: number;
  readonly cost: number;
}

export interface WindowBound {
  readonly capacity: number;
  /** Tokens per ms. */
  readonly rate: number;
  /** The window length, ms. */
  readonly window: number;
  /** The latency allowed, ms. */
  readonly tolerance: number;
}

export interface WorstWindow {
  /** The highest cost granted in any window, where that window starts, and the bound. */
  readonly cost: number;
  readonly from: number;
  readonly bound: number;
}

/** The window with the most granted (windows starting at each grant are the only ones that matter). */
export function worstWindow(grants: readonly TimedGrant[], limit: WindowBound): WorstWindow {
  const sorted = [...grants].sort((a, b) => a.time - b.time);
  let worst = 0;
  let from = Number.NaN;
  let inWindow = 0;
  let end = 0;
  for (let start = 0; start < sorted.length; start++) {
    while (end < sorted.length && sorted[end]!.time <= sorted[start]!.time + limit.window) inWindow += sorted[end++]!.cost;
    if (inWindow > worst) {
      worst = inWindow;
      from = sorted[start]!.time;
    }
    inWindow -= sorted[start]!.cost;
  }
  return { cost: worst, from, bound: limit.capacity + limit.rate * (limit.window + limit.tolerance) };
}
