/**
 * `RedisTokenBucket.debit` and `refund` with a fake client that answers each script as the
 * test says: the amounts are checked naming the method, the mirror shows the change at once,
 * the settle script's reply is checked like the others, and a call Redis fails is a store
 * error; under `onStoreError: 'local'` the local share bears the change instead.
 */
import { createHash } from 'node:crypto';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { AdaptableLimiter } from '../../../src/operators/adaptive/config';
import { RedisStoreError } from '../../../src/redis/errors';
import type { RedisTokenBucketEvent } from '../../../src/redis/events';
import type { RedisTokenBucketOptions } from '../../../src/redis/options';
import { RedisTokenBucket } from '../../../src/redis/RedisTokenBucket';
import { ADJUST_SCRIPT, REFUND_SCRIPT, RESERVE_SCRIPT, SETTLE_SCRIPT, type RedisClient } from '../../../src/redis/scripts';

const NAMES = { reserve: RESERVE_SCRIPT, refund: REFUND_SCRIPT, adjust: ADJUST_SCRIPT, settle: SETTLE_SCRIPT };
type Name = keyof typeof NAMES;
const BASE = '1700000000';
const GEN = `${BASE}.0`;
/** The header every reply starts with (generation, clock shift, ahead, tokens): all a settle or adjust reply is. */
const count = (tokens: string) => [GEN, '0', '0', tokens];
const GRANTED_NOW = [...count('1'), '1', '0', '0'];
/** The settle script's amount: its first argument after the seven every script shares. */
const AMOUNT = 7;

/** A client answering `answer(script, args)` a microtask later (a throw rejects the call); `calls` lists what it was asked. */
function scriptedRedis(answer: (script: Name, args: readonly string[]) => unknown) {
  const byText = new Map<string, Name>();
  for (const [name, source] of Object.entries(NAMES) as [Name, string][]) {
    byText.set(source, name).set(createHash('sha1').update(source).digest('hex'), name);
  }
  const calls: [Name, string[]][] = [];
  const run = (text: string, args: string[]) => {
    const name = byText.get(text);
    if (name === undefined) return Promise.reject(new Error('NOSCRIPT'));
    calls.push([name, args]);
    return Promise.resolve().then(() => answer(name, args));
  };
  const client = {
    eval: (text: string, _n: number, _key: string, ...args: string[]) => run(text, args),
    evalsha: (text: string, _n: number, _key: string, ...args: string[]) => run(text, args),
  };
  return { client: client as unknown as RedisClient, calls };
}

function bucket(answer: (script: Name, args: readonly string[]) => unknown, options: Partial<RedisTokenBucketOptions> = {}) {
  const { client, calls } = scriptedRedis(answer);
  const created = new RedisTokenBucket({ redis: client, key: 'settle', capacity: 5, refillRate: 20, probeInterval: 60_000, ...options });
  const events: RedisTokenBucketEvent[] = [];
  created.events$.subscribe((event) => events.push(event));
  return { bucket: created, calls, events };
}
const turns = async (count = 5) => {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setTimeout(resolve, 0));
};
const down = () => {
  throw new Error('connection lost');
};

describe('RedisTokenBucket.debit and refund', () => {
  it('check their amount, naming the method', () => {
    const { bucket: subject, calls } = bucket(() => count('0'));
    expect(() => subject.debit(-1)).toThrow(new RangeError('RedisTokenBucket.debit: the amount must be a finite number >= 0, got -1'));
    expect(() => subject.refund(Number.NaN)).toThrow(RangeError);
    expect(() => subject.refund('2' as never)).toThrow(new TypeError('RedisTokenBucket.refund: the amount must be a number, got "2"'));
    expect(calls).toEqual([]);
  });

  it('send the settle script the amount to take (a refund negative), mirror it at once, then take the count Redis reports', async () => {
    const answer = (_script: Name, args: readonly string[]) => count(args[AMOUNT] === '8' ? '-3' : '2');
    const { bucket: subject, calls, events } = bucket(answer, { refillRate: 0.001 }); // refill negligible
    subject.debit(8);
    expect(subject.available()).toBe(0);
    expect(subject.stats().debt).toBeCloseTo(3, 3);
    expect(events.filter((event) => event.type === 'adjusted')).toMatchObject([{ cause: 'debit', amount: 8, available: 0 }]);
    await turns();
    subject.refund(5);
    expect(subject.available()).toBeCloseTo(2, 3); // −3 + 5, before Redis answers
    await turns();
    expect(calls.map(([name, args]) => [name, args[AMOUNT]])).toEqual([
      ['settle', '8'],
      ['settle', '-5'],
    ]);
    expect(subject.stats()).toMatchObject({ storeErrors: 0, debt: 0 });
    expect(subject.available()).toBeGreaterThanOrEqual(2);
  });

  it('refuse a malformed settle reply as a store error, never a NaN', async () => {
    const { bucket: subject } = bucket(() => count('nan'));
    subject.debit(1);
    await turns();
    const stats = subject.stats();
    expect(stats).toMatchObject({ storeErrors: 1, degraded: false });
    expect(Number.isFinite(stats.available) && Number.isFinite(stats.debt)).toBe(true);
  });

  it("under 'fail-closed', a call Redis fails is counted as a store error and decides nothing else", async () => {
    const { bucket: subject } = bucket(down);
    subject.debit(2);
    subject.refund(1);
    await turns();
    expect(subject.stats()).toMatchObject({ storeErrors: 2, degraded: false });
    await expect(subject.acquire()).rejects.toBeInstanceOf(RedisStoreError); // the next value meets the outage
  });

  describe("under onStoreError 'local' (local share: capacity 2, 1 token / 50 ms)", () => {
    const local = { onStoreError: 'local', capacity: 2 } as const;

    it('the local share bears a debit made while Redis counts as failing', async () => {
      const { bucket: subject, calls } = bucket(down, local);
      await subject.acquire(); // Redis fails: granted by the local share, 1 left
      expect(subject.stats()).toMatchObject({ degraded: true, localGrants: 1 });
      subject.debit(2); // 1 − 2: 1 in debt (once: the settle call fails too)
      await turns();
      expect(await subject.acquire()).toBeGreaterThanOrEqual(50); // 2 tokens to refill: 100 ms from the debit (without it: 0)
      expect(calls.filter(([name]) => name === 'settle')).toHaveLength(1);
    });

    it('…and one Redis failed while it counted as healthy, as the outage begins', async () => {
      let failing = false;
      const { bucket: subject } = bucket((script) => (script === 'reserve' && !failing ? GRANTED_NOW : down()), local);
      await subject.acquire(); // from Redis
      subject.debit(3); // Redis fails it: the local share (2) goes 1 into debt
      await turns();
      expect(subject.stats()).toMatchObject({ storeErrors: 1, degraded: false });
      failing = true;
      expect(await subject.acquire()).toBeGreaterThanOrEqual(50); // 100 ms from the debit (without it: 0)
      expect(subject.stats()).toMatchObject({ degraded: true, localGrants: 1 });
    });
  });

  it('make the bucket one adaptiveThrottle can settle real costs with', () => {
    const { bucket: subject } = bucket(() => count('0'));
    expectTypeOf(subject).toMatchTypeOf<AdaptableLimiter & Required<Pick<AdaptableLimiter, 'debit' | 'refund'>>>();
    expect([typeof subject.debit, typeof subject.refund]).toEqual(['function', 'function']);
  });
});
