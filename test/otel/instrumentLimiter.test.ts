/**
 * `instrumentLimiter` against the real OpenTelemetry metrics SDK: limiters on a hand-driven
 * `TestScheduler`, exact values collected at chosen virtual instants, and what unregistering
 * leaves (nothing).
 */
import type { Attributes } from '@opentelemetry/api';
import type { Histogram } from '@opentelemetry/sdk-metrics';
import { Subject, type Subscription } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import { KeyedBuckets } from '../../src/limiters/keyed/KeyedBuckets';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { perKey } from '../../src/operators/perKey';
import { throttleByTokens, type ThrottleStrategy } from '../../src/operators/throttleByTokens';
import { instrumentLimiter, RATE_LIMITING_METRICS as M, TIME_IN_QUEUE_BOUNDARIES } from '../../src/otel/index';
import { Collected, expectedCounts, meterWithReader, observersOf } from '../support/otelMetrics';
import { handDrivenScheduler } from '../support/promises';

/** Pushes `values` into `subject` at virtual instants: `[at, value]`. */
function scheduleArrivals<T>(
  ts: { schedule: (work: () => void, delay: number) => unknown },
  subject: Subject<T>,
  arrivals: [number, T][],
): void {
  for (const [at, value] of arrivals) ts.schedule(() => subject.next(value), at);
}

describe('instrumentLimiter on a TokenBucket', () => {
  it('counts grants, reports the queue, tokens and limits, and the time in queue, exactly', async () => {
    const { reader, meter } = meterWithReader();
    const { ts, flushTo } = handDrivenScheduler();
    const bucket = new TokenBucket({ capacity: 2, refillRate: 1, scheduler: ts }); // 1 token/s
    expect(observersOf(bucket)).toBe(0);
    const handle = instrumentLimiter(bucket, { meter, name: 'api' });
    expect(observersOf(bucket)).toBe(1);
    const api = { 'rate_limiting.limiter': 'api' };
    const granted = { ...api, 'rate_limiting.result': 'granted' };

    const source = new Subject<number>();
    const emitted: [number, number][] = [];
    source.pipe(throttleByTokens(bucket)).subscribe((value) => emitted.push([ts.now(), value]));
    scheduleArrivals(ts, source, [
      [0, 1],
      [0, 2],
      [0, 3],
      [0, 4],
    ]);

    await flushTo(500);
    let seen = await Collected.from(reader);
    expect(seen.value(M.requests, granted)).toBe(2); // the burst
    expect(seen.value(M.queuedRequests, api)).toBe(2);
    expect(seen.value(M.queuedCost, api)).toBe(2);
    expect(seen.value(M.tokensAvailable, api)).toBeCloseTo(0.5, 12);
    expect(seen.value(M.tokensCapacity, api)).toBe(2);
    expect(seen.value(M.refillRate, api)).toBe(1);
    expect(seen.points(M.timeInQueue)).toEqual([]); // nobody has waited and been granted yet
    expect(seen.points(M.keys)).toEqual([]); // a bucket has no keys

    await flushTo(2000);
    expect(emitted).toEqual([
      [0, 1],
      [0, 2],
      [1000, 3],
      [2000, 4],
    ]);
    seen = await Collected.from(reader);
    expect(seen.all(M.requests)).toEqual([{ attributes: granted, value: 4 }]);
    expect(seen.value(M.requestCost, granted)).toBe(4);
    expect(seen.value(M.queuedRequests, api)).toBe(0);
    expect(seen.value(M.tokensAvailable, api)).toBe(0);
    const histogram = seen.value(M.timeInQueue, granted) as Histogram;
    expect(histogram.count).toBe(2);
    expect(histogram.sum).toBe(3); // 1 s and 2 s, in seconds
    expect(histogram.min).toBe(1);
    expect(histogram.max).toBe(2);
    expect(histogram.buckets.boundaries).toEqual(TIME_IN_QUEUE_BOUNDARIES);
    expect(histogram.buckets.counts).toEqual(expectedCounts([1, 2]));
    expect(seen.unit(M.timeInQueue)).toBe('s');
    expect(seen.unit(M.refillRate)).toBe('{token}/s');

    handle.unregister();
    expect(observersOf(bucket)).toBe(0);
  });

  it('reports the refill rate per second whatever the interval', async () => {
    const { reader, meter } = meterWithReader();
    const { ts } = handDrivenScheduler();
    instrumentLimiter(new TokenBucket({ capacity: 30, refillRate: 30, interval: 60_000, scheduler: ts }), { meter });
    const seen = await Collected.from(reader);
    expect(seen.value(M.refillRate, { 'rate_limiting.limiter': 'TokenBucket' })).toBe(0.5); // 30 a minute; the default name is the kind
  });

  it('counts drops, rejections (with their reason) and cancellations, with their cost', async () => {
    const { reader, meter } = meterWithReader();
    const { ts, flushTo } = handDrivenScheduler();
    const buckets = new Map<ThrottleStrategy, TokenBucket>();
    const subscriptions: Subscription[] = [];
    for (const strategy of ['delay', 'drop', 'error'] as const) {
      const bucket = new TokenBucket({ capacity: 3, refillRate: 1, scheduler: ts });
      buckets.set(strategy, bucket);
      instrumentLimiter(bucket, { meter, name: strategy });
      const source = new Subject<number>();
      subscriptions.push(source.pipe(throttleByTokens(bucket, { strategy, cost: (n) => n })).subscribe({ error: () => {} }));
      scheduleArrivals(ts, source, [
        [0, 2],
        [0, 3],
      ]);
    }
    await flushTo(100);
    subscriptions[0]!.unsubscribe(); // the delay stream's waiting 3 is withdrawn
    const seen = await Collected.from(reader);
    const of = (name: string, result: string, reason?: string): Attributes => ({
      'rate_limiting.limiter': name,
      'rate_limiting.result': result,
      ...(reason === undefined ? {} : { 'rate_limiting.reason': reason }),
    });
    expect(seen.all(M.requests)).toEqual(
      expect.arrayContaining([
        { attributes: of('delay', 'granted'), value: 1 },
        { attributes: of('delay', 'cancelled'), value: 1 },
        { attributes: of('drop', 'granted'), value: 1 },
        { attributes: of('drop', 'dropped', 'no-tokens'), value: 1 },
        { attributes: of('error', 'granted'), value: 1 },
        { attributes: of('error', 'rejected', 'no-tokens'), value: 1 },
      ]),
    );
    expect(seen.all(M.requests)).toHaveLength(6);
    expect(seen.value(M.requestCost, of('delay', 'cancelled'))).toBe(3);
    expect(seen.value(M.requestCost, of('drop', 'dropped', 'no-tokens'))).toBe(3);
    expect(seen.value(M.requestCost, of('error', 'granted'))).toBe(2);
    expect(seen.points(M.timeInQueue)).toEqual([]); // nothing waited and was granted
    expect(seen.value(M.queuedRequests, { 'rate_limiting.limiter': 'delay' })).toBe(0);
  });
});

