/**
 * The lease (issue 12's throughput targets): a reserve call that finds the bucket still holding
 * tokens also takes a bounded share of them for its process, which grants later values from
 * them at once, without a call — only the head of its queue, only while the lease is young —
 * and gives back what is left after `lease.time`. Against a real redis-server: calls per grant,
 * the shared limit over every sliding window with several processes, the idle lease going
 * back, FIFO, configure / returnLease / FLUSHALL, Redis failing under 'local', and `lease: false`.
 */
import type { Redis } from 'ioredis';
import { concat, from, lastValueFrom, mergeMap, timer, toArray } from 'rxjs';
import { beforeAll, expect, it } from 'vitest';
import { throttleByTokens } from '../../../src/operators/throttleByTokens';
import type { RedisGrantedEvent } from '../../../src/redis/events';
import { RedisTokenBucket } from '../../../src/redis/RedisTokenBucket';
import { onceEachInOrder, runWorkers } from '../../support/faultHarness';
import { describeWithRedis } from '../../support/redisTests';
import { worstWindow } from '../../support/slidingWindow';
import { countingClient } from './fixtures/countingClient';
import { grantsOf, until } from './fixtures/waiting';

/** So slow a refill that a test's counts are whole tokens (0.01 per s: 0.001 over 100 ms). */
const SLOW = { capacity: 20, refillRate: 0.01 } as const;

/** `client`, except that while `outage.on` every script call fails at once. */
function withOutage(client: Redis): { client: Redis; outage: { on: boolean } } {
  const outage = { on: false };
  const wrapped = new Proxy(client, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if ((property === 'eval' || property === 'evalsha') && typeof value === 'function') {
        return (...args: unknown[]) =>
          outage.on ? Promise.reject(new Error('injected outage')) : (value as (...a: unknown[]) => unknown).apply(target, args);
      }
      return value;
    },
  });
  return { client: wrapped, outage };
}

