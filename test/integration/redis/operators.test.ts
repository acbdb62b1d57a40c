/**
 * The other operators take a RedisTokenBucket where they take a TokenBucket: `perKey` with
 * a Redis bucket per key, `adaptiveThrottle` retuning the shared state. And the bucket works
 * through an ioredis `Cluster` client (a one-node cluster holding every slot).
 */
import { Cluster, type Redis } from 'ioredis';
import { from, lastValueFrom, of, toArray, type Observable } from 'rxjs';
import { beforeAll, expect, it } from 'vitest';
import { adaptiveThrottle } from '../../../src/operators/adaptiveThrottle';
import { perKey } from '../../../src/operators/perKey';
import { throttleByTokens } from '../../../src/operators/throttleByTokens';
import type { RateLimitFeedback } from '../../../src/arithmetic/adaptation';
import type { RedisGrantedEvent } from '../../../src/redis/events';
import { RedisTokenBucket } from '../../../src/redis/RedisTokenBucket';
import { describeWithRedis } from '../../support/redisTests';

import { sleep } from '../../support/realTime';

function grantsOf(bucket: RedisTokenBucket): RedisGrantedEvent[] {
  const grants: RedisGrantedEvent[] = [];
  bucket.events$.subscribe((event) => {
    if (event.type === 'granted') grants.push(event);
  });
  return grants;
}

