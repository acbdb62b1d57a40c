/**
 * Several processes, each with its own ioredis client and RedisTokenBucket, pushing through
 * one shared key at once. From the grant times the script reports (the server's clock):
 * every window holds at most capacity + rate · window, and the whole run takes as long as
 * the shared rate implies, not as long as one process alone would.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { describeWithRedis } from '../../support/redisTests';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const workerFile = path.join(here, 'fixtures/worker.ts');

interface WorkerResult {
  values: number[];
  grants: [storeTime: number, cost: number, source: string][];
}

/** Starts a worker; resolves `ready` when it has connected, `result` with its report. */
function startWorker(args: string[]): { child: ChildProcessWithoutNullStreams; ready: Promise<void>; result: Promise<WorkerResult> } {
  const child = spawn(process.execPath, ['--import', 'tsx', workerFile, ...args], { cwd: root });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout });
  let onReady!: () => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const result = new Promise<WorkerResult>((resolve, reject) => {
    let report: WorkerResult | undefined;
    lines.on('line', (line) => {
      if (line === 'ready') onReady();
      else if (line.startsWith('{')) report = JSON.parse(line) as WorkerResult;
    });
    child.on('exit', (code) => {
      if (code === 0 && report !== undefined) resolve(report);
      else reject(new Error(`worker exited with ${code}: ${stderr}${JSON.stringify(report)}`));
    });
  });
  ready.catch(() => {});
  return { child, ready, result };
}

const WORKERS = 3;
const VALUES_PER_WORKER = 40; // costs 1, 2, 1, 2, …: 60 tokens each
const CAPACITY = 10;
const RATE_PER_SECOND = 200;

describeWithRedis('several processes sharing one key', (redis) => {
  it(`${WORKERS} workers stay within capacity + rate · window in every window, and take as long as the shared rate implies`, async () => {
    const key = redis.uniqueKey('shared');
    const args = [redis.url, key, String(CAPACITY), String(RATE_PER_SECOND), String(VALUES_PER_WORKER)];
    const workers = Array.from({ length: WORKERS }, () => startWorker(args));
    try {
      await Promise.all(workers.map((worker) => worker.ready));
      for (const worker of workers) worker.child.stdin.write('go\n');
      const results = await Promise.all(workers.map((worker) => worker.result));

      const expectedValues = Array.from({ length: VALUES_PER_WORKER }, (_, index) => index);
      for (const result of results) {
        expect(result.values).toEqual(expectedValues); // each value once, in order
        expect(result.grants.every(([, , source]) => source === 'store')).toBe(true);
      }
      const grants = results.flatMap((result) => result.grants).sort((a, b) => a[0] - b[0]);
      const totalCost = grants.reduce((sum, [, cost]) => sum + cost, 0);
      expect(totalCost).toBe(WORKERS * 60);

      // Every window [t_i, t_j] of grants: cost ≤ capacity + rate · (t_j − t_i).
      const ratePerMs = RATE_PER_SECOND / 1000;
      let worstExcess = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < grants.length; i++) {
        let cost = 0;
        for (let j = i; j < grants.length; j++) {
          cost += grants[j]![1];
          const allowed = CAPACITY + ratePerMs * (grants[j]![0] - grants[i]![0]);
          worstExcess = Math.max(worstExcess, cost - allowed);
        }
      }
      expect(worstExcess).toBeLessThanOrEqual(1e-6);

      // The shared rate: (180 − 10) / 200 per s = 850 ms; one worker alone would need 250 ms.
      const span = grants[grants.length - 1]![0] - grants[0]![0];
      const sharedSpan = ((totalCost - CAPACITY) / RATE_PER_SECOND) * 1000;
      expect(span).toBeGreaterThanOrEqual(sharedSpan - 1e-3);
      expect(span).toBeLessThan(sharedSpan + 400);
    } finally {
      for (const worker of workers) worker.child.kill('SIGKILL');
    }
  }, 20_000);
});
