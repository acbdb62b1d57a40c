/**
 * `perKey` with a Redis bucket per key and a Redis bucket as the global limit. The two are
 * charged by two script calls, not one (see the README: a shared hash tag would put every
 * key's state on the global's node, and the global is granted by deficit round robin in this
 * process, one request at a time): this pins down that both limits still hold together over
 * every sliding window, that a key's hash tag may be shared through `keyPrefix`, and that each
 * value is emitted once, in its key's order.
 */
import type { Redis } from 'ioredis';
import { from } from 'rxjs';
import { beforeAll, expect, it } from 'vitest';
import { perKey } from '../../../src/operators/perKey';
import { RedisTokenBucket } from '../../../src/redis/RedisTokenBucket';
import { describeWithRedis } from '../../support/redisTests';
import { worstWindow, type TimedGrant } from '../../support/slidingWindow';

const USERS = ['a', 'b', 'c'];
const PER_USER = 10;
const KEY = { capacity: 2, refillRate: 20 }; // per user, per s
const GLOBAL = { capacity: 3, refillRate: 40 }; // over all users, per s
const TOLERANCE = 50;

describeWithRedis('perKey with Redis keys under a Redis global limit', (redis) => {
  let client: Redis;
  beforeAll(() => {
    client = redis.client();
  });

  it('both limits hold over every window, with the keys sharing the global key’s hash tag; each value once, in key order', async () => {
    const tenant = redis.uniqueKey('tenant');
    // keyPrefix `rtb:{tenant}:` makes `tenant` the hash tag of every key: one cluster slot.
    const keyPrefix = `rtb:{${tenant}}:`;
    const global = new RedisTokenBucket({ redis: client, key: 'global', keyPrefix, ...GLOBAL });
    const values = USERS.flatMap((user) => Array.from({ length: PER_USER }, (_, index) => ({ user, index })));
    const emitted: { user: string; index: number; time: number }[] = [];
    await new Promise<void>((resolve, reject) =>
      from(values)
        .pipe(
          perKey(
            (value) => value.user,
            (user) => new RedisTokenBucket({ redis: client, key: user, keyPrefix, ...KEY }),
            { global },
          ),
        )
        .subscribe({ next: (value) => emitted.push({ ...value, time: performance.now() }), error: reject, complete: resolve }),
    );
    expect(global.key).toBe(`rtb:{${tenant}}:{global}`);
    for (const user of USERS) {
      const mine = emitted.filter((value) => value.user === user);
      expect(mine.map((value) => value.index)).toEqual(Array.from({ length: PER_USER }, (_, index) => index));
    }
    const grants = (of: typeof emitted): TimedGrant[] => of.map(({ time }) => ({ time, cost: 1 }));
    for (const window of [1000, 200]) {
      const all = worstWindow(grants(emitted), { capacity: GLOBAL.capacity, rate: GLOBAL.refillRate / 1000, window, tolerance: TOLERANCE });
      expect(all.cost, `global, ${window} ms`).toBeLessThanOrEqual(all.bound);
      for (const user of USERS) {
        const mine = grants(emitted.filter((value) => value.user === user));
        const one = worstWindow(mine, { capacity: KEY.capacity, rate: KEY.refillRate / 1000, window, tolerance: TOLERANCE });
        expect(one.cost, `user ${user}, ${window} ms`).toBeLessThanOrEqual(one.bound);
      }
    }
    // Both kinds of key live in Redis under the one hash tag.
    expect((await client.keys(`rtb:{${tenant}}:*`)).sort()).toContain(`rtb:{${tenant}}:{global}`);
    expect(global.stats()).toMatchObject({ granted: USERS.length * PER_USER, storeErrors: 0 });
  });
});
