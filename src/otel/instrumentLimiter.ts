import { metrics, type AttributeValue, type BatchObservableCallback, type Meter, type Observable } from '@opentelemetry/api';
import type { Subscribable, Unsubscribable } from 'rxjs';
import type { KeyedBuckets } from '../limiters/keyed/KeyedBuckets';
import type { LimiterStats } from '../limiters/LimiterCounters';
import type { TokenLimiter } from '../limiters/TokenLimiter';
import { checkKnownKeys } from '../shared/checks';
import { describe } from '../shared/describe';
import { EventRecorder, type KeyLabel } from './EventRecorder';
import { readGauges, type GaugeReading } from './gaugeReading';
import { createInstruments, type ObservableInstruments } from './instruments';
import { limiterKind, type LooseEvent, type ObservedLimiter } from './limiterKind';
import { RATE_LIMITING_ATTRIBUTES } from './names';

const OWNER = 'instrumentLimiter';
/** The meter used when none is given: the global provider's (a no-op until the application registers one). */
const DEFAULT_METER_NAME = 'rxjs-token-bucket';
const OPTION_KEYS = ['meter', 'name', 'perKeyAttribute'] as const;
const METER_METHODS = [
  'createCounter',
  'createHistogram',
  'createObservableGauge',
  'createObservableUpDownCounter',
  'addBatchObservableCallback',
  'removeBatchObservableCallback',
] as const;

export interface InstrumentLimiterOptions<K = unknown> {
  /** Where to report. Default: `metrics.getMeter('rxjs-token-bucket')` of the global `MeterProvider`. */
  meter?: Meter;
  /**
   * The `rate_limiting.limiter` attribute of every series, which tells limiters on one meter
   * apart; unique per meter while instrumented. Default: the kind (`TokenBucket`,
   * `KeyedBuckets`, `RedisTokenBucket`).
   */
  name?: string;
  /**
   * A `KeyedBuckets` only: adds `rate_limiting.key` to the request counters and the
   * time-in-queue histogram. `true` labels a key by itself (a string, number or boolean key;
   * others are left out); a function maps a key to a label, e.g. a tenant's plan, to keep the
   * series few — each distinct label is a series of its own. A label that is not a string,
   * finite number or boolean, or a function that throws, leaves the attribute out for that value.
   * Default: no key attribute.
   */
  perKeyAttribute?: boolean | ((key: K) => AttributeValue);
}

/** A limiter's instrumentation, live until `unregister()`. */
export interface LimiterInstrumentation {
  /** The `rate_limiting.limiter` attribute. */
  readonly name: string;
  /** Stops reporting: unsubscribes from `events$` and removes the observable callback. Harmless twice. */
  unregister(): void;
}

/** A `TokenBucket`, a `RedisTokenBucket` or any limiter of this package with `events$` and `stats()`. */
export type InstrumentableBucket = TokenLimiter & {
  readonly events$: Subscribable<{ readonly type: string }>;
  stats(): LimiterStats;
};

/** The names instrumented on each meter now, so two limiters cannot report the same series. */
const liveNames = new WeakMap<Meter, Set<string>>();

function checkMeter(meter: unknown): Meter {
  if (meter === undefined) return metrics.getMeter(DEFAULT_METER_NAME);
  const candidate = meter as Record<string, unknown> | null;
  const missing = METER_METHODS.find((method) => typeof candidate?.[method] !== 'function');
  if (missing !== undefined) {
    throw new TypeError(
      `${OWNER} option "meter" must be an OpenTelemetry Meter (metrics.getMeter('my-service') from @opentelemetry/api), got ${describe(meter)} without ${missing}()`,
    );
  }
  return meter as Meter;
}

function checkName(name: unknown, fallback: string): string {
  if (name === undefined) return fallback;
  if (typeof name !== 'string' || name.trim() === '') {
    throw new TypeError(`${OWNER} option "name" must be a non-empty string naming the limiter (e.g. 'search-api'), got ${describe(name)}`);
  }
  return name;
}

/** A label as an attribute value, or undefined when it is not one. */
function attributeValue(label: unknown): AttributeValue | undefined {
  if (typeof label === 'string' || typeof label === 'boolean') return label;
  return typeof label === 'number' && Number.isFinite(label) ? label : undefined;
}

