/**
 * The example's input: a bursty, weighted event stream, the same every run for a given seed,
 * replayed in real time.
 */
import { Observable } from 'rxjs';

/** One event of the stream: when it arrives (ms after the start) and what it costs in tokens. */
export interface BurstyEvent {
  readonly id: number;
  readonly at: number;
  readonly cost: number;
}

export interface BurstShape {
  seed: number;
  /** No clump starts after this many ms. */
  horizonMs: number;
}

/** Mulberry32: a tiny seeded PRNG, so a seed always gives the same stream. Returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Clumps of 2–7 events of cost 1–5, a clump every 0.6–2.6 s. Inside a clump about half the
 * events arrive together with the one before them, the rest 5–60 ms later. On average the
 * stream offers about 8 tokens/s, in bursts far above that.
 */
export function burstySchedule({ seed, horizonMs }: BurstShape): BurstyEvent[] {
  const random = seededRandom(seed);
  const between = (low: number, high: number) => low + random() * (high - low);
  const events: BurstyEvent[] = [];
  let clumpAt = 100;
  while (clumpAt <= horizonMs) {
    const size = 2 + Math.floor(random() * 6);
    let at = clumpAt;
    for (let i = 0; i < size; i++) {
      if (i > 0 && random() < 0.5) at += between(5, 60);
      events.push({ id: events.length, at: Math.round(at), cost: 1 + Math.floor(random() * 5) });
    }
    clumpAt += between(600, 2600);
  }
  return events;
}

/**
 * Emits each event at its `at` (ms after `startedAt`, a `performance.now()` reading), then
 * completes. One timer at a time, aimed at the next event; events due together go out together.
 */
export function inRealTime(events: readonly BurstyEvent[], startedAt: number): Observable<BurstyEvent> {
  return new Observable<BurstyEvent>((subscriber) => {
    let next = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const release = (): void => {
      const elapsed = performance.now() - startedAt;
      while (next < events.length && events[next]!.at <= elapsed && !subscriber.closed) subscriber.next(events[next++]!);
      if (next === events.length) {
        subscriber.complete();
        return;
      }
      // A timer may fire a fraction of a ms early (delays are whole ms): release() just re-aims.
      timer = setTimeout(release, Math.max(0, events[next]!.at - elapsed));
    };
    release();
    return () => clearTimeout(timer);
  });
}
