import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RateLimitFeedback } from '../../../src/arithmetic/adaptation';
import { MAX_RESET_MS, MAX_WINDOW_MS } from '../../../src/http/parseRateLimitHeaders';
import {
  checkFeedback,
  describesLimit,
  hasBudgetInfo,
  headersOf,
  headersOfError,
  isParsedFeedback,
  isThrottleError,
  isThrottleStatus,
  statusOf,
  toFeedback,
} from '../../../src/http/responseFeedback';

const clock = (): number => Date.UTC(2025, 0, 1);
/** Feedback as an untyped callback may return it. */
const given = (fields: Record<string, unknown>): RateLimitFeedback => fields as RateLimitFeedback;

describe('reading a response or an error', () => {
  it('finds headers on the carrier, or for an error on its response', () => {
    const headers = { 'retry-after': '1' };
    expect(headersOf({ headers })).toBe(headers);
    expect(headersOf({ headers: 'x' })).toBeUndefined();
    expect(headersOf({ headers: null })).toBeUndefined();
    expect(headersOf(null)).toBeUndefined();
    expect(headersOf(undefined)).toBeUndefined();
    expect(headersOfError({ response: { headers } })).toBe(headers);
    expect(headersOfError(Object.assign(new Error('x'), { headers }))).toBe(headers);
    expect(headersOfError(new Error('x'))).toBeUndefined();
    expect(headersOfError(null)).toBeUndefined();
  });

  it('reads a numeric status or statusCode', () => {
    expect(statusOf({ status: 429 })).toBe(429);
    expect(statusOf({ statusCode: 503 })).toBe(503);
    expect(statusOf({ status: '429' })).toBeUndefined();
    expect(statusOf(null)).toBeUndefined();
    expect([429, 503, 200, 500, undefined].map(isThrottleStatus)).toEqual([true, true, false, false, false]);
  });

  it('calls an error a throttle signal for a 429/503 status (its own or its response’s) or a retryAfter', () => {
    expect(isThrottleError({ status: 429 }, undefined)).toBe(true);
    expect(isThrottleError({ response: { statusCode: 503 } }, undefined)).toBe(true);
    expect(isThrottleError(new Error('x'), { retryAfter: 0 })).toBe(true);
    expect(isThrottleError(new Error('x'), { limit: 1, window: 10 })).toBe(false);
    expect(isThrottleError({ status: 500 }, undefined)).toBe(false);
    expect(isThrottleError(undefined, undefined)).toBe(false);
  });
});

describe('toFeedback', () => {
  it('parses headers, and checks feedback already parsed', () => {
    expect(toFeedback({ 'RateLimit-Policy': '10;w=1' }, clock)).toMatchObject({ limit: 10, window: 1000 });
    expect(toFeedback(new Map([['retry-after', '2']]), clock)).toMatchObject({ retryAfter: 2000 });
    expect(toFeedback({ limit: 10, window: 1000 }, clock)).toEqual({ limit: 10, window: 1000 });
    expect(toFeedback(given({ limit: Number.NaN }), clock)).toBeUndefined();
    expect(toFeedback(undefined, clock)).toBeUndefined();
    expect(toFeedback(null as never, clock)).toBeUndefined();
  });

  it('tells parsed feedback from headers by its keys', () => {
    expect(isParsedFeedback({ limit: 1, remaining: 0, resetAfter: 1, name: 'x', budgets: [] })).toBe(true);
    expect(isParsedFeedback({ limit: 1, 'x-ratelimit-limit': '1' })).toBe(false);
    expect(isParsedFeedback({})).toBe(false);
    expect(isParsedFeedback(new Map([['limit', 1]]))).toBe(false);
  });
});

