/**
 * Debits and refunds of the shared count (the settle script), against a real redis-server:
 * first the script's arithmetic with crafted clock readings (exact), then two
 * `RedisTokenBucket`s on one key standing for two processes, each with its own client: a
 * debit by one makes the other wait, a refund lets it go earlier, and `execute`'s `actualCost`
 * makes the tokens taken equal the real costs.
 */
import type { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { RedisTokenBucket } from '../../../src/redis/RedisTokenBucket';
import type { RedisTokenBucketOptions } from '../../../src/redis/options';
import { SERVER_CLOCK, type ClockReading, type ScriptLimits } from '../../../src/redis/scripts';
import { RateLimitExceededError } from '../../../src/shared/errors';
import { describeWithRedis } from '../../support/redisTests';
import { reservationOf, SingleScripts } from './fixtures/scriptCalls';
import { until } from './fixtures/waiting';

const at = (seconds: number, micros: number): ClockReading => [String(seconds), String(micros)];
const S = 1_700_000_000;
/** 1 token per ms, and a capacity so large that no key expires between two calls, whatever the crafted clock says. */
const FULL = 1e6;
const PER_MS: ScriptLimits = { capacity: FULL, tokensPerMicro: 0.001 };
/** 1 token per second: small bursts whose TTL is still seconds long. */
const perSecond = (capacity: number): ScriptLimits => ({ capacity, tokensPerMicro: 1e-6 });

describeWithRedis('debit and refund of the shared count', (redis) => {
  let client: Redis;
  let scripts: SingleScripts;
  beforeAll(() => {
    client = redis.client();
    scripts = new SingleScripts(client);
  });

  describe('the settle script', () => {
    it('a debit lowers the count into debt, which refill pays back before a later reservation falls due', async () => {
      const key = redis.uniqueKey('debit');
      await scripts.reserve(key, PER_MS, at(S, 0), FULL, -1);
      expect(await scripts.settle(key, PER_MS, at(S, 0), 5)).toEqual({ tokens: -5, ahead: 0 });
      // at 1 ms: -5 + 1 = -4, minus 1: paid off at 6 ms
      expect(await scripts.reserve(key, PER_MS, at(S, 1000), 1, -1)).toMatchObject({ wait: 5000, due: '6000', tokens: -5 });
    });

    it('keeps the key while in debt: the TTL covers paying the debt back and refilling to full', async () => {
      const key = redis.uniqueKey('debit-ttl');
      const slow: ScriptLimits = { capacity: 10, tokensPerMicro: 1e-5 }; // 1 token / 100 ms
      await scripts.settle(key, slow, SERVER_CLOCK, 20); // 10 − 20 = −10: 20 tokens to refill, 2 s
      const ttl = await client.pttl(key);
      expect(ttl).toBeGreaterThan(1900);
      expect(ttl).toBeLessThanOrEqual(3001); // and up to one more time to fill (1 s), so PEXPIRE need not follow every call
    });

    it('during a pause applies at its end: the stored time never moves backwards', async () => {
      const key = redis.uniqueKey('debit-pause');
      await scripts.reserve(key, PER_MS, at(S, 0), FULL, -1);
      expect(await scripts.adjust(key, PER_MS, at(S, 0), undefined, 10_000)).toEqual({ tokens: 10, ahead: 10_000 });
      expect(await scripts.settle(key, PER_MS, at(S, 1000), 15)).toEqual({ tokens: -5, ahead: 9000 });
      expect(await client.hget(key, 'ts')).toBe('10000');
      // nothing before 10 ms, then 5 of debt and 1 of cost: due at 16 ms
      expect(await scripts.reserve(key, PER_MS, at(S, 1000), 1, -1)).toMatchObject({ wait: 15_000, due: '16000' });
    });

    it('a refund never lifts the count above capacity, and pays a debt back at once when nothing is reserved ahead', async () => {
      const small = redis.uniqueKey('refund-cap');
      await scripts.reserve(small, perSecond(10), at(S, 0), 3, -1);
      expect(await scripts.settle(small, perSecond(10), at(S, 0), -5)).toEqual({ tokens: 10, ahead: 0 });
      const key = redis.uniqueKey('refund-debt');
      await scripts.reserve(key, PER_MS, at(S, 0), FULL, -1);
      await scripts.reserve(key, PER_MS, at(S, 0), 2, -1); // reserved ahead, due at 2 ms
      expect(await scripts.settle(key, PER_MS, at(S, 3000), 6)).toEqual({ tokens: -5, ahead: 0 }); // -2 + 3 - 6
      expect(await scripts.settle(key, PER_MS, at(S, 3000), -4)).toEqual({ tokens: -1, ahead: 0 }); // that reservation is due: now
      expect(await scripts.reserve(key, PER_MS, at(S, 3000), 1, -1)).toMatchObject({ wait: 2000 });
    });

    it('a refund with a reservation pending lands after it: no newcomer is granted beside it beyond the burst', async () => {
      const key = redis.uniqueKey('refund-pending');
      const one = perSecond(1);
      await scripts.reserve(key, one, at(S, 0), 1, -1); // charged 1, really 0: refunded below
      expect(await scripts.reserve(key, one, at(S, 0), 1, -1)).toMatchObject({ due: '1000000' }); // reserved for 1 s
      // Given now, the token would let a newcomer be granted at 1 s too: 2 at once, with capacity 1.
      expect(await scripts.settle(key, one, at(S, 0), -1)).toEqual({ tokens: 0, ahead: 1_000_000 });
      expect(await scripts.reserve(key, one, at(S, 0), 1, -1)).toMatchObject({ due: '2000000' });
    });

    it('…and lets newcomers go earlier up to what the burst allows beside what falls due then', async () => {
      const key = redis.uniqueKey('refund-pending-pair');
      const pair = perSecond(2);
      await scripts.reserve(key, pair, at(S, 0), 2, -1);
      await scripts.reserve(key, pair, at(S, 0), 1, -1); // due at 1 s
      expect(await scripts.settle(key, pair, at(S, 0), -2)).toEqual({ tokens: 1, ahead: 1_000_000 }); // 2 − 1 falling due then
      const dues = [];
      for (let i = 0; i < 2; i++) dues.push((await scripts.reserve(key, pair, at(S, 0), 1, -1)).due);
      expect(dues).toEqual(['1000000', '2000000']); // without the refund: 2 s and 3 s
    });

    it('after the latest reservations were returned, a refund at their former time pays back debt only', async () => {
      const key = redis.uniqueKey('refund-stale');
      await scripts.reserve(key, PER_MS, at(S, 0), FULL, -1);
      await scripts.reserve(key, PER_MS, at(S, 0), 2, -1); // due 2 ms
      const later = await scripts.reserve(key, PER_MS, at(S, 0), 3, -1); // due 5 ms: `last`
      await scripts.refund(key, PER_MS, at(S, 0), [reservationOf(later, 3)]);
      // What falls due at 2 ms is unknown to the script: the refund lands then, owing nothing and adding nothing.
      expect(await scripts.settle(key, PER_MS, at(S, 0), -4)).toEqual({ tokens: 0, ahead: 2000 });
    });
  });

  describe('two buckets on one key (two processes)', () => {
    const pair = (options: Partial<RedisTokenBucketOptions> = {}) => {
      const key = redis.uniqueKey('two');
      const make = () => new RedisTokenBucket({ redis: redis.client(), key, capacity: 5, refillRate: 1, interval: 20, ...options });
      return { key: `rtb:{${key}}`, a: make(), b: make() };
    };
    const storedTokens = async (key: string) => Number(await client.hget(key, 'tokens'));

    it('a debit by one makes the other wait until refill has paid it back; its own mirror shows the debt at once', async () => {
      const { key, a, b } = pair(); // 1 token / 20 ms
      a.debit(10); // 5 − 10: 5 in debt
      expect(a.available()).toBe(0);
      expect(a.stats().debt).toBeCloseTo(5, 1);
      await until(async () => (await storedTokens(key)) < 0, 'the debit in Redis');
      const waited = await b.acquire(1);
      expect(waited).toBeGreaterThanOrEqual(100); // (5 of debt + 1) · 20 ms = 120 ms, less the time it took to look
      expect(waited).toBeLessThan(120 + 300);
    });

    it('a refund by one lets the other go earlier', async () => {
      const { key, a, b } = pair();
      await a.acquire(5); // empty, nothing reserved ahead
      a.refund(3);
      await until(async () => (await storedTokens(key)) >= 2.9, 'the refund in Redis');
      const waited = await b.acquire(3); // without the refund: 60 ms
      expect(waited).toBeLessThan(30);
    });

    it('actualCost through execute makes the tokens taken equal the real costs, into debt the other process waits for', async () => {
      const { key, a, b } = pair({ capacity: 20, interval: 10_000 }); // refill negligible: 1 token / 10 s
      const charged: string[] = [];
      const call = (bucket: RedisTokenBucket, name: string, cost: number, real: number) =>
        bucket.execute(() => (charged.push(name), real), { cost, actualCost: (result) => result });
      await Promise.all([call(a, 'a1', 2, 5), call(b, 'b1', 4, 1), call(a, 'a2', 3, 3)]);
      expect(charged.sort()).toEqual(['a1', 'a2', 'b1']);
      const near = (target: number) => async () => Math.abs((await storedTokens(key)) - target) < 0.05;
      await until(near(20 - 9), 'the real costs (5 + 1 + 3) in Redis');
      await call(a, 'a3', 1, 15); // 11 − 15 = −4
      await until(near(-4), 'the debt in Redis');
      const refusal = await b.acquire(1, { maxWait: 1000 }).catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(RateLimitExceededError);
      expect((refusal as RateLimitExceededError).retryAfter).toBeGreaterThan(49_000); // (4 + 1) · 10 s
    });
  });
});
