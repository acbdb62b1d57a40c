/** `instrumentLimiter`'s argument checks: each message names the argument, the bad value and what to write. */
import { describe, expect, it } from 'vitest';
import { KeyedBuckets } from '../../src/limiters/keyed/KeyedBuckets';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { instrumentLimiter } from '../../src/otel/index';
import { meterWithReader, observersOf } from '../support/otelMetrics';

describe('instrumentLimiter options', () => {
  const { meter } = meterWithReader();
  const bucket = new TokenBucket({ capacity: 1, refillRate: 1 });
  it.each([
    [() => instrumentLimiter({} as TokenBucket, { meter }), /instrumentLimiter: the first argument must be a TokenBucket, KeyedBuckets/],
    [
      () => instrumentLimiter(bucket, { meter: {} as typeof meter }),
      /option "meter" must be an OpenTelemetry Meter .*without createCounter\(\)/,
    ],
    [() => instrumentLimiter(bucket, { meter, name: '' }), /option "name" must be a non-empty string .*, got ""/],
    [() => instrumentLimiter(bucket, { meter, nmae: 'x' } as never), /instrumentLimiter has no option "nmae"/],
    [
      () => instrumentLimiter(bucket, { meter, perKeyAttribute: true } as never),
      /"perKeyAttribute" applies to a KeyedBuckets; a TokenBucket has no keys: remove the option/,
    ],
    [
      () => instrumentLimiter(new KeyedBuckets({ capacity: 1, refillRate: 1 }), { meter, perKeyAttribute: 'yes' as never }),
      /"perKeyAttribute" must be true or a function of the key returning a label, got "yes"/,
    ],
  ])('refuses a bad argument naming it (%#)', (call, message) => {
    expect(call).toThrow(message);
    expect(observersOf(bucket)).toBe(0); // a refused call subscribed to nothing
  });

  it('defaults to the global meter (a no-op without a provider) and still cleans up', () => {
    const handle = instrumentLimiter(bucket);
    expect(handle.name).toBe('TokenBucket');
    expect(observersOf(bucket)).toBe(1);
    handle.unregister();
    expect(observersOf(bucket)).toBe(0);
  });
});
