/**
 * Several worker processes sharing one API quota through Redis. Each worker is its own
 * Node process with its own ioredis client and its own `RedisTokenBucket` on one shared
 * key, pushing its jobs through `throttleByTokens` to a small HTTP API that admits at most
 * 30 requests in any rolling second and answers 429 beyond. Together the workers keep to
 * the shared 20/s (burst 5), so the API never says 429, and the run takes as long as the
 * shared rate implies. (With an in-memory bucket each, three workers would send 60/s.)
 *
 *   npx tsx examples/redis-workers/main.ts                 # 3 workers, ~15 s of jobs
 *   npx tsx examples/redis-workers/main.ts --quick         # ~3 s of jobs, ~8 s in all (CI)
 *   npx tsx examples/redis-workers/main.ts --workers 5     # 1 to 8 workers
 *   REDIS_URL=redis://host:6379 npx tsx examples/redis-workers/main.ts
 *
 * Starts its own redis-server on a free loopback port unless REDIS_URL is set. Exit code 1
 * on any 429, lost or failed job, or a run faster than the shared quota allows. Without
 * any Redis it says so and exits 0 (1 when CI=true).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { findRedis, RedisServer } from '../../test/support/redisServer';
import { startQuotaApi, type QuotaApi } from './api';
import { API_LIMIT_PER_SECOND, SHARED_BUCKET } from './quota';
import type { WorkerReport } from './worker';

interface Options {
  quick: boolean;
  workers: number;
}

function parseArgs(argv: readonly string[]): Options {
  const options: Options = { quick: false, workers: 3 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') options.quick = true;
    else if (arg === '--workers') {
      const workers = Number(argv[++i]);
      if (!Number.isInteger(workers) || workers < 1 || workers > 8)
        throw new RangeError(`--workers must be an integer from 1 to 8, got ${argv[i]}`);
      options.workers = workers;
    } else throw new TypeError(`unknown argument ${JSON.stringify(arg)} (options: --quick, --workers <1-8>)`);
  }
  return options;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const rootDir = path.resolve(here, '../..');
const workerFile = path.join(here, 'worker.ts');
const say = (line = ''): void => void process.stdout.write(`${line}\n`);
const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
/** A run may be this much shorter than the shared rate implies: jitter between a grant and its request's arrival. */
const ARRIVAL_JITTER_MS = 250;

/** A worker process: resolves `ready` once connected, `report` with its JSON line when it exits cleanly. */
interface Worker {
  readonly name: string;
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly report: Promise<WorkerReport>;
}

function startWorker(name: string, redisUrl: string, key: string, apiUrl: string, jobs: number): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', workerFile, redisUrl, key, apiUrl, name, String(jobs)], {
    cwd: rootDir,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let onReady!: () => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const report = new Promise<WorkerReport>((resolve, reject) => {
    let last: WorkerReport | undefined;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line === 'ready') onReady();
      else if (line.startsWith('{')) last = JSON.parse(line) as WorkerReport;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0 && last !== undefined) resolve(last);
      else reject(new Error(`worker ${name} exited with ${signal ?? `code ${code}`}${stderr === '' ? '' : `:\n${stderr.trimEnd()}`}`));
    });
  });
  report.catch(() => {}); // looked at after "go"; a worker dying before then fails `ready` below
  return { name, child, ready, report };
}

/** Everything to stop on the way out, whatever happened. */
const cleanups: (() => Promise<void> | void)[] = [];
async function cleanUp(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch (error) {
      console.error(`while cleaning up: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`\n${signal}: stopping workers, API and redis-server`);
    void cleanUp().finally(() => process.exit(1));
  });
}

/** Resolves with `promise`, or rejects after `ms` saying `what` took too long. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took longer than ${seconds(ms)}`)), ms)),
  );
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Where Redis is: REDIS_URL, or a redis-server started here; undefined (having said why) when there is none. */
async function redisUrl(): Promise<string | undefined> {
  const source = findRedis();
  if (source.kind === 'url') {
    say(`Redis: ${source.url} (REDIS_URL)`);
    return source.url;
  }
  if (source.kind === 'none') {
    const inCi = process.env['CI'] === 'true';
    console.error(`redis-workers: cannot run: ${source.reason}.`);
    console.error('  Install redis-server (Debian/Ubuntu: apt-get install redis-server) or set REDIS_URL=redis://host:port.');
    console.error(inCi ? '  CI=true: this is a failure.' : '  Skipping (exit 0); in CI (CI=true) this fails.');
    process.exitCode = inCi ? 1 : 0;
    return undefined;
  }
  const server = await RedisServer.start(source.binary);
  cleanups.push(() => server.stop());
  say(`Redis: a redis-server of this example on ${server.url} (set REDIS_URL to use another)`);
  return server.url;
}

