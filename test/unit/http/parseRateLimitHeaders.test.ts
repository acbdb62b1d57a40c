import { describe, expect, it } from 'vitest';
import {
  MAX_RESET_MS,
  parseRateLimitHeaders,
  parseRateLimitHeadersDetailed,
  type HeadersLike,
  type RateLimitHeaderProblem,
} from '../../../src/http/parseRateLimitHeaders';

/** The caller's wall clock in most tests: 2025-08-21T12:41:00Z. */
const NOW = Date.UTC(2025, 7, 21, 12, 41, 0);
const NOW_SECONDS = NOW / 1000;

function parse(headers: HeadersLike, now = NOW) {
  return parseRateLimitHeaders(headers, now);
}

function problemsOf(headers: HeadersLike, now = NOW): RateLimitHeaderProblem[] {
  return parseRateLimitHeadersDetailed(headers, now).problems;
}

/** Asserts exactly one problem on `header` whose issue contains `fragment`. */
function expectProblem(headers: HeadersLike, header: string, fragment: string, now = NOW): void {
  const matching = problemsOf(headers, now).filter((problem) => problem.header === header);
  expect(matching).toHaveLength(1);
  expect(matching[0]?.issue).toContain(fragment);
}

describe('GitHub: X-RateLimit-* with reset in epoch seconds', () => {
  // docs.github.com, "API rate limit exceeded" (HTTP/2 403), with the response's own Date.
  const exceeded = {
    Date: 'Tue, 20 Aug 2013 14:50:41 GMT',
    'X-RateLimit-Limit': '60',
    'X-RateLimit-Remaining': '0',
    'X-RateLimit-Reset': '1377013266',
  };

  it('reads the reset against the Date header: 3025 s after the response was sent', () => {
    expect(parse(exceeded)).toEqual({
      name: 'x-ratelimit',
      limit: 60,
      remaining: 0,
      resetAfter: 3_025_000,
      refill: 'at-reset',
    });
  });

  it('gives the same answer when the client clock is an hour off (skew cancels out)', () => {
    const sentAt = Date.UTC(2013, 7, 20, 14, 50, 41);
    expect(parse(exceeded, sentAt + 3_600_000)?.resetAfter).toBe(3_025_000);
    expect(parse(exceeded, sentAt - 3_600_000)?.resetAfter).toBe(3_025_000);
  });

  it('without a Date header, reads the reset against `now`', () => {
    const { Date: _date, ...withoutDate } = exceeded;
    const now = Date.UTC(2013, 7, 20, 14, 51, 22); // 41 s after the Date above
    expect(parse(withoutDate, now)?.resetAfter).toBe(2_984_000);
  });

  it('names the budget after X-RateLimit-Resource and keeps X-RateLimit-Used consistent', () => {
    // GET /rate_limit, resources.core: limit 5000, used 1, remaining 4999, reset 1691591363.
    const headers = {
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': '4999',
      'x-ratelimit-used': '1',
      'x-ratelimit-reset': '1691591363',
      'x-ratelimit-resource': 'core',
    };
    const now = (1_691_591_363 - 3600) * 1000;
    expect(parse(headers, now)).toEqual({
      name: 'core',
      limit: 5000,
      remaining: 4999,
      resetAfter: 3_600_000,
      refill: 'at-reset',
    });
    expect(problemsOf(headers, now)).toEqual([]);
  });

  it('the 2013 changelog example: 42 of 60 left', () => {
    const headers = { 'X-RateLimit-Limit': '60', 'X-RateLimit-Remaining': '42', 'X-RateLimit-Reset': '1372700873' };
    expect(parse(headers, 1_372_700_873_000 - 1_800_000)).toMatchObject({ limit: 60, remaining: 42, resetAfter: 1_800_000 });
  });

  it('a secondary rate limit (403 + retry-after: 60) makes the caller wait 60 s despite quota left', () => {
    const headers = {
      'retry-after': '60',
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': '4900',
      'x-ratelimit-used': '100',
      'x-ratelimit-reset': String(NOW_SECONDS + 1200),
      'x-ratelimit-resource': 'core',
    };
    expect(parse(headers)).toEqual({
      name: 'core',
      limit: 5000,
      remaining: 0,
      resetAfter: 60_000,
      retryAfter: 60_000,
      refill: 'at-reset',
    });
  });
});

describe('X/Twitter: X-Rate-Limit-* spelling, reset in epoch seconds', () => {
  it('docs.x.com example: 847 of 900 left, window resets at 1705420800', () => {
    const headers = {
      'x-rate-limit-limit': '900',
      'x-rate-limit-remaining': '847',
      'x-rate-limit-reset': '1705420800',
    };
    const detailed = parseRateLimitHeadersDetailed(headers, 1_705_420_800_000 - 600_000);
    expect(detailed.info).toEqual({
      name: 'x-rate-limit',
      limit: 900,
      remaining: 847,
      resetAfter: 600_000,
      refill: 'at-reset',
    });
    expect(detailed.formats).toEqual(['x-rate-limit']);
  });
});

