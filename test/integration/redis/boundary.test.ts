/**
 * Fault 1 of issue 12: every number that crosses the Lua boundary is finite, checked on both
 * sides, and options Redis cannot hold exactly are refused at construction. A grid of
 * extreme but valid options (capacity × refillRate × interval × cost) runs the reserve
 * script against the real redis-server and the in-memory `TokenBucket` at the same instants:
 * every combination either is refused by `RedisTokenBucket`'s constructor, naming the range,
 * or grants exactly what the in-memory bucket grants. (Before the fix, 74 of these 216
 * misbehaved: a rate of 1e-303 made a wait of "inf" that granted at once.)
 */
import type { Redis } from 'ioredis';
import type { SchedulerLike } from 'rxjs';
import { asyncScheduler } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { TokenBucket } from '../../../src/limiters/TokenBucket';
import { checkRedisLimits, REDIS_LIMIT_RANGES } from '../../../src/redis/limitsRange';
import { RedisTokenBucket } from '../../../src/redis/RedisTokenBucket';
import { BucketScripts, RESERVE_SCRIPT, type ClockReading } from '../../../src/redis/scripts';
import { describeWithRedis } from '../../support/redisTests';
import { context } from './fixtures/scriptCalls';

const S = 1_700_000_000;
const CAPACITIES = [1e-9, 1e-6, 1, 1e6, 1e15, 1.7e308];
const RATES = [1e-303, 1e-9, 1e-3, 1, 1e6, 1e12];
const INTERVALS = [1e-3, 1000, 3.6e6];
const COST_SHARES = [1, 0.4];

/** A clock reading `micros` µs after S (whole seconds and µs, as TIME gives them). */
function reading(micros: number): ClockReading {
  const seconds = Math.floor(micros / 1e6);
  return [String(S + seconds), String(Math.round(micros - seconds * 1e6))];
}

/** A scheduler whose clock the test sets (ms), for the in-memory bucket. */
function manualScheduler(): SchedulerLike & { at: number } {
  return {
    at: 0,
    now() {
      return this.at;
    },
    schedule: asyncScheduler.schedule.bind(asyncScheduler),
  };
}

