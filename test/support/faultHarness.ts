/**
 * Fault injection over several workers sharing one Redis key: each worker is a
 * `RedisTokenBucket` with its own client, fed values at a steady pace through
 * `throttleByTokens`, while the test injects a fault (SIGSTOP, kill and restart, a proxy
 * that drops or blackholes). It records every grant (time on the one `performance.now()`
 * clock all workers share in this process, cost, source) and what each stream emitted, so a
 * test can check the sliding-window bound (`slidingWindow.ts`) and that no value was
 * emitted twice or lost silently.
 */
import { interval, take } from 'rxjs';
import { throttleByTokens } from '../../src/operators/throttleByTokens';
import type { GrantSource, RedisTokenBucketEvent } from '../../src/redis/events';
import type { RedisTokenBucket } from '../../src/redis/RedisTokenBucket';
import type { TimedGrant } from './slidingWindow';

export interface WorkerGrant extends TimedGrant {
  readonly worker: number;
  readonly source: GrantSource;
  /** Ms the value waited in the bucket's queue. */
  readonly waited: number;
}

export interface WorkerOutcome {
  /** What the stream emitted, in order (the values are 0, 1, 2... in arrival order). */
  readonly values: number[];
  /** When each value arrived, by value. */
  readonly arrivedAt: number[];
  error?: unknown;
}

export interface FaultRun {
  readonly grants: WorkerGrant[];
  readonly outcomes: WorkerOutcome[];
  /** Every event of every worker, with its worker. */
  readonly events: { worker: number; event: RedisTokenBucketEvent }[];
}

export interface FaultRunOptions {
  /** One bucket per worker, all on one key. */
  readonly buckets: readonly RedisTokenBucket[];
  /** Values per worker, and ms between two of one worker's values. */
  readonly count: number;
  readonly every: number;
  /** Injected while the workers run; the run ends when every stream has ended and this has resolved. */
  readonly fault: () => Promise<void>;
}

/** Runs the workers through the fault; resolves when every stream completed or errored. */
export async function runWorkers({ buckets, count, every, fault }: FaultRunOptions): Promise<FaultRun> {
  const run: FaultRun = { grants: [], outcomes: [], events: [] };
  const ends = buckets.map((bucket, worker) => {
    bucket.events$.subscribe((event) => {
      run.events.push({ worker, event });
      if (event.type === 'granted') {
        run.grants.push({ worker, time: performance.now(), cost: event.cost, source: event.source, waited: event.waited });
      }
    });
    const outcome: WorkerOutcome = { values: [], arrivedAt: [] };
    run.outcomes.push(outcome);
    return new Promise<void>((resolve) => {
      const arrivals = interval(every).pipe(take(count));
      arrivals.subscribe((value) => (outcome.arrivedAt[value] = performance.now()));
      arrivals.pipe(throttleByTokens(bucket)).subscribe({
        next: (value) => outcome.values.push(value),
        error: (error: unknown) => {
          outcome.error = error;
          resolve();
        },
        complete: resolve,
      });
    });
  });
  await Promise.all([fault(), ...ends]);
  return run;
}

/**
 * Each stream emitted each value at most once, in arrival order, and either all of them or
 * ended with an error (nothing lost silently). Returns a description of the first breach, or ''.
 */
export function onceEachInOrder(run: FaultRun, count: number): string {
  for (const [worker, outcome] of run.outcomes.entries()) {
    const expected = Array.from({ length: outcome.values.length }, (_, index) => index);
    if (outcome.values.some((value, index) => value !== expected[index])) {
      return `worker ${worker} emitted ${JSON.stringify(outcome.values)}: not each once in order`;
    }
    if (outcome.error === undefined && outcome.values.length !== count) {
      return `worker ${worker} completed after ${outcome.values.length} of ${count} values without an error`;
    }
  }
  return '';
}

/** The first instant an event of `type` was seen (by any worker), or NaN. */
export function firstEventTime(run: FaultRun, type: RedisTokenBucketEvent['type']): number {
  const found = run.events.find(({ event }) => event.type === type);
  return found === undefined ? Number.NaN : found.event.time;
}
