import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_BUDGETS,
  MAX_COUNT,
  MAX_PROBLEM_VALUE_LENGTH,
  MAX_PROBLEMS,
  MAX_RESET_MS,
  MAX_WINDOW_MS,
  MIN_WINDOW_MS,
  parseRateLimitHeaders,
  parseRateLimitHeadersDetailed,
  type RateLimitInfo,
} from '../../../src/http/parseRateLimitHeaders';

const NOW = Date.UTC(2025, 7, 21, 12, 41, 0);

const HEADER_NAMES = [
  'date',
  'retry-after',
  'retry-after-ms',
  'ratelimit',
  'ratelimit-policy',
  'ratelimit-limit',
  'ratelimit-remaining',
  'ratelimit-reset',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
  'x-ratelimit-reset-after',
  'x-ratelimit-used',
  'x-ratelimit-resource',
  'x-rate-limit-limit',
  'x-rate-limit-remaining',
  'x-rate-limit-reset',
  'x-ratelimit-limit-requests',
  'x-ratelimit-remaining-tokens',
  'x-ratelimit-reset-tokens',
  'anthropic-ratelimit-requests-limit',
  'anthropic-ratelimit-requests-remaining',
  'anthropic-ratelimit-requests-reset',
];

/** Values that look almost right: the junk real servers and proxies produce. */
const plausibleJunk = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.stringMatching(/^-?[0-9]{0,13}(\.[0-9]{0,4})?$/),
  fc.stringMatching(/^-?[0-9.]{1,6}(h|m|s|ms|us|ns){1,3}$/),
  fc.double().map(String),
  fc.integer({ min: -1e15, max: 1e15 }).map(String),
  fc.stringMatching(/^("[a-z]{0,3}"|[a-z]{1,3}|[0-9]{1,4})(;[a-z]{1,2}=(-?[0-9]{1,12}|\?[01]|"[a-z]*"|:[A-Za-z0-9+/=]*:)){0,4}(, ?)?$/),
  fc.stringMatching(/^(limit|remaining|reset|r|q|w|t)=-?[0-9]{1,12}(, ?(limit|remaining|reset)=[^,]{0,6}){0,2}$/),
  fc.date({ noInvalidDate: false }).map((date) => (Number.isNaN(date.getTime()) ? 'Invalid Date' : date.toUTCString())),
  fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true }).map((date) => date.toISOString()),
  fc.constantFrom('', ' ', ',', 'NaN', 'Infinity', '-0', '1e999', '0x1F', 'Mon,', 'null', 'undefined', '∞', '١٢٣'),
);

const junkValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: plausibleJunk },
  { weight: 1, arbitrary: fc.array(plausibleJunk, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.oneof(fc.double(), fc.boolean(), fc.constant(null), fc.object({ maxDepth: 1 })) },
);

const junkHeaders = fc.dictionary(
  fc.constantFrom(...HEADER_NAMES).chain((name) => fc.constantFrom(name, name.toUpperCase())),
  junkValue,
  { maxKeys: 8 },
);

function expectSane(info: RateLimitInfo, top: boolean): void {
  for (const field of ['limit', 'remaining', 'resetAfter', 'window', 'retryAfter'] as const) {
    const value = info[field];
    if (value === undefined) continue;
    expect(Number.isFinite(value), `${field} ${value}`).toBe(true);
    expect(value, field).toBeGreaterThanOrEqual(0);
    expect(Object.is(value, -0), `${field} is -0`).toBe(false);
  }
  for (const count of [info.limit, info.remaining]) if (count !== undefined) expect(count).toBeLessThanOrEqual(MAX_COUNT);
  if (info.window !== undefined) {
    expect(info.window).toBeGreaterThanOrEqual(MIN_WINDOW_MS);
    expect(info.window).toBeLessThanOrEqual(MAX_WINDOW_MS);
  }
  if (info.resetAfter !== undefined) expect(info.resetAfter).toBeLessThanOrEqual(MAX_RESET_MS);
  if (info.limit !== undefined && info.remaining !== undefined) expect(info.remaining).toBeLessThanOrEqual(info.limit);
  if (top && info.retryAfter !== undefined) {
    expect(info.retryAfter).toBeLessThanOrEqual(MAX_RESET_MS);
    expect(info.remaining).toBe(0);
    expect(info.resetAfter).toBe(info.retryAfter);
  }
  if (!top) expect(typeof (info as { name?: unknown }).name).toBe('string');
}

/** Everything a parse returns is sane and bounded, whatever the headers were. */
function expectSaneResult(headers: Readonly<Record<string, unknown>>, now: number): void {
  const { info, problems, formats } = parseRateLimitHeadersDetailed(headers, now);
  expect(problems.length).toBeLessThanOrEqual(MAX_PROBLEMS + 2);
  for (const problem of problems) {
    expect(typeof problem.header).toBe('string');
    expect(typeof problem.value).toBe('string');
    expect(problem.value.length).toBeLessThanOrEqual(MAX_PROBLEM_VALUE_LENGTH);
    expect(problem.issue.length).toBeGreaterThan(0);
  }
  if (info === undefined) {
    expect(formats).toEqual([]);
    return;
  }
  expect(formats.length).toBeGreaterThan(0);
  expectSane(info, true);
  for (const budget of info.budgets ?? []) expectSane(budget, false);
  if (info.budgets !== undefined) {
    expect(info.budgets.length).toBeGreaterThan(1);
    expect(info.budgets.length).toBeLessThanOrEqual(MAX_BUDGETS);
    expect(new Set(info.budgets.map((budget) => budget.name)).size).toBe(info.budgets.length);
    expect(info.budgets.some((budget) => budget.name === info.name)).toBe(true);
  }
}