describeWithRedis('Redis bucket: numbers at the Lua boundary', (redis) => {
  let client: Redis;
  let scripts: BucketScripts;
  beforeAll(() => {
    client = redis.client();
    scripts = new BucketScripts(client);
  });

  it('refuses what Redis cannot hold, and grants exactly as the in-memory bucket everywhere else, over 216 extreme combinations', async () => {
    const combos = CAPACITIES.flatMap((capacity) =>
      RATES.flatMap((refillRate) =>
        INTERVALS.flatMap((interval) => COST_SHARES.map((share) => ({ capacity, refillRate, interval, share }))),
      ),
    );
    expect(combos).toHaveLength(216);
    const misbehaving: string[] = [];
    let refused = 0;
    await Promise.all(
      combos.map(async ({ capacity, refillRate, interval, share }, index) => {
        const name = `capacity ${capacity}, refillRate ${refillRate}, interval ${interval}, cost ${share} × capacity`;
        let representable = true;
        try {
          checkRedisLimits('RedisTokenBucket', { capacity, refillRate, interval });
        } catch {
          representable = false;
        }
        if (!representable) {
          refused++;
          const build = () => new RedisTokenBucket({ redis: client, key: 'never', capacity, refillRate, interval });
          expect(build, name).toThrow(RangeError);
          expect(build, name).toThrow(/^RedisTokenBucket option "(capacity|refillRate)" /);
          return;
        }
        const cost = capacity * share;
        const perMicro = refillRate / interval / 1000;
        const fillMicros = capacity / perMicro;
        const limits = { capacity, tokensPerMicro: perMicro };
        const key = redis.uniqueKey(`grid-${index}`);
        const scheduler = manualScheduler();
        const memory = new TokenBucket({ capacity, refillRate, interval, scheduler });
        // At 0: three now-or-never asks, then one that waits for whatever it takes; all in one call.
        const first = scripts.reserve(key, context(limits, reading(0)), [
          { cost, maxWaitMicros: 0 },
          { cost, maxWaitMicros: 0 },
          { cost, maxWaitMicros: 0 },
          { cost, maxWaitMicros: -1 },
        ]);
        // Half a fill later (the reservation not yet paid), then three fills later (full again), in whole µs as TIME reads.
        const half = Math.max(1, Math.floor(Math.min(fillMicros / 2, 1e15)));
        const later = Math.max(half + 1, Math.ceil(Math.min(fillMicros * 3, 2e15)));
        // The TTL runs on the server's real clock, not these readings: keep the key between the calls.
        const kept = [client.persist(key)];
        const second = scripts.reserve(key, context(limits, reading(half)), [{ cost, maxWaitMicros: 0 }]);
        kept.push(client.persist(key));
        const third = scripts.reserve(key, context(limits, reading(later)), [
          { cost, maxWaitMicros: 0 },
          { cost, maxWaitMicros: 0 },
        ]);
        const [a, b, c] = await Promise.all([first, second, third]);
        await Promise.all(kept);
        const expected: boolean[] = [memory.tryTake(cost), memory.tryTake(cost), memory.tryTake(cost)];
        const expectedWait = memory.timeUntil(cost);
        memory.debit(cost);
        scheduler.at = half / 1000;
        expected.push(memory.tryTake(cost));
        scheduler.at = later / 1000;
        expected.push(memory.tryTake(cost), memory.tryTake(cost));
        const got = [...a.answers.slice(0, 3), ...b.answers, ...c.answers].map((answer) => answer.granted);
        const wait = a.answers[3]!.wait / 1000;
        const waitAgrees = a.answers[3]!.granted && Math.abs(wait - expectedWait) <= 1e-3 + expectedWait * 1e-9;
        const allFinite = [a, b, c].every((reply) => Number.isFinite(reply.tokens) && reply.answers.every((x) => Number.isFinite(x.wait)));
        if (JSON.stringify(got) !== JSON.stringify(expected) || !waitAgrees || !allFinite) {
          misbehaving.push(
            `${name}: Redis ${JSON.stringify(got)} wait ${wait} ms, in memory ${JSON.stringify(expected)} wait ${expectedWait} ms`,
          );
        }
        const stored = await client.hgetall(key);
        for (const [field, text] of Object.entries(stored)) {
          if (field !== 'base' && !Number.isFinite(Number(text))) misbehaving.push(`${name}: stored ${field} = ${text}`);
        }
      }),
    );
    expect(misbehaving).toEqual([]);
    // The grid spans the ranges: both ends of each are exercised, refused beyond them.
    expect(refused).toBeGreaterThan(50);
    expect(refused).toBeLessThan(216 - 50);
  });

  it('names the owner, the option, the value and the range it must be in', () => {
    const build = (capacity: number, refillRate: number, interval?: number) => () =>
      new RedisTokenBucket({ redis: client, key: 'never', capacity, refillRate, ...(interval === undefined ? {} : { interval }) });
    expect(build(1, 1e-303)).toThrow(
      /^RedisTokenBucket option "refillRate" 1e-303 per interval 1000 ms takes 1(\.0*\d*)?e\+306 ms to fill capacity 1, beyond the 1000000000000 ms \(about 31\.7 years\) Redis can hold exactly: write a refillRate of at least 1e-9$/,
    );
    expect(build(1.7e308, 1)).toThrow(
      `RedisTokenBucket option "capacity" must be in [${REDIS_LIMIT_RANGES.minCapacity}, ${REDIS_LIMIT_RANGES.maxCapacity}] for Redis to hold it exactly, got 1.7e+308`,
    );
    expect(build(10, 1e16, 1)).toThrow(
      /option "refillRate" 10000000000000000 per interval 1 ms is 10000000000000000 tokens per ms, above the 1000000000000 Redis can hold exactly: write a refillRate of at most 1000000000000$/,
    );
    const bucket = new RedisTokenBucket({ redis: client, key: 'ok', capacity: 10, refillRate: 1 });
    expect(() => bucket.configure({ refillRate: 1e-303 })).toThrow(/^RedisTokenBucket\.configure option "refillRate" 1e-303/);
    expect(bucket.refillRate).toBe(1);
    bucket.adapt({ limit: 1, remaining: 0, resetAfter: 1e300 }); // a learned rate is clamped into the range, never refused
    expect(bucket.refillRate).toBeGreaterThanOrEqual((10 / REDIS_LIMIT_RANGES.maxFillMs) * 1000);
  });

  describe('the script itself', () => {
    const sha = () => client.script('LOAD', RESERVE_SCRIPT) as Promise<string>;
    // The shared seven, then the lease asked for (none).
    const shared = (capacity: string, rate: string) => [capacity, rate, String(S), '0', '', '0', '0', '0'];

    it('fails a call with a non-finite argument before writing anything', async () => {
      const key = redis.uniqueKey('non-finite');
      const script = await sha();
      for (const bad of [shared('inf', '1'), shared('10', 'nan'), shared('10', '-inf'), shared('10', '1e999')]) {
        await expect(client.evalsha(script, 1, key, ...bad, '1', '-1', '1')).rejects.toThrow(/rtb: argument \d is not a finite number/);
      }
      await expect(client.evalsha(script, 1, key, ...shared('10', '1'), 'nan', '-1', '1')).rejects.toThrow(/argument 9/);
      await expect(client.evalsha(script, 1, key, ...shared('10', '1'), '1', '-1', '0.5')).rejects.toThrow(/a run of 0.5 values/);
      expect(await client.exists(key)).toBe(0);
    });

    it('refuses to store or answer a number that overflowed, and reads a corrupt state as absent', async () => {
      const key = redis.uniqueKey('overflow');
      const script = await sha();
      // A rate so small the wait overflows to inf: the call fails instead of answering "inf".
      await expect(client.evalsha(script, 1, key, ...shared('1', '1e-320'), '1', '-1', '2')).rejects.toThrow(/non-finite/);
      expect(await client.exists(key)).toBe(0);
      // A state an older version wrote with "-inf" in it: created afresh.
      await client.hset(key, 'tokens', '-inf', 'ts', '0', 'base', String(S));
      const reply = (await client.evalsha(script, 1, key, ...shared('10', '1'), '1', '-1', '1')) as string[];
      expect(reply[3]).toBe('9');
      expect((await client.hgetall(key))['tokens']).toBe('9');
    });
  });
});
