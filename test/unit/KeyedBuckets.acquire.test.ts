/**
 * The Promise shell over one key's queue (`keyed.acquire`, `keyed.execute`), in virtual time:
 * the `KeyedBuckets` runs on a TestScheduler outside `run()`, `flushTo` advances it, and the
 * promises settle on the microtask queue in between.
 */
import { describe, expect, it } from 'vitest';
import { Subject } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import { KeyedBuckets, type KeyedBucketsOptions } from '../../src/limiters/keyed/KeyedBuckets';
import type { BucketFor } from '../../src/limiters/keyed/KeyLimitTable';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { perKey } from '../../src/operators/perKey';
import { RateLimitExceededError } from '../../src/shared/errors';
import { handDrivenScheduler, settled } from '../support/promises';

/** Every key: capacity 1, 1 token / 10 ms. */
const oneEvery10 = { capacity: 1, refillRate: 1, interval: 10 };

type Options = Omit<KeyedBucketsOptions<string>, 'scheduler'>;

/** A `KeyedBuckets` on a TestScheduler driven by hand; `options` may be made with that scheduler (for a global `TokenBucket` on it). */
function virtualKeyed(bucketFor: BucketFor<string> = oneEvery10, options: Options | ((ts: TestScheduler) => Options) = {}) {
  const { ts, flushTo } = handDrivenScheduler();
  const keyed = new KeyedBuckets<string>(bucketFor, { ...(typeof options === 'function' ? options(ts) : options), scheduler: ts });
  return { ts, keyed, flushTo };
}

