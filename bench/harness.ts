import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The contract between `bench/run.ts` and the suites in `bench/suites/`, and the small
 * measuring tools the suites share. A suite is a file whose default export is a
 * `BenchSuite`; run.ts runs each in its own child process and prints its section.
 */

export interface BenchContext {
  quick: boolean;
  runs: number /* repetitions per measurement; 3 in quick, >=7 full */;
}
export interface BenchRow {
  subject: string;
  metrics: Record<string, number | string>;
} // one line of a table
export interface BenchRatio {
  label: string;
  value: number;
  target?: string;
  pass?: boolean;
} // the headline ratios
export interface BenchSection {
  id: string;
  title: string;
  rows: BenchRow[];
  ratios: BenchRatio[];
  notes: string[];
}
export type BenchSuite = (ctx: BenchContext) => Promise<BenchSection>;

// ---- statistics ----

// The median is the scenarios' too (test/support/scenarioPlans.ts), so it lives beside them.
export { median } from '../test/support/median';

/** Nearest-rank percentile (`p` in 0..100) of the samples; NaN when empty. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Rounds to `digits` significant digits, so tables stay readable (NaN and ±Infinity pass through). */
export function significant(value: number, digits = 3): number {
  if (!Number.isFinite(value) || value === 0) return value;
  return Number(value.toPrecision(digits));
}

// ---- timing ----

/** `BENCH_VERBOSE=1` logs every measurement to stderr as it is taken. */
export const verbose = process.env['BENCH_VERBOSE'] === '1';

/** Logs a measurement to stderr under `BENCH_VERBOSE=1`. */
export function trace(message: string): void {
  if (verbose) console.error(`  ${message}`);
}

/** One thing to time: `run` does the whole measured work once (e.g. a million values). */
export interface Timed {
  readonly name: string;
  readonly run: () => void | Promise<void>;
  /** Optional smaller work run once before timing, to warm the JIT and caches. */
  readonly warmUp?: () => void | Promise<void>;
}

/**
 * Times each subject `rounds` times, interleaved round by round (A B C, A B C, …) so that
 * a burst of load from other processes lands on every subject alike rather than on
 * whichever ran during it. Returns the milliseconds of each round, per subject name.
 * Collects garbage before every measurement when `--expose-gc` is on, so one subject's
 * garbage is not collected on another's time.
 */
export async function timeInterleaved(subjects: readonly Timed[], rounds: number): Promise<Map<string, number[]>> {
  const times = new Map<string, number[]>(subjects.map((subject) => [subject.name, []]));
  for (const subject of subjects) {
    collectGarbage();
    const start = performance.now();
    await (subject.warmUp ?? subject.run)();
    if (verbose) console.error(`  [warm-up] ${subject.name}: ${(performance.now() - start).toFixed(1)} ms`);
  }
  for (let round = 0; round < rounds; round++) {
    for (const subject of subjects) {
      collectGarbage();
      const start = performance.now();
      await subject.run();
      const ms = performance.now() - start;
      times.get(subject.name)!.push(ms);
      if (verbose) console.error(`  [round ${round + 1}] ${subject.name}: ${ms.toFixed(1)} ms`);
    }
  }
  return times;
}

// ---- memory ----

const gc = (globalThis as { gc?: () => void }).gc;

/** True when run with `--expose-gc` (run.ts always does). */
export const canCollectGarbage = typeof gc === 'function';

/** A full collection, twice (the second picks up what finalisers released); a no-op without `--expose-gc`. */
export function collectGarbage(): void {
  if (gc === undefined) return;
  gc();
  gc();
}

/** `heapUsed` after a full collection, in bytes. */
export function heapAfterGc(): number {
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

/** Resolves after the event loop has turned `turns` times (lets promise-based peers settle). */
export async function settle(turns = 1): Promise<void> {
  for (let turn = 0; turn < turns; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Resolves after `ms` of real time. */
export function sleep(ms: number): Promise<void> {
  return new Promise<void>((resolve) => setTimeout(resolve, ms));
}

// ---- verdicts ----

/** A headline ratio with its target `value <= limit`, as PASS/MISS (a miss never fails the run). */
export function atMost(label: string, value: number, limit: number, unit = ''): BenchRatio {
  return { label, value: significant(value), target: `≤ ${limit}${unit}`, pass: value <= limit };
}

// ---- isolation ----

const benchDir = path.dirname(fileURLToPath(import.meta.url));

/**
 * Calls `exportName(...args)` of the bench module `modulePath` (relative to bench/, e.g.
 * `suites/queue.ts`) in a fresh child process (`--expose-gc`, timers counted) and returns
 * its JSON result. For measurements that leave work behind which cannot be withdrawn
 * (a peer's pending timers, jobs still being submitted): the child exits when it answers.
 */
export function runIsolated<T>(modulePath: string, exportName: string, args: readonly unknown[]): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let answered = false;
    const child = fork(path.join(benchDir, 'child.ts'), ['--call', modulePath, exportName, JSON.stringify(args)], {
      cwd: path.resolve(benchDir, '..'),
      execArgv: ['--expose-gc', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('message', (message: { type?: string; result?: T }) => {
      if (message.type !== 'result') return;
      answered = true;
      resolve(message.result as T);
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (!answered) reject(new Error(`isolated ${modulePath}#${exportName} exited with ${signal ?? `code ${code}`} before answering`));
    });
  });
}
