/**
 * The Promise shell over the bucket's one queue (`acquire`, `execute`) and costs known after the
 * call (`debit`, `refund`), in virtual time: the bucket runs on a TestScheduler outside `run()`,
 * `flushTo` advances it, and the promises settle on the microtask queue in between.
 */
import { describe, expect, it } from 'vitest';
import { Observable, Subject } from 'rxjs';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { throttleByTokens } from '../../src/operators/throttleByTokens';
import { RateLimitExceededError } from '../../src/shared/errors';
import { handDrivenScheduler, settled } from '../support/promises';

function virtualBucket(options: { capacity: number; refillRate: number; interval: number; initialTokens?: number }) {
  const { ts, flushTo } = handDrivenScheduler();
  const bucket = new TokenBucket({ ...options, scheduler: ts });
  return { ts, bucket, flushTo };
}

describe('acquire: capacity 1, 1 token / 10 ms', () => {
  const limits = { capacity: 1, refillRate: 1, interval: 10 };

  it('resolves with the ms waited, in one FIFO with a throttleByTokens pipe on the same bucket', async () => {
    const { ts, bucket, flushTo } = virtualBucket(limits);
    const order: string[] = [];
    const source = new Subject<string>();
    source.pipe(throttleByTokens(bucket)).subscribe((value) => order.push(`${value}@${ts.now()}`));
    const first = settled(bucket.acquire().then((waited) => (order.push(`P1@${ts.now()}`), waited)));
    source.next('a');
    const second = settled(bucket.acquire().then((waited) => (order.push(`P2@${ts.now()}`), waited)));
    source.next('b');
    await flushTo(40);
    expect(first.value).toBe(0);
    expect(second.value).toBe(20);
    // The promises settle on the microtask queue, after the frame's grants: their values say when.
    expect(order.filter((entry) => !entry.startsWith('P'))).toEqual(['a@10', 'b@30']);
    expect(bucket.stats()).toMatchObject({ granted: 4, queued: 0, timerScheduled: false });
  });

  it('an already-aborted signal rejects at once with its reason, taking and queueing nothing', async () => {
    const { bucket } = virtualBucket(limits);
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    await expect(bucket.acquire(1, { signal: controller.signal })).rejects.toThrow('gone');
    expect(bucket.stats()).toMatchObject({ available: 1, queued: 0, granted: 0, timerScheduled: false });
  });

  it('an abort while waiting rejects with the reason, leaves no waiter or timer, and the value behind moves up at once', async () => {
    const { ts, bucket, flushTo } = virtualBucket({ capacity: 2, refillRate: 1, interval: 10, initialTokens: 0 });
    const controller = new AbortController();
    const heavy = settled(bucket.acquire(2, { signal: controller.signal }));
    const light = settled(bucket.acquire(1));
    await flushTo(5);
    controller.abort('user left');
    await flushTo(10);
    expect(heavy).toMatchObject({ done: true, error: 'user left' });
    expect(light).toMatchObject({ done: true, value: 10 }); // covered at 10, no longer behind the heavy head (due at 20)
    expect(bucket.stats()).toMatchObject({ queued: 0, cancelled: 1, granted: 1, timerScheduled: false });
    expect(ts.actions.length).toBe(0);
  });

  it('rejects with RateLimitExceededError (max-wait) when the predicted wait exceeds maxWait, taking nothing', async () => {
    const { bucket } = virtualBucket({ ...limits, initialTokens: 0 });
    await expect(bucket.acquire(1, { maxWait: 9 })).rejects.toEqual(new RateLimitExceededError(10, 1, 'max-wait'));
    expect(bucket.stats()).toMatchObject({ queued: 0, rejected: 1, timerScheduled: false });
  });

  it('rejects for a bad cost or option, naming it; a cost above capacity never waits forever', async () => {
    const { bucket } = virtualBucket(limits);
    await expect(bucket.acquire(2)).rejects.toEqual(new RangeError('cost 2 exceeds capacity 1'));
    await expect(bucket.acquire(Number.NaN)).rejects.toEqual(new RangeError('cost must be a finite number >= 0, got NaN'));
    await expect(bucket.acquire('1' as never)).rejects.toBeInstanceOf(TypeError);
    await expect(bucket.acquire(1, { priority: Number.NaN })).rejects.toThrow(
      'TokenBucket.acquire option "priority" must be a finite number',
    );
    await expect(bucket.acquire(1, { wait: 5 } as never)).rejects.toThrow('TokenBucket.acquire has no option "wait"');
    await expect(bucket.acquire(1, { signal: {} as never })).rejects.toThrow('option "signal" must be an AbortSignal');
    expect(bucket.stats()).toMatchObject({ available: 1, queued: 0 });
  });

  it('a higher priority goes ahead of waiting promises; FIFO within a level', async () => {
    const { bucket, flushTo } = virtualBucket({ ...limits, initialTokens: 0 });
    const low = settled(bucket.acquire(1));
    const high = settled(bucket.acquire(1, { priority: 1 }));
    const high2 = settled(bucket.acquire(1, { priority: 1 }));
    await flushTo(30);
    expect([high.value, high2.value, low.value]).toEqual([10, 20, 30]);
  });
});