describe('KeyedBuckets.acquire: every key capacity 1, 1 token / 10 ms', () => {
  it('resolves with the ms waited, in one FIFO with the perKey values of the same key; other keys never wait for it', async () => {
    const { ts, keyed, flushTo } = virtualKeyed();
    const emitted: string[] = [];
    const source = new Subject<string>();
    source.pipe(perKey((value: string) => value[0]!, keyed)).subscribe((value) => emitted.push(`${value}@${ts.now()}`));
    const first = settled(keyed.acquire('a'));
    source.next('a1');
    const second = settled(keyed.acquire('a'));
    source.next('a2');
    source.next('b1');
    const ofB = settled(keyed.acquire('b'));
    await flushTo(40);
    expect([first.value, second.value, ofB.value]).toEqual([0, 20, 10]);
    expect(emitted).toEqual(['b1@0', 'a1@10', 'a2@30']);
    expect(keyed.stats()).toMatchObject({ granted: 6, queued: 0, timerScheduled: false, keys: 0 });
  });

  it('an abort while waiting rejects with the reason, leaves no waiter or timer, the value behind moves up, and the key is forgotten once refilled', async () => {
    const { ts, keyed, flushTo } = virtualKeyed({ capacity: 2, refillRate: 1, interval: 10 });
    const controller = new AbortController();
    await keyed.acquire('a', 2);
    const heavy = settled(keyed.acquire('a', 2, { signal: controller.signal }));
    const light = settled(keyed.acquire('a', 1));
    await flushTo(5);
    controller.abort('user left');
    await flushTo(10);
    expect(heavy).toMatchObject({ done: true, error: 'user left' });
    expect(light).toMatchObject({ done: true, value: 10 }); // no longer behind the heavy head (due at 20)
    expect(keyed.stats()).toMatchObject({ queued: 0, cancelled: 1, granted: 2, timerScheduled: false, keys: 1 });
    expect(ts.actions.length).toBe(0);
    await flushTo(30);
    expect(keyed.stats()).toMatchObject({ keys: 0, forgotten: 1 }); // refilled at 30: forgotten, no timer needed
  });

  it('an abort of the only waiter of a new key leaves no entry at all; an already-aborted signal creates none', async () => {
    const { ts, keyed, flushTo } = virtualKeyed(oneEvery10, { global: { capacity: 1, refillRate: 1, interval: 10 } });
    await keyed.acquire('a'); // takes the global token
    const controller = new AbortController();
    const waiting = settled(keyed.acquire('b', 1, { signal: controller.signal })); // holds the global request
    await flushTo(3);
    expect(keyed.stats()).toMatchObject({ keys: 2, queued: 1, timerScheduled: true });
    controller.abort(new Error('gone'));
    await flushTo(4);
    expect(waiting.error).toEqual(new Error('gone'));
    expect(keyed.stats()).toMatchObject({ queued: 0, timerScheduled: false, cancelled: 1 });
    expect(keyed.keyStats('b')).toMatchObject({ held: false, available: 1 }); // never charged, not held
    expect(ts.actions.length).toBe(0);
    const aborted = new AbortController();
    aborted.abort('before');
    await expect(keyed.acquire('c', 1, { signal: aborted.signal })).rejects.toBe('before');
    expect(keyed.keyStats('c').held).toBe(false);
  });

  it('rejects with RateLimitExceededError (max-wait) when the predicted wait exceeds maxWait, taking nothing and holding no new key', async () => {
    const { keyed } = virtualKeyed(oneEvery10, { global: { capacity: 1, refillRate: 1, interval: 20 } });
    await keyed.acquire('a');
    await expect(keyed.acquire('a', 1, { maxWait: 9 })).rejects.toEqual(new RateLimitExceededError(20, 1, 'max-wait'));
    await expect(keyed.acquire('b', 1, { maxWait: 0 })).rejects.toEqual(new RateLimitExceededError(20, 1, 'max-wait'));
    expect(keyed.stats()).toMatchObject({ queued: 0, rejected: 2, timerScheduled: false, keys: 1 });
    expect(keyed.keyStats('b').held).toBe(false);
  });

  it('rejects a bad cost naming the key, and a bad option naming it, leaving nothing behind', async () => {
    const { keyed } = virtualKeyed(
      { rules: [{ match: 'a*', limit: oneEvery10 }] },
      { global: { capacity: 2, refillRate: 1, interval: 10 } },
    );
    await expect(keyed.acquire('a', Number.NaN)).rejects.toEqual(
      new RangeError('KeyedBuckets.acquire, key "a": cost must be a finite number >= 0, got NaN'),
    );
    await expect(keyed.acquire('a', -1)).rejects.toThrow(RangeError);
    await expect(keyed.acquire('a', '1' as never)).rejects.toEqual(
      new TypeError('KeyedBuckets.acquire, key "a": cost must be a number, got "1"'),
    );
    await expect(keyed.acquire('a', 2)).rejects.toEqual(new RangeError('cost 2 exceeds capacity 1 of key "a"'));
    await expect(keyed.acquire('x')).rejects.toThrow('no rule matches key "x"');
    await expect(keyed.acquire('a', 1, { priority: Number.NaN })).rejects.toThrow(
      'KeyedBuckets.acquire option "priority" must be a finite number',
    );
    await expect(keyed.acquire('a', 1, { wait: 5 } as never)).rejects.toThrow('KeyedBuckets.acquire has no option "wait"');
    expect(keyed.stats()).toMatchObject({ keys: 0, queued: 0, granted: 0, timerScheduled: false });
  });

  it('a bad weight rejects naming the option and the key', async () => {
    const { keyed } = virtualKeyed(oneEvery10, { global: { capacity: 2, refillRate: 1, interval: 10 }, weight: () => 0 });
    await expect(keyed.acquire('a')).rejects.toEqual(
      new RangeError('KeyedBuckets option "weight" must return a finite number > 0, got 0 for key "a"'),
    );
    expect(keyed.stats().keys).toBe(0);
  });

  it('rejects a new key with a RangeError when maxKeys keys are held, counting the refusal', async () => {
    const { keyed, flushTo } = virtualKeyed(oneEvery10, { maxKeys: 1 });
    await keyed.acquire('a');
    await expect(keyed.acquire('b')).rejects.toEqual(new RangeError('KeyedBuckets: 1 keys held (maxKeys); key "b" refused'));
    expect(keyed.stats()).toMatchObject({ keys: 1, refusedMaxKeys: 1, rejected: 1, queued: 0 });
    await flushTo(10); // a refilled: forgotten, b may come
    await expect(keyed.acquire('b')).resolves.toBe(0);
  });
});

