/**
 * `instrumentLimiter` on a real `RedisTokenBucket` (recognised by brand and shape: src/otel
 * never imports src/redis): grants from the store and, with Redis unreachable under
 * `'fail-open'`, store errors and fail-open grants, each under its attribute.
 */
import type { Attributes } from '@opentelemetry/api';
import { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { instrumentLimiter, RATE_LIMITING_METRICS as M } from '../../src/otel/index';
import { RedisTokenBucket } from '../../src/redis/RedisTokenBucket';
import { Collected, meterWithReader, observersOf, type CollectingReader } from '../support/otelMetrics';
import { describeWithRedis } from '../support/redisTests';

/** `name`'s points as `attributes → value`. */
async function collect(reader: CollectingReader, name: string): Promise<{ attributes: Attributes; value: unknown }[]> {
  return (await Collected.from(reader)).all(name);
}

describeWithRedis('instrumentLimiter on a RedisTokenBucket', (redis) => {
  it('counts grants by source and reports the limits under the kind RedisTokenBucket', async () => {
    const { reader, meter } = meterWithReader();
    const bucket = new RedisTokenBucket({ redis: redis.client(), key: redis.uniqueKey('otel'), capacity: 3, refillRate: 2 });
    const handle = instrumentLimiter(bucket, { meter });
    expect(handle.name).toBe('RedisTokenBucket');
    await Promise.all([bucket.acquire(1), bucket.acquire(2)]);
    const limiter = { 'rate_limiting.limiter': 'RedisTokenBucket' };
    expect(await collect(reader, M.requests)).toEqual([
      { attributes: { ...limiter, 'rate_limiting.result': 'granted', 'rate_limiting.grant_source': 'store' }, value: 2 },
    ]);
    expect(await collect(reader, M.tokensCapacity)).toEqual([{ attributes: limiter, value: 3 }]);
    expect(await collect(reader, M.refillRate)).toEqual([{ attributes: limiter, value: 2 }]);
    expect(await collect(reader, M.queuedRequests)).toEqual([{ attributes: limiter, value: 0 }]);
    handle.unregister();
    expect(observersOf(bucket)).toBe(0);
  });
});

it('a RedisTokenBucket whose Redis is unreachable: store errors by policy, fail-open grants by source', async () => {
  const { reader, meter } = meterWithReader();
  // Port 1 on loopback: nothing listens, and with no offline queue every call fails at once.
  const client = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    const bucket = new RedisTokenBucket({ redis: client, key: 'otel-down', capacity: 2, refillRate: 1, onStoreError: 'fail-open' });
    const handle = instrumentLimiter(bucket, { meter, name: 'down' });
    await bucket.acquire(1);
    expect(await collect(reader, M.requests)).toEqual([
      {
        attributes: { 'rate_limiting.limiter': 'down', 'rate_limiting.result': 'granted', 'rate_limiting.grant_source': 'fail-open' },
        value: 1,
      },
    ]);
    expect(await collect(reader, M.storeErrors)).toEqual([
      { attributes: { 'rate_limiting.limiter': 'down', 'rate_limiting.store.policy': 'fail-open' }, value: 1 },
    ]);
    handle.unregister();
    expect(observersOf(bucket)).toBe(0);
  } finally {
    client.disconnect();
  }
});