describe('checkFeedback (feedback a callback returns already parsed)', () => {
  it('keeps good numbers as they are', () => {
    const feedback = { limit: 100, remaining: 40, resetAfter: 2500, window: 60_000, retryAfter: 0, refill: 'continuous' } as const;
    expect(checkFeedback(feedback)).toEqual(feedback);
    expect(checkFeedback({ remaining: 0, resetAfter: 0 })).toEqual({ remaining: 0, resetAfter: 0 });
  });

  it('drops every field that is not a finite number >= 0', () => {
    const bad = [Number.NaN, Infinity, -Infinity, -1, -0.001, '5', '', null, true, {}, [3], 10n];
    for (const value of bad) {
      const feedback = given({ limit: value, remaining: value, resetAfter: value, window: value, retryAfter: value, refill: 'at-reset' });
      expect(checkFeedback(feedback), String(value)).toBeUndefined();
      expect(checkFeedback(given({ limit: 5, window: 1000, remaining: value })), String(value)).toEqual({ limit: 5, window: 1000 });
    }
  });

  it('drops a window of 0 or beyond MAX_WINDOW_MS', () => {
    expect(checkFeedback({ limit: 5, window: 0 })).toEqual({ limit: 5 });
    expect(checkFeedback({ limit: 5, window: MAX_WINDOW_MS + 1 })).toEqual({ limit: 5 });
    expect(checkFeedback({ limit: 5, window: MAX_WINDOW_MS })).toEqual({ limit: 5, window: MAX_WINDOW_MS });
  });

  it('clamps remaining to the limit and resets and waits to MAX_RESET_MS', () => {
    expect(checkFeedback({ limit: 5, remaining: 9 })).toEqual({ limit: 5, remaining: 5 });
    expect(checkFeedback({ remaining: 9 })).toEqual({ remaining: 9 });
    expect(checkFeedback({ remaining: 0, resetAfter: 1e15 })).toEqual({ remaining: 0, resetAfter: MAX_RESET_MS });
    expect(checkFeedback({ retryAfter: Number.MAX_VALUE })).toEqual({ retryAfter: MAX_RESET_MS });
  });

  it('keeps refill only when it is "at-reset" or "continuous", and drops what adapting never reads', () => {
    expect(checkFeedback(given({ limit: 1, refill: 'sometimes' }))).toEqual({ limit: 1 });
    expect(checkFeedback(given({ limit: 1, refill: 3 }))).toEqual({ limit: 1 });
    expect(checkFeedback(given({ limit: 1, name: 'x', unit: 'requests', budgets: [{ name: 'x', limit: -1 }] }))).toEqual({ limit: 1 });
  });

  it('returns undefined when no number is left', () => {
    expect(checkFeedback({})).toBeUndefined();
    expect(checkFeedback({ refill: 'continuous' })).toBeUndefined();
    expect(checkFeedback(given({ name: 'default', budgets: [] }))).toBeUndefined();
  });

  it('holds any input to the header parser’s guarantees', () => {
    const anything = fc.oneof(fc.double(), fc.integer(), fc.string(), fc.constantFrom(undefined, null, Infinity, -Infinity, Number.NaN));
    const fields = fc.record(
      { limit: anything, remaining: anything, resetAfter: anything, window: anything, retryAfter: anything, refill: fc.string() },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fields, (input) => {
        const checked = checkFeedback(given(input));
        if (checked === undefined) return;
        const numbers = [checked.limit, checked.remaining, checked.resetAfter, checked.window, checked.retryAfter];
        expect(numbers.some((n) => n !== undefined)).toBe(true);
        for (const n of numbers) if (n !== undefined) expect(Number.isFinite(n) && n >= 0).toBe(true);
        if (checked.window !== undefined) expect(checked.window > 0 && checked.window <= MAX_WINDOW_MS).toBe(true);
        if (checked.remaining !== undefined && checked.limit !== undefined) expect(checked.remaining).toBeLessThanOrEqual(checked.limit);
        for (const wait of [checked.resetAfter, checked.retryAfter]) if (wait !== undefined) expect(wait).toBeLessThanOrEqual(MAX_RESET_MS);
        if (checked.refill !== undefined) expect(['at-reset', 'continuous']).toContain(checked.refill);
      }),
    );
  });
});

describe('what feedback tells', () => {
  it('has budget info with remaining and a reset, or a limit and a window', () => {
    expect(hasBudgetInfo({ remaining: 0, resetAfter: 10 })).toBe(true);
    expect(hasBudgetInfo({ limit: 2, window: 10 })).toBe(true);
    expect(hasBudgetInfo({ limit: 2, resetAfter: 10 })).toBe(false);
    expect(hasBudgetInfo({ retryAfter: 10 })).toBe(false);
  });

  it('describes the limit unless it only says when to come back', () => {
    expect(describesLimit({ limit: 2 })).toBe(true);
    expect(describesLimit({ remaining: 3, resetAfter: 10 })).toBe(true);
    expect(describesLimit({ retryAfter: 10, remaining: 0, resetAfter: 10 })).toBe(false);
    expect(describesLimit({ retryAfter: 10, limit: 5, remaining: 0, resetAfter: 10 })).toBe(true);
  });
});