describe('KeyedBuckets.acquire: priorities within a key', () => {
  it('a higher priority goes ahead of the waiting promises and perKey values of its key; FIFO within a level', async () => {
    const { ts, keyed, flushTo } = virtualKeyed();
    const order: string[] = [];
    const source = new Subject<string>();
    source.pipe(perKey(() => 'a', keyed)).subscribe((value) => order.push(`${value}@${ts.now()}`));
    expect(keyed.tryTake('a')).toBe(true);
    source.next('v1');
    const low = settled(keyed.acquire('a'));
    const high = settled(keyed.acquire('a', 1, { priority: 1 }));
    const high2 = settled(keyed.acquire('a', 1, { priority: 1 }));
    const other = settled(keyed.acquire('b', 1, { priority: -5 })); // another key: never waits for a
    await flushTo(50);
    expect([high.value, high2.value, low.value, other.value]).toEqual([10, 20, 40, 0]);
    expect(order).toEqual(['v1@30']);
  });

  it('maxWait counts only the cost waiting at the same priority or higher', async () => {
    const { keyed, flushTo } = virtualKeyed();
    expect(keyed.tryTake('a')).toBe(true);
    const lows = [settled(keyed.acquire('a')), settled(keyed.acquire('a')), settled(keyed.acquire('a'))];
    const high = settled(keyed.acquire('a', 1, { maxWait: 10, priority: 1 })); // 10 ms ahead of the lows, not 40 behind them
    // Priority 0: behind the three lows and the high one.
    await expect(keyed.acquire('a', 1, { maxWait: 49 })).rejects.toEqual(new RateLimitExceededError(50, 1, 'max-wait'));
    await flushTo(40);
    expect(high.value).toBe(10);
    expect(lows.map((low) => low.value)).toEqual([20, 30, 40]);
  });

  it('under a global limit, a higher priority arrival takes over the global request its key held, and both buckets are charged what was granted', async () => {
    let global!: TokenBucket;
    const { ts, keyed, flushTo } = virtualKeyed({ capacity: 10, refillRate: 10, interval: 1 }, (scheduler) => {
      global = new TokenBucket({ capacity: 3, refillRate: 1, interval: 1, initialTokens: 0, scheduler });
      return { global };
    });
    const low = settled(keyed.acquire('a', 3)); // asks the global bucket for 3: due at 3
    await flushTo(1);
    const high = settled(keyed.acquire('a', 1, { priority: 1 })); // 1 token there at 1
    await flushTo(10);
    expect(high.value).toBe(0);
    expect(low.value).toBe(4); // 3 more tokens after the high one's
    expect(global.stats()).toMatchObject({ grantedCost: 4, queued: 0, cancelled: 1 });
    expect(keyed.stats()).toMatchObject({ grantedCost: 4, queued: 0, timerScheduled: false });
    expect(ts.actions.length).toBe(0);
  });

  it('the same with an in-memory global bucket', async () => {
    const { keyed, flushTo } = virtualKeyed(
      { capacity: 10, refillRate: 10, interval: 1 },
      { global: { capacity: 3, refillRate: 1, interval: 1 } },
    );
    await keyed.acquire('a', 3);
    const low = settled(keyed.acquire('a', 3));
    await flushTo(1);
    const high = settled(keyed.acquire('a', 1, { priority: 1 }));
    await flushTo(10);
    expect([high.value, low.value]).toEqual([0, 4]);
    expect(keyed.stats().global!.available).toBe(3); // 1 taken at 1, 3 at 4, full again by 7: no token leaked or owed
  });
});