describe('instrumentLimiter on a KeyedBuckets', () => {
  function keyedRun(perKeyAttribute?: boolean | ((key: string) => string)) {
    const { reader, meter } = meterWithReader();
    const { ts, flushTo } = handDrivenScheduler();
    const keyed = new KeyedBuckets<string>({ capacity: 1, refillRate: 1 }, { global: { capacity: 10, refillRate: 10 }, scheduler: ts });
    const handle = instrumentLimiter(keyed, { meter, name: 'tenants', ...(perKeyAttribute === undefined ? {} : { perKeyAttribute }) });
    const source = new Subject<{ key: string }>();
    source.pipe(perKey((value) => value.key, keyed)).subscribe();
    scheduleArrivals(ts, source, [
      [0, { key: 'a' }],
      [0, { key: 'a' }],
      [0, { key: 'b' }],
    ]);
    return { reader, flushTo, keyed, handle };
  }
  const tenants = { 'rate_limiting.limiter': 'tenants' };

  it('reports keys, the queue and the global bucket; no key attribute unless asked', async () => {
    const { reader, flushTo, keyed, handle } = keyedRun();
    await flushTo(500);
    let seen = await Collected.from(reader);
    expect(seen.value(M.keys, tenants)).toBe(2); // a waits, b refills
    expect(seen.value(M.queuedRequests, tenants)).toBe(1);
    expect(seen.value(M.tokensCapacity, tenants)).toBe(10); // the global bucket's
    expect(seen.value(M.refillRate, tenants)).toBe(10);
    expect(seen.value(M.tokensAvailable, tenants)).toBeCloseTo(10, 9); // 2 taken at 0, refilled by 500
    expect(seen.all(M.requests)).toEqual([{ attributes: { ...tenants, 'rate_limiting.result': 'granted' }, value: 2 }]);

    await flushTo(2000);
    seen = await Collected.from(reader);
    expect(seen.all(M.requests)).toEqual([{ attributes: { ...tenants, 'rate_limiting.result': 'granted' }, value: 3 }]);
    expect((seen.value(M.timeInQueue, { ...tenants, 'rate_limiting.result': 'granted' }) as Histogram).sum).toBe(1);
    expect(seen.value(M.keys, tenants)).toBe(0); // both refilled and forgotten

    expect(observersOf(keyed)).toBe(1);
    handle.unregister();
    expect(observersOf(keyed)).toBe(0);
  });

  it('adds rate_limiting.key when asked: the key itself, or a label of it', async () => {
    const byKey = keyedRun(true);
    await byKey.flushTo(2000);
    let seen = await Collected.from(byKey.reader);
    const granted = { ...tenants, 'rate_limiting.result': 'granted' };
    expect(seen.all(M.requests)).toEqual(
      expect.arrayContaining([
        { attributes: { ...granted, 'rate_limiting.key': 'a' }, value: 2 },
        { attributes: { ...granted, 'rate_limiting.key': 'b' }, value: 1 },
      ]),
    );
    expect(seen.all(M.requests)).toHaveLength(2);
    expect(seen.all(M.timeInQueue).map((point) => point.attributes)).toEqual([{ ...granted, 'rate_limiting.key': 'a' }]);
    // the gauges stay one series per limiter
    expect(seen.all(M.keys).map((point) => point.attributes)).toEqual([tenants]);

    const labelled = keyedRun((key) => (key === 'a' ? 'gold' : 'free'));
    await labelled.flushTo(2000);
    seen = await Collected.from(labelled.reader);
    expect(seen.value(M.requests, { ...granted, 'rate_limiting.key': 'gold' })).toBe(2);
    expect(seen.value(M.requests, { ...granted, 'rate_limiting.key': 'free' })).toBe(1);
  });

  it('a throwing label leaves the key out and the limiter runs on', async () => {
    const { reader, flushTo } = keyedRun((key) => {
      if (key === 'b') throw new Error('no label for b');
      return key;
    });
    await flushTo(2000);
    const seen = await Collected.from(reader);
    const granted = { ...tenants, 'rate_limiting.result': 'granted' };
    expect(seen.value(M.requests, { ...granted, 'rate_limiting.key': 'a' })).toBe(2);
    expect(seen.value(M.requests, granted)).toBe(1);
  });
});

