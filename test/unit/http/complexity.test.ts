/**
 * Header parsing is linear in the input (issue 11, item 6): one hostile response must not
 * stall the event loop. Timing-free in the sense that matters: no wall-clock threshold, only
 * the ratio between parsing n and 8n items in the same run (linear ≈ 8×, quadratic 64×,
 * cubic 512×), each the fastest of several interleaved trials, so load on the machine
 * slows both sides alike and a single pause cannot fail it.
 */
import { describe, expect, it } from 'vitest';
import {
  MAX_BUDGETS,
  MAX_FIELD_LENGTH,
  MAX_PROBLEMS,
  parseRateLimitHeadersDetailed,
  type HeadersLike,
  type ParsedRateLimitHeaders,
} from '../../../src/http/parseRateLimitHeaders';

const NOW = Date.UTC(2025, 7, 21, 12, 41, 0);
const GROWTH = 8;
/** Linear parsing gives about 8× for 8× the input; quadratic 64×. */
const MAX_RATIO = 30;
const TRIALS = 5;

function parse(headers: HeadersLike): ParsedRateLimitHeaders {
  return parseRateLimitHeadersDetailed(headers, NOW);
}

/** Ms per parse of `headers`, timed over `repeats` parses. */
function msPerParse(headers: HeadersLike, repeats: number): number {
  const start = performance.now();
  for (let repeat = 0; repeat < repeats; repeat++) parse(headers);
  return (performance.now() - start) / repeats;
}

/**
 * How much longer parsing `shape(8n)` takes than `shape(n)`: the small one is parsed 8
 * times per trial so both trials do comparable work; the fastest of `TRIALS` each.
 */
function growthRatio(shape: (count: number) => HeadersLike, count: number): number {
  const small = shape(count);
  const large = shape(count * GROWTH);
  msPerParse(small, GROWTH); // warm the JIT on both shapes before timing
  msPerParse(large, 1);
  let smallMs = Number.POSITIVE_INFINITY;
  let largeMs = Number.POSITIVE_INFINITY;
  for (let trial = 0; trial < TRIALS; trial++) {
    smallMs = Math.min(smallMs, msPerParse(small, GROWTH));
    largeMs = Math.min(largeMs, msPerParse(large, 1));
  }
  return largeMs / Math.max(smallMs, 1e-3);
}

function list(count: number, item: (index: number) => string): string {
  return Array.from({ length: count }, (_, index) => item(index)).join(', ');
}

/** n copies of the same unnamed policy: every budget after the first needs a unique suffix. */
const samePolicies = (count: number): HeadersLike => ({ 'ratelimit-policy': list(count, () => '1;w=1') });
/** Draft 03's inline policies, all the same: `10, 10;w=1, 10;w=1, ...`. */
const inlinePolicies = (count: number): HeadersLike => ({ 'ratelimit-limit': `10, ${list(count, () => '10;w=1')}` });
/** Distinct named policies, each matched by name to its `RateLimit` item. */
const namedPolicies = (count: number): HeadersLike => ({
  'ratelimit-policy': list(count, (index) => `"p${index}";q=${100 + index};w=60`),
  ratelimit: list(count, (index) => `"p${index}";r=${index % 100};t=30`),
});
/** One budget per header triple, as OpenAI names them: `x-ratelimit-limit-<budget>`, ... */
const perResourceBudgets = (count: number): HeadersLike => {
  const headers: Record<string, string> = {};
  for (let index = 0; index < count; index++) {
    headers[`x-ratelimit-limit-b${index}`] = String(1000 + index);
    headers[`x-ratelimit-remaining-b${index}`] = String(500 + (index % 400));
    headers[`x-ratelimit-reset-b${index}`] = `${1 + (index % 59)}s`;
  }
  return headers;
};

describe('header parsing is linear in the input (n vs 8n in one run)', () => {
  const cases: ReadonlyArray<readonly [string, (count: number) => HeadersLike, number]> = [
    ['RateLimit-Policy: n copies of 1;w=1', samePolicies, 600],
    ['RateLimit-Limit: 10, 10;w=1 ×n', inlinePolicies, 600],
    ['distinct named policies matched to RateLimit items', namedPolicies, 250],
    ['per-resource budgets, n header triples', perResourceBudgets, 200],
  ];
  for (const [name, shape, count] of cases) {
    it(`${name}: 8× the input costs < ${MAX_RATIO}× the time`, () => {
      // The large input still fits the field cap: this measures parsing, not skipping.
      for (const value of Object.values(shape(count * GROWTH))) expect(String(value).length).toBeLessThanOrEqual(MAX_FIELD_LENGTH);
      expect(growthRatio(shape, count)).toBeLessThan(MAX_RATIO);
    });
  }
});

