/**
 * `throttleByTokens` with a `RedisTokenBucket` against a real redis-server, in real time:
 * the strategies, FIFO order, refunds on unsubscribe, and the same bad-input errors as the
 * in-memory bucket. Exact timing is checked on the grant times the script reports (the
 * server's clock); local emission times are checked for order and "never early".
 */
import type { Redis } from 'ioredis';
import { concat, from, lastValueFrom, NEVER, type Observable, Subject, take, throwError, timer, toArray } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { RateLimitExceededError } from '../../../src/shared/errors';
import { throttleByTokens } from '../../../src/operators/throttleByTokens';
import type { RefusalReason } from '../../../src/shared/errors';
import type { RedisGrantedEvent, RedisTokenBucketEvent } from '../../../src/redis/events';
import { RedisTokenBucket } from '../../../src/redis/RedisTokenBucket';
import type { RedisTokenBucketOptions } from '../../../src/redis/options';
import { describeWithRedis } from '../../support/redisTests';
import { countingClient } from './fixtures/countingClient';

import { sleep } from '../../support/realTime';

/** Emissions with their local time (ms since `start`), and how the stream ended. */
interface Run<T> {
  values: { value: T; at: number }[];
  error?: unknown;
}
function record<T>(source: Observable<T>): Promise<Run<T>> {
  const start = performance.now();
  const run: Run<T> = { values: [] };
  return new Promise((resolve) => {
    source.subscribe({
      next: (value) => run.values.push({ value, at: performance.now() - start }),
      error: (error: unknown) => resolve({ ...run, error }),
      complete: () => resolve(run),
    });
  });
}

