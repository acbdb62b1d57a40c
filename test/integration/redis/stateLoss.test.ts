/**
 * Fault 5 of issue 12: the state is lost mid-run (FLUSHALL here; a restart without
 * persistence or a failover to a replica that missed writes is the same to the script).
 * Reservations made before the loss are still honoured by their processes, so a fresh,
 * full bucket beside them would double the rate (96–99 grants in the best second against a
 * bound of 40.8 before the fix). Each call carries the generation of the state its process
 * last heard of and its estimate of the count: a call that finds another generation carries
 * that estimate into the new state, so the limit holds through the loss, in every window.
 */
import { beforeAll, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { RedisTokenBucket } from '../../../src/redis/RedisTokenBucket';
import { sleep } from '../../support/realTime';
import { describeWithRedis } from '../../support/redisTests';
import { worstWindow } from '../../support/slidingWindow';
import { grantsOf } from './fixtures/waiting';

const CAPACITY = 10;
const RATE = 30; // per second
/** Three processes (each its own client and bucket), 16 values waiting in each at all times. */
const PROCESSES = 3;
const LANES = 16;
/** Slack for the reply's trip between a process's grant and the server's clock, per window. */
const TOLERANCE_MS = 50;

describeWithRedis('Redis bucket: the state lost mid-run', (redis) => {
  let admin: Redis;
  beforeAll(() => {
    admin = redis.client();
  });

  it('holds the shared limit in every sliding window through a FLUSHALL', async () => {
    const key = redis.uniqueKey('flushed');
    const buckets = Array.from(
      { length: PROCESSES },
      () => new RedisTokenBucket({ redis: redis.client(), key, capacity: CAPACITY, refillRate: RATE }),
    );
    const grants = buckets.map(grantsOf);
    const stop = new AbortController();
    const lanes = buckets.flatMap((bucket) =>
      Array.from({ length: LANES }, async () => {
        while (!stop.signal.aborted) await bucket.acquire(1, { signal: stop.signal }).catch(() => undefined);
      }),
    );
    await sleep(1000); // reservations now run ~1.5 s ahead
    await admin.flushall();
    await sleep(1500);
    stop.abort(); // what still waits is withdrawn
    await Promise.all(lanes);
    // The server's clock at each grant: when its reservation fell due there, whatever the local timers' lateness.
    const times = grants.flat().map((event) => event.storeTime!);
    expect(times.every(Number.isFinite)).toBe(true);
    const worst = worstWindow(
      times.map((time) => ({ time, cost: 1 })),
      { capacity: CAPACITY, rate: RATE / 1000, window: 1000, tolerance: TOLERANCE_MS },
    );
    expect(worst.cost).toBeLessThanOrEqual(worst.bound);
    // It is a limit, not a stall: the run kept granting at about the rate.
    expect(times.length).toBeGreaterThan(RATE * 2);
    for (const bucket of buckets) expect(bucket.stats()).toMatchObject({ storeErrors: 0, timeouts: 0 });
  });
});
