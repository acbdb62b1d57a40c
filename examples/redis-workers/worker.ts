/**
 * One worker process of the redis-workers example: its own ioredis client and its own
 * `RedisTokenBucket` on the key every worker shares, pushing its jobs through
 * `throttleByTokens` to the API. Prints "ready" once connected, starts on a "go" line on
 * stdin (so every worker starts together, after the slow start of each process), then
 * prints one JSON line with what it saw and exits. Exits at once if its parent goes away
 * (stdin closes).
 *
 * Usage: node --import tsx examples/redis-workers/worker.ts <redis-url> <key> <api-url> <name> <jobs>
 */
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { mergeMap, range } from 'rxjs';
import { throttleByTokens } from 'rxjs-token-bucket';
import { RedisTokenBucket } from 'rxjs-token-bucket/redis';
import { SHARED_BUCKET } from './quota';

export interface WorkerReport {
  readonly name: string;
  readonly jobs: number;
  /** Answers by status: 200, 429, and anything else (including network errors). */
  readonly ok: number;
  readonly throttled: number;
  readonly failed: number;
  /** Epoch ms of the worker's first and last request. */
  readonly firstSentAt: number;
  readonly lastSentAt: number;
  /** From the bucket's `stats()`: grants, failed Redis calls. */
  readonly granted: number;
  readonly storeErrors: number;
}

const [url, key, apiUrl, name, jobsText] = process.argv.slice(2);
const jobs = Number(jobsText);
if (url === undefined || key === undefined || apiUrl === undefined || name === undefined || !(Number.isInteger(jobs) && jobs > 0)) {
  console.error('usage: node --import tsx examples/redis-workers/worker.ts <redis-url> <key> <api-url> <name> <jobs>');
  process.exit(2);
}

const redis = new Redis(url, { maxRetriesPerRequest: 1 });
const bucket = new RedisTokenBucket({
  redis,
  key,
  ...SHARED_BUCKET,
  // The quota matters more than the jobs: if Redis cannot answer, a job fails rather than
  // risking 429s. ('local' would go on at a share of the rate, 'fail-open' unlimited.)
  onStoreError: 'fail-closed',
  // How far ahead this worker reserves (default 64): small, so the workers take turns rather
  // than the first to ask reserving the next few seconds of the quota for itself.
  maxInFlight: 2,
});

await redis.ping(); // connected before "ready", so the workers really start together
console.log('ready');
const stdin = createInterface({ input: process.stdin });
stdin.on('close', () => process.exit(1)); // the parent is gone: do not linger
await new Promise<void>((resolve) => stdin.on('line', (line) => line.trim() === 'go' && resolve()));

const epochNow = (): number => performance.timeOrigin + performance.now();
let ok = 0;
let throttled = 0;
let failed = 0;
let firstSentAt = Number.NaN;
let lastSentAt = Number.NaN;

/** One call to the API; its outcome is counted, never thrown. */
async function callApi(job: number): Promise<void> {
  const sentAt = epochNow();
  if (Number.isNaN(firstSentAt)) firstSentAt = sentAt;
  lastSentAt = sentAt;
  try {
    const response = await fetch(`${apiUrl}/jobs/${job}`, { method: 'POST', headers: { 'x-worker': name! } });
    await response.arrayBuffer();
    if (response.status === 200) ok++;
    else if (response.status === 429) throttled++;
    else failed++;
  } catch {
    failed++;
  }
}

range(1, jobs)
  .pipe(
    throttleByTokens(bucket), // every worker's jobs draw on the one shared bucket in Redis
    mergeMap((job) => callApi(job)),
  )
  .subscribe({
    error: (error: unknown) => {
      console.error(`${name}: ${error instanceof Error ? error.message : String(error)}`);
      redis.disconnect();
      process.exit(1);
    },
    complete: () => {
      const { granted, storeErrors } = bucket.stats();
      const report: WorkerReport = { name: name!, jobs, ok, throttled, failed, firstSentAt, lastSentAt, granted, storeErrors };
      console.log(JSON.stringify(report));
      redis.disconnect();
      process.exit(0);
    },
  });
