/**
 * The Lua scripts, run by a real redis-server. Most tests use the client-clock mode with
 * crafted clock readings, so the arithmetic is checked exactly; a few use the server's TIME.
 */
import type { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { RedisTokenBucket } from '../../../src/redis/RedisTokenBucket';
import { SERVER_CLOCK, type ClockReading, type ScriptLimits } from '../../../src/redis/scripts';
import { describeWithRedis } from '../../support/redisTests';
import { reservationOf, SingleScripts } from './fixtures/scriptCalls';

/** A clock reading as TIME gives it: whole seconds and (unpadded) microseconds. */
const at = (seconds: number, micros: number): ClockReading => [String(seconds), String(micros)];
const S = 1_700_000_000;
/**
 * 1 token per ms, and a capacity so large that the TTL (the real time to refill to full)
 * never expires a key between two calls, whatever times the tests pretend it is.
 */
const FULL = 1e6;
const PER_MS: ScriptLimits = { capacity: FULL, tokensPerMicro: 0.001 };
/** Capacity 10, 1 token per s: a small bucket whose TTL is still seconds long. */
const SMALL: ScriptLimits = { capacity: 10, tokensPerMicro: 1e-6 };

describeWithRedis('Redis bucket scripts', (redis) => {
  let client: Redis;
  let scripts: SingleScripts;
  beforeAll(() => {
    client = redis.client();
    scripts = new SingleScripts(client);
  });
  const state = async (key: string) => client.hgetall(key);

  describe('reserve', () => {
    it('creates a full bucket, takes the cost and stores tokens, ts and base', async () => {
      const key = redis.uniqueKey('fresh');
      const reply = await scripts.reserve(key, SMALL, at(S, 250), 3, -1);
      expect(reply).toEqual({ granted: true, wait: 0, due: '250', tokens: 7, base: String(S), ahead: 0, generation: `${S}.250` });
      // the expiry: full again 3 s later, plus one more time to fill (10 s), in µs since base
      expect(await state(key)).toEqual({ tokens: '7', ts: '250', base: `${S}.250`, exp: '13000250', seen: '250' });
    });

    it('refills continuously between calls, up to capacity', async () => {
      const key = redis.uniqueKey('refill');
      await scripts.reserve(key, PER_MS, at(S, 0), FULL, -1);
      const after4ms = await scripts.reserve(key, PER_MS, at(S, 4000), 3, -1);
      expect(after4ms).toMatchObject({ granted: true, wait: 0, tokens: 1 });
      const small = redis.uniqueKey('refill-cap');
      await scripts.reserve(small, SMALL, at(S, 0), 5, -1);
      const muchLater = await scripts.reserve(small, SMALL, at(S + 60, 0), 0, -1);
      expect(muchLater.tokens).toBe(10); // capped, not 5 + 60
    });

    it('reserves ahead: the wait is the time until the debt, including earlier reservations, is paid', async () => {
      const key = redis.uniqueKey('reserve');
      await scripts.reserve(key, PER_MS, at(S, 0), FULL, -1);
      const first = await scripts.reserve(key, PER_MS, at(S, 0), 5, -1);
      const second = await scripts.reserve(key, PER_MS, at(S, 1000), 2, -1);
      expect(first).toMatchObject({ granted: true, wait: 5000, due: '5000', tokens: -5 });
      // at 1 ms: -5 + 1 = -4, minus 2 = -6: paid off at 7 ms, 6 ms from now
      expect(second).toMatchObject({ granted: true, wait: 6000, due: '7000', tokens: -6 });
    });

    it('refuses a wait above maxWait and then debits nothing and leaves the TTL alone', async () => {
      const key = redis.uniqueKey('refuse');
      await scripts.reserve(key, PER_MS, at(S, 0), FULL - 1, -1);
      const before = await state(key);
      const ttlBefore = await client.pttl(key);
      const refused = await scripts.reserve(key, PER_MS, at(S, 1000), 5, 2999);
      expect(refused).toMatchObject({ granted: false, wait: 3000, tokens: 2 });
      expect(await state(key)).toEqual(before);
      expect(await client.pttl(key)).toBeLessThanOrEqual(ttlBefore);
      const allowed = await scripts.reserve(key, PER_MS, at(S, 1000), 5, 3000);
      expect(allowed).toMatchObject({ granted: true, wait: 3000, tokens: -3 });
    });

    it('combines TIME parts numerically: microseconds are not zero-padded', async () => {
      const key = redis.uniqueKey('time-parts');
      const fast: ScriptLimits = { capacity: 1e9, tokensPerMicro: 1 }; // 1 token per µs
      await scripts.reserve(key, fast, at(S, 999_990), 1e9, -1);
      // (S+1, "5") is 15 µs later, not 500 015 µs (padding "5" to "500000") nor the text "S5".
      const reply = await scripts.reserve(key, fast, at(S + 1, 5), 16, -1);
      expect(reply).toMatchObject({ granted: true, wait: 1, tokens: -1 });
      expect(await state(key)).toMatchObject({ ts: '1000005' });
      const small = await scripts.reserve(key, fast, at(S + 1, 50), 0, -1);
      expect(small.tokens).toBe(44); // 45 µs after (S+1, 5): "50" is 50 µs, not 500 000
    });

    it('never moves the stored timestamp backwards, and a clock behind it mints nothing', async () => {
      const key = redis.uniqueKey('backwards');
      await scripts.reserve(key, PER_MS, at(S, 500_000), FULL, -1);
      // 100 ms behind: the count is known from 500 ms on, so the token is due at 501 ms, 101 ms from this clock's now.
      const behind = await scripts.reserve(key, PER_MS, at(S, 400_000), 1, -1);
      expect(behind).toMatchObject({ granted: true, wait: 101_000, due: '501000', tokens: -1, ahead: 100_000 });
      expect(await state(key)).toMatchObject({ ts: '500000', tokens: '-1' });
      // Far behind (beyond the 250 ms lead): read as the stored clock, which mints nothing either.
      const evenEarlier = await scripts.reserve(key, PER_MS, at(S - 5, 0), 0, -1);
      expect(evenEarlier.tokens).toBe(-1);
      expect((await state(key))['ts']).toBe('500000');
    });

    it('sets a TTL covering the time to refill to full, plus at most one more time to fill', async () => {
      const key = redis.uniqueKey('ttl');
      const slow: ScriptLimits = { capacity: 10, tokensPerMicro: 1e-5 }; // 1 token / 100 ms
      await scripts.reserve(key, slow, SERVER_CLOCK, 4, -1);
      const ttl = await client.pttl(key);
      expect(ttl).toBeGreaterThan(350);
      expect(ttl).toBeLessThanOrEqual(1401); // 4 tokens * 100 ms, + 10 * 100 ms of slack, + 1
      // A second reservation within the slack moves no expiry: PEXPIRE is not sent on every call.
      await scripts.reserve(key, slow, SERVER_CLOCK, 1, -1);
      expect(await client.pttl(key)).toBeLessThanOrEqual(ttl);
    });

    it('lets an idle key vanish once it would read as full', async () => {
      const key = redis.uniqueKey('vanish');
      await scripts.reserve(key, { capacity: 2, tokensPerMicro: 1e-4 }, SERVER_CLOCK, 2, -1); // full in 20 ms
      expect(await client.exists(key)).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 80));
      expect(await client.exists(key)).toBe(0);
    });

    it("reads the server's TIME in server-clock mode", async () => {
      const key = redis.uniqueKey('server-time');
      const [beforeSeconds, beforeMicros] = await client.time();
      await scripts.reserve(key, SMALL, SERVER_CLOCK, 1, -1);
      const [afterSeconds, afterMicros] = await client.time();
      const { ts, base } = await state(key);
      const stored = Math.floor(Number(base)) * 1e6 + Number(ts);
      expect(stored).toBeGreaterThanOrEqual(Number(beforeSeconds) * 1e6 + Number(beforeMicros));
      expect(stored).toBeLessThanOrEqual(Number(afterSeconds) * 1e6 + Number(afterMicros));
    });

    it('is loaded again after the server forgets it (NOSCRIPT)', async () => {
      const key = redis.uniqueKey('noscript');
      await scripts.reserve(key, SMALL, at(S, 0), 1, -1);
      await client.script('FLUSH');
      const reply = await scripts.reserve(key, SMALL, at(S, 0), 1, -1);
      expect(reply).toMatchObject({ granted: true, tokens: 8 }); // 10 − 1 − 1
    });
  });

  describe('refund', () => {
    async function reserveThree(key: string) {
      await scripts.reserve(key, PER_MS, at(S, 0), FULL, -1);
      const a = await scripts.reserve(key, PER_MS, at(S, 0), 2, -1); // due 2 ms
      const b = await scripts.reserve(key, PER_MS, at(S, 0), 3, -1); // due 5 ms
      const c = await scripts.reserve(key, PER_MS, at(S, 0), 1, -1); // due 6 ms
      const reservation = reservationOf;
      return { a: reservation(a, 2), b: reservation(b, 3), c: reservation(c, 1) };
    }

    it('returns a run of reservations from the latest back', async () => {
      const key = redis.uniqueKey('refund-run');
      const { b, c } = await reserveThree(key);
      const reply = await scripts.refund(key, PER_MS, at(S, 1000), [c, b]);
      expect(reply).toEqual({ returned: 4, forfeited: 0, tokens: -1, ahead: 0 }); // -6 + 1 ms of refill + 4
      const next = await scripts.reserve(key, PER_MS, at(S, 1000), 1, -1);
      expect(next).toMatchObject({ wait: 2000, due: '3000' }); // right behind a, as if b and c never were
    });

    it("returns a reservation with later ones behind it at the latest one's time: no newcomer is granted before them", async () => {
      const key = redis.uniqueKey('refund-middle');
      const { b } = await reserveThree(key);
      const reply = await scripts.refund(key, PER_MS, at(S, 1000), [b]);
      expect(reply).toMatchObject({ returned: 3, forfeited: 0, tokens: 3, ahead: 5000 }); // at 6 ms, when c falls due
      expect(await state(key)).toMatchObject({ ts: '6000', tokens: '3' });
      const next = await scripts.reserve(key, PER_MS, at(S, 1000), 1, -1);
      expect(next).toMatchObject({ wait: 5000, due: '6000' }); // beside c, within the burst; not before it
    });

    it('returns nothing for a reservation already due, or for a state that expired and was created again', async () => {
      const key = redis.uniqueKey('refund-late');
      const { a, c } = await reserveThree(key);
      expect(await scripts.refund(key, PER_MS, at(S, 6000), [c])).toMatchObject({ returned: 0 });
      await client.del(key);
      await scripts.reserve(key, PER_MS, at(S + 1, 0), FULL, -1); // a new state with a new base
      expect(await scripts.refund(key, PER_MS, at(S + 1, 0), [a])).toMatchObject({ returned: 0 });
      expect(await scripts.refund(redis.uniqueKey('absent'), PER_MS, at(S, 0), [a])).toMatchObject({ returned: 0 });
    });
  });

  describe('adjust', () => {
    it('caps the count without raising it', async () => {
      const key = redis.uniqueKey('adjust-cap');
      expect(await scripts.adjust(key, PER_MS, at(S, 0), 4, 0)).toEqual({ tokens: 4, ahead: 0 });
      expect(await scripts.adjust(key, PER_MS, at(S, 0), 8, 0)).toEqual({ tokens: 4, ahead: 0 });
      expect(await scripts.reserve(key, PER_MS, at(S, 1000), 5, -1)).toMatchObject({ wait: 0, tokens: 0 });
    });

    it('pauses every client once: emptied now, refilled meanwhile, nothing granted before the end, then a burst of at most capacity', async () => {
      const key = redis.uniqueKey('adjust-pause');
      const twoPerMs: ScriptLimits = { capacity: 2, tokensPerMicro: 0.001 };
      const tenSeconds = 10_000_000;
      await scripts.reserve(key, twoPerMs, at(S, 0), 1, -1); // 1 left
      expect(await scripts.adjust(key, twoPerMs, at(S, 0), undefined, tenSeconds)).toEqual({ tokens: 2, ahead: tenSeconds });
      expect(await state(key)).toMatchObject({ ts: String(tenSeconds), tokens: '2' });
      expect(await scripts.adjust(key, twoPerMs, at(S, 0), undefined, tenSeconds)).toEqual({ tokens: 2, ahead: tenSeconds }); // reported twice: once
      expect(await scripts.adjust(key, twoPerMs, at(S, 0), undefined, 1000)).toEqual({ tokens: 2, ahead: tenSeconds }); // shorter: cuts nothing short
      const dues = [];
      for (let i = 0; i < 3; i++) dues.push((await scripts.reserve(key, twoPerMs, at(S, 1000), 1, -1)).due);
      expect(dues).toEqual([String(tenSeconds), String(tenSeconds), String(tenSeconds + 1000)]);
      expect(await scripts.reserve(key, twoPerMs, at(S, 1000), 1, 0)).toMatchObject({ granted: false, wait: tenSeconds - 1000 + 2000 });
    });

    it('empties a bucket in debt no further, and lets the debt be paid during the pause', async () => {
      const key = redis.uniqueKey('adjust-debt');
      await scripts.reserve(key, PER_MS, at(S, 0), FULL + 5, -1); // 5 in debt: paid off at 5 ms
      expect(await scripts.adjust(key, PER_MS, at(S, 0), undefined, 3000)).toEqual({ tokens: -2, ahead: 3000 });
      expect(await scripts.reserve(key, PER_MS, at(S, 0), 1, -1)).toMatchObject({ wait: 6000 }); // as without the pause
    });
  });

  describe('keys', () => {
    it('stores a bucket under `rtb:{key}`: the key is a hash tag, so a cluster keeps it on one node', async () => {
      const name = redis.uniqueKey('orders');
      const bucket = new RedisTokenBucket({ redis: client, key: name, capacity: 5, refillRate: 1 });
      expect(bucket.key).toBe(`rtb:{${name}}`);
      await new Promise<void>((resolve, reject) => bucket.take(2).subscribe({ complete: resolve, error: reject }));
      expect(await client.type(`rtb:{${name}}`)).toBe('hash');
      expect(Object.keys(await state(`rtb:{${name}}`)).sort()).toEqual(['base', 'exp', 'tokens', 'ts']);
      const custom = new RedisTokenBucket({ redis: client, key: 'x', keyPrefix: 'app:limits:', capacity: 1, refillRate: 1 });
      expect(custom.key).toBe('app:limits:{x}');
    });
  });
});
