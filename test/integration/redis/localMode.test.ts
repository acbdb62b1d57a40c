/**
 * Fault 3: `onStoreError: 'local'` through a real outage. Three workers share one key
 * (capacity 10, 50/s, `localShare` 1/3) and are offered twice what the limit allows,
 * so values queue; Redis is frozen (SIGSTOP) for 1 s and let go again. Over every
 * sliding window of the whole run — what Redis granted just before, the local shares during
 * the outage, and Redis again after it — every worker together stays within
 * capacity + rate × (window + tolerance); each value is emitted once, in order.
 */
import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { RedisTokenBucket } from '../../../src/redis/RedisTokenBucket';
import { onceEachInOrder, runWorkers, type FaultRun } from '../../support/faultHarness';
import { freezeRedis, redisServerPid } from '../../support/redisServer';
import { TcpProxy } from '../../support/tcpProxy';
import { describeWithRedis } from '../../support/redisTests';
import { sleep } from '../../support/realTime';
import { worstWindow } from '../../support/slidingWindow';

const CAPACITY = 10;
const RATE = 50; // per s
const WORKERS = 3;
const COUNT = 50;
const EVERY = 30; // 33/s per worker: 100/s offered against 50/s
/** Latency allowed: a call's timeout (a reservation is granted when its answer arrives). */
const TOLERANCE = 100;

describeWithRedis(
  "onStoreError: 'local' through an outage (fault 3)",
  (redis) => {
    const workers = (key: string, connect = (): Redis => redis.client({ retryStrategy: () => 20 })): RedisTokenBucket[] =>
      Array.from({ length: WORKERS }, () => {
        const client = connect();
        return new RedisTokenBucket({
          redis: client,
          key,
          capacity: CAPACITY,
          refillRate: RATE,
          onStoreError: 'local',
          localShare: 1 / WORKERS,
          timeout: 100,
          probeInterval: 50,
          maxInFlight: 8,
        });
      });

    afterEach(async () => {
      if (!redis.server!.isRunning) await redis.server!.restart();
    });

    const check = (run: FaultRun, window: number) => {
      const worst = worstWindow(run.grants, { capacity: CAPACITY, rate: RATE / 1000, window, tolerance: TOLERANCE });
      expect(worst.cost, `worst ${window} ms window from ${worst.from.toFixed(0)}`).toBeLessThanOrEqual(worst.bound);
    };

    it('SIGSTOP for 1 s: no burst during the outage nor after it; each value once, in order', async () => {
      const buckets = workers(redis.uniqueKey('local-stop'));
      const pid = await redisServerPid(redis.client());
      const run = await runWorkers({
        buckets,
        count: COUNT,
        every: EVERY,
        fault: async () => {
          await sleep(500);
          await freezeRedis(pid, 1000);
        },
      });
      expect(onceEachInOrder(run, COUNT)).toBe('');
      const sources = new Set(run.grants.map((grant) => grant.source));
      expect([...sources].sort()).toEqual(['local', 'store']);
      for (const window of [1000, 500, 250]) check(run, window);
      // Back on Redis at the end: no value granted locally once every worker recovered.
      expect(buckets.map((bucket) => bucket.stats().degraded)).toEqual([false, false, false]);
      expect(run.grants.at(-1)!.source).toBe('store');
    });

    it('kill -9 and restart 600 ms later (the state is lost): the bound holds; each value once, in order', async () => {
      const buckets = workers(redis.uniqueKey('local-kill'));
      const run = await runWorkers({
        buckets,
        count: COUNT,
        every: EVERY,
        fault: async () => {
          await sleep(500);
          await redis.server!.kill();
          await sleep(600);
          await redis.server!.restart();
        },
      });
      expect(onceEachInOrder(run, COUNT)).toBe('');
      expect(run.grants.some((grant) => grant.source === 'local')).toBe(true);
      for (const window of [1000, 500, 250]) check(run, window);
      expect(run.grants.at(-1)!.source).toBe('store');
    });

    it('through a TCP proxy: latency above the timeout, then dropped, then blackholed, then healthy: the bound holds; each value once', async () => {
      const proxy = await TcpProxy.start(redis.server!.port);
      const clients: Redis[] = [];
      try {
        const buckets = workers(redis.uniqueKey('local-proxy'), () => {
          const client = new Redis(proxy.port, '127.0.0.1', { retryStrategy: () => 20 });
          client.on('error', () => {});
          clients.push(client);
          return client;
        });
        const run = await runWorkers({
          buckets,
          count: COUNT,
          every: EVERY,
          fault: async () => {
            await sleep(300);
            proxy.setLatency(150); // slower than the 100 ms timeout
            await sleep(300);
            proxy.setLatency(0);
            proxy.drop();
            await sleep(300);
            proxy.pass();
            proxy.blackhole();
            await sleep(300);
            proxy.pass();
          },
        });
        expect(onceEachInOrder(run, COUNT)).toBe('');
        expect(run.grants.some((grant) => grant.source === 'local')).toBe(true);
        for (const window of [1000, 500, 250]) check(run, window);
        expect(run.grants.at(-1)!.source).toBe('store');
      } finally {
        for (const client of clients) client.disconnect();
        await proxy.stop();
      }
    });
  },
  { ownServer: true },
);
