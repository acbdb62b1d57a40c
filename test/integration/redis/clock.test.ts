/**
 * Fault 6 of issue 12: clock steps and skew. With the default server clock, a step of this
 * process's wall clock (Date.now ±1 h, as NTP or a VM resume makes) changes nothing. With
 * `clock: 'client'`, a client whose clock is far ahead is not allowed to push the stored
 * time forward (so the others do not wait out its skew), and one far behind joins the
 * stored clock instead of waiting the difference on every value.
 */
import type { Redis } from 'ioredis';
import { lastValueFrom, range } from 'rxjs';
import { afterEach, beforeAll, expect, it, vi } from 'vitest';
import { throttleByTokens } from '../../../src/operators/throttleByTokens';
import { RedisTokenBucket } from '../../../src/redis/RedisTokenBucket';
import { toArray } from 'rxjs';
import { describeWithRedis } from '../../support/redisTests';
import { grantsOf } from './fixtures/waiting';

const HOUR = 3_600_000;
const realNow = Date.now.bind(Date);

/**
 * Runs `work` while this process's wall clock reads `skewMs` off, as another machine's would:
 * a client-clock bucket built then keeps the skew (its clock is read once, then advanced by the
 * monotonic clock); one built before is not affected.
 */
async function withSkew<T>(skewMs: number, work: () => Promise<T>): Promise<T> {
  const spy = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + skewMs);
  try {
    return await work();
  } finally {
    spy.mockRestore();
  }
}
const values = (bucket: RedisTokenBucket, count: number) => lastValueFrom(range(0, count).pipe(throttleByTokens(bucket), toArray()));

/** Resolves with the ms `work` took, or rejects after `withinMs` (so a test that would wait out a skew stays short). */
async function timed(work: Promise<unknown>, withinMs: number): Promise<number> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not finish within ${withinMs} ms`)), withinMs);
  });
  try {
    await Promise.race([work, limit]);
  } finally {
    clearTimeout(timer);
  }
  return performance.now() - started;
}

describeWithRedis('Redis bucket: clocks', (redis) => {
  let client: Redis;
  beforeAll(() => {
    client = redis.client();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("server clock: stepping this process's wall clock ±1 h mid-run changes nothing", async () => {
    const bucket = new RedisTokenBucket({ redis: client, key: redis.uniqueKey('steps'), capacity: 5, refillRate: 50 });
    const grants = grantsOf(bucket);
    const run = lastValueFrom(range(0, 30).pipe(throttleByTokens(bucket), toArray()));
    setTimeout(() => vi.spyOn(Date, 'now').mockImplementation(() => realNow() + HOUR), 120);
    setTimeout(() => vi.spyOn(Date, 'now').mockImplementation(() => realNow() - HOUR), 300);
    const took = await timed(run, 3000);
    vi.restoreAllMocks();
    // 5 at once, then 25 at 50/s: 500 ms, as without the steps; nothing waited an hour or burst.
    expect(took).toBeGreaterThan(450);
    expect(took).toBeLessThan(1500);
    const serverTimes = grants.map((event) => event.storeTime!);
    // On the server's clock, grants i..j never exceed the burst plus the refill between them (1 ms of rounding).
    for (let i = 0; i < serverTimes.length; i++) {
      for (let j = i; j < serverTimes.length; j++)
        expect(j - i + 1).toBeLessThanOrEqual(5 + (50 * (serverTimes[j]! - serverTimes[i]! + 1)) / 1000);
    }
    expect(grants.every((event) => event.waited < 1000)).toBe(true);
  });

  it('client clock: a client 10 s ahead does not push the stored time forward; the others do not wait it out', async () => {
    const key = redis.uniqueKey('skew-ahead');
    const limits = { redis: client, key, capacity: 2, refillRate: 20, clock: 'client' } as const;
    const honest = new RedisTokenBucket(limits);
    await lastValueFrom(honest.take(1)); // the state exists, on the honest clock
    // The skewed client's values are limited as anyone's (its first reading is taken as the stored clock's).
    const aheadTook = await withSkew(10_000, () => timed(values(new RedisTokenBucket(limits), 4), 2000));
    expect(aheadTook).toBeLessThan(1000);
    // Before the fix, the honest client waited the 10 s skew here.
    const honestTook = await timed(values(honest, 3), 2000);
    expect(honestTook).toBeLessThan(500);
    const stored = await client.hgetall(`rtb:{${key}}`);
    const storedMs = Math.floor(Number(stored['base'])) * 1000 + Number(stored['ts']) / 1000;
    expect(storedMs - realNow()).toBeLessThan(1000); // not 10 s ahead
  });

  it('client clock: a client 10 s behind joins the stored clock instead of waiting 10 s on each value', async () => {
    const key = redis.uniqueKey('skew-behind');
    const limits = { redis: client, key, capacity: 2, refillRate: 20, clock: 'client' } as const;
    await lastValueFrom(new RedisTokenBucket(limits).take(1));
    const took = await withSkew(-10_000, () => timed(values(new RedisTokenBucket(limits), 4), 2000));
    expect(took).toBeLessThan(1000);
  });

  it('client clock: a client 10 s ahead that creates the state costs the honest ones nothing either', async () => {
    const key = redis.uniqueKey('skew-first');
    const limits = { redis: client, key, capacity: 2, refillRate: 20, clock: 'client' } as const;
    await withSkew(10_000, () => lastValueFrom(new RedisTokenBucket(limits).take(1)));
    const honest = new RedisTokenBucket(limits);
    expect(await timed(values(honest, 4), 2000)).toBeLessThan(1000);
  });
});