describe('unregister', () => {
  it('unsubscribes and removes the callbacks: nothing more is reported, the name is free again', async () => {
    const { reader, meter } = meterWithReader();
    const { ts, flushTo } = handDrivenScheduler();
    const bucket = new TokenBucket({ capacity: 1, refillRate: 1, scheduler: ts });
    const handle = instrumentLimiter(bucket, { meter, name: 'api' });
    const otherBucket = new TokenBucket({ capacity: 5, refillRate: 5, scheduler: ts });
    const other = instrumentLimiter(otherBucket, { meter, name: 'other' });
    const readings = vi.spyOn(otherBucket, 'stats');
    expect(() => instrumentLimiter(bucket, { meter, name: 'api' })).toThrow(/already instrumented.*"name" option/);
    bucket.tryTake();
    handle.unregister();
    handle.unregister(); // harmless twice
    expect(observersOf(bucket)).toBe(0);
    await flushTo(5000);
    bucket.tryTake();
    const seen = await Collected.from(reader);
    // the counter keeps what it had (cumulative), takes nothing more; the gauges no longer report 'api'
    expect(seen.value(M.requests, { 'rate_limiting.limiter': 'api', 'rate_limiting.result': 'granted' })).toBe(1);
    expect(seen.all(M.tokensCapacity)).toEqual([{ attributes: { 'rate_limiting.limiter': 'other' }, value: 5 }]);
    expect(readings).toHaveBeenCalledTimes(1); // one stats() per collection
    other.unregister();
    await Collected.from(reader);
    expect(readings).toHaveBeenCalledTimes(1); // its callback is gone
    expect(observersOf(otherBucket)).toBe(0);
    const again = instrumentLimiter(bucket, { meter, name: 'api' });
    expect(observersOf(bucket)).toBe(1);
    again.unregister();
  });
});
