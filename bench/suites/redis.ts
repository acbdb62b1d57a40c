/**
 * Grants per second through Redis on loopback: `RedisTokenBucket` (one Lua script call per
 * grant) against the floor of a bare `INCR` from the same client, and beside
 * rate-limiter-flexible's `RateLimiterRedis.consume` (also one Lua script call), with 1 and
 * with 64 requests in flight. Tokens are plentiful, so nothing waits: this measures the
 * cost of asking, not the limit. The suite starts its own redis-server on a free port.
 */
import { execFileSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { RedisTokenBucket } from '../../src/redis/RedisTokenBucket';
import { BucketScripts, SERVER_CLOCK } from '../../src/redis/scripts';
import type { Waiter } from '../../src/scheduler/WaitQueue';
import { findRedisBinary, RedisServer } from '../../test/support/redisServer';
import { median, significant, timeInterleaved, type BenchRatio, type BenchRow, type BenchSuite, type Timed } from '../harness';

/** So many tokens that no grant ever waits. */
const PLENTY = 1e12;
const LANES = [1, 64] as const;

/** Runs `count` operations, `lanes` at a time: each lane starts its next one when its last one ends. */
function inLanes(count: number, lanes: number, operation: () => Promise<unknown>): () => Promise<void> {
  return async () => {
    let started = 0;
    const lane = async (): Promise<void> => {
      while (started < count) {
        started++;
        await operation();
      }
    };
    await Promise.all(Array.from({ length: Math.min(lanes, count) }, lane));
  };
}

/**
 * `count` grants through the bucket's operator protocol, `lanes` waiters at a time, each
 * asking again from its `granted` (no Promise per grant: what an operator does).
 */
function bucketGrants(bucket: RedisTokenBucket, count: number, lanes: number): () => Promise<void> {
  return () =>
    new Promise<void>((resolve, reject) => {
      let asked = 0;
      let granted = 0;
      const makeWaiter = (): Waiter => {
        const waiter: Waiter = {
          cost: 1,
          queuedAt: 0,
          previousWaiter: null,
          nextWaiter: null,
          granted: () => {
            if (++granted === count) resolve();
            else if (asked < count) {
              asked++;
              bucket.acquire(waiter, Infinity);
            }
          },
          refused: () => reject(new Error('refused: the bucket ran short')),
          failed: reject,
        };
        return waiter;
      };
      for (let lane = 0; lane < Math.min(lanes, count); lane++) {
        asked++;
        bucket.acquire(makeWaiter(), Infinity);
      }
    });
}

const suite: BenchSuite = async (ctx) => {
  const section = { id: 'redis', title: 'Redis: grants per second on loopback' };
  const binary = findRedisBinary();
  if (binary === undefined) {
    return { ...section, rows: [], ratios: [], notes: ['SKIPPED: no redis-server on the PATH (install the Debian package redis-server).'] };
  }
  const server = await RedisServer.start(binary);
  const redis = new Redis(server.url);
  try {
    const count = ctx.quick ? 1_000 : 10_000;
    const bucket = new RedisTokenBucket({ redis, key: 'bench:bucket', capacity: PLENTY, refillRate: PLENTY, maxInFlight: 64 });
    const scripts = new BucketScripts(redis);
    const limits = { capacity: PLENTY, tokensPerMicro: PLENTY / 1e6 };
    const flexible = new RateLimiterRedis({ storeClient: redis, keyPrefix: 'bench:rlf', points: 1e9, duration: 3600 });
    const subjects: Timed[] = [];
    for (const lanes of LANES) {
      const add = (name: string, make: (n: number) => () => Promise<void>) =>
        subjects.push({ name: `${name} ×${lanes}`, run: make(count), warmUp: make(Math.ceil(count / 10)) });
      add('INCR', (n) => inLanes(n, lanes, () => redis.incr('bench:incr')));
      add('RedisTokenBucket', (n) => bucketGrants(bucket, n, lanes));
      add('reserve script alone', (n) => inLanes(n, lanes, () => scripts.reserve('rtb:{bench:script}', limits, SERVER_CLOCK, 1, -1)));
      add('rate-limiter-flexible consume', (n) => inLanes(n, lanes, () => flexible.consume('k', 1)));
    }
    const times = await timeInterleaved(subjects, ctx.runs);
    const perSecond = new Map<string, number>();
    const rows: BenchRow[] = subjects.map((subject) => {
      const samples = times.get(subject.name)!;
      const rate = count / (median(samples) / 1000);
      perSecond.set(subject.name, rate);
      const best = count / (Math.min(...samples) / 1000);
      return { subject: subject.name, metrics: { 'ops/s (median)': significant(rate), 'ops/s (best)': significant(best), 'µs/op': significant(1e6 / rate) } };
    });
    for (const row of rows) {
      const lanes = row.subject.endsWith('×64') ? 64 : 1;
      row.metrics['× INCR'] = significant(perSecond.get(row.subject)! / perSecond.get(`INCR ×${lanes}`)!);
    }
    const ratio = (of: string, to: string, lanes: number, target?: number): BenchRatio => {
      const value = significant(perSecond.get(`${of} ×${lanes}`)! / perSecond.get(`${to} ×${lanes}`)!);
      return target === undefined
        ? { label: `${of} / ${to}, ${lanes} in flight`, value }
        : { label: `${of} / ${to}, ${lanes} in flight`, value, target: `≥ ${target}`, pass: value >= target };
    };
    const stats = bucket.stats();
    return {
      ...section,
      rows,
      ratios: [
        ratio('RedisTokenBucket', 'INCR', 1, 0.5),
        ratio('RedisTokenBucket', 'INCR', 64, 0.3),
        ratio('RedisTokenBucket', 'rate-limiter-flexible consume', 1),
        ratio('RedisTokenBucket', 'rate-limiter-flexible consume', 64),
      ],
      notes: [
        `${count} operations per run, median of ${ctx.runs} interleaved runs; one ioredis client; redis-server ${serverVersion(binary)} on 127.0.0.1, no persistence.`,
        'A grant is one EVALSHA of the reserve script (reads TIME, refills, takes or reserves, PEXPIRE); INCR is the floor for one round trip of one command.',
        '"reserve script alone" calls the same script without the bucket (no queue, timers or events): the difference to RedisTokenBucket is the bucket\'s own cost.',
        'rate-limiter-flexible RateLimiterRedis.consume is a fixed-window counter (one Lua call: SET NX + INCRBY + PTTL), not a token bucket.',
        `Bucket after the runs: ${stats.granted} grants, ${stats.storeErrors} store errors, ${stats.timeouts} timeouts.`,
      ],
    };
  } finally {
    redis.disconnect();
    await server.stop();
  }
};

function serverVersion(binary: string): string {
  return /v=([\d.]+)/.exec(execFileSync(binary, ['--version'], { encoding: 'utf8' }))?.[1] ?? '?';
}

export default suite;
