import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_RESET_MS, parseRateLimitHeaders } from '../../../src/http/parseRateLimitHeaders';
import { parseDecimal, parseGoDuration, parseHttpDate, parseRfc3339, parseTimeValue, splitFieldValue } from '../../../src/http/timeValues';

const NOW = Date.UTC(2025, 7, 21, 12, 41, 0);

describe('parseDecimal', () => {
  it('accepts plain decimals, negative ones too', () => {
    expect(parseDecimal('42')).toBe(42);
    expect(parseDecimal(' 598.0 ')).toBe(598);
    expect(parseDecimal('1470173023.123')).toBe(1470173023.123);
    expect(parseDecimal('.5')).toBe(0.5);
    expect(parseDecimal('-1')).toBe(-1);
    expect(Object.is(parseDecimal('-0'), 0)).toBe(true);
  });

  it('rejects everything else', () => {
    for (const text of ['', ' ', '1e3', '0x10', '+5', 'NaN', 'Infinity', '1,000', '1.2.3', '5s', '1'.repeat(400)]) {
      expect(parseDecimal(text)).toBeUndefined();
    }
  });
});

describe('parseGoDuration', () => {
  it('reads the forms OpenAI and Groq send', () => {
    const cases: ReadonlyArray<readonly [string, number]> = [
      ['1s', 1000],
      ['6m0s', 360_000],
      ['20ms', 20],
      ['547ms', 547],
      ['2m52.8s', 172_800],
      ['33.023s', 33_023],
      ['1h2m3.5s', 3_723_500],
      ['1h30m', 5_400_000],
      ['1.5s', 1500],
      ['300us', 0.3],
      ['300µs', 0.3],
      ['1500ns', 0.0015],
      ['0s', 0],
      ['-1m', -60_000],
    ];
    for (const [text, ms] of cases) expect(parseGoDuration(text)).toBeCloseTo(ms, 9);
  });

  it('rejects bare numbers, unknown units, upper case and junk', () => {
    for (const text of ['', '5', 's', '1d', '1S', '1 s', '1s2', 'm1s', '1..5s', '--1s']) {
      expect(parseGoDuration(text)).toBeUndefined();
    }
  });

  it('property: matches a reference sum of its parts', () => {
    const unitMs = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, ns: 0.000001 } as const;
    const part = fc.record({
      thousandths: fc.integer({ min: 0, max: 5_000_000 }),
      unit: fc.constantFrom(...(Object.keys(unitMs) as Array<keyof typeof unitMs>)),
    });
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 5 }), (parts) => {
        const text = parts.map(({ thousandths, unit }) => `${thousandths / 1000}${unit}`).join('');
        const expected = parts.reduce((sum, { thousandths, unit }) => sum + (thousandths / 1000) * unitMs[unit], 0);
        const parsed = parseGoDuration(text);
        expect(parsed).toBeDefined();
        expect(Math.abs((parsed as number) - expected)).toBeLessThanOrEqual(Math.max(1e-9, expected * 1e-12));
      }),
      { numRuns: 200 },
    );
  });
});

describe('HTTP-dates and RFC 3339', () => {
  const instant = Date.UTC(1994, 10, 6, 8, 49, 37);

  it('the three RFC 9110 forms', () => {
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT', NOW)).toBe(instant);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', NOW)).toBe(instant);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994', NOW)).toBe(instant);
  });

  it('RFC 850 two-digit years: more than 50 years ahead means the previous century', () => {
    expect(parseHttpDate('Monday, 01-Jan-74 00:00:00 GMT', NOW)).toBe(Date.UTC(2074, 0, 1)); // 49 years ahead
    expect(parseHttpDate('Saturday, 01-Jan-76 00:00:00 GMT', NOW)).toBe(Date.UTC(1976, 0, 1)); // 51 years ahead
  });

  it('leniencies: case, a one-digit day, UTC for GMT', () => {
    expect(parseHttpDate('sun, 6 nov 1994 08:49:37 utc', NOW)).toBe(instant);
  });

  it('rejects impossible or foreign dates', () => {
    for (const text of [
      'Fri, 30 Feb 2024 10:00:00 GMT',
      'Sun, 06 Nov 1994 24:00:00 GMT',
      'Sun, 06 Foo 1994 08:49:37 GMT',
      'Sun, 06 Nov 1994 08:49:37 PST',
      'Sun, 06 Nov 1994',
      'Tue Feb 16 2021 09:02:42 GMT+0100 (Central European Standard Time)',
    ]) {
      expect(parseHttpDate(text, NOW)).toBeUndefined();
    }
  });

  it('RFC 3339 with fractions and offsets', () => {
    expect(parseRfc3339('2025-08-21T12:40:59Z')).toBe(Date.UTC(2025, 7, 21, 12, 40, 59));
    expect(parseRfc3339('2025-08-21t12:40:59.25z')).toBe(Date.UTC(2025, 7, 21, 12, 40, 59, 250));
    expect(parseRfc3339('2025-08-21T14:40:59+02:00')).toBe(Date.UTC(2025, 7, 21, 12, 40, 59));
    expect(parseRfc3339('2025-08-21T10:10:59-02:30')).toBe(Date.UTC(2025, 7, 21, 12, 40, 59));
    for (const text of ['2025-08-21', '2025-13-01T00:00:00Z', '2025-08-21T12:40:59', '2025-08-21T12:40:59+24:00']) {
      expect(parseRfc3339(text)).toBeUndefined();
    }
  });

  it('parseTimeValue tells the forms apart', () => {
    expect(parseTimeValue('30', NOW)).toEqual({ source: 'seconds', delayMs: 30_000 });
    expect(parseTimeValue('999999999', NOW)).toEqual({ source: 'seconds', delayMs: 999_999_999_000 });
    expect(parseTimeValue('1000000000', NOW)).toEqual({ source: 'epoch-seconds', atMs: 1e12 });
    expect(parseTimeValue('1000000000000', NOW)).toEqual({ source: 'epoch-milliseconds', atMs: 1e12 });
    expect(parseTimeValue('1m', NOW)).toEqual({ source: 'duration', delayMs: 60_000 });
    expect(parseTimeValue('2025-08-21T12:40:59Z', NOW)).toEqual({ source: 'date', atMs: Date.UTC(2025, 7, 21, 12, 40, 59) });
    expect(parseTimeValue('later', NOW)).toBeUndefined();
  });
});

