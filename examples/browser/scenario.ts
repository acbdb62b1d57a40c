/**
 * What the page runs: the limits of each lane and the generated stream, as plain data (no
 * library code), so the browser test can compute the expected schedule from the same input
 * with a model of its own.
 */

import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { mersenne } from 'pure-rand/generator/mersenne';

/** One value of the stream: when it arrives (ms), what it costs (tokens), whose it is. */
export interface Arrival {
  readonly id: number;
  readonly at: number;
  readonly cost: number;
  readonly key: UserKey;
}

export type UserKey = 'A' | 'B' | 'C';
export const USER_KEYS: readonly UserKey[] = ['A', 'B', 'C'];

/** The three strategy lanes each have their own bucket of these limits: bursts of 4, 3 tokens a second. */
export const LANE_LIMITS = { capacity: 4, refillRate: 3, interval: 1000 } as const;
/** perKey: a bucket of these limits per user. */
export const KEY_LIMITS = { capacity: 3, refillRate: 1.5, interval: 1000 } as const;
/** The delay lanes' bound, so a clicking spree cannot grow a queue without end. */
export const MAX_QUEUE = 20;

/** How long the generated stream lasts; the page loops it in live mode. */
export const SCENARIO_MS = 10_000;
/** The deterministic run's window: the stream, then time for the queues to drain. */
export const CHECK_WINDOW_MS = 13_000;

/** Floats in [0, 1), the same sequence for the same seed (pure-rand's Mersenne Twister). */
function random(seed: number): () => number {
  const generator = mersenne(seed);
  return () => uniformFloat64(generator);
}

/**
 * A bursty stream over `SCENARIO_MS`: a trickle (gaps of 600–1400 ms) and two bursts of 6
 * values 90 ms apart; costs mostly 1, sometimes 2; users drawn at random, A most often (the
 * noisy one). About 2.3 tokens a second on average, under the lanes' 3, so the looped live
 * stream does not pile up; the bursts exceed the burst size. Times are whole ms.
 */
export function generatedStream(seed = 7): Arrival[] {
  const next = random(seed);
  const arrivals: Arrival[] = [];
  const times: number[] = [];
  for (let at = 100; at < SCENARIO_MS; at += 600 + Math.floor(next() * 800)) times.push(at);
  for (const burst of [1_200, 6_000]) for (let i = 0; i < 6; i++) times.push(burst + 90 * i + 1);
  times.sort((a, b) => a - b);
  for (const at of times) {
    const cost = next() < 0.15 ? 2 : 1;
    const pick = next();
    const key: UserKey = pick < 0.55 ? 'A' : pick < 0.8 ? 'B' : 'C';
    arrivals.push({ id: arrivals.length, at, cost, key });
  }
  return arrivals;
}