describe('Discord: X-RateLimit-Reset-After and fractional epoch resets', () => {
  it('prefers the relative Reset-After over the absolute Reset, and names the bucket', () => {
    // discord.com/developers/docs/topics/rate-limits, header example.
    const headers = {
      'X-RateLimit-Limit': '5',
      'X-RateLimit-Remaining': '0',
      'X-RateLimit-Reset': '1470173023',
      'X-RateLimit-Reset-After': '1',
      'X-RateLimit-Bucket': 'abcd1234',
    };
    expect(parse(headers)).toEqual({ name: 'abcd1234', limit: 5, remaining: 0, resetAfter: 1000, refill: 'at-reset' });
  });

  it('reads an epoch reset with milliseconds against the Date header', () => {
    const headers = {
      Date: 'Tue, 02 Aug 2016 21:23:42 GMT', // 1470173022
      'X-RateLimit-Limit': '5',
      'X-RateLimit-Remaining': '1',
      'X-RateLimit-Reset': '1470173023.123',
    };
    expect(parse(headers)?.resetAfter).toBe(1123);
  });

  it('a 429 with Retry-After: the wait is Retry-After, the budget keeps its own reset', () => {
    const headers = {
      'Retry-After': '65',
      'X-RateLimit-Limit': '10',
      'X-RateLimit-Remaining': '0',
      'X-RateLimit-Reset': '1470173023',
      'X-RateLimit-Reset-After': '64.57',
      'X-RateLimit-Bucket': 'abcd1234',
      'X-RateLimit-Scope': 'user',
    };
    const detailed = parseRateLimitHeadersDetailed(headers, NOW);
    expect(detailed.info).toEqual({
      name: 'abcd1234',
      limit: 10,
      remaining: 0,
      resetAfter: 65_000,
      retryAfter: 65_000,
      refill: 'at-reset',
    });
    expect(detailed.problems).toEqual([]);
  });

  it('a malformed Reset-After falls back to Reset', () => {
    const headers = {
      'x-ratelimit-remaining': '2',
      'x-ratelimit-reset-after': 'soon',
      'x-ratelimit-reset': String(NOW_SECONDS + 2.5),
    };
    expect(parse(headers)?.resetAfter).toBe(2500);
    expectProblem(headers, 'x-ratelimit-reset-after', 'not a time');
  });
});

describe('Reddit: X-Ratelimit-Used, fractional remaining, reset in relative seconds', () => {
  it('derives the limit from used + remaining', () => {
    const headers = { 'X-Ratelimit-Used': '2', 'X-Ratelimit-Remaining': '598.0', 'X-Ratelimit-Reset': '412' };
    expect(parse(headers)).toEqual({ name: 'x-ratelimit', limit: 600, remaining: 598, resetAfter: 412_000, refill: 'at-reset' });
  });

  it('derives remaining from limit - used', () => {
    expect(parse({ 'x-ratelimit-limit': '100', 'x-ratelimit-used': '30' })).toMatchObject({ limit: 100, remaining: 70 });
    expect(parse({ 'x-ratelimit-limit': '100', 'x-ratelimit-used': '130' })).toMatchObject({ limit: 100, remaining: 0 });
  });
});