describeWithRedis('other operators with a RedisTokenBucket', (redis) => {
  let client: Redis;
  beforeAll(() => {
    client = redis.client();
  });

  it('perKey: a Redis bucket per key, each key limited on its own', async () => {
    const prefix = redis.uniqueKey('user');
    const bucketFor = (user: string) =>
      new RedisTokenBucket({ redis: client, key: `${prefix}:${user}`, capacity: 1, refillRate: 1, interval: 50 });
    const values = ['a0', 'b0', 'a1', 'b1', 'a2'];
    const start = performance.now();
    const emitted: [string, number][] = [];
    await new Promise<void>((resolve, reject) =>
      from(values)
        .pipe(perKey((value: string) => value[0]!, bucketFor))
        .subscribe({ next: (value) => emitted.push([value, performance.now() - start]), error: reject, complete: resolve }),
    );
    expect(emitted.map(([value]) => value).sort()).toEqual([...values].sort());
    const at = (value: string) => emitted.find(([emittedValue]) => emittedValue === value)![1];
    // Each key's second value waits one refill (50 ms), its third two; keys do not wait for each other.
    expect(at('a1')).toBeGreaterThanOrEqual(50);
    expect(at('b1')).toBeGreaterThanOrEqual(50);
    expect(at('a2')).toBeGreaterThanOrEqual(100);
    expect(at('b0')).toBeLessThan(at('a1'));
    expect(emitted.filter(([value]) => value[0] === 'a').map(([value]) => value)).toEqual(['a0', 'a1', 'a2']);
  });

  it('"now or never" asks Redis instead of refusing unasked: throttleByTokens maxQueue 0, perKey strategy drop and maxQueue 0', async () => {
    const slow = { redis: client, capacity: 2, refillRate: 1, interval: 60_000 };
    // maxQueue 0: the first value goes to Redis (the local estimate says the tokens are there)
    // and is granted; the others arrive while it is in flight and are refused at once.
    const shared = new RedisTokenBucket({ ...slow, key: redis.uniqueKey('now-or-never') });
    const refused: string[] = [];
    const passed = await lastValueFrom(
      from(['a', 'b', 'c']).pipe(
        throttleByTokens(shared, { maxQueue: 0, overflow: 'drop', onDrop: (value, reason) => refused.push(`${value}:${reason}`) }),
        toArray(),
      ),
    );
    expect(passed).toEqual(['a']);
    expect(refused).toEqual(['b:max-queue', 'c:max-queue']);
    // Once the bucket is empty in Redis, Redis refuses: reason max-queue, nothing taken.
    await lastValueFrom(shared.take(1));
    const later: string[] = [];
    const none = await lastValueFrom(
      of('d').pipe(
        throttleByTokens(shared, { maxQueue: 0, overflow: 'drop', onDrop: (value, reason) => later.push(`${value}:${reason}`) }),
        toArray(),
      ),
    );
    expect(none).toEqual([]);
    expect(later).toEqual(['d:max-queue']);

    // perKey, strategy 'drop', a Redis bucket per key, one burst: each key's first two pass
    // (later values of a key are asked while earlier ones are in flight), the third is dropped.
    const prefix = redis.uniqueKey('drop-per-key');
    const perUser = (user: string) => new RedisTokenBucket({ ...slow, key: `${prefix}:${user}` });
    const dropped: string[] = [];
    const kept = await lastValueFrom(
      from(['a0', 'b0', 'a1', 'b1', 'a2']).pipe(
        perKey((v: string) => v[0]!, perUser, { strategy: 'drop', onDrop: (v, reason, key) => dropped.push(`${v}:${reason}:${key}`) }),
        toArray(),
      ),
    );
    expect([...kept].sort()).toEqual(['a0', 'a1', 'b0', 'b1']);
    expect(dropped).toEqual(['a2:no-tokens:a']);

    // perKey, maxQueue 0: the first value of a key is asked of Redis; the others arrive while it is
    // in flight and are refused with 'max-queue'.
    const queuePrefix = redis.uniqueKey('queue0-per-key');
    const refusedPerKey: string[] = [];
    const passedPerKey = await lastValueFrom(
      from(['a1', 'a2', 'a3']).pipe(
        perKey(
          (v: string) => v[0]!,
          (user: string) => new RedisTokenBucket({ ...slow, key: `${queuePrefix}:${user}` }),
          {
            maxQueue: 0,
            overflow: 'drop',
            onDrop: (v, reason) => refusedPerKey.push(`${v}:${reason}`),
          },
        ),
        toArray(),
      ),
    );
    expect(passedPerKey).toEqual(['a1']);
    expect(refusedPerKey).toEqual(['a2:max-queue', 'a3:max-queue']);
  });

  it('adaptiveThrottle: a Retry-After pauses every process sharing the key, and applies once', async () => {
    const key = redis.uniqueKey('adaptive');
    const options = { redis: client, key, capacity: 5, refillRate: 100 };
    const mine = new RedisTokenBucket(options);
    const other = new RedisTokenBucket(options); // stands for another process
    const myGrants = grantsOf(mine);
    const otherGrants = grantsOf(other);
    interface Reply {
      status: number;
      info: RateLimitFeedback | undefined;
      value?: string;
    }
    let calls = 0;
    let otherTake: Promise<unknown> | undefined;
    const request = (value: string): Observable<Reply> => {
      if (calls++ > 0) return of({ status: 200, info: undefined, value });
      // After this 429 is handled (its pause written), the other process asks for a token.
      setTimeout(() => (otherTake = lastValueFrom(other.take(1))), 0);
      return of({ status: 429, info: { retryAfter: 200 } });
    };
    const results = await lastValueFrom(
      from(['a', 'b']).pipe(
        // The rate is pinned (minRate = maxRate) so only the pause shows.
        adaptiveThrottle(request, { bucket: mine, feedback: (reply) => reply.info, concurrency: 1, minRate: 100, maxRate: 100 }),
        toArray(),
      ),
    );
    await otherTake;
    expect(results.map((reply) => reply.value)).toEqual(['a', 'b']);
    const throttledAt = myGrants[0]!.storeTime!;
    const retriedAt = myGrants[1]!.storeTime!;
    // Nothing for 200 ms after the 429 (which came a hair after the throttled grant), for either process;
    // the bucket refilled meanwhile, so both go as the pause ends.
    expect(retriedAt - throttledAt).toBeGreaterThanOrEqual(200);
    expect(retriedAt - throttledAt).toBeLessThan(200 + 50);
    expect(otherGrants[0]!.storeTime! - throttledAt).toBeGreaterThanOrEqual(200);
    expect(mine.pausedUntil).toBeGreaterThan(Number.NEGATIVE_INFINITY);
  });
});

describeWithRedis(
  'a RedisTokenBucket through an ioredis Cluster client',
  (redis) => {
    it('routes the scripts by the hash-tagged key, loading them on the node that holds it', async () => {
      const admin = redis.client();
      await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
      for (let attempt = 0; attempt < 200 && !(await admin.cluster('INFO')).includes('cluster_state:ok'); attempt++) await sleep(10);
      const cluster = new Cluster([{ host: '127.0.0.1', port: redis.server!.port }]);
      try {
        const bucket = new RedisTokenBucket({
          redis: cluster,
          key: redis.uniqueKey('clustered'),
          capacity: 2,
          refillRate: 1,
          interval: 20,
        });
        const grants = grantsOf(bucket);
        const values = await lastValueFrom(from([1, 2, 3, 4]).pipe(throttleByTokens(bucket), toArray()));
        expect(values).toEqual([1, 2, 3, 4]);
        const first = grants[0]!.storeTime!;
        expect(grants.slice(2).map((grant) => (grant.storeTime! - first).toFixed(3))).toEqual(['20.000', '40.000']);
        expect(await cluster.exists(bucket.key)).toBe(1);
      } finally {
        cluster.disconnect();
      }
    });
  },
  { serverArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-announce-ip', '127.0.0.1'] },
);
