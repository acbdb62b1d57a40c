/**
 * A least-privilege ACL user: the bucket's whole life (take now, reserve ahead, a withdrawn
 * reservation given back, debit, refund, adapt's pause) runs with only the commands listed
 * in the README, on the key pattern of `keyPrefix`; and each of them is needed — a user
 * lacking any one fails (`+time` only with the server's clock). `+info` is ioredis's ready
 * check only: without it ioredis warns and skips the check (or set `enableReadyCheck: false`).
 * Measured, not assumed.
 */
import { randomUUID } from 'node:crypto';
import type { Redis, RedisOptions } from 'ioredis';
import { beforeAll, expect, it } from 'vitest';
import type { StoreClock } from '../../../src/redis/options';
import { RedisTokenBucket } from '../../../src/redis/RedisTokenBucket';
import { describeWithRedis } from '../../support/redisTests';
import { sleep } from '../../support/realTime';

/** What the scripts need (the README lists these, plus `+info` for ioredis's ready check). */
const NEEDED = ['eval', 'evalsha', 'time', 'hmget', 'hset', 'pexpire'] as const;

describeWithRedis(
  'a least-privilege ACL user',
  (redis) => {
    let admin: Redis;
    beforeAll(() => {
      admin = redis.client();
    });

    /** A user allowed `commands` on `rtb:*` and nothing else, and a client logged in as it. */
    async function userWith(commands: readonly string[], options: RedisOptions = { enableReadyCheck: false }): Promise<Redis> {
      const name = `limiter-${randomUUID().slice(0, 8)}`;
      await admin.call(
        'ACL',
        'SETUSER',
        name,
        'on',
        '>pw',
        'resetkeys',
        '~rtb:*',
        'resetchannels',
        '-@all',
        ...commands.map((c) => `+${c}`),
      );
      return redis.client({ username: name, password: 'pw', retryStrategy: () => 50, ...options });
    }

    /** Every kind of call the bucket makes; returns the errors it met (none: every call went through). */
    async function lifeOf(client: Redis, clock: StoreClock): Promise<string[]> {
      const bucket = new RedisTokenBucket({ redis: client, key: redis.uniqueKey('acl'), capacity: 2, refillRate: 10, clock, timeout: 300 });
      const errors: string[] = [];
      bucket.events$.subscribe((event) => {
        if (event.type === 'store-error') errors.push(event.error.message);
      });
      try {
        await bucket.acquire(2); // taken now
        const withdrawn = new AbortController();
        const waiting = bucket.acquire(1, { signal: withdrawn.signal }).catch(() => 'withdrawn'); // reserved ahead (100 ms)
        await sleep(10);
        withdrawn.abort();
        expect(await waiting).toBe('withdrawn');
        await bucket.acquire(1); // reserved ahead, granted at its time
        bucket.debit(1);
        bucket.refund(1);
        bucket.adapt({ retryAfter: 0.01 });
        await sleep(20);
        await bucket.acquire(1);
      } catch (error) {
        errors.push(error instanceof Error ? error.message : String(error));
      }
      const { storeErrors, refundedCost } = bucket.stats();
      if (storeErrors > errors.length) errors.push(`${storeErrors} store errors (debit, refund or adapt)`);
      if (errors.length === 0 && refundedCost !== 1) errors.push(`refundedCost ${refundedCost}, not 1`);
      return errors;
    }

    it("runs with exactly the listed commands on rtb:* (server clock), with ioredis's ready check given +info", async () => {
      expect(await lifeOf(await userWith([...NEEDED, 'info'], {}), 'server')).toEqual([]);
    });

    it('runs without +info when the ready check is off', async () => {
      expect(await lifeOf(await userWith(NEEDED), 'server')).toEqual([]);
    });

    it("needs no TIME with clock: 'client'", async () => {
      expect(await lifeOf(await userWith(NEEDED.filter((c) => c !== 'time')), 'client')).toEqual([]);
    });

    it('fails without any one of them', async () => {
      for (const missing of NEEDED) {
        const errors = await lifeOf(await userWith(NEEDED.filter((c) => c !== missing)), 'server');
        expect(errors.join('; '), `without +${missing}`).toMatch(/NOPERM|permission|can't run this command/i);
      }
    });

    it('fails on a key outside its pattern', async () => {
      const client = await userWith(NEEDED);
      const bucket = new RedisTokenBucket({ redis: client, key: 'acl', keyPrefix: 'elsewhere:', capacity: 1, refillRate: 1, timeout: 300 });
      await expect(bucket.acquire(1)).rejects.toThrow(/NOPERM|No permissions/i);
    });
  },
  { ownServer: true },
);