function checkKeyLabel(option: unknown, kind: string): KeyLabel | undefined {
  if (option === undefined || option === false) return undefined;
  if (option !== true && typeof option !== 'function') {
    throw new TypeError(
      `${OWNER} option "perKeyAttribute" must be true or a function of the key returning a label, got ${describe(option)}`,
    );
  }
  if (kind !== 'KeyedBuckets') {
    throw new TypeError(`${OWNER} option "perKeyAttribute" applies to a KeyedBuckets; a ${kind} has no keys: remove the option`);
  }
  if (option === true) return attributeValue;
  const label = option as (key: unknown) => unknown;
  return (key) => {
    try {
      return attributeValue(label(key));
    } catch {
      return undefined; // a labelling bug must not break the limiter whose emit this runs in
    }
  };
}

/** Observes `value` unless the reading left it out. */
function observeIf(
  result: Parameters<BatchObservableCallback>[0],
  instrument: Observable,
  value: number | undefined,
  attributes: Record<string, string>,
): void {
  if (value !== undefined) result.observe(instrument, value, attributes);
}

/**
 * Reports a limiter's activity as OpenTelemetry metrics (see `RATE_LIMITING_METRICS`):
 * requests and their cost by result, time in queue, and, at each collection, its queue,
 * tokens, limits and keys. Subscribes once to `events$` (the limiter builds events only while
 * someone listens) and registers one batch callback that reads `stats()` once per collection.
 *
 * @example
 * ```ts
 * import { metrics } from '@opentelemetry/api';
 * import { instrumentLimiter } from 'rxjs-token-bucket/otel';
 * const handle = instrumentLimiter(bucket, { meter: metrics.getMeter('checkout'), name: 'payments-api' });
 * // ...
 * handle.unregister();
 * ```
 */
export function instrumentLimiter<K>(limiter: KeyedBuckets<K>, options?: InstrumentLimiterOptions<K>): LimiterInstrumentation;
export function instrumentLimiter(
  limiter: InstrumentableBucket,
  options?: Omit<InstrumentLimiterOptions, 'perKeyAttribute'>,
): LimiterInstrumentation;
export function instrumentLimiter(limiter: unknown, options: InstrumentLimiterOptions = {}): LimiterInstrumentation {
  const kind = limiterKind(OWNER, limiter);
  checkKnownKeys(OWNER, options, OPTION_KEYS);
  const meter = checkMeter(options.meter);
  const name = checkName(options.name, kind);
  const keyLabel = checkKeyLabel(options.perKeyAttribute, kind);
  const names = liveNames.get(meter) ?? new Set<string>();
  if (names.has(name)) {
    throw new TypeError(
      `${OWNER}: a limiter named ${describe(name)} is already instrumented on this meter; give each limiter its own "name" option (e.g. { name: 'search-api' })`,
    );
  }
  names.add(name);
  liveNames.set(meter, names);

  const observed = limiter as ObservedLimiter;
  const instruments = createInstruments(meter);
  const recorder = new EventRecorder(instruments, name, keyLabel);
  const subscription: Unsubscribable = observed.events$.subscribe({ next: (event: LooseEvent) => recorder.record(event) });
  const attributes = { [RATE_LIMITING_ATTRIBUTES.limiter]: name };
  const observables: Observable[] = gaugeInstruments(instruments, kind === 'KeyedBuckets');
  const callback: BatchObservableCallback = (result) => {
    const reading: GaugeReading = readGauges(kind, observed.stats());
    observeIf(result, instruments.queuedRequests, reading.queued, attributes);
    observeIf(result, instruments.queuedCost, reading.queuedCost, attributes);
    observeIf(result, instruments.tokensAvailable, reading.available, attributes);
    observeIf(result, instruments.tokensCapacity, reading.capacity, attributes);
    observeIf(result, instruments.refillRate, reading.refillRate, attributes);
    if (kind === 'KeyedBuckets') observeIf(result, instruments.keys, reading.keys, attributes);
  };
  meter.addBatchObservableCallback(callback, observables);

  let live = true;
  return {
    name,
    unregister(): void {
      if (!live) return;
      live = false;
      subscription.unsubscribe();
      meter.removeBatchObservableCallback(callback, observables);
      names.delete(name);
    },
  };
}

function gaugeInstruments(instruments: ObservableInstruments, keyed: boolean): Observable[] {
  const { queuedRequests, queuedCost, tokensAvailable, tokensCapacity, refillRate, keys } = instruments;
  return keyed
    ? [queuedRequests, queuedCost, tokensAvailable, tokensCapacity, refillRate, keys]
    : [queuedRequests, queuedCost, tokensAvailable, tokensCapacity, refillRate];
}
