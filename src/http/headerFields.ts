/**
 * Reads whatever the caller holds — a fetch `Headers`, Node's `IncomingHttpHeaders`, a
 * `Map`, a plain object with any key case, `[name, value]` pairs, or a response carrying
 * one of them in `headers` — into one case-insensitive view, without throwing.
 */
import type { ProblemLog } from './ProblemLog';
import { MAX_FIELD_LENGTH } from './RateLimitInfo';
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
 * A response that holds its headers in `headers`: a fetch `Response`, an axios or undici
 * response, Node's `IncomingMessage`. The parser reads `headers` of such an object.
 */
export interface HeadersCarrier {
  readonly headers: HeadersLike;
}

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

  constructor(private readonly problems: ProblemLog) {}

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
   * anything else (objects, booleans, NaN) reported and skipped. None at all when together
   * they are longer than `MAX_FIELD_LENGTH` (reported), so no value costs unbounded work.
   */
  values(name: string): string[] {
    const cached = this.checkedValues.get(name);
    if (cached !== undefined) return cached;
    let values: string[] = [];
    let length = 0;
    for (const raw of this.rawValues.get(name) ?? []) {
      for (const item of Array.isArray(raw) ? (raw as unknown[]) : [raw]) {
        const text = typeof item === 'string' ? item : typeof item === 'number' && Number.isFinite(item) ? String(item) : undefined;
        if (text === undefined) {
          if (item !== undefined && item !== null) this.problems.add(name, describe(item), 'not a string; ignored');
          continue;
        }
        length += (values.length > 0 ? 2 : 0) + text.length; // as joined with ", "
        values.push(text);
      }
    }
    if (length > MAX_FIELD_LENGTH) {
      this.problems.add(name, values[0] as string, `${length} characters, beyond the ${MAX_FIELD_LENGTH}-character cap; not read`);
      values = [];
    }
    this.checkedValues.set(name, values);
    return values;
  }
}

/**
 * Reads `headers` (any `HeadersLike`, or a `HeadersCarrier`'s `headers`; anything else
 * yields no fields and a problem).
 */
export function readHeaderFields(source: unknown, problems: ProblemLog): HeaderFields {
  const fields = new HeaderFields(problems);
  if (source === null || typeof source !== 'object') {
    if (source !== undefined) problems.add('(headers)', describe(source), 'not a headers object; nothing read');
    return fields;
  }
  const headers = carriedHeaders(source) ?? source;
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

/**
 * The headers a response carries: `headers` when it is an object (not an array: a header
 * named "headers" holding field lines), read only from what is not itself headers-shaped.
 */
function carriedHeaders(candidate: object): object | undefined {
  if (candidate instanceof Map || Array.isArray(candidate) || isFetchHeaders(candidate)) return undefined;
  const headers = (candidate as { headers?: unknown }).headers;
  return headers !== null && typeof headers === 'object' && !Array.isArray(headers) ? headers : undefined;
}

function isFetchHeaders(candidate: object): candidate is FetchHeadersLike {
  const shape = candidate as Partial<FetchHeadersLike>;
  return typeof shape.get === 'function' && typeof shape.forEach === 'function';
}
