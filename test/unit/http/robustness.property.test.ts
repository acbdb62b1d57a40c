import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_RESET_MS,
  MAX_WINDOW_MS,
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
  if (info.window !== undefined) {
    expect(info.window).toBeGreaterThan(0);
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

describe('property: junk header values', () => {
  it('never throw, never yield NaN, negative, zero-window or out-of-range fields', () => {
    fc.assert(
      fc.property(junkHeaders, fc.integer({ min: 0, max: 4e12 }), (headers, now) => {
        const { info, problems, formats } = parseRateLimitHeadersDetailed(headers, now);
        for (const problem of problems) {
          expect(typeof problem.header).toBe('string');
          expect(typeof problem.value).toBe('string');
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
          expect(info.budgets.some((budget) => budget.name === info.name)).toBe(true);
        }
      }),
      { numRuns: 1500 },
    );
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

  it('holds for random IETF policy sets', () => {
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
    fc.assert(
      fc.property(fc.array(policy, { minLength: 2, maxLength: 5 }), (policies) => {
        const headers = {
          'ratelimit-policy': policies.map((p, index) => `"p${index}";q=${p.quota};w=${p.windowSeconds}`).join(', '),
          ratelimit: policies.map((p, index) => `"p${index}";r=${p.left};t=${p.resetSeconds}`).join(', '),
        };
        const info = parseRateLimitHeaders(headers, NOW);
        expect(info?.name).toBe(`p${referenceScarcest(policies)}`);
        expect(info?.budgets).toHaveLength(policies.length);
      }),
      { numRuns: 300 },
    );
  });
});
