/**
 * Coalescing (issue 12): the values of one bucket waiting to be asked go to Redis together,
 * in one reserve call that reserves each in order. One call is out at a time: the first
 * value goes at once, alone; what arrives while it is out goes together in the next, sent
 * as soon as it answers, at most `MAX_BATCH` values and never more than `maxInFlight` slots.
 */
import type { Redis } from 'ioredis';
import { from, lastValueFrom, range, toArray } from 'rxjs';
import { beforeAll, expect, it } from 'vitest';
import { throttleByTokens } from '../../../src/operators/throttleByTokens';
import { RedisTokenBucket } from '../../../src/redis/RedisTokenBucket';
import { MAX_BATCH } from '../../../src/redis/scripts';
import { describeWithRedis } from '../../support/redisTests';
import { countingClient } from './fixtures/countingClient';
import { grantsOf } from './fixtures/waiting';

describeWithRedis('Redis bucket: values asked together', (redis) => {
  let client: Redis;
  beforeAll(() => {
    client = redis.client();
  });

  it('sends the first value at once, alone, and what arrived meanwhile together in the next call', async () => {
    const counted = countingClient(client, 10);
    const bucket = new RedisTokenBucket({
      redis: counted.client,
      key: redis.uniqueKey('together'),
      capacity: 100,
      refillRate: 100,
      lease: false,
    });
    const run = lastValueFrom(range(0, 50).pipe(throttleByTokens(bucket), toArray()));
    expect(counted.counts).toMatchObject({ calls: 1, valuesInFlight: 1 }); // no waiting for company
    expect(await run).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(counted.counts.calls).toBe(2);
    expect(counted.counts.maxValuesInFlight).toBe(49);
  });

  it('keeps FIFO and the limit exact: each value of a batch holds its own reservation, at its own time', async () => {
    const key = redis.uniqueKey('exact');
    const bucket = new RedisTokenBucket({ redis: client, key, capacity: 3, refillRate: 50 });
    const grants = grantsOf(bucket);
    const costs = [1, 2, 1, 3, 1, 2, 2, 1];
    const emitted = await lastValueFrom(
      from(costs.map((cost, index) => ({ cost, index }))).pipe(throttleByTokens(bucket, { cost: (v) => v.cost }), toArray()),
    );
    expect(emitted.map((value) => value.index)).toEqual(costs.map((_, index) => index));
    // On the server's clock: never more than the burst plus the refill between any two grants.
    const times = grants.map((event) => event.storeTime!);
    for (let i = 0; i < times.length; i++) {
      let spent = 0;
      for (let j = i; j < times.length; j++) {
        spent += costs[j]!;
        expect(spent).toBeLessThanOrEqual(3 + (50 * (times[j]! - times[i]! + 0.01)) / 1000);
      }
    }
    const total = costs.reduce((sum, cost) => sum + cost, 0);
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(((total - 3) / 50) * 1000 - 1);
  });

  it(`bounds a call by maxInFlight and by MAX_BATCH (${MAX_BATCH})`, async () => {
    const counted = countingClient(client, 5);
    const small = new RedisTokenBucket({
      redis: counted.client,
      key: redis.uniqueKey('small'),
      lease: false, // the batching alone (a lease would grant most values without a call)
      capacity: 1e6,
      refillRate: 1e6,
      maxInFlight: 4,
    });
    await lastValueFrom(range(0, 40).pipe(throttleByTokens(small), toArray()));
    expect(counted.counts.maxValuesInFlight).toBe(4);
    const wide = countingClient(client, 5);
    const big = new RedisTokenBucket({
      redis: wide.client,
      key: redis.uniqueKey('big'),
      lease: false, // the batching alone (a lease would grant most values without a call)
      capacity: 1e6,
      refillRate: 1e6,
      maxInFlight: 1000,
    });
    await lastValueFrom(range(0, 800).pipe(throttleByTokens(big), toArray()));
    expect(wide.counts.maxValuesInFlight).toBe(MAX_BATCH);
    expect(wide.counts.maxInFlight).toBe(1); // one reserve call at a time
  });

  it('refuses one value of a batch on its own maxWait and reserves the others', async () => {
    const counted = countingClient(client, 10);
    const bucket = new RedisTokenBucket({ redis: counted.client, key: redis.uniqueKey('mixed'), capacity: 1, refillRate: 10 });
    const first = bucket.acquire(1); // alone, at once
    const impatient = bucket.acquire(1, { maxWait: 0 }); // waits for the first answer, then goes with the patient one
    const patient = bucket.acquire(1);
    expect(await first).toBeGreaterThanOrEqual(0);
    await expect(impatient).rejects.toMatchObject({ reason: 'max-wait' });
    expect(await patient).toBeGreaterThanOrEqual(50);
    expect(counted.counts.calls).toBe(2);
  });
});