describe('splitFieldValue', () => {
  it('splits joined values, keeping the comma of an HTTP-date', () => {
    expect(splitFieldValue('5, 3,,', false)).toEqual(['5', '3']);
    expect(splitFieldValue('Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT', true)).toEqual([
      'Sun, 06 Nov 1994 08:49:37 GMT',
      'Mon, 07 Nov 1994 08:49:37 GMT',
    ]);
    expect(splitFieldValue('Sunday, 06-Nov-94 08:49:37 GMT, 120', true)).toEqual(['Sunday, 06-Nov-94 08:49:37 GMT', '120']);
  });
});

describe('property: a reset instant written any way reads back as the same wait', () => {
  const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const LONG_DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (value: number) => String(value).padStart(2, '0');
  const clock = (date: Date) => `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;

  /** Writers built from Date's own formatting, independent of the parser. */
  const writers: Record<string, (atMs: number, serverMs: number) => string> = {
    'epoch seconds': (atMs) => String(atMs / 1000),
    'epoch ms': (atMs) => String(atMs),
    'delta seconds': (atMs, serverMs) => String((atMs - serverMs) / 1000),
    'IMF-fixdate': (atMs) => new Date(atMs).toUTCString(),
    'RFC 3339': (atMs) => new Date(atMs).toISOString(),
    'RFC 850': (atMs) => {
      const date = new Date(atMs);
      const year = pad(date.getUTCFullYear() % 100);
      return `${LONG_DAYS[date.getUTCDay()]}, ${pad(date.getUTCDate())}-${MONTHS[date.getUTCMonth()]}-${year} ${clock(date)} GMT`;
    },
    asctime: (atMs) => {
      const date = new Date(atMs);
      const day = String(date.getUTCDate()).padStart(2, ' ');
      return `${DAYS[date.getUTCDay()]} ${MONTHS[date.getUTCMonth()]} ${day} ${clock(date)} ${date.getUTCFullYear()}`;
    },
  };

  it('for every form, with and without a Date header, whatever the client clock skew', () => {
    const fromSecond = Math.ceil(Date.UTC(2001, 8, 10) / 1000);
    const toSecond = Math.floor(Date.UTC(2070, 0, 1) / 1000);
    fc.assert(
      fc.property(
        fc.integer({ min: fromSecond, max: toSecond }),
        fc.integer({ min: -5000, max: 100_000 }),
        fc.constantFrom(...Object.keys(writers)),
        fc.boolean(),
        fc.integer({ min: -3_600_000, max: 3_600_000 }),
        (serverSecond, offsetSeconds, form, withDate, skewMs) => {
          const serverMs = serverSecond * 1000;
          const atMs = serverMs + offsetSeconds * 1000;
          const headers: Record<string, string> = {
            'x-ratelimit-remaining': '1',
            'x-ratelimit-reset': (writers[form] as (atMs: number, serverMs: number) => string)(atMs, serverMs),
          };
          if (withDate) headers.date = new Date(serverMs).toUTCString();
          const relative = form === 'delta seconds';
          // Without a Date header an absolute time is read against the (skewed) client clock.
          const clientMs = withDate || relative ? serverMs + skewMs : serverMs;
          const expected = Math.min(MAX_RESET_MS, Math.max(0, offsetSeconds * 1000));
          expect(parseRateLimitHeaders(headers, clientMs)?.resetAfter).toBe(expected);
        },
      ),
      { numRuns: 400 },
    );
  });
});