/** Numbers no double holds exactly, or at all: 1 followed by up to 330 zeros, tiny fractions, negatives. */
const absurdNumber = fc.oneof(
  fc.integer({ min: 15, max: 330 }).map((zeros) => `1${'0'.repeat(zeros)}`),
  fc.integer({ min: 15, max: 330 }).map((zeros) => `-9${'9'.repeat(zeros)}`),
  fc.integer({ min: 1, max: 40 }).map((zeros) => `0.${'0'.repeat(zeros)}1`),
  fc.constantFrom('9007199254740993', '1e308', '0.0001', '-0.0', '999999999999999'),
);

/** One list item of the shapes the parsers read, with absurd numbers in every slot. */
const hostileItem = fc.oneof(
  absurdNumber,
  fc.tuple(absurdNumber, absurdNumber).map(([quota, window]) => `${quota};w=${window}`),
  fc
    .tuple(fc.constantFrom('"a"', '"b"', 'c', '"a#2"'), absurdNumber, absurdNumber, absurdNumber)
    .map(([name, q, w, r]) => `${name};q=${q};w=${w};r=${r};t=${w}`),
  fc.tuple(fc.constantFrom('limit', 'remaining', 'reset'), absurdNumber).map(([key, value]) => `${key}=${value}`),
  fc.tuple(absurdNumber, fc.constantFrom('ms', 's', 'm', 'h', 'us')).map(([value, unit]) => `${value}${unit}`),
  plausibleJunk,
);

/** A value as a hostile server or proxy writes it: one item, or the same or different items many times over. */
const hostileValue = fc.oneof(
  hostileItem,
  fc.array(hostileItem, { minLength: 2, maxLength: 60 }).map((items) => items.join(', ')),
  fc.tuple(hostileItem, fc.integer({ min: 2, max: 300 })).map(([item, count]) => Array.from({ length: count }, () => item).join(', ')),
  fc.constant(Array.from({ length: 10_000 }, (_, index) => `${index};w=1`).join(', ')), // beyond the field cap
);

const hostileHeaders = fc.dictionary(fc.constantFrom(...HEADER_NAMES), fc.oneof(hostileValue, fc.array(hostileValue, { maxLength: 3 })), {
  maxKeys: 6,
});

