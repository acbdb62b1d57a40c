/**
 * Malformed script replies, from a fake client whose `eval`/`evalsha` answer what the test
 * says: every numeric field is checked finite (and within its bounds) as it is read, and a
 * bad reply fails the call with a `RedisStoreError` naming the key and what came back, so
 * it goes to `onStoreError` like any Redis failure and never leaks NaN into the mirror
 * ledger, the stats or a timer.
 */
import { createHash } from 'node:crypto';
import { firstValueFrom, from, lastValueFrom, toArray, type Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { throttleByTokens } from '../../../src/operators/throttleByTokens';
import { RedisStoreError } from '../../../src/redis/errors';
import type { RedisTokenBucketEvent, RedisTokenBucketStats } from '../../../src/redis/events';
import type { RedisTokenBucketOptions } from '../../../src/redis/options';
import { RedisTokenBucket } from '../../../src/redis/RedisTokenBucket';
import { ADJUST_SCRIPT, BucketScripts, REFUND_SCRIPT, RESERVE_SCRIPT, SERVER_CLOCK, type RedisClient } from '../../../src/redis/scripts';

type Script = 'reserve' | 'refund' | 'adjust';
/** What the fake server answers to one script call (a thrown error rejects the call). */
type Answer = (args: readonly string[]) => unknown;

const sha1 = (source: string) => createHash('sha1').update(source).digest('hex');
const SOURCES = new Map<string, Script>([
  [RESERVE_SCRIPT, 'reserve'],
  [REFUND_SCRIPT, 'refund'],
  [ADJUST_SCRIPT, 'adjust'],
]);
const SHAS = new Map<string, Script>([...SOURCES].map(([source, name]) => [sha1(source), name]));

/** A client that answers each script with `answers[script]`, in a later microtask, as a real one would. */
function fakeRedis(answers: Partial<Record<Script, Answer>>): { client: RedisClient; calls: Script[] } {
  const calls: Script[] = [];
  const run = (script: Script | undefined, args: string[]): Promise<unknown> => {
    if (script === undefined) return Promise.reject(new Error('NOSCRIPT No matching script'));
    calls.push(script);
    const answer = answers[script];
    return Promise.resolve().then(() => {
      if (answer === undefined) throw new Error(`no answer for the ${script} script`);
      return answer(args);
    });
  };
  const client = {
    eval: (source: string, _keys: number, _key: string, ...args: string[]) => run(SOURCES.get(source), args),
    evalsha: (sha: string, _keys: number, _key: string, ...args: string[]) => run(SHAS.get(sha), args),
  };
  return { client: client as unknown as RedisClient, calls };
}

const BASE = '1700000000';
/** The generation: the state's creation reading, `seconds.micros`; its whole seconds are the base. */
const GEN = `${BASE}.25`;
/** A reserve reply for one value as the script writes it: the header (generation, shift, ahead, tokens), then granted, wait, due. */
const reserveReply = (
  fields: { granted?: string; wait?: string; due?: string; tokens?: string; generation?: string; ahead?: string } = {},
) => {
  const { granted = '1', wait = '0', due = '0', tokens = '1', generation = GEN, ahead = '0' } = fields;
  return [generation, '0', ahead, tokens, granted, wait, due];
};
/** A reserve reply granting at once, with `tokens` left. */
const grantedNow = (tokens: number) => reserveReply({ tokens: String(tokens) });
/** A count reply (adjust, settle) and a refund reply. */
const countReply = (tokens: string, ahead = '0', generation = GEN) => [generation, '0', ahead, tokens];
const refundReply = (returned: string, forfeited: string, tokens = '0', ahead = '0', generation = GEN) => [
  ...countReply(tokens, ahead, generation),
  returned,
  forfeited,
];

const KEY = 'malformed';
function bucket(answers: Partial<Record<Script, Answer>>, options: Partial<RedisTokenBucketOptions> = {}) {
  const { client, calls } = fakeRedis(answers);
  const created = new RedisTokenBucket({ redis: client, key: KEY, capacity: 5, refillRate: 10, ...options });
  const events: RedisTokenBucketEvent[] = [];
  created.events$.subscribe((event) => events.push(event));
  return { bucket: created, events, calls };
}

function outcome<T>(source: Observable<T>): Promise<{ values: T[]; error?: unknown }> {
  const values: T[] = [];
  return new Promise((resolve) => {
    source.subscribe({
      next: (value) => values.push(value),
      error: (error: unknown) => resolve({ values, error }),
      complete: () => resolve({ values }),
    });
  });
}

/** Every number in the snapshot is finite (booleans are left alone). */
function expectFinite(stats: RedisTokenBucketStats): void {
  for (const [field, value] of Object.entries(stats)) {
    if (typeof value === 'number') expect(Number.isFinite(value), `${field} = ${value}`).toBe(true);
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 2000;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const MALFORMED_RESERVE: [string, unknown, RegExp][] = [
  [
    'a NaN wait (and a generation that is no number)',
    reserveReply({ wait: 'nan', generation: 'x' }),
    /"wait" is "nan", not a finite number/,
  ],
  ['a negative wait', reserveReply({ wait: '-5' }), /"wait" is -5, below 0/],
  ['an infinite wait', reserveReply({ wait: 'inf' }), /"wait" is "inf"/],
  ['a due that is no number', reserveReply({ due: 'soon' }), /"due" is "soon"/],
  ['NaN tokens', reserveReply({ tokens: '-nan' }), /"tokens" is "-nan"/],
  ['an empty generation', reserveReply({ generation: '' }), /"generation" is "", not a finite number/],
  ['a generation that is no number', reserveReply({ generation: 'x' }), /"generation" is "x"/],
  ['a negative ahead', reserveReply({ ahead: '-1' }), /"ahead" is -1, below 0/],
  ['a granted flag other than 1 or 0', reserveReply({ granted: 'yes' }), /"granted" is "yes", not 1 or 0/],
  ['an infinite clock shift', [GEN, 'inf', '0', '1', '1', '0', '0'], /"shift" is "inf"/],
  ['too few fields', ['1', '0', '0'], /expected 7 fields/],
  ['no array at all', 'OK', /expected 7 fields \(got "OK"\)/],
  ['nil', null, /expected 7 fields \(got null\)/],
];

describe('BucketScripts: reading replies', () => {
  const limits = { capacity: 5, tokensPerMicro: 1e-5 };
  const context = { limits, clock: SERVER_CLOCK, generation: '', carry: 0, untrusted: false };

  it.each(MALFORMED_RESERVE)('refuses a reserve reply with %s, naming the key and the reply', async (_name, reply, what) => {
    const scripts = new BucketScripts(fakeRedis({ reserve: () => reply }).client);
    const error = await scripts.reserve('rtb:{k}', context, [{ cost: 1, maxWaitMicros: -1 }]).then(
      () => undefined,
      (rejection: unknown) => rejection,
    );
    expect(error).toBeInstanceOf(RedisStoreError);
    expect((error as RedisStoreError).key).toBe('rtb:{k}');
    expect((error as Error).message).toMatch(/^Redis gave a malformed reply to the reserve script for key rtb:\{k\}: /);
    expect((error as Error).message).toMatch(what);
    expect((error as Error).message).toContain(`(got ${JSON.stringify(reply)})`);
  });

  it('reads a well-formed reply as before, clamping tokens above the capacity', async () => {
    const scripts = new BucketScripts(fakeRedis({ reserve: () => reserveReply({ wait: '250', due: '1250', tokens: '1e9' }) }).client);
    expect(await scripts.reserve('k', context, [{ cost: 1, maxWaitMicros: -1 }])).toEqual({
      generation: GEN,
      base: BASE,
      shift: 0,
      ahead: 0,
      tokens: 5,
      answers: [{ granted: true, wait: 250, due: '1250' }],
    });
  });

  it('reads one answer per value of a batch, and refuses a reply with another count of answers', async () => {
    const two = [...reserveReply({ wait: '0', due: '10' }), 0, '700', '0'];
    const scripts = new BucketScripts(fakeRedis({ reserve: () => two }).client);
    const asks = [
      { cost: 1, maxWaitMicros: -1 },
      { cost: 4, maxWaitMicros: 0 },
    ];
    expect((await scripts.reserve('k', context, asks)).answers).toEqual([
      { granted: true, wait: 0, due: '10' },
      { granted: false, wait: 700, due: '0' },
    ]);
    await expect(scripts.reserve('k', context, [asks[0]!])).rejects.toThrow(/expected 7 fields/);
  });

  it('refuses malformed refund and adjust replies the same way', async () => {
    const reservation = { generation: GEN, base: BASE, due: '100', cost: 1 };
    const refund = (reply: unknown) => new BucketScripts(fakeRedis({ refund: () => reply }).client).refund('k', context, [reservation]);
    const adjust = (reply: unknown) => new BucketScripts(fakeRedis({ adjust: () => reply }).client).adjust('k', context, 1, 0);
    await expect(refund(refundReply('-1', '0'))).rejects.toThrow(/refund script for key k: "returned" is -1, below 0/);
    await expect(refund(refundReply('0', 'nan'))).rejects.toThrow(/"forfeited" is "nan"/);
    await expect(refund(refundReply('1', '0', '0', '0', 'x'))).rejects.toThrow(/"generation" is "x"/);
    await expect(refund(refundReply('1', '0', '0', 'inf'))).rejects.toBeInstanceOf(RedisStoreError);
    await expect(adjust(countReply('nan'))).rejects.toThrow(/adjust script for key k: "tokens" is "nan"/);
    await expect(adjust(countReply('1', '-3'))).rejects.toThrow(/"ahead" is -3, below 0/);
    expect(await refund(refundReply('1', '0', '99'))).toMatchObject({ returned: 1, forfeited: 0, tokens: 5, ahead: 0 });
    expect(await adjust(countReply('-2', '1000'))).toMatchObject({ tokens: -2, ahead: 1000, generation: GEN });
  });
});

describe('RedisTokenBucket: a malformed reply is a failed store call', () => {
  it("errors take() with a RedisStoreError under 'fail-closed', and the stats stay finite", async () => {
    const { bucket: shared, events } = bucket({ reserve: () => reserveReply({ wait: 'nan', generation: 'x' }) });
    const error = await firstValueFrom(shared.take(1)).then(
      () => undefined,
      (rejection: unknown) => rejection,
    );
    expect(error).toBeInstanceOf(RedisStoreError);
    expect((error as RedisStoreError).key).toBe(`rtb:{${KEY}}`);
    expect((error as Error).message).toContain(JSON.stringify(reserveReply({ wait: 'nan', generation: 'x' })));
    const stats = shared.stats();
    expectFinite(stats);
    expect(stats).toMatchObject({ storeErrors: 1, degraded: true, granted: 0, queued: 0, inFlight: 0, timerScheduled: false });
    expect(shared.available()).toBe(5); // the mirror never heard the bad count
    expect(Number.isFinite(shared.timeUntil(1))).toBe(true);
    expect(events.find((event) => event.type === 'store-error')).toMatchObject({ error, policy: 'fail-closed' });
  });

  it("errors a throttled stream with a RedisStoreError under 'fail-closed', emitting nothing", async () => {
    const { bucket: shared } = bucket({ reserve: () => reserveReply({ tokens: 'inf' }) });
    const run = await outcome(from([1, 2, 3]).pipe(throttleByTokens(shared)));
    expect(run.values).toEqual([]);
    expect(run.error).toBeInstanceOf(RedisStoreError);
    expect((run.error as Error).message).toMatch(/reserve script for key rtb:\{malformed\}: "tokens" is "inf"/);
    await settle(); // the other two waited for the first call's answer; withdrawn, at most one went as a probe meanwhile
    expectFinite(shared.stats());
    expect(shared.stats()).toMatchObject({ cancelled: 2, queued: 0, inFlight: 0, timerScheduled: false });
    expect(shared.stats().storeErrors).toBeLessThanOrEqual(2);
  });

  it("grants under 'fail-open' and 'local' as for any Redis failure", async () => {
    const malformed = () => reserveReply({ wait: '-1' });
    const open = bucket({ reserve: malformed }, { onStoreError: 'fail-open' });
    expect(await lastValueFrom(from([1, 2]).pipe(throttleByTokens(open.bucket), toArray()))).toEqual([1, 2]);
    expect(open.bucket.stats()).toMatchObject({ failOpenGrants: 2, granted: 2, degraded: true });
    expectFinite(open.bucket.stats());
    const local = bucket({ reserve: malformed }, { onStoreError: 'local', localShare: 0.5 });
    expect(await lastValueFrom(from([1, 2]).pipe(throttleByTokens(local.bucket), toArray()))).toEqual([1, 2]);
    expect(local.bucket.stats()).toMatchObject({ localGrants: 2, granted: 2 });
    expectFinite(local.bucket.stats());
  });

  it('recovers when a probe gets a well-formed reply', async () => {
    let replies = 0;
    const { bucket: shared, events } = bucket(
      { reserve: () => (++replies === 1 ? reserveReply({ tokens: 'nan' }) : grantedNow(4)) },
      { probeInterval: 0 },
    );
    await expect(firstValueFrom(shared.take(1))).rejects.toBeInstanceOf(RedisStoreError);
    await firstValueFrom(shared.take(1));
    expect(shared.stats()).toMatchObject({ degraded: false, storeErrors: 1, granted: 1 });
    expect(shared.available()).toBeLessThanOrEqual(5);
    expect(events.some((event) => event.type === 'store-recovered')).toBe(true);
  });

  it('clamps a count above the capacity', async () => {
    const { bucket: shared } = bucket({ reserve: () => grantedNow(1e9) });
    await firstValueFrom(shared.take(1));
    expect(shared.available()).toBe(5);
    expectFinite(shared.stats());
  });

  it('counts the reservation as forfeited when the refund reply is malformed', async () => {
    const reserved = reserveReply({ wait: '50000', due: '50000', tokens: '-1' }); // due in 50 ms
    const { bucket: shared, events, calls } = bucket({ reserve: () => reserved, refund: () => refundReply('nan', '0') });
    const subscription = shared.take(1).subscribe();
    await until(() => shared.stats().reserved === 1, 'the reservation');
    subscription.unsubscribe();
    await until(() => shared.stats().forfeitedCost > 0, 'the refund');
    expect(calls).toEqual(['reserve', 'refund']);
    const stats = shared.stats();
    expectFinite(stats);
    expect(stats).toMatchObject({ refundedCost: 0, forfeitedCost: 1, reserved: 0, queued: 0, timerScheduled: false });
    expect(events.filter((event) => event.type === 'refunded')).toMatchObject([{ returned: 0, forfeited: 1 }]);
  });

  it('counts a malformed adjust reply as a store error, leaving the mirror as adapt set it', async () => {
    const { bucket: shared, calls } = bucket({ adjust: () => countReply('nan') });
    shared.adapt({ retryAfter: 1000 });
    const pausedUntil = shared.pausedUntil;
    await until(() => shared.stats().storeErrors === 1, 'the adjust call');
    expect(calls).toEqual(['adjust']);
    expect(shared.pausedUntil).toBe(pausedUntil);
    expect(Number.isFinite(pausedUntil)).toBe(true);
    expectFinite(shared.stats());
    expect(shared.stats().degraded).toBe(false);
  });
});