/** Runs the example; resolves with the problems found, or 'skipped' when there is no Redis. */
async function main(options: Options): Promise<string[] | 'skipped'> {
  const url = await redisUrl();
  if (url === undefined) return 'skipped';
  const probe = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: true });
  let connectionError: Error | undefined;
  probe.on('error', (error: Error) => (connectionError ??= error));
  try {
    await within(
      probe.connect().then(() => probe.ping()),
      5_000,
      `reaching Redis at ${url}`,
    );
  } catch (error) {
    throw new Error(`cannot reach Redis at ${url}: ${(connectionError ?? (error as Error)).message}`);
  } finally {
    probe.disconnect();
  }

  const api: QuotaApi = await startQuotaApi(API_LIMIT_PER_SECOND);
  cleanups.push(() => api.close());
  // The ideal run: the full burst at once, then the shared rate.
  const rate = SHARED_BUCKET.refillRate;
  const targetMs = options.quick ? 3_000 : 15_000;
  const jobsPerWorker = Math.ceil((SHARED_BUCKET.capacity + (rate * targetMs) / 1000) / options.workers);
  const totalJobs = jobsPerWorker * options.workers;
  const sharedMs = ((totalJobs - SHARED_BUCKET.capacity) / rate) * 1000;
  const aloneMs = (Math.max(0, jobsPerWorker - SHARED_BUCKET.capacity) / rate) * 1000;
  const key = `examples:redis-workers:${randomUUID().slice(0, 8)}`; // fresh state, even on a shared server

  say(`API: ${api.url}, admits ${API_LIMIT_PER_SECOND} requests in any rolling second, 429 beyond.`);
  say(
    `Shared bucket "${key}": burst ${SHARED_BUCKET.capacity}, ${rate}/s for all workers together ` +
      `(at most ${SHARED_BUCKET.capacity + rate} in any second, under the API's ${API_LIMIT_PER_SECOND}).`,
  );
  say(
    `${options.workers} workers × ${jobsPerWorker} jobs = ${totalJobs}: at the shared rate ≥ ${seconds(sharedMs)}; ` +
      `one worker alone at ${rate}/s would need ${seconds(aloneMs)} for its share.`,
  );

  const names = Array.from({ length: options.workers }, (_, index) => `w${index + 1}`);
  const workers = names.map((name) => startWorker(name, url, key, api.url, jobsPerWorker));
  cleanups.push(() => {
    for (const worker of workers) if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
  });
  const startingAt = performance.now();
  // A worker that dies while starting fails this at once, rather than after the time limit.
  const diedStarting = workers.map((worker) =>
    worker.report.then(() => Promise.reject(new Error(`worker ${worker.name} exited before it was ready`))),
  );
  await within(Promise.race([Promise.all(workers.map((worker) => worker.ready)), ...diedStarting]), 60_000, 'starting the workers');
  say(`${options.workers} worker processes ready after ${seconds(performance.now() - startingAt)} (start-up, not counted); go.\n`);

  const started = performance.now();
  for (const worker of workers) worker.child.stdin!.write('go\n');
  say(`  second  ${names.map((name) => name.padStart(4)).join(' ')}  total   429`);
  let second = 0;
  let throttledBefore = 0;
  const ticker = setInterval(() => {
    const recent = api.takeRecent();
    const total = [...recent.values()].reduce((sum, count) => sum + count, 0);
    const throttled = api.counts.throttled - throttledBefore;
    throttledBefore = api.counts.throttled;
    say(
      `  ${String(++second).padStart(6)}  ${names.map((name) => String(recent.get(name) ?? 0).padStart(4)).join(' ')}  ${String(total).padStart(5)}  ${String(throttled).padStart(4)}`,
    );
  }, 1000);
  cleanups.push(() => clearInterval(ticker));
  const reports = await within(Promise.all(workers.map((worker) => worker.report)), sharedMs * 2 + 30_000, 'the run');
  const elapsedMs = performance.now() - started;
  clearInterval(ticker);

  // Per worker and in total, from the workers' side.
  say('\n  worker   jobs     ok    429  failed   first → last request   rate');
  for (const report of reports) {
    const spanMs = report.lastSentAt - report.firstSentAt;
    say(
      `  ${report.name.padEnd(6)} ${String(report.jobs).padStart(5)} ${String(report.ok).padStart(6)} ${String(report.throttled).padStart(6)} ${String(report.failed).padStart(7)}` +
        `   ${seconds(spanMs).padStart(9)}            ${(report.jobs / (spanMs / 1000)).toFixed(1).padStart(5)}/s`,
    );
  }
  const sum = (field: 'ok' | 'throttled' | 'failed' | 'storeErrors') => reports.reduce((total, report) => total + report[field], 0);
  const { counts } = api;
  const apiSpanMs = counts.lastAt - counts.firstAt;
  const admitted = [...counts.admitted.values()].reduce((total, count) => total + count, 0);
  say(
    `  total  ${String(totalJobs).padStart(5)} ${String(sum('ok')).padStart(6)} ${String(sum('throttled')).padStart(6)} ${String(sum('failed')).padStart(7)}` +
      `   ${seconds(apiSpanMs).padStart(9)}            ${(admitted / (apiSpanMs / 1000)).toFixed(1).padStart(5)}/s  (shared limit ${rate}/s after a burst of ${SHARED_BUCKET.capacity})`,
  );
  say(
    `\n  API: ${admitted} admitted, ${counts.throttled} answered 429; busiest rolling second ${counts.busiestSecond} of ${API_LIMIT_PER_SECOND} allowed. ` +
      `Run: ${seconds(elapsedMs)} from "go"; first → last request ${seconds(apiSpanMs)}, the shared rate implies ≥ ${seconds(sharedMs)}.`,
  );

  const problems: string[] = [];
  if (counts.throttled > 0 || sum('throttled') > 0)
    problems.push(`the API answered 429 to ${Math.max(counts.throttled, sum('throttled'))} requests`);
  if (sum('failed') > 0) problems.push(`${sum('failed')} requests failed`);
  if (sum('storeErrors') > 0) problems.push(`${sum('storeErrors')} Redis calls failed`);
  for (const report of reports) {
    if (report.ok + report.throttled + report.failed !== report.jobs)
      problems.push(`worker ${report.name} answered for ${report.ok + report.throttled + report.failed} of ${report.jobs} jobs`);
  }
  if (admitted !== totalJobs) problems.push(`the API admitted ${admitted} requests for ${totalJobs} jobs`);
  if (apiSpanMs < sharedMs - ARRIVAL_JITTER_MS) {
    problems.push(
      `the requests took ${seconds(apiSpanMs)}, less than the ${seconds(sharedMs)} the shared rate allows: the limit was not shared`,
    );
  }
  return problems;
}

let options: Options;
try {
  options = parseArgs(process.argv.slice(2));
} catch (error) {
  console.error(`redis-workers: ${(error as Error).message}`);
  process.exit(2);
}
let problems: string[] | 'skipped';
try {
  problems = await main(options);
} catch (error) {
  problems = [error instanceof Error ? error.message : String(error)];
}
await cleanUp();
if (problems === 'skipped' || interrupted) {
  // said why already; the exit code is set (or the signal handler exits)
} else if (problems.length > 0) {
  say(`\nFAILED:`);
  for (const problem of problems) say(`  - ${problem}`);
  process.exitCode = 1;
} else {
  say('\nok: no 429s, every job done once, at the shared rate.');
}
