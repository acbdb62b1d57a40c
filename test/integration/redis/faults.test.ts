/**
 * Redis going away mid-run: the test's own redis-server is killed (SIGKILL, as in a crash)
 * while values flow, and started again on the same port; or it is paused (slower than the
 * timeout). Each `onStoreError` must behave as documented, and no value may be emitted
 * twice or lost silently.
 */
import type { Redis } from 'ioredis';
import { interval, map, take, type Observable } from 'rxjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { throttleByTokens } from '../../../src/operators/throttleByTokens';
import { RedisStoreError } from '../../../src/redis/errors';
import type { StoreErrorPolicy } from '../../../src/redis/options';
import type { RedisTokenBucketEvent } from '../../../src/redis/events';
import { RedisTokenBucket } from '../../../src/redis/RedisTokenBucket';
import { describeWithRedis } from '../../support/redisTests';

import { sleep } from '../../support/realTime';

interface Outcome {
  values: number[];
  error?: unknown;
}
function collect(source: Observable<number>): Promise<Outcome> {
  const outcome: Outcome = { values: [] };
  return new Promise((resolve) => {
    source.subscribe({
      next: (value) => outcome.values.push(value),
      error: (error: unknown) => resolve({ ...outcome, error }),
      complete: () => resolve(outcome),
    });
  });
}

const COUNT = 50;
/** 50 values, one per 10 ms. */
const arrivals = () =>
  interval(10).pipe(
    take(COUNT),
    map((index) => index),
  );
const inOrder = (length: number) => Array.from({ length }, (_, index) => index);

describeWithRedis(
  'Redis stopped, restarted or slow mid-run',
  (redis) => {
    let client: Redis;
    beforeAll(() => {
      client = redis.client({ retryStrategy: () => 20 });
    });
    afterEach(async () => {
      if (!redis.server!.isRunning) await redis.server!.restart();
    });

    const bucket = (onStoreError: StoreErrorPolicy, extra: { localShare?: number } = {}) => {
      const created = new RedisTokenBucket({
        redis: client,
        key: redis.uniqueKey(onStoreError),
        capacity: 5,
        refillRate: 100, // 1 token / 10 ms: keeps up with the arrivals while Redis is up
        timeout: 100,
        probeInterval: 50,
        onStoreError,
        ...extra,
      });
      const events: RedisTokenBucketEvent[] = [];
      created.events$.subscribe((event) => events.push(event));
      return { bucket: created, events };
    };

    /** Kills Redis after `downAt` ms and starts it again `downFor` ms later, while `run` goes on. */
    async function outage<T>(run: Promise<T>, downAt = 120, downFor = 250): Promise<T> {
      await sleep(downAt);
      await redis.server!.kill();
      await sleep(downFor);
      await redis.server!.restart();
      return run;
    }

    const sources = (events: RedisTokenBucketEvent[]) => events.flatMap((event) => (event.type === 'granted' ? [event.source] : []));

    describe("onStoreError: 'fail-closed'", () => {
      it('errors the stream with a RedisStoreError, having emitted each value before it once; works again after the restart', async () => {
        const { bucket: shared, events } = bucket('fail-closed');
        const outcome = await outage(collect(arrivals().pipe(throttleByTokens(shared))));
        expect(outcome.error).toBeInstanceOf(RedisStoreError);
        expect((outcome.error as Error).message).toMatch(/did not answer within 100 ms|failed/);
        expect(outcome.values).toEqual(inOrder(outcome.values.length));
        expect(outcome.values.length).toBeGreaterThan(3);
        expect(sources(events).every((source) => source === 'store')).toBe(true);
        expect(events.some((event) => event.type === 'store-error')).toBe(true);
        await sleep(60); // past the probe interval
        const after = await collect(arrivals().pipe(take(5), throttleByTokens(shared)));
        expect(after).toEqual({ values: inOrder(5) });
        expect(shared.stats()).toMatchObject({ degraded: false, queued: 0, inFlight: 0 });
      });
    });

    describe("onStoreError: 'fail-open'", () => {
      it('grants locally while Redis is down, counts it, and goes back to Redis; each value once, in order', async () => {
        const { bucket: shared, events } = bucket('fail-open');
        const outcome = await outage(collect(arrivals().pipe(throttleByTokens(shared))));
        expect(outcome).toEqual({ values: inOrder(COUNT) });
        const granted = sources(events);
        const stats = shared.stats();
        expect(stats.failOpenGrants).toBeGreaterThan(0);
        expect(stats.failOpenGrants).toBe(granted.filter((source) => source === 'fail-open').length);
        expect(granted.at(-1)).toBe('store'); // recovered before the end
        expect(events.some((event) => event.type === 'store-recovered')).toBe(true);
        expect(stats).toMatchObject({ granted: COUNT, degraded: false, queued: 0 });
      });
    });

    describe("onStoreError: 'local' (localShare 0.5)", () => {
      it('falls back to an in-memory bucket of half the limit until Redis answers again; each value once, in order', async () => {
        const { bucket: shared, events } = bucket('local', { localShare: 0.5 });
        const outcome = await outage(collect(arrivals().pipe(throttleByTokens(shared))));
        expect(outcome).toEqual({ values: inOrder(COUNT) });
        const granted = sources(events);
        expect(shared.stats().localGrants).toBeGreaterThan(0);
        expect(granted.at(-1)).toBe('store');
        // The local share is 2.5 tokens and 50 per s: its grants never outrun that.
        const localTimes = events.flatMap((event) => (event.type === 'granted' && event.source === 'local' ? [event.time] : []));
        for (let i = 0; i < localTimes.length; i++) {
          for (let j = i; j < localTimes.length; j++) {
            expect(j - i + 1).toBeLessThanOrEqual(2.5 + 0.05 * (localTimes[j]! - localTimes[i]!) + 1e-9);
          }
        }
      });

      it('fails a value heavier than the local share, naming why', async () => {
        const { bucket: shared } = bucket('local', { localShare: 0.5 });
        await redis.server!.kill();
        const outcome = await collect(arrivals().pipe(take(1), throttleByTokens(shared, { cost: 4 })));
        expect(outcome.error).toBeInstanceOf(RedisStoreError);
        expect((outcome.error as Error).message).toContain("cost 4 exceeds the local share's capacity 2.5");
      });
    });

    describe('a slow Redis (CLIENT PAUSE longer than the timeout)', () => {
      it('times the calls out, applies onStoreError, and gives back what the late answers reserved', async () => {
        const { bucket: shared } = bucket('fail-open');
        shared.configure({ capacity: 1, refillRate: 2 });
        await collect(shared.take(1).pipe(map(() => 0))); // empty: what comes next is reserved ahead
        const admin = redis.client();
        await admin.client('PAUSE', 300, 'ALL');
        const outcome = await collect(arrivals().pipe(take(3), throttleByTokens(shared)));
        // The first value's call times out (100 ms); the next two go unlimited at once, since the
        // probe is a call of its own that no value waits behind.
        expect(outcome).toEqual({ values: inOrder(3) });
        expect(shared.stats()).toMatchObject({ timeouts: 1, failOpenGrants: 3 });
        // When the pause ends the timed-out call runs, reserving 1 token ahead; it goes back (the probe reserves nothing).
        const deadline = performance.now() + 2000;
        while (shared.stats().refundedCost < 1 && performance.now() < deadline) await sleep(5);
        expect(shared.stats()).toMatchObject({ refundedCost: 1, forfeitedCost: 0, inFlight: 0, queued: 0 });
      });
    });
  },
  { ownServer: true },
);
