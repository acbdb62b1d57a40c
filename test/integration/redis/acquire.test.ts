/**
 * `RedisTokenBucket.acquire` and `execute` against a real redis-server, and the order of
 * priorities: a value not yet asked of Redis (beyond `maxInFlight`) is overtaken by a later
 * one of higher priority; one already asked, or holding a reservation, never is.
 */
import type { Redis } from 'ioredis';
import { from, lastValueFrom, tap, toArray } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { throttleByTokens } from '../../../src/operators/throttleByTokens';
import type { RedisTokenBucketOptions } from '../../../src/redis/options';
import { RedisTokenBucket } from '../../../src/redis/RedisTokenBucket';
import { RateLimitExceededError } from '../../../src/shared/errors';
import { describeWithRedis } from '../../support/redisTests';
import { grantsOf, until } from './fixtures/waiting';

describeWithRedis('acquire and execute on a RedisTokenBucket', (redis) => {
  let client: Redis;
  beforeAll(() => {
    client = redis.client();
  });
  /** Capacity 1, 1 token / 30 ms unless told otherwise. */
  const bucket = (options: Partial<RedisTokenBucketOptions> = {}) =>
    new RedisTokenBucket({ redis: client, key: redis.uniqueKey('acquire'), capacity: 1, refillRate: 1, interval: 30, ...options });
  /** Acquires and records the name once granted. */
  const named = (order: string[]) => (subject: RedisTokenBucket, name: string, priority?: number) =>
    subject.acquire(1, priority === undefined ? {} : { priority }).then(() => order.push(name));

  describe('priorities: ordered while not yet asked of Redis', () => {
    it('maxInFlight 1: a later high-priority value is asked (and granted) before the low ones waiting unsent, after the one in flight', async () => {
      const shared = bucket({ maxInFlight: 1 });
      const granted = grantsOf(shared);
      const order: string[] = [];
      const ask = named(order);
      const asked = [ask(shared, 'a'), ask(shared, 'b'), ask(shared, 'c')];
      expect(shared.stats()).toMatchObject({ inFlight: 1, queued: 3 }); // a asked; b and c wait unsent
      asked.push(ask(shared, 'x', 1));
      await Promise.all(asked);
      expect(order).toEqual(['a', 'x', 'b', 'c']);
      const first = granted[0]!.storeTime!;
      expect(granted.map((event) => Math.round(event.storeTime! - first))).toEqual([0, 30, 60, 90]);
      expect(shared.stats()).toMatchObject({ queued: 0, inFlight: 0, reserved: 0, timerScheduled: false });
    });

    it('never overtakes a value already asked or holding a reservation (maxInFlight 2)', async () => {
      const shared = bucket({ maxInFlight: 2 });
      await shared.acquire(); // empty: what follows is reserved ahead
      const order: string[] = [];
      const ask = named(order);
      const asked = [ask(shared, 'a'), ask(shared, 'b'), ask(shared, 'c')];
      await until(() => shared.stats().reserved === 2, 'a and b holding their reservations');
      expect(shared.stats()).toMatchObject({ queued: 3, inFlight: 0 }); // c waits unsent
      asked.push(ask(shared, 'x', 5), ask(shared, 'y', 1));
      await Promise.all(asked);
      expect(order).toEqual(['a', 'b', 'x', 'y', 'c']);
    });

    it("orders take(cost, { priority }) and the operators' values by the same rule", async () => {
      const shared = bucket({ maxInFlight: 1 });
      const order: string[] = [];
      const low = lastValueFrom(
        from(['a', 'b', 'c']).pipe(
          throttleByTokens(shared),
          tap((value) => order.push(value)),
        ),
      );
      const high = new Promise<void>((resolve, reject) =>
        shared.take(1, { priority: 2 }).subscribe({ complete: () => (order.push('take'), resolve()), error: reject }),
      );
      const middle = lastValueFrom(
        from(['x']).pipe(
          throttleByTokens(shared, { priority: 1 }),
          tap((value) => order.push(value)),
        ),
      );
      await Promise.all([low, high, middle]);
      expect(order).toEqual(['a', 'take', 'x', 'b', 'c']);
      expect(shared.stats()).toMatchObject({ granted: 5, queued: 0, inFlight: 0 });
    });
  });

  describe('acquire', () => {
    it('resolves with the ms waited, in one queue with a pipe on the same bucket', async () => {
      const shared = bucket();
      const order: string[] = [];
      const pipe = lastValueFrom(from(['p']).pipe(throttleByTokens(shared), toArray())).then(() => order.push('p'));
      const first = shared.acquire().then((waited) => (order.push('P'), waited));
      const [, waited] = await Promise.all([pipe, first]);
      expect(order).toEqual(['p', 'P']);
      expect(waited).toBeGreaterThanOrEqual(25);
      expect(waited).toBeLessThan(30 + 300);
    });

    it('an already-aborted signal rejects at once with its reason, asking Redis nothing', async () => {
      const shared = bucket();
      const controller = new AbortController();
      controller.abort(new Error('gone'));
      await expect(shared.acquire(1, { signal: controller.signal })).rejects.toThrow('gone');
      expect(shared.stats()).toMatchObject({ queued: 0, inFlight: 0, granted: 0, timerScheduled: false });
      expect(await client.exists(shared.key)).toBe(0);
    });

    it('an abort while holding a reservation returns it: no ticket or timer left, and the next value takes its place', async () => {
      const shared = bucket({ interval: 100 });
      const granted = grantsOf(shared);
      await shared.acquire();
      const controller = new AbortController();
      const aborted = shared.acquire(1, { signal: controller.signal }).catch((error: unknown) => error);
      await until(() => shared.stats().reserved === 1, 'the reservation');
      controller.abort('user left');
      expect(await aborted).toBe('user left');
      expect(shared.stats()).toMatchObject({ queued: 0, reserved: 0, inFlight: 0, cancelled: 1, timerScheduled: false });
      await until(() => shared.stats().refundedCost === 1, 'the reservation given back');
      await shared.acquire();
      expect(Math.round(granted[1]!.storeTime! - granted[0]!.storeTime!)).toBe(100); // the aborted one's slot, not 200
    });

    it('an abort while its call is in flight, or before it is sent, leaves nothing behind either', async () => {
      const shared = bucket({ interval: 100, maxInFlight: 1 });
      await shared.acquire();
      const inFlight = new AbortController();
      const unsent = new AbortController();
      const first = shared.acquire(1, { signal: inFlight.signal }).catch((error: unknown) => error);
      const second = shared.acquire(1, { signal: unsent.signal }).catch((error: unknown) => error);
      expect(shared.stats()).toMatchObject({ inFlight: 1, queued: 2 });
      unsent.abort('second');
      inFlight.abort('first');
      expect([await first, await second]).toEqual(['first', 'second']);
      await until(() => shared.stats().inFlight === 0 && shared.stats().refundedCost === 1, 'the answer, given back');
      expect(shared.stats()).toMatchObject({ queued: 0, reserved: 0, cancelled: 2, timerScheduled: false, forfeitedCost: 0 });
    });

    it('rejects with RateLimitExceededError (max-wait) when Redis predicts a longer wait, taking nothing', async () => {
      const shared = bucket({ interval: 1000 });
      await shared.acquire();
      const refusal = await shared.acquire(1, { maxWait: 100 }).catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(RateLimitExceededError);
      expect(refusal).toMatchObject({ reason: 'max-wait', cost: 1 });
      expect((refusal as RateLimitExceededError).retryAfter).toBeGreaterThan(900);
      expect(shared.stats()).toMatchObject({ rejected: 1, queued: 0, refundedCost: 0 });
    });
  });

  describe('execute', () => {
    it("runs fn after the grant and resolves with its result; an abort after the grant reaches fn's signal", async () => {
      const shared = bucket();
      expect(await shared.execute(() => 'done')).toBe('done');
      const controller = new AbortController();
      let signal: AbortSignal | undefined;
      const running = shared.execute(
        (given) =>
          new Promise<string>((_resolve, reject) => {
            signal = given;
            given.addEventListener('abort', () => reject(given.reason));
          }),
        { signal: controller.signal },
      );
      await until(() => signal !== undefined, 'fn to run');
      controller.abort('stop');
      await expect(running).rejects.toBe('stop');
      expect(signal!.aborted).toBe(true);
    });
  });
});
