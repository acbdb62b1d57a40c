/**
 * Fault 2 of issue 12: values withdrawn while their call is out. Subscribing and
 * unsubscribing in a loop must never put more than `maxInFlight` values in calls at once (a
 * withdrawn value's slot is freed only when its call has answered), and every reservation of
 * a withdrawn value goes back when its answer arrives, so the shared key is not left in debt
 * (before the fix: 57 423 calls in flight with maxInFlight 8, and 0 of 90 000 reservations
 * returned, about 2.5 hours of lockout at 10/s).
 */
import type { Redis } from 'ioredis';
import { lastValueFrom, type Subscription } from 'rxjs';
import { beforeAll, expect, it } from 'vitest';
import { RedisTokenBucket } from '../../../src/redis/RedisTokenBucket';
import { sleep } from '../../support/realTime';
import { describeWithRedis } from '../../support/redisTests';
import { countingClient } from './fixtures/countingClient';
import { until } from './fixtures/waiting';

describeWithRedis('Redis bucket: values withdrawn while their call is out', (redis) => {
  let client: Redis;
  beforeAll(() => {
    client = redis.client();
  });

  it('keeps calls within maxInFlight and returns every reservation, so the key is not left in debt', async () => {
    const key = redis.uniqueKey('churn');
    const limits = { key, capacity: 10, refillRate: 10 } as const;
    const counted = countingClient(client, 2); // replies held 2 ms: the loop withdraws values while their calls are out
    // No lease: this counts what every withdrawn value's own reservation does (a lease would grant some at once).
    const churned = new RedisTokenBucket({ redis: counted.client, maxInFlight: 8, lease: false, ...limits });
    const endAt = performance.now() + 1000;
    let subscribed = 0;
    while (performance.now() < endAt) {
      const batch: Subscription[] = [];
      for (let i = 0; i < 20; i++) batch.push(churned.take(1).subscribe());
      subscribed += batch.length;
      await sleep(1); // some are asked meanwhile, some are reserved
      for (const subscription of batch) subscription.unsubscribe();
    }
    await until(() => counted.counts.inFlight === 0 && churned.stats().inFlight === 0, 'every call to answer');
    await sleep(20); // the last refunds
    const stats = churned.stats();
    expect(counted.counts.maxValuesInFlight).toBeLessThanOrEqual(8);
    expect(stats).toMatchObject({ queued: 0, reserved: 0, inFlight: 0, granted: 0, timeouts: 0, cancelled: subscribed });
    // What was taken at once (the burst, and what refilled during the loop's second) cannot go back; every reservation made ahead did.
    expect(stats.forfeitedCost).toBeLessThanOrEqual(limits.capacity + limits.refillRate * 1.1);
    expect(stats.refundedCost).toBeGreaterThan(10);
    // Another process is not locked out: it waits at most about one token's time, not the reservations'.
    const other = new RedisTokenBucket({ redis: client, ...limits });
    const started = performance.now();
    await lastValueFrom(other.take(1));
    expect(performance.now() - started).toBeLessThan(250);
  });

  it('returns the reservation of a late answer, after the call timed out', async () => {
    const key = redis.uniqueKey('late-answer');
    const counted = countingClient(client, 60); // every reply 60 ms late, beyond the timeout
    const slow = new RedisTokenBucket({ redis: counted.client, key, capacity: 1, refillRate: 1, timeout: 20 });
    await lastValueFrom(slow.take(1)).catch(() => undefined); // timed out: fail-closed; its token was taken at once anyway
    const failed = await lastValueFrom(slow.take(1)).then(
      () => 'granted',
      (error: Error) => error.name,
    );
    expect(failed).toBe('RedisStoreError');
    await until(() => counted.counts.inFlight === 0, 'the late answers');
    await until(() => slow.stats().refundedCost === 1, 'the late reservation to go back');
    expect(slow.stats()).toMatchObject({ timeouts: 2, refundedCost: 1, inFlight: 0 });
  });
});
