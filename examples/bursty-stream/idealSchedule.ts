/**
 * The yardstick the example checks the run against, written out independently of the library:
 * the earliest instant a FIFO token bucket (full at time 0) can let each value through.
 */

export interface Arrival {
  /** ms after the start */
  readonly at: number;
  readonly cost: number;
}

/**
 * Ideal emission times, in ms after the start: each value leaves at the first instant that
 * is no earlier than its arrival or the value before it, and at which `cost` tokens are there.
 */
export function idealEmissionTimes(arrivals: readonly Arrival[], capacity: number, tokensPerMs: number): number[] {
  let tokens = capacity;
  let clock = 0;
  let previous = 0;
  return arrivals.map(({ at, cost }) => {
    let leaves = Math.max(at, previous);
    tokens = Math.min(capacity, tokens + (leaves - clock) * tokensPerMs);
    if (tokens < cost) {
      leaves += (cost - tokens) / tokensPerMs;
      tokens = cost;
    }
    tokens -= cost;
    clock = previous = leaves;
    return leaves;
  });
}

/**
 * How close the emissions came to the limit a bucket full at time 0 sets: the largest
 * `spent(t) − (capacity + rate·t)` over the emission instants (≤ 0 when never exceeded).
 */
export function worstExcess(
  emissions: readonly Arrival[],
  capacity: number,
  tokensPerMs: number,
): { excess: number; at: number; spent: number } {
  let spent = 0;
  let worst = { excess: -Infinity, at: 0, spent: 0 };
  for (const { at, cost } of emissions) {
    spent += cost;
    const excess = spent - (capacity + tokensPerMs * at);
    if (excess > worst.excess) worst = { excess, at, spent };
  }
  return worst;
}

/** Nearest-rank percentile (`p` in 0..100); NaN when empty. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