describe('execute: capacity 10, 1 token / ms', () => {
  const limits = { capacity: 10, refillRate: 1, interval: 1 };

  it('runs fn once the tokens are granted and resolves with its result; an abort after the grant reaches fn', async () => {
    const { bucket, flushTo } = virtualBucket({ ...limits, initialTokens: 0 });
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    let startedAt = -1;
    const result = settled(
      bucket.execute(
        (signal) => {
          seen = signal;
          startedAt = bucket.scheduler.now();
          return new Promise<string>((resolve) => signal.addEventListener('abort', () => resolve(`aborted: ${String(signal.reason)}`)));
        },
        { cost: 4, signal: controller.signal },
      ),
    );
    await flushTo(4);
    expect(startedAt).toBe(4);
    controller.abort('stop');
    await flushTo(5);
    expect(seen?.aborted).toBe(true);
    expect(result).toMatchObject({ done: true, value: 'aborted: stop' });
  });

  it('actualCost debits what the call cost beyond the estimate, and refunds what it did not use', async () => {
    const { bucket } = virtualBucket(limits);
    await bucket.execute(() => ({ used: 7 }), { cost: 3, actualCost: (response) => response.used });
    expect(bucket.available()).toBe(3); // 10 − 7
    await bucket.execute(() => ({ used: 1 }), { cost: 3, actualCost: (response) => response.used });
    expect(bucket.available()).toBe(2); // 3 − 1
    await bucket.execute(() => ({ used: 9 }), { cost: 1, actualCost: (response) => response.used });
    expect(bucket.available()).toBe(0);
    expect(bucket.stats().debt).toBe(7); // 2 − 9
  });

  it('rejects when actualCost returns something that is not a finite number >= 0, naming it', async () => {
    const { bucket } = virtualBucket(limits);
    await expect(bucket.execute(() => 1, { actualCost: () => Number.NaN })).rejects.toThrow(
      new RangeError('TokenBucket.execute: actualCost must return a finite number >= 0, got NaN'),
    );
    await expect(bucket.execute('no' as never)).rejects.toThrow(TypeError);
  });
});

describe('debt: debit and refund (capacity 4, 1 token / 10 ms)', () => {
  const limits = { capacity: 4, refillRate: 1, interval: 10 };

  it('a debit beyond the tokens reports 0 available and the debt; refill pays it back before a waiting value; timeUntil counts it', async () => {
    const { bucket, flushTo } = virtualBucket(limits);
    bucket.debit(6);
    expect(bucket.available()).toBe(0);
    expect(bucket.stats()).toMatchObject({ available: 0, debt: 2 });
    expect(bucket.timeUntil(1)).toBe(30); // 2 owed + 1
    const waiting = settled(bucket.acquire(1));
    await flushTo(29);
    expect(waiting.done).toBe(false);
    await flushTo(30);
    expect(waiting).toMatchObject({ done: true, value: 30 });
  });

  it('a refund never lifts the count above capacity and re-plans waiters at once (they may go earlier)', async () => {
    const { bucket, flushTo } = virtualBucket({ ...limits, initialTokens: 0 });
    const waiting = settled(bucket.acquire(3));
    await flushTo(5);
    bucket.refund(2); // 0.5 + 2 = 2.5 at 5: 3 is covered at 10 instead of 30
    await flushTo(10);
    expect(waiting).toMatchObject({ done: true, value: 10 });
    bucket.refund(100);
    expect(bucket.available()).toBe(4);
  });

  it('debit and refund check their amount, naming the method', () => {
    const { bucket } = virtualBucket(limits);
    expect(() => bucket.debit(-1)).toThrow(new RangeError('TokenBucket.debit: the amount must be a finite number >= 0, got -1'));
    expect(() => bucket.refund(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => bucket.debit('2' as never)).toThrow(TypeError);
    expect(bucket.stats()).toMatchObject({ available: 4, debt: 0 });
  });

  it('take(cost, { priority }) joins the queue at its priority', async () => {
    const { ts, bucket, flushTo } = virtualBucket({ ...limits, initialTokens: 0 });
    const order: string[] = [];
    bucket.take(1).subscribe(() => order.push(`low@${ts.now()}`));
    new Observable<void>((subscriber) => bucket.take(1, { priority: 2 }).subscribe(subscriber)).subscribe(() =>
      order.push(`high@${ts.now()}`),
    );
    await flushTo(20);
    expect(order).toEqual(['high@10', 'low@20']);
    expect(() => bucket.take(1, { priority: Number.NaN }).subscribe({ error: (error) => order.push(String(error)) })).not.toThrow();
    expect(order[2]).toContain('option "priority" must be a finite number');
  });
});
