/**
 * Reads whatever the caller holds — a fetch `Headers`, Node's `IncomingHttpHeaders`, a
 * `Map`, a plain object with any key case, or `[name, value]` pairs — into one
 * case-insensitive view, without throwing.
 */
import type { RateLimitHeaderProblem } from './RateLimitInfo';
import { describe } from '../shared/describe';

/** A fetch `Headers` (browser, Node 18+, undici) or anything shaped like it. */
export interface FetchHeadersLike {
  get(name: string): string | null;
  forEach(callback: (value: string, name: string) => void): void;
}

/** A header value as the common shapes hold it (Node gives arrays for repeated fields). */
export type HeaderValue = string | readonly string[] | number | null | undefined;

/**
 * Anything holding response headers: a fetch `Headers`; Node's `IncomingHttpHeaders`
 * (lower-case keys, string or string[] values); a `Map`; a plain object with any key case;
 * or a list of `[name, value]` pairs. Names are matched case-insensitively.
 */
export type HeadersLike =
  FetchHeadersLike | ReadonlyMap<string, HeaderValue> | Readonly<Record<string, unknown>> | ReadonlyArray<readonly [string, HeaderValue]>;

/**
 * Names asked for by `get` when a headers object can be read in no other way (no
 * `forEach`, no own properties). The families with open-ended names (`-requests`,
 * `-tokens`, ...) are covered for their usual members only.
 */
const WELL_KNOWN_NAMES: readonly string[] = (() => {
  const names = ['date', 'retry-after', 'retry-after-ms', 'ratelimit', 'ratelimit-policy'];
  for (const field of ['limit', 'remaining', 'reset']) names.push(`ratelimit-${field}`);
  for (const prefix of ['x-ratelimit-', 'x-rate-limit-']) {
    for (const field of ['limit', 'remaining', 'reset', 'reset-after', 'used', 'resource', 'bucket']) {
      names.push(prefix + field);
    }
  }
  for (const resource of ['requests', 'tokens']) {
    for (const field of ['limit', 'remaining', 'reset']) names.push(`x-ratelimit-${field}-${resource}`);
  }
  for (const resource of ['requests', 'tokens', 'input-tokens', 'output-tokens']) {
    for (const field of ['limit', 'remaining', 'reset']) names.push(`anthropic-ratelimit-${resource}-${field}`);
  }
  return names;
})();

/**
 * The headers of one response by lower-case name, each with its field values in order.
 * Values are checked when first asked for, so junk in unrelated headers is never reported.
 */
export class HeaderFields {
  private readonly rawValues = new Map<string, unknown[]>();
  private readonly checkedValues = new Map<string, string[]>();

  constructor(private readonly problems: RateLimitHeaderProblem[]) {}

  /** Adds one field as found; a non-string name is skipped. */
  add(name: unknown, value: unknown): void {
    if (typeof name !== 'string') return;
    const key = name.trim().toLowerCase();
    if (key === '' || value === undefined || value === null) return;
    const existing = this.rawValues.get(key);
    if (existing === undefined) this.rawValues.set(key, [value]);
    else existing.push(value);
  }

  /** Every header name present, lower-case. */
  names(): string[] {
    return [...this.rawValues.keys()];
  }

  has(name: string): boolean {
    return this.rawValues.has(name);
  }

  /**
   * The field values of `name` as strings: arrays flattened, finite numbers stringified;
   * anything else (objects, booleans, NaN) reported and skipped.
   */
  values(name: string): string[] {
    const cached = this.checkedValues.get(name);
    if (cached !== undefined) return cached;
    const values: string[] = [];
    for (const raw of this.rawValues.get(name) ?? []) {
      for (const item of Array.isArray(raw) ? (raw as unknown[]) : [raw]) {
        if (typeof item === 'string') values.push(item);
        else if (typeof item === 'number' && Number.isFinite(item)) values.push(String(item));
        else if (item !== undefined && item !== null) {
          this.problems.push({ header: name, value: describe(item), issue: 'not a string; ignored' });
        }
      }
    }
    this.checkedValues.set(name, values);
    return values;
  }
}

/** Reads `headers` (any `HeadersLike`; anything else yields no fields and a problem). */
export function readHeaderFields(headers: unknown, problems: RateLimitHeaderProblem[]): HeaderFields {
  const fields = new HeaderFields(problems);
  if (headers === null || typeof headers !== 'object') {
    if (headers !== undefined) {
      problems.push({ header: '(headers)', value: describe(headers), issue: 'not a headers object; nothing read' });
    }
    return fields;
  }
  if (headers instanceof Map) {
    headers.forEach((value: unknown, name: unknown) => fields.add(name, value));
  } else if (Array.isArray(headers)) {
    for (const pair of headers as unknown[]) {
      if (Array.isArray(pair)) fields.add(pair[0], pair[1]);
    }
  } else if (isFetchHeaders(headers)) {
    headers.forEach((value, name) => fields.add(name, value));
  } else {
    for (const [name, value] of Object.entries(headers)) fields.add(name, value);
    const get = (headers as { get?: unknown }).get;
    if (typeof get === 'function' && fields.names().length === 0) {
      // A get-only headers class without enumerable fields: ask for the names we know.
      for (const name of WELL_KNOWN_NAMES) fields.add(name, (get as (name: string) => unknown).call(headers, name));
    }
  }
  return fields;
}

function isFetchHeaders(candidate: object): candidate is FetchHeadersLike {
  const shape = candidate as Partial<FetchHeadersLike>;
  return typeof shape.get === 'function' && typeof shape.forEach === 'function';
}
