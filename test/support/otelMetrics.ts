/**
 * OpenTelemetry metrics in tests: a `MeterProvider` with a reader collected on demand (the
 * real SDK, no exporter, no timer), a collection read as `name → attributes → value`, the
 * histogram bucket counts expected for some values, and the observer count of a limiter's
 * `events$` (to check an instrumentation leaves nothing subscribed).
 */
import type { Attributes, Meter } from '@opentelemetry/api';
import {
  AggregationTemporality,
  MeterProvider,
  MetricReader,
  type DataPoint,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { expect } from 'vitest';
import type { LimiterEvents } from '../../src/limiters/LimiterEvents';
import { TIME_IN_QUEUE_BOUNDARIES } from '../../src/otel/index';

/** A reader that exports nothing: the test collects when it wants to look. */
export class CollectingReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** A fresh provider with one collecting reader, and a meter of it. */
export function meterWithReader(): { reader: CollectingReader; meter: Meter } {
  const reader = new CollectingReader();
  const provider = new MeterProvider({ readers: [reader] });
  return { reader, meter: provider.getMeter('test') };
}

/** One collection, as `name → [attributes, value]` lists. */
export class Collected {
  constructor(private readonly resource: ResourceMetrics) {}

  static async from(reader: CollectingReader): Promise<Collected> {
    const { resourceMetrics, errors } = await reader.collect();
    expect(errors).toEqual([]);
    return new Collected(resourceMetrics);
  }

  private metric(name: string): MetricData | undefined {
    for (const scope of this.resource.scopeMetrics) for (const metric of scope.metrics) if (metric.descriptor.name === name) return metric;
    return undefined;
  }

  /** The data points of `name` (none if the metric is absent). */
  points(name: string): DataPoint<unknown>[] {
    return (this.metric(name)?.dataPoints ?? []) as DataPoint<unknown>[];
  }

  /** The value with exactly these attributes, or undefined. */
  value(name: string, attributes: Attributes): unknown {
    return this.points(name).find((point) => sameAttributes(point.attributes, attributes))?.value;
  }

  /** Every `attributes → value` of `name`, for whole-set comparisons. */
  all(name: string): { attributes: Attributes; value: unknown }[] {
    return this.points(name).map(({ attributes, value }) => ({ attributes, value }));
  }

  unit(name: string): string | undefined {
    return this.metric(name)?.descriptor.unit;
  }
}

function sameAttributes(a: Attributes, b: Attributes): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

/** The bucket counts of a histogram for these values (seconds), computed here from the boundaries. */
export function expectedCounts(valuesInSeconds: readonly number[]): number[] {
  const counts = new Array<number>(TIME_IN_QUEUE_BOUNDARIES.length + 1).fill(0);
  for (const value of valuesInSeconds) {
    let index = TIME_IN_QUEUE_BOUNDARIES.findIndex((bound) => value <= bound);
    if (index === -1) index = TIME_IN_QUEUE_BOUNDARIES.length;
    counts[index]!++;
  }
  return counts;
}

/** The observers of a limiter's `events$` now (the private `LimiterEvents` behind it). */
export function observersOf(limiter: object): number {
  const owner = limiter as { events?: LimiterEvents<unknown>; engine?: { activity: { events: LimiterEvents<unknown> } } };
  const events = owner.events ?? owner.engine?.activity.events;
  if (events === undefined) throw new Error('no LimiterEvents found on the limiter');
  return events.observers;
}