describe('X-RateLimit-Reset: epoch or delta, told apart by size', () => {
  // Below 1e9 a bare number is delta seconds, from 1e9 epoch seconds, from 1e12 epoch ms.
  const cases: ReadonlyArray<readonly [string, string, number]> = [
    ['delta seconds', '60', 60_000],
    ['zero', '0', 0],
    ['a day of delta seconds', '86400', 86_400_000],
    ['epoch seconds', String(NOW_SECONDS + 30), 30_000],
    ['epoch seconds with a fraction', String(NOW_SECONDS + 30.5), 30_500],
    ['epoch milliseconds', String(NOW + 30_500), 30_500],
    ['an IMF-fixdate', 'Thu, 21 Aug 2025 12:41:30 GMT', 30_000],
    ['an RFC 3339 time', '2025-08-21T12:41:30Z', 30_000],
    ['an RFC 3339 time with offset', '2025-08-21T14:41:30+02:00', 30_000],
    ['a Go duration', '1m30s', 90_000],
  ];
  for (const [label, value, expected] of cases) {
    it(`${label}: ${value}`, () => {
      const headers = { 'x-ratelimit-remaining': '1', 'x-ratelimit-reset': value };
      expect(parse(headers)?.resetAfter).toBe(expected);
      expect(problemsOf(headers)).toEqual([]);
    });
  }

  it('just below 1e9 is a delay of 31.7 years: clamped to 24 h and reported', () => {
    const headers = { 'x-ratelimit-remaining': '1', 'x-ratelimit-reset': '999999999' };
    expect(parse(headers)?.resetAfter).toBe(MAX_RESET_MS);
    expectProblem(headers, 'x-ratelimit-reset', 'beyond the 24 h cap');
  });

  it('an epoch reset ten years away is clamped to 24 h and reported', () => {
    const headers = { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(NOW_SECONDS + 10 * 365 * 86_400) };
    expect(parse(headers)?.resetAfter).toBe(MAX_RESET_MS);
    expectProblem(headers, 'x-ratelimit-reset', 'clamped to 24 h');
  });

  it('an epoch reset long past reads as now and is reported; within 1 s of now it is not', () => {
    const stale = { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1377013266' };
    expect(parse(stale)?.resetAfter).toBe(0);
    expectProblem(stale, 'x-ratelimit-reset', 'in the past');
    const justNow = { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(NOW_SECONDS - 0.5) };
    expect(parse(justNow)?.resetAfter).toBe(0);
    expect(problemsOf(justNow)).toEqual([]);
  });
});

describe('IETF drafts ≤ 06: RateLimit-Limit / -Remaining / -Reset', () => {
  it('express-rate-limit "draft-6" headers: the policy gives the window', () => {
    const headers = {
      'RateLimit-Policy': '100;w=900',
      'RateLimit-Limit': '100',
      'RateLimit-Remaining': '99',
      'RateLimit-Reset': '900',
    };
    const detailed = parseRateLimitHeadersDetailed(headers, NOW);
    expect(detailed.info).toEqual({
      name: '100;w=900',
      limit: 100,
      remaining: 99,
      resetAfter: 900_000,
      window: 900_000,
      refill: 'at-reset',
    });
    expect(detailed.formats).toEqual(['ietf-split']);
  });

  it('without a policy: one budget, no window', () => {
    expect(parse({ 'ratelimit-limit': '10', 'ratelimit-remaining': '3', 'ratelimit-reset': '7' })).toEqual({
      name: 'ratelimit',
      limit: 10,
      remaining: 3,
      resetAfter: 7000,
      refill: 'at-reset',
    });
  });

  it('draft 03 inline policies: RateLimit-Limit: 10, 10;w=1, 50;w=60, 1000;w=3600, 5000;w=86400', () => {
    const info = parse({
      'RateLimit-Limit': '10, 10;w=1, 50;w=60, 1000;w=3600, 5000;w=86400',
      'RateLimit-Remaining': '9',
      'RateLimit-Reset': '1',
    });
    expect(info).toMatchObject({ name: '10;w=1', limit: 10, remaining: 9, resetAfter: 1000, window: 1000 });
    expect(info?.budgets?.map((budget) => budget.name)).toEqual(['10;w=1', '50;w=60', '1000;w=3600', '5000;w=86400']);
  });

  it('an epoch RateLimit-Reset (a server not following the draft) is read as epoch and reported', () => {
    const headers = { 'ratelimit-remaining': '5', 'ratelimit-reset': String(NOW_SECONDS + 20) };
    expect(parse(headers)?.resetAfter).toBe(20_000);
    expectProblem(headers, 'ratelimit-reset', 'where delta-seconds are expected');
  });
});

describe('IETF draft 07: RateLimit dictionary with RateLimit-Policy', () => {
  it('the draft example: RateLimit-Policy: 100;w=10, RateLimit: limit=100, remaining=50, reset=5', () => {
    const detailed = parseRateLimitHeadersDetailed({ 'RateLimit-Policy': '100;w=10', RateLimit: 'limit=100, remaining=50, reset=5' }, NOW);
    expect(detailed.info).toEqual({
      name: '100;w=10',
      limit: 100,
      remaining: 50,
      resetAfter: 5000,
      window: 10_000,
      refill: 'at-reset',
    });
    expect(detailed.formats).toEqual(['ietf-dictionary']);
  });

  it('several policies: each is a budget, the expiring limit is matched by value', () => {
    const info = parse({
      'RateLimit-Policy': '10;w=1, 50;w=60, 1000;w=3600, 5000;w=86400',
      RateLimit: 'limit=50, remaining=0, reset=30',
    });
    expect(info).toMatchObject({ name: '50;w=60', limit: 50, remaining: 0, resetAfter: 30_000, window: 60_000 });
    expect(info?.budgets).toEqual([
      { name: '50;w=60', limit: 50, remaining: 0, resetAfter: 30_000, window: 60_000, refill: 'at-reset' },
      { name: '10;w=1', limit: 10, window: 1000, refill: 'at-reset' },
      { name: '1000;w=3600', limit: 1000, window: 3_600_000, refill: 'at-reset' },
      { name: '5000;w=86400', limit: 5000, window: 86_400_000, refill: 'at-reset' },
    ]);
  });

  it('the redirect example: RateLimit: limit=10, remaining=0, reset=10', () => {
    expect(parse({ RateLimit: 'limit=10, remaining=0, reset=10' })).toEqual({
      name: 'ratelimit',
      limit: 10,
      remaining: 0,
      resetAfter: 10_000,
      refill: 'at-reset',
    });
  });

  it('a daily quota reset in 10 hours is within the 24 h cap', () => {
    const headers = { Date: 'Tue, 15 Nov 1994 08:00:00 GMT', RateLimit: 'limit=1, remaining=1, reset=36000' };
    expect(parse(headers)?.resetAfter).toBe(36_000_000);
  });

  it('a non-numeric key is reported and the rest used', () => {
    const headers = { RateLimit: 'limit=100, remaining="fifty", reset=5' };
    expect(parse(headers)).toMatchObject({ limit: 100, resetAfter: 5000 });
    expectProblem(headers, 'ratelimit', '"remaining" is not a number');
  });
});

describe('IETF drafts 08+: structured RateLimit and RateLimit-Policy', () => {
  it('B.2.1: RateLimit: "fixedwindow";r=99;t=50 with RateLimit-Policy: "fixedwindow";q=100;w=60', () => {
    const detailed = parseRateLimitHeadersDetailed(
      { RateLimit: '"fixedwindow";r=99;t=50', 'RateLimit-Policy': '"fixedwindow";q=100;w=60' },
      NOW,
    );
    expect(detailed.info).toEqual({
      name: 'fixedwindow',
      limit: 100,
      remaining: 99,
      resetAfter: 50_000,
      window: 60_000,
      refill: 'at-reset',
    });
    expect(detailed.formats).toEqual(['ietf-structured']);
    expect(detailed.problems).toEqual([]);
  });

  it('B.1.1: RateLimit: "default";r=0;t=50 without a policy', () => {
    expect(parse({ RateLimit: '"default";r=0;t=50' })).toEqual({
      name: 'default',
      remaining: 0,
      resetAfter: 50_000,
      refill: 'at-reset',
    });
  });

  it('B.3.2: two policies, the one reported is matched by name and is the scarcest', () => {
    const info = parse({
      'RateLimit-Policy': '"hour";q=1000;w=3600, "day";q=5000;w=86400',
      RateLimit: '"day";r=100;t=36000',
    });
    expect(info).toEqual({
      name: 'day',
      limit: 5000,
      remaining: 100,
      resetAfter: 36_000_000,
      window: 86_400_000,
      refill: 'at-reset',
      budgets: [
        { name: 'day', limit: 5000, remaining: 100, resetAfter: 36_000_000, window: 86_400_000, refill: 'at-reset' },
        { name: 'hour', limit: 1000, window: 3_600_000, refill: 'at-reset' },
      ],
    });
  });

  it('B.3.1: token names (not strings) and a RateLimit with t only', () => {
    expect(parse({ 'RateLimit-Policy': 'quota;q=100;w=1', RateLimit: 'quota;t=1' })).toEqual({
      name: 'quota',
      limit: 100,
      resetAfter: 1000,
      window: 1000,
      refill: 'at-reset',
    });
  });

  it('FAQ: RateLimit-Policy split over two fields (Node gives an array), extension parameters ignored', () => {
    const info = parse({
      'ratelimit-policy': ['"sliding";q=100;w=60;burst=1000', '"fixed";q=5000;w=3600;burst=0'],
      ratelimit: '"sliding";r=50;t=44',
    });
    expect(info).toMatchObject({ name: 'sliding', limit: 100, remaining: 50, resetAfter: 44_000, window: 60_000 });
    expect(info?.budgets?.map((budget) => budget.name)).toEqual(['sliding', 'fixed']);
  });

  it('3.2: partition keys and a quota unit', () => {
    const info = parse({ 'RateLimit-Policy': '"peruser";q=65535;qu="content-bytes";w=10;pk=:sdfjLJUOUH==:' });
    expect(info).toEqual({ name: 'peruser', limit: 65535, window: 10_000, unit: 'content-bytes', refill: 'at-reset' });
  });

  it('B.1.4: Retry-After as an HTTP-date, converted against the Date header', () => {
    const headers = {
      Date: 'Mon, 05 Aug 2019 09:27:00 GMT',
      'Retry-After': 'Mon, 05 Aug 2019 09:27:05 GMT',
      RateLimit: '"default";r=0;t=5',
    };
    const detailed = parseRateLimitHeadersDetailed(headers, NOW); // the client clock is six years later
    expect(detailed.info).toEqual({
      name: 'default',
      remaining: 0,
      resetAfter: 5000,
      retryAfter: 5000,
      refill: 'at-reset',
    });
    expect(detailed.formats).toEqual(['ietf-structured', 'retry-after']);
    expect(detailed.problems).toEqual([]);
  });

  it('B.3: Retry-After: 20 takes precedence over r=15;t=40 (the budget keeps what the server said)', () => {
    const info = parse({
      'Retry-After': '20',
      'RateLimit-Policy': '"dynamic";q=100;w=60, "daily";q=1000;w=86400',
      RateLimit: '"dynamic";r=15;t=40',
    });
    expect(info).toMatchObject({ name: 'dynamic', limit: 100, remaining: 0, resetAfter: 20_000, retryAfter: 20_000 });
    expect(info?.budgets?.[0]).toMatchObject({ name: 'dynamic', remaining: 15, resetAfter: 40_000 });
  });

  it('8.5: a large remaining with a short reset keeps the policy window for the caller to judge', () => {
    expect(parse({ 'RateLimit-Policy': '"somepolicy";q=10000;w=1000', RateLimit: '"somepolicy";r=10000;t=10' })).toMatchObject({
      limit: 10000,
      remaining: 10000,
      resetAfter: 10_000,
      window: 1_000_000,
    });
  });

  it('several service limits in one field, one per policy', () => {
    const info = parse({
      'RateLimit-Policy': '"permin";q=50;w=60, "perhr";q=1000;w=3600',
      RateLimit: '"permin";r=40;t=20, "perhr";r=100;t=1800',
    });
    expect(info).toMatchObject({ name: 'perhr', remaining: 100 }); // 10% left beats 80% left
    expect(info?.budgets?.map((budget) => [budget.name, budget.remaining])).toEqual([
      ['permin', 40],
      ['perhr', 100],
    ]);
  });

  it('an epoch t is read as epoch and reported', () => {
    const headers = { RateLimit: `"a";r=5;t=${NOW_SECONDS + 30}` };
    expect(parse(headers)?.resetAfter).toBe(30_000);
    expectProblem(headers, 'ratelimit', 'where delta-seconds are expected');
  });

  it('a policy without q is kept for its window and reported', () => {
    const headers = { 'RateLimit-Policy': '"x";w=60', RateLimit: '"x";r=3;t=5' };
    expect(parse(headers)).toMatchObject({ name: 'x', remaining: 3, window: 60_000 });
    expectProblem(headers, 'ratelimit-policy', 'no "q"');
  });
});

describe('OpenAI-style per-resource headers: x-ratelimit-<field>-<budget>, Go durations', () => {
  it('the OpenAI docs example: requests and tokens budgets; requests runs out first', () => {
    const detailed = parseRateLimitHeadersDetailed(
      {
        'x-ratelimit-limit-requests': '60',
        'x-ratelimit-limit-tokens': '150000',
        'x-ratelimit-remaining-requests': '59',
        'x-ratelimit-remaining-tokens': '149984',
        'x-ratelimit-reset-requests': '1s',
        'x-ratelimit-reset-tokens': '6m0s',
      },
      NOW,
    );
    const requests = { name: 'requests', limit: 60, remaining: 59, resetAfter: 1000, window: 60_000, refill: 'continuous' };
    // 6 minutes to refill 16 tokens: the formula's window (the docs' numbers are illustrative).
    const tokens = { name: 'tokens', limit: 150000, remaining: 149984, resetAfter: 360_000, window: 3_375_000_000, refill: 'continuous' };
    expect(detailed.info).toEqual({ ...requests, budgets: [requests, tokens] });
    expect(detailed.formats).toEqual(['per-resource']);
    expect(detailed.problems).toEqual([]);
  });

  it('a recorded response (1000 RPD, 8000 TPM): the tokens budget is the scarcer, windows estimated', () => {
    const info = parse({
      'x-ratelimit-limit-requests': '1000',
      'x-ratelimit-limit-tokens': '8000',
      'x-ratelimit-remaining-requests': '998',
      'x-ratelimit-remaining-tokens': '7927',
      'x-ratelimit-reset-requests': '2m52.8s',
      'x-ratelimit-reset-tokens': '547ms',
    });
    expect(info).toMatchObject({ name: 'tokens', limit: 8000, remaining: 7927, resetAfter: 547 });
    expect(info?.window).toBe(59_945.205); // 547 ms × 8000 / 73: one minute, to the precision of the header
    expect(info?.budgets?.[0]).toMatchObject({ name: 'requests', resetAfter: 172_800, window: 86_400_000 }); // a day
  });

  it('a community-posted response with an extra tokens_usage_based budget', () => {
    const info = parse({
      'x-ratelimit-limit-requests': '5000',
      'x-ratelimit-limit-tokens': '160000',
      'x-ratelimit-limit-tokens_usage_based': '160000',
      'x-ratelimit-remaining-requests': '4999',
      'x-ratelimit-remaining-tokens': '159976',
      'x-ratelimit-remaining-tokens_usage_based': '159976',
      'x-ratelimit-reset-requests': '12ms',
      'x-ratelimit-reset-tokens': '9ms',
      'x-ratelimit-reset-tokens_usage_based': '9ms',
    });
    expect(info?.budgets?.map((budget) => [budget.name, budget.window])).toEqual([
      ['requests', 60_000],
      ['tokens', 60_000],
      ['tokens_usage_based', 60_000],
    ]);
    expect(info?.name).toBe('requests');
  });

  it('Groq: the same family with other durations', () => {
    const info = parse({
      'x-ratelimit-limit-requests': '30',
      'x-ratelimit-limit-tokens': '6000',
      'x-ratelimit-remaining-requests': '29',
      'x-ratelimit-remaining-tokens': '5970',
      'x-ratelimit-reset-requests': '2s',
      'x-ratelimit-reset-tokens': '1s',
    });
    expect(info).toMatchObject({ name: 'requests', window: 60_000 });
    expect(info?.budgets?.[1]).toMatchObject({ name: 'tokens', window: 200_000 });
  });

  it('Azure OpenAI "-1 / -1 / 0" means "not reported": ignored, nothing usable', () => {
    const headers = {
      'x-ratelimit-limit-tokens': '-1',
      'x-ratelimit-remaining-tokens': '-1',
      'x-ratelimit-reset-tokens': '0',
    };
    const detailed = parseRateLimitHeadersDetailed(headers, NOW);
    expect(detailed.info).toBeUndefined();
    expect(detailed.problems.map((problem) => problem.header)).toEqual(['x-ratelimit-limit-tokens', 'x-ratelimit-remaining-tokens']);
  });

  it('an overdrawn budget (remaining -27689, reset in plain seconds) with retry-after: 4', () => {
    const headers = { 'retry-after': '4', 'x-ratelimit-remaining-tokens': '-27689', 'x-ratelimit-reset-tokens': '64' };
    const detailed = parseRateLimitHeadersDetailed(headers, NOW);
    expect(detailed.info).toEqual({ name: 'tokens', remaining: 0, resetAfter: 4000, retryAfter: 4000, refill: 'continuous' });
    // A continuous budget's reset is "full again", so a shorter Retry-After is no contradiction.
    expect(detailed.problems).toEqual([
      { header: 'x-ratelimit-remaining-tokens', value: '-27689', issue: 'negative remaining (quota overdrawn); read as 0' },
    ]);
  });

  it('x-ratelimit-reset-after is Discord\'s, not a budget called "after"', () => {
    const info = parse({ 'x-ratelimit-remaining': '3', 'x-ratelimit-reset-after': '2' });
    expect(info).toMatchObject({ name: 'x-ratelimit', remaining: 3, resetAfter: 2000 });
    expect(info?.budgets).toBeUndefined();
  });
});

describe('Anthropic: anthropic-ratelimit-<budget>-*, RFC 3339 resets', () => {
  // A recorded api.anthropic.com response (tidyllm test fixture), 21 Aug 2025.
  const recorded = {
    date: 'Thu, 21 Aug 2025 12:41:00 GMT',
    'anthropic-ratelimit-input-tokens-limit': '80000',
    'anthropic-ratelimit-input-tokens-remaining': '80000',
    'anthropic-ratelimit-input-tokens-reset': '2025-08-21T12:40:59Z',
    'anthropic-ratelimit-output-tokens-limit': '16000',
    'anthropic-ratelimit-output-tokens-remaining': '16000',
    'anthropic-ratelimit-output-tokens-reset': '2025-08-21T12:41:00Z',
    'anthropic-ratelimit-requests-limit': '1000',
    'anthropic-ratelimit-requests-remaining': '999',
    'anthropic-ratelimit-requests-reset': '2025-08-21T12:40:59Z',
    'anthropic-ratelimit-tokens-limit': '96000',
    'anthropic-ratelimit-tokens-remaining': '96000',
    'anthropic-ratelimit-tokens-reset': '2025-08-21T12:40:59Z',
    'request-id': 'req_011CSLsW7mFqvHHnzrKdKjAE',
  };

  it('four budgets; requests (999/1000) runs out first; resets a second before Date read as now, silently', () => {
    const detailed = parseRateLimitHeadersDetailed(recorded, NOW + 300_000);
    expect(detailed.info).toMatchObject({ name: 'requests', limit: 1000, remaining: 999, resetAfter: 0, refill: 'continuous' });
    expect(detailed.info?.budgets?.map((budget) => budget.name)).toEqual(['requests', 'input-tokens', 'output-tokens', 'tokens']);
    expect(detailed.formats).toEqual(['anthropic']);
    expect(detailed.problems).toEqual([]);
  });

  it('a 429: retry-after wins, the exhausted requests budget gives the window estimate', () => {
    const info = parse({
      date: 'Thu, 21 Aug 2025 12:41:00 GMT',
      'retry-after': '2',
      'anthropic-ratelimit-requests-limit': '50',
      'anthropic-ratelimit-requests-remaining': '0',
      'anthropic-ratelimit-requests-reset': '2025-08-21T12:42:00Z',
      'anthropic-ratelimit-tokens-limit': '40000',
      'anthropic-ratelimit-tokens-remaining': '31000',
      'anthropic-ratelimit-tokens-reset': '2025-08-21T12:41:14Z',
    });
    expect(info).toMatchObject({ name: 'requests', limit: 50, remaining: 0, resetAfter: 2000, retryAfter: 2000, window: 60_000 });
    expect(info?.budgets?.[0]).toMatchObject({ name: 'requests', remaining: 0, resetAfter: 60_000 });
  });

  it('converts RFC 3339 resets against the Date header, not the skewed client clock', () => {
    const headers = {
      date: 'Thu, 21 Aug 2025 12:41:00 GMT',
      'anthropic-ratelimit-requests-limit': '50',
      'anthropic-ratelimit-requests-remaining': '25',
      'anthropic-ratelimit-requests-reset': '2025-08-21T12:41:30.5Z',
    };
    for (const skew of [-600_000, 0, 600_000]) expect(parse(headers, NOW + skew)?.resetAfter).toBe(30_500);
  });
});

describe('Retry-After', () => {
  it('delta seconds alone: the info says wait that long', () => {
    const detailed = parseRateLimitHeadersDetailed({ 'Retry-After': '120' }, NOW);
    expect(detailed.info).toEqual({ retryAfter: 120_000, remaining: 0, resetAfter: 120_000 });
    expect(detailed.formats).toEqual(['retry-after']);
  });

  it('an HTTP-date without a Date header is read against `now`', () => {
    expect(parse({ 'retry-after': 'Thu, 21 Aug 2025 12:41:45 GMT' })?.retryAfter).toBe(45_000);
  });

  it('the obsolete RFC 850 and asctime forms mean the same instant', () => {
    const date = 'Mon, 05 Aug 2019 09:27:00 GMT';
    for (const form of ['Mon, 05 Aug 2019 09:27:05 GMT', 'Monday, 05-Aug-19 09:27:05 GMT', 'Mon Aug  5 09:27:05 2019']) {
      expect(parse({ date, 'retry-after': form })?.retryAfter).toBe(5000);
    }
  });

  it('retry-after-ms is preferred for its precision', () => {
    expect(parse({ 'retry-after-ms': '1500', 'retry-after': '2' })?.retryAfter).toBe(1500);
    expect(parse({ 'retry-after-ms': 'x', 'retry-after': '2' })?.retryAfter).toBe(2000);
  });

  it('fractional seconds are accepted', () => {
    expect(parse({ 'retry-after': '1.5' })?.retryAfter).toBe(1500);
  });

  it('negative: read as 0 and reported', () => {
    const headers = { 'retry-after': '-5' };
    expect(parse(headers)).toEqual({ retryAfter: 0, remaining: 0, resetAfter: 0 });
    expectProblem(headers, 'retry-after', 'negative');
  });

  it('a date in the past: read as 0 and reported', () => {
    const headers = { 'retry-after': 'Thu, 21 Aug 2025 12:40:00 GMT' };
    expect(parse(headers)?.retryAfter).toBe(0);
    expectProblem(headers, 'retry-after', 'in the past');
  });

  it('ten years: clamped to 24 h and reported', () => {
    const headers = { 'retry-after': String(10 * 365 * 86_400) };
    expect(parse(headers)?.retryAfter).toBe(MAX_RESET_MS);
    expectProblem(headers, 'retry-after', 'clamped to 24 h');
  });

  it('junk is reported and yields nothing', () => {
    const detailed = parseRateLimitHeadersDetailed({ 'retry-after': 'soon' }, NOW);
    expect(detailed.info).toBeUndefined();
    expect(detailed.problems).toHaveLength(1);
  });

  it('earlier than the reset of an exhausted window: precedence, but reported', () => {
    const headers = { 'retry-after': '10', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '300' };
    expect(parse(headers)).toMatchObject({ remaining: 0, resetAfter: 10_000, retryAfter: 10_000 });
    expectProblem(headers, 'retry-after', 'Retry-After takes precedence');
  });
});

describe('several budgets: which one runs out first', () => {
  function scarcest(rateLimit: string, policy = '') {
    const headers: Record<string, string> = { ratelimit: rateLimit };
    if (policy !== '') headers['ratelimit-policy'] = policy;
    return parse(headers)?.name;
  }

  it('an exhausted budget beats any other, whatever the shares', () => {
    expect(scarcest('"a";r=1;t=1, "b";r=0;t=1', '"a";q=1000, "b";q=2')).toBe('b');
  });

  it('among exhausted budgets, the one that resets last', () => {
    expect(scarcest('"a";r=0;t=10, "b";r=0;t=100, "c";r=0;t=50')).toBe('b');
    expect(scarcest('"a";r=0;t=10, "b";r=0')).toBe('b'); // unknown reset: could be anything, treated as latest
  });

  it('the smallest share left when limits are known', () => {
    expect(scarcest('"a";r=50, "b";r=100', '"a";q=100, "b";q=1000')).toBe('b');
  });

  it('the smallest remaining when a share is unknown; a known remaining before an unknown one', () => {
    expect(scarcest('"a";r=90, "b";r=5', '"a";q=100')).toBe('b');
    expect(scarcest('"a";t=5, "b";r=500', '"a";q=10, "b";q=1000')).toBe('b');
  });

  it('policies alone: the lowest long-run rate', () => {
    expect(parse({ 'ratelimit-policy': '"burst";q=100;w=60, "daily";q=1000;w=86400' })?.name).toBe('daily');
  });

  it('complete ties keep header order', () => {
    expect(scarcest('"a";r=5, "b";r=5')).toBe('a');
  });
});

describe('malformed, contradictory and missing values', () => {
  it('nothing rate-limit related: undefined and no problems', () => {
    for (const headers of [{}, { 'content-type': 'application/json', etag: '"abc"' }]) {
      expect(parseRateLimitHeadersDetailed(headers, NOW)).toEqual({ info: undefined, problems: [], formats: [] });
    }
  });

  it('a limit alone is usable; a reset alone is not', () => {
    expect(parse({ 'x-ratelimit-limit': '100' })).toEqual({ name: 'x-ratelimit', limit: 100, refill: 'at-reset' });
    expect(parse({ 'x-ratelimit-reset': '30' })).toBeUndefined();
  });

  it('remaining above limit is clamped and reported', () => {
    const headers = { 'x-ratelimit-limit': '60', 'x-ratelimit-remaining': '61' };
    expect(parse(headers)).toMatchObject({ limit: 60, remaining: 60 });
    expectProblem(headers, 'x-ratelimit-remaining', 'exceeds limit 60');
  });

  it('r above q in the structured form is clamped too', () => {
    const headers = { 'ratelimit-policy': '"p";q=10;w=1', ratelimit: '"p";r=11;t=1' };
    expect(parse(headers)).toMatchObject({ limit: 10, remaining: 10 });
    expectProblem(headers, 'ratelimit', 'exceeds limit 10');
  });

  for (const junk of ['NaN', 'Infinity', '-Infinity', '1e3', '0x10', 'ten', '5 requests', '+5', '1'.repeat(400)]) {
    it(`non-numbers are ignored and reported: ${junk.length > 20 ? '400 digits' : junk}`, () => {
      const headers = { 'x-ratelimit-remaining': junk, 'x-ratelimit-limit': '10' };
      expect(parse(headers)).toEqual({ name: 'x-ratelimit', limit: 10, refill: 'at-reset' });
      expectProblem(headers, 'x-ratelimit-remaining', 'not a number');
    });
  }

  it('surrounding whitespace is fine; an empty value is reported', () => {
    expect(parse({ 'x-ratelimit-remaining': '  42 ' })?.remaining).toBe(42);
    expectProblem({ 'x-ratelimit-remaining': ' ', 'x-ratelimit-limit': '1' }, 'x-ratelimit-remaining', 'empty');
  });

  it('a negative remaining alone is an overdrawn quota: 0', () => {
    const headers = { ratelimit: '"a";r=-3;t=5' };
    expect(parse(headers)).toMatchObject({ remaining: 0, resetAfter: 5000 });
    expectProblem(headers, 'ratelimit', 'read as 0');
  });

  it('a negative reset or reset-after reads as now and is reported', () => {
    const headers = { 'x-ratelimit-remaining': '1', 'x-ratelimit-reset-after': '-0.5' };
    expect(parse(headers)?.resetAfter).toBe(0);
    expectProblem(headers, 'x-ratelimit-reset-after', 'negative reset');
  });

  it('a zero, negative or absurd window is ignored and reported, never a zero window', () => {
    for (const [window, fragment] of [
      ['0', 'must be > 0'],
      ['-60', 'must be > 0'],
      ['315360000', 'longer than 366 days'],
    ] as const) {
      const headers = { 'ratelimit-policy': `"p";q=10;w=${window}`, ratelimit: '"p";r=5;t=1' };
      const info = parse(headers);
      expect(info).toMatchObject({ limit: 10, remaining: 5 });
      expect(info?.window).toBeUndefined();
      expectProblem(headers, 'ratelimit-policy', fragment);
    }
  });

  it('a negative limit is ignored', () => {
    const headers = { 'ratelimit-policy': '"p";q=-1;w=60', ratelimit: '"p";r=5' };
    expect(parse(headers)).toMatchObject({ remaining: 5, window: 60_000 });
    expect(parse(headers)?.limit).toBeUndefined();
    expectProblem(headers, 'ratelimit-policy', 'negative limit');
  });

  it('malformed structured fields are reported and ignored, the rest still read', () => {
    const headers = { ratelimit: '"a";r=5;t=1,', 'x-ratelimit-remaining': '7' };
    expect(parse(headers)).toMatchObject({ name: 'x-ratelimit', remaining: 7 });
    expectProblem(headers, 'ratelimit', 'not a valid structured field');
  });

  it('non-number parameters, non-name items and inner lists are reported', () => {
    expectProblem({ ratelimit: '"a";r=?1;t=5' }, 'ratelimit', 'parameter "r" is not a number');
    expectProblem({ ratelimit: '42;r=5' }, 'ratelimit', 'must name its policy');
    expectProblem({ ratelimit: '("a" "b");r=5' }, 'ratelimit', 'inner list');
    expectProblem({ 'ratelimit-policy': '?1;q=5' }, 'ratelimit-policy', 'must be a name');
  });

  it('repeated values that disagree resolve to the most cautious, reported', () => {
    const headers = { 'x-ratelimit-remaining': ['10', '4'], 'x-ratelimit-limit': '60, 50', 'x-ratelimit-reset': ['5', '30'] };
    expect(parse(headers)).toMatchObject({ limit: 50, remaining: 4, resetAfter: 30_000 });
    const reported = problemsOf(headers).map((problem) => problem.header);
    expect(reported).toEqual(['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']);
  });

  it('repeated identical values are not a problem', () => {
    expect(problemsOf({ 'x-ratelimit-remaining': '5, 5', 'retry-after': ['3', '3'] })).toEqual([]);
  });

  it('a malformed Date header is reported and `now` used', () => {
    const headers = { date: 'yesterday', 'x-ratelimit-remaining': '1', 'x-ratelimit-reset': String(NOW_SECONDS + 9) };
    expect(parse(headers)?.resetAfter).toBe(9000);
    expectProblem(headers, 'date', 'not an HTTP-date');
  });

  it('an invalid calendar date is not a date', () => {
    expectProblem({ 'retry-after': 'Fri, 30 Feb 2024 10:00:00 GMT' }, 'retry-after', 'not a time');
  });

  it('a non-finite `now` falls back to the real clock and is reported', () => {
    const detailed = parseRateLimitHeadersDetailed({ 'retry-after': '3' }, Number.NaN);
    expect(detailed.info?.retryAfter).toBe(3000);
    expect(detailed.problems[0]?.header).toBe('(now)');
  });

  it('two families calling a budget by the same name keep both, the later renamed', () => {
    const info = parse({
      ratelimit: '"x-ratelimit";r=10;t=5',
      'x-ratelimit-remaining': '3',
    });
    expect(info?.budgets?.map((budget) => budget.name)).toEqual(['x-ratelimit', 'x-ratelimit#2']);
  });
});