describeWithRedis('Redis bucket: the lease', (redis) => {
  let client: Redis;
  beforeAll(() => {
    client = redis.client();
  });

  /** The shared count in Redis now (the hash's `tokens`; the refill since is negligible at `SLOW`). */
  const storedTokens = async (key: string): Promise<number> => Number(await client.hget(`rtb:{${key}}`, 'tokens'));

  it('a lone process at 1 in flight makes far fewer calls than grants; lease: false asks once per value', async () => {
    const oneAtATime = async (lease: { lease?: false }) => {
      const counted = countingClient(client);
      const bucket = new RedisTokenBucket({
        redis: counted.client,
        key: redis.uniqueKey('lone'),
        capacity: 1e6,
        refillRate: 1e6,
        ...lease,
      });
      for (let i = 0; i < 300; i++) await bucket.acquire(1);
      return { calls: counted.counts.calls, stats: bucket.stats() };
    };
    const leased = await oneAtATime({});
    expect(leased.stats.granted).toBe(300);
    expect(leased.stats.leaseGrants).toBeGreaterThan(280); // 64 a lease: a call for every 65 values
    expect(leased.calls).toBeLessThan(15);
    const plain = await oneAtATime({ lease: false });
    expect(plain.stats).toMatchObject({ granted: 300, leaseGrants: 0, leasedTokens: 0 });
    expect(plain.calls).toBe(300); // today's behaviour: one reserve call for each value
  });

  it('three processes on one key that binds stay within capacity + rate × (window + leaseTime + latency)', async () => {
    const key = redis.uniqueKey('shared');
    const limits = { capacity: 20, refillRate: 250 } as const;
    const buckets = Array.from({ length: 3 }, () => new RedisTokenBucket({ redis: redis.client(), key, ...limits }));
    // 3 × 100/s offered against 250/s: the bucket is sometimes full (leases), sometimes short (values wait).
    const run = await runWorkers({ buckets, count: 60, every: 10, fault: () => Promise.resolve() });
    expect(onceEachInOrder(run, 60)).toBe('');
    const stats = buckets.map((bucket) => bucket.stats());
    expect(stats.reduce((sum, each) => sum + each.leaseGrants, 0)).toBeGreaterThan(0);
    const rate = limits.refillRate / 1000;
    for (const window of [50, 100, 250]) {
      // This process's clock: a leased token is granted at most leaseTime (20 ms) after its answer, plus the reply's trip.
      const local = worstWindow(run.grants, { capacity: limits.capacity, rate, window, tolerance: 20 + 30 });
      expect(local.cost, `${window} ms window from ${local.from.toFixed(0)}`).toBeLessThanOrEqual(local.bound);
      // The server's clock: every grant, leased or not, at the instant Redis took its tokens.
      const onServer = run.events.flatMap(({ event }) =>
        event.type === 'granted' ? [{ time: (event as RedisGrantedEvent).storeTime!, cost: event.cost }] : [],
      );
      const exact = worstWindow(onServer, { capacity: limits.capacity, rate, window, tolerance: 0.01 });
      expect(exact.cost).toBeLessThanOrEqual(exact.bound);
    }
  });

  it('gives an idle lease back after lease.time, never later granted; another process then gets the tokens', async () => {
    const key = redis.uniqueKey('idle');
    const holder = new RedisTokenBucket({ redis: client, key, ...SLOW, lease: { time: 200 } });
    const other = new RedisTokenBucket({ redis: client, key, ...SLOW, lease: false });
    await holder.acquire(1); // alone and idle before: no lease
    expect(holder.stats().leasedTokens).toBe(0);
    await holder.acquire(1); // busy now: a quarter of the 18 left, whole tokens
    const leasedAt = performance.now();
    expect(holder.stats().leasedTokens).toBe(4);
    expect(await storedTokens(key)).toBeCloseTo(14, 2);
    await expect(other.acquire(15, { maxWait: 0 })).rejects.toMatchObject({ reason: 'max-wait' });
    await until(() => holder.stats().leaseReturned === 4, 'the idle lease to go back', 1000);
    const heldFor = performance.now() - leasedAt;
    expect(heldFor).toBeGreaterThanOrEqual(195);
    expect(heldFor).toBeLessThan(200 + 150);
    expect(holder.stats()).toMatchObject({ leasedTokens: 0, leaseGrants: 0 });
    expect(await other.acquire(15, { maxWait: 0 })).toBeGreaterThanOrEqual(0); // 18 there again
    await holder.acquire(1); // from Redis: the lease is gone
    expect(holder.stats()).toMatchObject({ granted: 3, leaseGrants: 0 });
    expect(await storedTokens(key)).toBeCloseTo(2, 2);
  });

  it('grants lease and Redis values in one FIFO: a heavy head asked of Redis is never overtaken from the lease', async () => {
    const key = redis.uniqueKey('fifo');
    const limits = { capacity: 100, refillRate: 200 } as const;
    const bucket = new RedisTokenBucket({ redis: client, key, ...limits, lease: { time: 200 } });
    const grants = grantsOf(bucket);
    // 20 values of 1 (their second call leases 20 of the 80 left), then, while the lease is held, two
    // it covers, a 25 it cannot (asked of Redis alone), values of 1 arriving while that call is out
    // (the lease must not grant them before the 25), a 40 that must wait, and two more.
    const costs = [...Array.from({ length: 20 }, () => 1), 1, 1, 25, 1, 1, 1, 40, 1, 1];
    const values = costs.map((cost, index) => ({ cost, index }));
    const source = concat(from(values.slice(0, 20)), timer(30).pipe(mergeMap(() => from(values.slice(20)))));
    const emitted = await lastValueFrom(source.pipe(throttleByTokens(bucket, { cost: (value) => value.cost }), toArray()));
    expect(emitted.map((value) => value.index)).toEqual(costs.map((_, index) => index));
    const stats = bucket.stats();
    expect(stats.leaseGrants).toBeGreaterThanOrEqual(2);
    expect(stats.leaseGrants).toBeLessThan(costs.length - 20);
    expect(grants.some((grant) => grant.waited > 50)).toBe(true); // the 40 waited for its reservation
    // On the server's clock: never more than the burst plus the refill between any two grants.
    const times = grants.map((grant) => grant.storeTime!);
    for (let i = 0; i < times.length; i++) {
      let spent = 0;
      for (let j = i; j < times.length; j++) {
        spent += costs[j]!;
        expect(spent).toBeLessThanOrEqual(limits.capacity + (limits.refillRate * (times[j]! - times[i]! + 0.01)) / 1000);
      }
    }
  });

  it('configure and returnLease give the lease back at once', async () => {
    const key = redis.uniqueKey('configure');
    const bucket = new RedisTokenBucket({ redis: client, key, ...SLOW, lease: { time: 900 } });
    await bucket.acquire(1);
    await bucket.acquire(1); // busy: 18 left, leases 4
    expect(bucket.stats().leasedTokens).toBe(4);
    bucket.configure({ refillRate: 0.02 });
    expect(bucket.stats().leasedTokens).toBe(0);
    await until(() => bucket.stats().leaseReturned === 4, 'the lease to go back on configure', 500);
    expect(await storedTokens(key)).toBeCloseTo(18, 2);
    await bucket.acquire(1); // 17 left: leases 4
    expect(bucket.stats().leasedTokens).toBe(4);
    bucket.returnLease();
    await until(() => bucket.stats().leaseReturned === 8, 'the lease to go back on returnLease', 500);
    expect(await storedTokens(key)).toBeCloseTo(17, 2);
    expect(bucket.stats()).toMatchObject({ granted: 3, leaseGrants: 0, leasedTokens: 0 });
  });

  it("adapt's pause gives the lease back: nothing leased before the pause is granted through it", async () => {
    const key = redis.uniqueKey('paused');
    const bucket = new RedisTokenBucket({ redis: client, key, ...SLOW, lease: { time: 900 } });
    await bucket.acquire(1);
    await bucket.acquire(1); // busy: 18 left, leases 4
    expect(bucket.stats().leasedTokens).toBe(4);
    bucket.adapt({ retryAfter: 300 }); // a pause empties the bucket, as TokenBucket's does
    expect(bucket.stats().leasedTokens).toBe(0);
    const withdraw = new AbortController();
    // With the lease kept this would be granted at once, through the pause.
    const outcome = bucket.acquire(1, { signal: withdraw.signal }).then(
      () => 'granted',
      () => 'withdrawn',
    );
    await new Promise((resolve) => setTimeout(resolve, 150));
    withdraw.abort();
    expect(await outcome).toBe('withdrawn');
    await until(() => bucket.stats().leaseReturned === 4, 'the lease to go back on the pause', 500);
    expect(bucket.stats()).toMatchObject({ granted: 2, leaseGrants: 0, leasedTokens: 0 });
  });

  it('after a FLUSHALL the lease goes back into the new state, which carried the count: nothing counted twice', async () => {
    const key = redis.uniqueKey('flushed');
    const bucket = new RedisTokenBucket({ redis: client, key, ...SLOW, lease: { time: 900 } });
    await bucket.acquire(1);
    await bucket.acquire(1); // 18 left, 4 leased: 14
    await client.flushall();
    await bucket.acquire(5); // more than the lease: asked of Redis, which carries 14, takes 5 and leases 2 (7 left)
    await until(() => bucket.stats().leaseReturned === 4, 'the old lease to go back', 500);
    expect(bucket.stats()).toMatchObject({ granted: 3, leaseGrants: 0, leasedTokens: 2 });
    // 20 − 7 granted − 2 leased: a fresh full bucket plus the old lease would be 17.
    expect(await storedTokens(key)).toBeCloseTo(11, 2);
  });

  it("Redis failing under 'local': the lease is dropped and the local share continues the count that spent it", async () => {
    const key = redis.uniqueKey('local');
    const { client: failing, outage } = withOutage(client);
    const bucket = new RedisTokenBucket({
      redis: failing,
      key,
      ...SLOW,
      onStoreError: 'local',
      probeInterval: 60_000, // no probe during the test: the outage stays
      lease: { time: 900 },
    });
    await bucket.acquire(1);
    await bucket.acquire(1); // 14 in Redis, 4 leased
    outage.on = true;
    await bucket.acquire(5); // more than the lease: the call fails, the local share (from 14) grants it
    expect(bucket.stats()).toMatchObject({ degraded: true, leasedTokens: 0, leaseDropped: 4, leaseGrants: 0 });
    let more = 0;
    for (let i = 0; i < 20; i++)
      await bucket.acquire(1, { maxWait: 0 }).then(
        () => more++,
        () => undefined,
      );
    expect(more).toBe(9); // 14 − 5: the 4 leased are neither granted nor counted again
  });

  it('refuses bad lease options at construction, naming the option, the value and what to write', () => {
    const build = (lease: unknown, timeout?: number) => () =>
      new RedisTokenBucket({
        redis: client,
        key: 'options',
        ...SLOW,
        lease: lease as false,
        ...(timeout === undefined ? {} : { timeout }),
      });
    expect(build({ time: 2000 })).toThrow(
      /^RedisTokenBucket option "lease.time" must be at most "timeout" \(1000 ms\), got 2000; write e\.g\. lease: \{ time: 20 \}/,
    );
    expect(build({ maxTokens: 1.5 })).toThrow(/^RedisTokenBucket option "lease.maxTokens" must be an integer in \[0, 1e15\], got 1.5/);
    expect(build({ maxTokens: -1 })).toThrow(/"lease.maxTokens" must be a finite number >= 0, got -1/);
    expect(build({ time: Number.NaN })).toThrow(/"lease.time" must be a finite number > 0, got NaN/);
    expect(build({ maxToken: 3 })).toThrow(/^RedisTokenBucket option "lease" has no option "maxToken"/);
    expect(build(true)).toThrow(/^RedisTokenBucket option "lease" must be false or \{ maxTokens, time \}, got true; write/);
    // The default time is at most the timeout; lease: false and maxTokens 0 are off.
    expect(build(undefined, 5)).not.toThrow();
    expect(build(false)).not.toThrow();
    expect(build({ maxTokens: 0 })).not.toThrow();
  });
});