describe('property: junk header values', () => {
  it('never throw, never yield NaN, negative, zero-window or out-of-range fields', () => {
    fc.assert(
      fc.property(junkHeaders, fc.integer({ min: 0, max: 4e12 }), (headers, now) => expectSaneResult(headers, now)),
      { numRuns: 1500 },
    );
  });

  it('hostile values (absurd numbers, long and repeated lists) leave every number finite, clamped and bounded', () => {
    fc.assert(
      fc.property(hostileHeaders, fc.integer({ min: 0, max: 4e12 }), (headers, now) => expectSaneResult(headers, now)),
      { numRuns: 400 },
    );
  });

  it('remaining of 1 followed by 308 zeros is clamped to MAX_COUNT and reported; the rate it implies is finite', () => {
    const hostile = { 'x-ratelimit-remaining': `1${'0'.repeat(308)}`, 'x-ratelimit-reset': '0.001' };
    const { info, problems } = parseRateLimitHeadersDetailed(hostile, NOW);
    expect(info).toMatchObject({ remaining: MAX_COUNT, resetAfter: 1 });
    expect(problems).toEqual([expect.objectContaining({ header: 'x-ratelimit-remaining', issue: expect.stringContaining('clamped') })]);
    expect(Number.isFinite((info?.remaining ?? 0) / (info?.resetAfter ?? 1))).toBe(true);
    const withLimit = parseRateLimitHeaders({ ...hostile, 'x-ratelimit-limit': `2${'0'.repeat(307)}` }, NOW);
    expect(withLimit).toMatchObject({ limit: MAX_COUNT, remaining: MAX_COUNT });
  });

  it('the same junk in a fetch Headers, a Map and a plain object gives the same answer', () => {
    const stringHeaders = fc.dictionary(fc.constantFrom(...HEADER_NAMES), plausibleJunk, { maxKeys: 6 });
    fc.assert(
      fc.property(stringHeaders, (headers) => {
        const expected = parseRateLimitHeaders(headers, NOW);
        let fetchHeaders: Headers;
        try {
          fetchHeaders = new Headers(headers);
        } catch {
          return; // values fetch itself refuses (control characters, non-Latin-1)
        }
        // fetch trims surrounding whitespace; compare against the trimmed object.
        const trimmed = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, value.trim()]));
        expect(parseRateLimitHeaders(fetchHeaders, NOW)).toEqual(parseRateLimitHeaders(trimmed, NOW));
        expect(parseRateLimitHeaders(new Map(Object.entries(headers)), NOW)).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});

describe('property: the top level is the budget that runs out first (reference model)', () => {
  interface Policy {
    quota: number;
    windowSeconds: number;
    left: number;
    resetSeconds: number;
  }

  /** The rule as documented, written independently: exhausted (latest reset), then share, then long-run rate. */
  function referenceScarcest(policies: readonly Policy[]): number {
    const exhausted = policies.map((policy, index) => ({ ...policy, index })).filter((policy) => policy.left === 0);
    if (exhausted.length > 0) {
      const latest = Math.max(...exhausted.map((policy) => policy.resetSeconds));
      return (exhausted.find((policy) => policy.resetSeconds === latest) as { index: number }).index;
    }
    let best = 0;
    for (let index = 1; index < policies.length; index++) {
      const a = policies[index] as Policy;
      const b = policies[best] as Policy;
      const shareA = a.left / a.quota;
      const shareB = b.left / b.quota;
      if (shareA < shareB || (shareA === shareB && a.quota / a.windowSeconds < b.quota / b.windowSeconds)) best = index;
    }
    return best;
  }

  const policy = fc
    .record({
      quota: fc.integer({ min: 1, max: 10_000 }),
      windowSeconds: fc.integer({ min: 1, max: 86_400 }),
      leftShare: fc.integer({ min: 0, max: 4 }),
      resetSeconds: fc.integer({ min: 0, max: 86_400 }),
    })
    .map(({ quota, windowSeconds, leftShare, resetSeconds }) => ({
      quota,
      windowSeconds,
      left: Math.floor((quota * leftShare) / 4), // few distinct shares, so ties happen
      resetSeconds,
    }));

  function headersOf(policies: readonly Policy[]): Record<string, string> {
    return {
      'ratelimit-policy': policies.map((p, index) => `"p${index}";q=${p.quota};w=${p.windowSeconds}`).join(', '),
      ratelimit: policies.map((p, index) => `"p${index}";r=${p.left};t=${p.resetSeconds}`).join(', '),
    };
  }

  /** The documented order as sort keys: exhausted first (latest reset first), then share, then rate; ties in header order. */
  function referenceRanking(policies: readonly Policy[]): number[] {
    const key = (p: Policy): number[] => (p.left === 0 ? [0, -p.resetSeconds] : [1, p.left / p.quota, p.quota / p.windowSeconds]);
    const byKey = (a: number[], b: number[]): number => {
      for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return (a[index] as number) - (b[index] as number);
      return 0;
    };
    return policies.map((_, index) => index).sort((a, b) => byKey(key(policies[a] as Policy), key(policies[b] as Policy)) || a - b);
  }

  it('holds for random IETF policy sets', () => {
    fc.assert(
      fc.property(fc.array(policy, { minLength: 2, maxLength: 5 }), (policies) => {
        const info = parseRateLimitHeaders(headersOf(policies), NOW);
        expect(info?.name).toBe(`p${referenceScarcest(policies)}`);
        expect(info?.budgets).toHaveLength(policies.length);
      }),
      { numRuns: 300 },
    );
  });

  it('beyond MAX_BUDGETS, the ones kept are those that run out first, in header order, and one problem counts the rest', () => {
    fc.assert(
      fc.property(fc.array(policy, { minLength: MAX_BUDGETS + 1, maxLength: 40 }), (policies) => {
        const { info, problems } = parseRateLimitHeadersDetailed(headersOf(policies), NOW);
        const expected = referenceRanking(policies)
          .slice(0, MAX_BUDGETS)
          .sort((a, b) => a - b)
          .map((index) => `p${index}`);
        expect(info?.budgets?.map((budget) => budget.name)).toEqual(expected);
        expect(info?.name).toBe(`p${referenceScarcest(policies)}`);
        const notes = problems.filter((problem) => problem.header === '(budgets)');
        expect(notes).toHaveLength(1);
        expect(notes[0]?.issue).toContain(`${policies.length - MAX_BUDGETS} dropped`);
      }),
      { numRuns: 200 },
    );
  });

  it('the top-level budget is always among those kept, even when some budgets state no limit', () => {
    // Budgets with and without a limit are ordered by share or by remaining, which need not be transitive.
    const resource = fc.record({ limit: fc.option(fc.integer({ min: 1, max: 1000 })), remaining: fc.integer({ min: 1, max: 1000 }) });
    fc.assert(
      fc.property(fc.array(resource, { minLength: MAX_BUDGETS + 1, maxLength: 40 }), (resources) => {
        const headers: Record<string, string> = {};
        resources.forEach(({ limit, remaining }, index) => {
          if (limit !== null) headers[`x-ratelimit-limit-r${index}`] = String(limit);
          headers[`x-ratelimit-remaining-r${index}`] = String(remaining);
        });
        const info = parseRateLimitHeaders(headers, NOW);
        expect(info?.budgets).toHaveLength(MAX_BUDGETS);
        expect(info?.budgets?.some((budget) => budget.name === info.name)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