async function until(condition: () => boolean, what: string, within = 3000): Promise<void> {
  const deadline = performance.now() + within;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

describeWithRedis('throttleByTokens with a RedisTokenBucket', (redis) => {
  let client: Redis;
  beforeAll(() => {
    client = redis.client();
  });
  const bucket = (options: Partial<RedisTokenBucketOptions> = {}) =>
    new RedisTokenBucket({ redis: client, key: redis.uniqueKey('throttle'), capacity: 3, refillRate: 1, interval: 20, ...options });
  const grants = (subject: RedisTokenBucket) => {
    const events: RedisGrantedEvent[] = [];
    subject.events$.subscribe((event) => {
      if (event.type === 'granted') events.push(event);
    });
    return events;
  };

  describe("strategy 'delay' (capacity 3, 1 token / 20 ms)", () => {
    it('emits three at once, then one per 20 ms on the server clock, in order, never early', async () => {
      const shared = bucket();
      const granted = grants(shared);
      const run = await record(from(['a', 'b', 'c', 'd', 'e', 'f']).pipe(throttleByTokens(shared)));
      expect(run.values.map((emission) => emission.value)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
      const first = granted[0]!.storeTime!;
      const offsets = granted.map((event) => event.storeTime! - first);
      // The first three go at once (three calls, before the fourth is due); the rest exactly 20 ms apart from the first.
      offsets.slice(0, 3).forEach((offset) => expect(offset).toBeLessThan(20));
      expect(offsets.slice(3).map((offset) => offset.toFixed(3))).toEqual(['20.000', '40.000', '60.000']);
      expect(granted.every((event) => event.source === 'store')).toBe(true);
      // Locally, never early: the first call ran after the subscription began, and each value is
      // emitted its server wait after its answer arrived, so d, e, f come 20, 40, 60 ms after subscribing at the soonest.
      [20, 40, 60].forEach((due, index) => expect(run.values[index + 3]!.at).toBeGreaterThanOrEqual(due));
      expect(run.values[5]!.at).toBeLessThan(60 + 300); // generous: the machine may be busy
      expect(shared.stats()).toMatchObject({ queued: 0, inFlight: 0, reserved: 0, granted: 6, timerScheduled: false });
    });

    it('keeps one FIFO across streams and weights: a heavy head is not overtaken', async () => {
      const shared = bucket();
      const granted = grants(shared);
      const heavy = record(
        from([
          { name: 'h1', cost: 3 },
          { name: 'h2', cost: 3 },
        ]).pipe(throttleByTokens(shared, { cost: (v) => v.cost })),
      );
      const light = record(
        from([
          { name: 'l1', cost: 1 },
          { name: 'l2', cost: 1 },
        ]).pipe(throttleByTokens(shared, { cost: (v) => v.cost })),
      );
      const runs = await Promise.all([heavy, light]);
      expect(runs[0].values.map((v) => v.value.name)).toEqual(['h1', 'h2']);
      const byTime = granted.map((event) => event.cost);
      expect(byTime).toEqual([3, 3, 1, 1]); // h1, h2 (waits 60 ms), then l1, l2 behind it
      const first = granted[0]!.storeTime!;
      expect(granted.map((event) => event.storeTime! - first).map((t) => Math.round(t))).toEqual([0, 60, 80, 100]);
    });

    it('completes only after the last value is emitted, and leaves nothing behind', async () => {
      const shared = bucket({ capacity: 1 });
      const run = await record(from([1, 2, 3]).pipe(throttleByTokens(shared)));
      expect(run.values.map((v) => v.value)).toEqual([1, 2, 3]);
      expect(run.error).toBeUndefined();
      expect(shared.stats()).toMatchObject({ queued: 0, inFlight: 0, timerScheduled: false });
    });

    it('refuses a value whose wait exceeds maxWait on the answer, debiting nothing', async () => {
      const shared = bucket({ capacity: 2, interval: 100 });
      const dropped: [number, RefusalReason][] = [];
      const run = await record(
        from([1, 2, 3, 4]).pipe(
          throttleByTokens(shared, { maxWait: 150, overflow: 'drop', onDrop: (v, reason) => dropped.push([v, reason]) }),
        ),
      );
      expect(run.values.map((v) => v.value)).toEqual([1, 2, 3]); // 3 waits 100 ms, 4 would wait 200
      expect(dropped).toEqual([[4, 'max-wait']]);
      expect(shared.stats()).toMatchObject({ granted: 3, dropped: 1 });
    });

    it('passes the source error at once and withdraws what waits', async () => {
      const shared = bucket({ capacity: 1, interval: 1000 });
      const run = await record(
        concat(
          from([1, 2, 3]),
          throwError(() => new Error('boom')),
        ).pipe(throttleByTokens(shared)),
      );
      expect(run.values.map((v) => v.value)).toEqual([]);
      expect((run.error as Error).message).toBe('boom');
      await until(() => shared.stats().inFlight === 0, 'the withdrawn calls to answer');
      expect(shared.stats()).toMatchObject({ queued: 0, cancelled: 3 });
    });
  });

  describe("strategy 'drop' (capacity 2)", () => {
    it('passes what the tokens cover now and drops the rest', async () => {
      const shared = bucket({ capacity: 2, interval: 1000 });
      const dropped: number[] = [];
      const run = await record(from([1, 2, 3, 4, 5]).pipe(throttleByTokens(shared, { strategy: 'drop', onDrop: (v) => dropped.push(v) })));
      expect(run.values.map((v) => v.value)).toEqual([1, 2]);
      expect(dropped).toEqual([3, 4, 5]);
      expect(shared.stats()).toMatchObject({ granted: 2, dropped: 3, reserved: 0 });
    });
  });

  describe("strategy 'error' (capacity 1)", () => {
    it('fails with RateLimitExceededError carrying retryAfter', async () => {
      const shared = bucket({ capacity: 1, interval: 200 });
      const run = await record(from([1, 2]).pipe(throttleByTokens(shared, { strategy: 'error' })));
      expect(run.values.map((v) => v.value)).toEqual([1]);
      expect(run.error).toBeInstanceOf(RateLimitExceededError);
      const error = run.error as RateLimitExceededError;
      expect(error.reason).toBe('no-tokens');
      expect(error.retryAfter).toBeGreaterThan(150);
      expect(error.retryAfter).toBeLessThanOrEqual(200);
      expect(shared.stats().rejected).toBe(1);
    });
  });

  describe('unsubscribing', () => {
    it('returns what was reserved and abandoned, latest first, so the shared count is as if it never was', async () => {
      const key = redis.uniqueKey('refund');
      const shared = bucket({ key, capacity: 2, refillRate: 2, interval: 1000 });
      const events: RedisTokenBucketEvent[] = [];
      shared.events$.subscribe((event) => events.push(event));
      await lastValueFrom(shared.take(2)); // empty now
      const subscription = from([1, 2, 3]).pipe(throttleByTokens(shared)).subscribe();
      await until(() => shared.stats().reserved === 3, 'three reservations');
      subscription.unsubscribe();
      await until(() => events.some((event) => event.type === 'refunded'), 'the refund');
      expect(events.filter((event) => event.type === 'refunded')).toMatchObject([{ returned: 3, forfeited: 0 }]);
      // Another process would now wait only for the two tokens taken first (at most ~1 s), not 2.5 s.
      const other = new RedisTokenBucket({ redis: client, key, capacity: 2, refillRate: 2, interval: 1000 });
      const granted = grants(other);
      await lastValueFrom(other.take(1));
      const firstGrant = events.find((event): event is RedisGrantedEvent => event.type === 'granted')!;
      expect(granted[0]!.storeTime! - firstGrant.storeTime!).toBeLessThanOrEqual(500 + 1);
      expect(shared.stats()).toMatchObject({ queued: 0, reserved: 0, inFlight: 0, refundedCost: 3, timerScheduled: false });
    });

    it('returns reservations whose answer arrives after the unsubscribe', async () => {
      const slow = countingClient(client, 30); // every reply held back 30 ms, so the test acts while calls are out
      const shared = new RedisTokenBucket({ redis: slow.client, key: redis.uniqueKey('late'), capacity: 1, refillRate: 1, interval: 1000 });
      await lastValueFrom(shared.take(1));
      const subscription = from([1, 2, 3, 4]).pipe(throttleByTokens(shared)).subscribe();
      expect(shared.stats().inFlight).toBe(1); // the first is asked at once, alone
      await until(() => shared.stats().inFlight === 3, 'the other three asked together, once the first answered');
      expect(shared.stats().reserved).toBe(1);
      subscription.unsubscribe(); // before the second call answers
      expect(shared.stats().inFlight).toBe(3); // their slots stay held until the answer
      await until(() => shared.stats().refundedCost === 4, 'the refund of four reservations');
      expect(shared.stats()).toMatchObject({ queued: 0, inFlight: 0, forfeitedCost: 0, cancelled: 4 });
    });

    it('takes nothing for a never-ending source unsubscribed while idle', async () => {
      const shared = bucket();
      const subscription = NEVER.pipe(throttleByTokens(shared)).subscribe();
      subscription.unsubscribe();
      expect(shared.stats()).toMatchObject({ queued: 0, inFlight: 0, granted: 0, timerScheduled: false });
    });
  });

  describe('the bucket alone', () => {
    it('take() emits once and completes; timeUntil and available estimate from the last answer', async () => {
      const shared = bucket({ capacity: 4, refillRate: 1, interval: 100 });
      expect(await lastValueFrom(shared.take(4).pipe(toArray()))).toEqual([undefined]);
      expect(shared.available()).toBeLessThan(1);
      expect(shared.timeUntil(2)).toBeGreaterThan(100);
      expect(shared.timeUntil(2)).toBeLessThanOrEqual(200);
    });

    it('keeps order and limits with maxInFlight 1 and the client clock', async () => {
      const shared = bucket({ maxInFlight: 1, clock: 'client' });
      const granted = grants(shared);
      const run = await record(from([1, 2, 3, 4, 5]).pipe(throttleByTokens(shared)));
      expect(run.values.map((v) => v.value)).toEqual([1, 2, 3, 4, 5]);
      const first = granted[0]!.storeTime!;
      const offsets = granted.map((event) => event.storeTime! - first);
      expect(offsets[3]).toBeGreaterThanOrEqual(20 - 0.01);
      expect(offsets[4]! - offsets[3]!).toBeGreaterThanOrEqual(20 - 0.01);
    });

    it('takes a new limit from configure, failing waiting values that no longer fit', async () => {
      const shared = bucket({ capacity: 4, maxInFlight: 1, interval: 1000 });
      const gate = new Subject<number>();
      const run = record(gate.pipe(throttleByTokens(shared, { cost: (v) => v })));
      gate.next(4); // granted
      gate.next(1); // reserved (waits ~1 s)
      gate.next(3); // not yet asked (maxInFlight 1)
      await until(() => shared.stats().reserved === 1, 'the reservation');
      shared.configure({ capacity: 2 });
      const result = await run;
      expect(result.values.map((v) => v.value)).toEqual([4]);
      expect((result.error as Error).message).toBe('cost 3 exceeds capacity 2');
      expect(shared.capacity).toBe(2);
    });
  });

  describe('bad input (as the in-memory bucket)', () => {
    it('errors the stream for a cost above capacity or not a finite number >= 0', async () => {
      const shared = bucket();
      const tooBig = await record(from([5]).pipe(throttleByTokens(shared, { cost: () => 5 })));
      expect((tooBig.error as Error).message).toMatch(/costs? 5\b.*capacity 3/);
      const notANumber = await record(from([1]).pipe(throttleByTokens(shared, { cost: () => Number.NaN })));
      expect(notANumber.error).toBeInstanceOf(RangeError);
      expect(() => shared.timeUntil(-1)).toThrow('cost must be a finite number >= 0, got -1');
      const taken = await record(shared.take(4));
      expect((taken.error as Error).message).toBe('cost 4 exceeds capacity 3');
    });

    it('names the bad option', () => {
      const base = { redis: client, key: 'k', capacity: 1, refillRate: 1 };
      const build = (options: Record<string, unknown>) => () => new RedisTokenBucket({ ...base, ...options } as RedisTokenBucketOptions);
      expect(build({ capacity: -1 })).toThrow('RedisTokenBucket option "capacity" must be a finite number > 0, got -1');
      expect(build({ refillRate: Number.NaN })).toThrow('RedisTokenBucket option "refillRate" must be a finite number > 0, got NaN');
      expect(build({ interval: 0 })).toThrow('option "interval"');
      expect(build({ redis: {} })).toThrow('RedisTokenBucket option "redis" must be an ioredis client (Redis or Cluster), got an object');
      expect(build({ key: '' })).toThrow('RedisTokenBucket option "key" must be a non-empty string, got ""');
      expect(build({ rate: 1 })).toThrow('RedisTokenBucket has no option "rate"');
      expect(build({ onStoreError: 'retry' })).toThrow(
        'option "onStoreError" must be one of "fail-closed", "fail-open", "local", got "retry"',
      );
      expect(build({ clock: 'local' })).toThrow('option "clock" must be one of "server", "client"');
      expect(build({ localShare: 0.5 })).toThrow('option "localShare" applies to onStoreError "local", not "fail-closed"');
      expect(build({ onStoreError: 'local', localShare: 1.5 })).toThrow('option "localShare" must be in (0, 1], got 1.5');
      expect(build({ timeout: Infinity })).toThrow('option "timeout" must be a finite number > 0, got Infinity');
      expect(build({ maxInFlight: 1.5 })).toThrow('option "maxInFlight" must be an integer >= 1, got 1.5');
      expect(build({ scheduler: {} })).toThrow('option "scheduler" must be a SchedulerLike');
      const fine = new RedisTokenBucket(base);
      expect(() => fine.configure({ refillRate: -2 })).toThrow(
        'RedisTokenBucket.configure option "refillRate" must be a finite number > 0, got -2',
      );
      expect(() => fine.configure({ burst: 2 } as never)).toThrow('RedisTokenBucket.configure has no option "burst"');
    });
  });

  describe('a timer source', () => {
    it('sends values as they come and grants them in order', async () => {
      const shared = bucket({ capacity: 1, interval: 10 });
      const run = await record(timer(0, 5).pipe(take(5), throttleByTokens(shared)));
      expect(run.values.map((v) => v.value)).toEqual([0, 1, 2, 3, 4]);
    });
  });
});
