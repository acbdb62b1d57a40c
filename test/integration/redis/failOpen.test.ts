/**
 * Fault 4: `onStoreError: 'fail-open'` emits a value at once while Redis fails — no value
 * waits behind the probe (a call of its own) — and when Redis returns nothing is released in
 * a clump. Only the values that arrived before the outage was noticed (the first call of it
 * timing out) waited for it. And in `'fail-open'` and `'local'` mode alike, what the calls
 * that timed out during a SIGSTOP reserved is given back when their late answers arrive.
 */
import { map, type Observable } from 'rxjs';
import { expect, it } from 'vitest';
import type { StoreErrorPolicy } from '../../../src/redis/options';
import { RedisTokenBucket } from '../../../src/redis/RedisTokenBucket';
import { firstEventTime, onceEachInOrder, runWorkers } from '../../support/faultHarness';
import { freezeRedis, redisServerPid } from '../../support/redisServer';
import { describeWithRedis } from '../../support/redisTests';
import { sleep } from '../../support/realTime';

const TIMEOUT = 100;
const COUNT = 60; // 1.2 s of arrivals: 350 ms of them after the outage
const EVERY = 20;

function finished(source: Observable<unknown>): Promise<void> {
  return new Promise((resolve, reject) => source.subscribe({ error: reject, complete: resolve }));
}

describeWithRedis(
  "onStoreError: 'fail-open' through an outage (fault 4)",
  (redis) => {
    const bucket = (policy: StoreErrorPolicy, capacity: number, refillRate: number) =>
      new RedisTokenBucket({
        redis: redis.client({ retryStrategy: () => 20 }),
        key: redis.uniqueKey(policy),
        capacity,
        refillRate,
        onStoreError: policy,
        timeout: TIMEOUT,
        probeInterval: 50,
      });

    it('SIGSTOP for 600 ms: once the outage is noticed each value is emitted at once; none waits behind the probe, no clump on return', async () => {
      const shared = bucket('fail-open', 10, 50);
      const pid = await redisServerPid(redis.client());
      const run = await runWorkers({
        buckets: [shared],
        count: COUNT,
        every: EVERY,
        fault: async () => {
          await sleep(250);
          await freezeRedis(pid, 600);
        },
      });
      expect(onceEachInOrder(run, COUNT)).toBe('');
      const noticed = firstEventTime(run, 'store-error');
      const recovered = firstEventTime(run, 'store-recovered');
      expect(recovered).toBeGreaterThan(noticed);
      const failOpen = run.grants.filter((grant) => grant.source === 'fail-open');
      // 600 ms of outage at one value per 20 ms, less the time it took to notice.
      expect(failOpen.length).toBeGreaterThan(15);
      // A value that arrived once the outage was noticed is emitted in the same turn (well
      // under one timeout); before the fix such values waited for each probe's timeout.
      const afterNotice = failOpen.filter((grant) => grant.time - grant.waited > noticed);
      expect(afterNotice.length).toBeGreaterThan(10);
      expect(Math.max(...afterNotice.map((grant) => grant.waited))).toBeLessThan(TIMEOUT / 10);
      // Values that arrived after the notice are granted as they arrive (one per 20 ms), through
      // the outage and Redis's return: never 3 within 5 ms. (Those that arrived before it were
      // waiting for the call that noticed it, and went together when it timed out.)
      const times = run.grants.filter((grant) => grant.time - grant.waited > noticed).map((grant) => grant.time);
      expect(times.length).toBeGreaterThan(COUNT / 2);
      for (let i = 2; i < times.length; i++) expect(times[i]! - times[i - 2]!, `grants around ${times[i]}`).toBeGreaterThan(5);
      expect(shared.stats()).toMatchObject({ degraded: false, queued: 0, failOpenGrants: failOpen.length });
    });

    for (const policy of ['fail-open', 'local'] as const) {
      it(`${policy}: a reservation made late by a call that timed out during a SIGSTOP is given back`, async () => {
        const shared = bucket(policy, 1, 10);
        await finished(shared.take(1)); // empty: the next value is reserved ahead (100 ms)
        const pid = await redisServerPid(redis.client());
        const frozen = freezeRedis(pid, 300);
        const values: number[] = [];
        await finished(shared.take(1).pipe(map(() => values.push(0))));
        expect(values).toEqual([0]);
        await frozen;
        const deadline = performance.now() + 2000;
        while (shared.stats().refundedCost + shared.stats().forfeitedCost < 1 && performance.now() < deadline) await sleep(5);
        // The value was granted by its policy; Redis reserved it too, late: that goes back.
        expect(shared.stats()).toMatchObject({ timeouts: 1, refundedCost: 1, forfeitedCost: 0, inFlight: 0, queued: 0 });
      });
    }
  },
  { ownServer: true },
);