describe('what a huge response leaves: bounded', () => {
  it('a 10 000-budget response keeps the 16 that run out first and reports the rest in one problem', () => {
    const { info, problems, formats } = parse(perResourceBudgets(10_000));
    expect(info?.budgets).toHaveLength(MAX_BUDGETS);
    // remaining 500 + (i % 400) of 1000 + i: the smallest shares are those with i % 400 = 0, then 1, ...
    const shares = (info?.budgets ?? []).map((budget) => (budget.remaining as number) / (budget.limit as number));
    const worstKept = Math.max(...shares);
    for (let index = 0; index < 10_000; index++) {
      const share = (500 + (index % 400)) / (1000 + index);
      const kept = info?.budgets?.some((budget) => budget.name === `b${index}`) ?? false;
      if (!kept) expect(share).toBeGreaterThanOrEqual(worstKept);
    }
    expect(info?.budgets?.some((budget) => budget.name === info.name)).toBe(true);
    const dropped = problems.filter((problem) => problem.header === '(budgets)');
    expect(dropped).toHaveLength(1);
    expect(dropped[0]?.issue).toContain(`${10_000 - MAX_BUDGETS} dropped`);
    expect(problems.length).toBeLessThanOrEqual(MAX_PROBLEMS + 2);
    expect(formats).toEqual(['per-resource']);
  });

  it('the top-level budget is kept even where the ranking is not transitive', () => {
    // With and without a limit, budgets compare by share or by remaining: 16 without a limit and
    // 10 left, then "b" (5 of 10) beating them, then "c" (50 of 1000) beating "b" by share.
    const headers: Record<string, string> = { 'x-ratelimit-limit-b': '10', 'x-ratelimit-remaining-b': '5' };
    for (let index = 0; index < MAX_BUDGETS; index++) headers[`x-ratelimit-remaining-a${String(index).padStart(2, '0')}`] = '10';
    Object.assign(headers, { 'x-ratelimit-limit-c': '1000', 'x-ratelimit-remaining-c': '50' });
    const { info } = parse(headers);
    expect(info).toMatchObject({ name: 'c', limit: 1000, remaining: 50 });
    expect(info?.budgets).toHaveLength(MAX_BUDGETS);
    expect(info?.budgets?.map((budget) => budget.name)).toContain('c');
    expect(info?.budgets?.map((budget) => budget.name)).toContain('b');
  });

  it('duplicate names get suffixes in header order; a name taken by the headers themselves is skipped', () => {
    const { info } = parse({ 'ratelimit-policy': '5;w=1, 5;w=1, 6;w=1, 5;w=1' });
    expect(info?.budgets?.map((budget) => budget.name)).toEqual(['5;w=1', '5;w=1#2', '6;w=1', '5;w=1#3']);
    const taken = parse({
      'ratelimit-policy': '"a#2";q=1;w=1, "a";q=2;w=1',
      ratelimit: '"a";r=1;t=1',
      'x-ratelimit-bucket': 'a',
      'x-ratelimit-remaining': '3',
    });
    expect(taken.info?.budgets?.map((budget) => budget.name).sort()).toEqual(['a', 'a#2', 'a#3']);
  });

  it('1 MB of distinct named policies is not parsed: one problem names the cap', () => {
    const huge = list(50_000, (index) => `"p${index}";q=${index + 1};w=60`);
    expect(huge.length).toBeGreaterThan(1_000_000);
    const { info, problems } = parse({ 'ratelimit-policy': huge, 'x-ratelimit-remaining': '7' });
    expect(info).toEqual({ name: 'x-ratelimit', remaining: 7, refill: 'at-reset' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ header: 'ratelimit-policy' });
    expect(problems[0]?.issue).toContain(`beyond the ${MAX_FIELD_LENGTH}-character cap`);
    expect(problems[0]?.value.length).toBeLessThanOrEqual(200);
  });

  it('a value just under the cap is read; repeated field lines count together', () => {
    const item = '1;w=1';
    const fits = list(Math.floor((MAX_FIELD_LENGTH + 2) / (item.length + 2)), () => item);
    expect(parse({ 'ratelimit-policy': fits }).info?.budgets).toHaveLength(MAX_BUDGETS);
    const lines = Array.from({ length: 3 }, () => fits.slice(0, Math.ceil(MAX_FIELD_LENGTH / 2)));
    const { info, problems } = parse({ 'ratelimit-policy': lines });
    expect(info).toBeUndefined();
    expect(problems[0]?.issue).toContain('cap');
  });

  it('thousands of bad items list at most MAX_PROBLEMS problems and count the rest', () => {
    const { problems } = parse({ 'ratelimit-policy': list(5000, () => '"p";w=x') });
    expect(problems).toHaveLength(MAX_PROBLEMS + 1);
    const last = problems[problems.length - 1];
    expect(last?.header).toBe('(problems)');
    // each item: no "q" and a non-number "w"; the first is kept, the rest named twice.
    expect(Number(last?.value)).toBe(5000 * 2 + 4999 - MAX_PROBLEMS);
  });
});
