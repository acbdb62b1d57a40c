import type { Attributes, AttributeValue, Counter, Histogram } from '@opentelemetry/api';
import type { LooseEvent } from './limiterKind';
import { RATE_LIMITING_ATTRIBUTES as A, type RateLimitingResult } from './names';

/** The synchronous instruments events are recorded into. */
export interface EventInstruments {
  readonly requests: Counter;
  readonly requestCost: Counter;
  readonly timeInQueue: Histogram;
  readonly storeErrors: Counter;
}

/** Labels a key for `rate_limiting.key`; undefined leaves the attribute out. */
export type KeyLabel = (key: unknown) => AttributeValue | undefined;

const RESULTS: ReadonlySet<string> = new Set<RateLimitingResult>(['granted', 'dropped', 'rejected', 'cancelled']);
const REASONS: ReadonlySet<string> = new Set(['no-tokens', 'max-queue', 'max-wait', 'retry-limit', 'max-keys']);
const GRANT_SOURCES: ReadonlySet<string> = new Set(['store', 'fail-open', 'local']);
const STORE_POLICIES: ReadonlySet<string> = new Set(['fail-closed', 'fail-open', 'local']);

/** `value` if it is one of `known`, else undefined: an attribute never takes an unforeseen value (cardinality stays fixed). */
function oneOf(value: unknown, known: ReadonlySet<string>): string | undefined {
  return typeof value === 'string' && known.has(value) ? value : undefined;
}

/** A finite number >= 0, or undefined. */
function amount(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/**
 * Turns a limiter's events into counter and histogram records. Runs inside the limiter's
 * emit, so it never throws (a throwing `perKeyAttribute` leaves the key out) and, without a
 * key label, allocates nothing per event: the few attribute sets are built once and reused.
 */
export class EventRecorder {
  /** Attribute sets by result, reason and source; bounded, since each part is one of a fixed few. */
  private readonly shared = new Map<string, Attributes>();

  constructor(
    private readonly instruments: EventInstruments,
    private readonly limiter: string,
    private readonly keyLabel: KeyLabel | undefined,
  ) {}

  record(event: LooseEvent): void {
    if (event.type === 'store-error') {
      const policy = oneOf(event.policy, STORE_POLICIES);
      this.instruments.storeErrors.add(1, this.attributes('store-error', policy, undefined, event));
      return;
    }
    if (!RESULTS.has(event.type)) return; // queued, reconfigured, adjusted, forgotten...: seen by the gauges
    const result = event.type;
    const reason = result === 'dropped' || result === 'rejected' ? oneOf(event.reason, REASONS) : undefined;
    const source = result === 'granted' ? oneOf(event.source, GRANT_SOURCES) : undefined;
    const attributes = this.attributes(result, reason, source, event);
    this.instruments.requests.add(1, attributes);
    const cost = amount(event.cost);
    if (cost !== undefined) this.instruments.requestCost.add(cost, attributes);
    const waited = amount(event.waited);
    // A value granted at once never queued: .NET records time in queue only for queued requests too.
    if (result === 'granted' && waited !== undefined && waited > 0) this.instruments.timeInQueue.record(waited / 1000, attributes);
  }

  private attributes(result: string, detail: string | undefined, source: string | undefined, event: LooseEvent): Attributes {
    const detailName = result === 'store-error' ? A.storePolicy : A.reason;
    const label = this.keyLabel === undefined || !('key' in event) ? undefined : this.keyLabel(event.key);
    if (label !== undefined) return this.build(result, detailName, detail, source, label);
    const id = `${result}|${detail ?? ''}|${source ?? ''}`;
    let attributes = this.shared.get(id);
    if (attributes === undefined) {
      attributes = this.build(result, detailName, detail, source, undefined);
      this.shared.set(id, attributes);
    }
    return attributes;
  }

  private build(
    result: string,
    detailName: string,
    detail: string | undefined,
    source: string | undefined,
    key: AttributeValue | undefined,
  ): Attributes {
    const attributes: Attributes = { [A.limiter]: this.limiter };
    if (result !== 'store-error') attributes[A.result] = result;
    if (detail !== undefined) attributes[detailName] = detail;
    if (source !== undefined) attributes[A.grantSource] = source;
    if (key !== undefined) attributes[A.key] = key;
    return attributes;
  }
}