describe('KeyedBuckets.acquire: a key backed by its own TokenLimiter', () => {
  function remote() {
    let bucket!: TokenBucket;
    const setup = virtualKeyed((key) => (key === 'r' ? bucket : oneEvery10));
    bucket = new TokenBucket({ ...oneEvery10, scheduler: setup.ts });
    return { ...setup, bucket };
  }

  it('waits on that limiter, by priority, and its maxWait refusal rejects with RateLimitExceededError', async () => {
    const { keyed, bucket, flushTo } = remote();
    await expect(keyed.acquire('r')).resolves.toBe(0);
    const low = settled(keyed.acquire('r'));
    const high = settled(keyed.acquire('r', 1, { priority: 1 }));
    await expect(keyed.acquire('r', 1, { maxWait: 5 })).rejects.toBeInstanceOf(RateLimitExceededError);
    await flushTo(20);
    expect([high.value, low.value]).toEqual([10, 20]);
    expect(bucket.stats()).toMatchObject({ queued: 0, granted: 3 });
    expect(keyed.stats()).toMatchObject({ keys: 0, queued: 0, rejected: 1 });
  });

  it('an abort withdraws its ticket from the limiter, and the key is forgotten', async () => {
    const { keyed, bucket, flushTo } = remote();
    await keyed.acquire('r');
    const controller = new AbortController();
    const waiting = settled(keyed.acquire('r', 1, { signal: controller.signal }));
    await flushTo(2);
    expect(bucket.stats().queued).toBe(1);
    controller.abort('no');
    await flushTo(3);
    expect(waiting.error).toBe('no');
    expect(bucket.stats()).toMatchObject({ queued: 0, cancelled: 1, timerScheduled: false });
    expect(keyed.stats()).toMatchObject({ keys: 0, queued: 0 });
  });
});

describe('KeyedBuckets.execute', () => {
  it('runs fn once the key has granted its cost, and resolves with its result; an abort after the grant reaches fn', async () => {
    const { ts, keyed, flushTo } = virtualKeyed({ capacity: 4, refillRate: 1, interval: 1 });
    await keyed.acquire('a', 4);
    const controller = new AbortController();
    let startedAt = -1;
    const result = settled(
      keyed.execute(
        'a',
        (signal) => {
          startedAt = ts.now();
          return new Promise<string>((resolve) => signal.addEventListener('abort', () => resolve(`aborted: ${String(signal.reason)}`)));
        },
        { cost: 3, signal: controller.signal },
      ),
    );
    await flushTo(3);
    expect(startedAt).toBe(3);
    controller.abort('stop');
    await flushTo(4);
    expect(result).toMatchObject({ done: true, value: 'aborted: stop' });
    await expect(keyed.execute('b', () => 42)).resolves.toBe(42);
  });

  it('rejects actualCost (not supported for KeyedBuckets), a bad cost naming the key, and a bad fn', async () => {
    const { keyed } = virtualKeyed();
    await expect(keyed.execute('a', () => 1, { actualCost: () => 2 } as never)).rejects.toEqual(
      new TypeError(
        'KeyedBuckets.execute option "actualCost" is not supported for KeyedBuckets: a key has no debit or refund (use a TokenBucket\'s execute for costs known afterwards)',
      ),
    );
    await expect(keyed.execute('a', () => 1, { cost: -1 })).rejects.toEqual(
      new RangeError('KeyedBuckets.execute, key "a": cost must be a finite number >= 0, got -1'),
    );
    await expect(keyed.execute('a', () => 1, { cost: 2 })).rejects.toEqual(new RangeError('cost 2 exceeds capacity 1 of key "a"'));
    await expect(keyed.execute('a', 'no' as never)).rejects.toThrow('KeyedBuckets.execute: fn must be a function');
    expect(keyed.stats()).toMatchObject({ keys: 0, granted: 0 });
  });
});
