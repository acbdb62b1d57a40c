import type { Meter, ObservableGauge, ObservableUpDownCounter } from '@opentelemetry/api';
import type { EventInstruments } from './EventRecorder';
import { RATE_LIMITING_METRICS as M, TIME_IN_QUEUE_BOUNDARIES } from './names';

/** The observable instruments a collection reads `stats()` into. */
export interface ObservableInstruments {
  readonly queuedRequests: ObservableUpDownCounter;
  readonly queuedCost: ObservableUpDownCounter;
  readonly tokensAvailable: ObservableGauge;
  readonly tokensCapacity: ObservableGauge;
  readonly refillRate: ObservableGauge;
  readonly keys: ObservableUpDownCounter;
}

/**
 * Creates (or, as a Meter returns the same instrument for the same name, finds) every
 * instrument; limiters on one meter share them and differ by the `rate_limiting.limiter`
 * attribute. Queue lengths and keys add up across limiters (up-down counters); tokens,
 * capacity and rate do not (gauges).
 */
export function createInstruments(meter: Meter): EventInstruments & ObservableInstruments {
  return {
    requests: meter.createCounter(M.requests, { unit: '{request}', description: 'Values that asked a rate limiter, by result.' }),
    requestCost: meter.createCounter(M.requestCost, { unit: '{token}', description: 'Tokens asked by values, by result.' }),
    timeInQueue: meter.createHistogram(M.timeInQueue, {
      unit: 's',
      description: 'Time a granted value waited in a rate limiter queue.',
      advice: { explicitBucketBoundaries: [...TIME_IN_QUEUE_BOUNDARIES] },
    }),
    storeErrors: meter.createCounter(M.storeErrors, { unit: '{error}', description: 'Failed store calls of a shared rate limiter.' }),
    queuedRequests: meter.createObservableUpDownCounter(M.queuedRequests, {
      unit: '{request}',
      description: 'Values waiting in a rate limiter queue now.',
    }),
    queuedCost: meter.createObservableUpDownCounter(M.queuedCost, {
      unit: '{token}',
      description: 'Tokens asked by the values waiting now.',
    }),
    tokensAvailable: meter.createObservableGauge(M.tokensAvailable, { unit: '{token}', description: 'Tokens that could be taken now.' }),
    tokensCapacity: meter.createObservableGauge(M.tokensCapacity, { unit: '{token}', description: 'Burst size of the bucket.' }),
    refillRate: meter.createObservableGauge(M.refillRate, { unit: '{token}/s', description: 'Tokens added per second.' }),
    keys: meter.createObservableUpDownCounter(M.keys, { unit: '{key}', description: 'Keys a keyed rate limiter holds in memory now.' }),
  };
}
