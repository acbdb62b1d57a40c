/**
 * Text → number parsers for header values: decimals, Go-style durations, HTTP-dates
 * (RFC 9110: IMF-fixdate, RFC 850, asctime) and RFC 3339 times. Each returns `undefined`
 * for text it does not accept; none throws and none returns NaN or an infinity.
 */
import { EPOCH_MILLISECONDS_THRESHOLD, EPOCH_SECONDS_THRESHOLD } from './RateLimitInfo';

const DECIMAL = /^-?(?:\d+(?:\.\d*)?|\.\d+)$/;

/** A plain decimal (`42`, `598.0`, `1470173023.123`, `-1`); no exponent, hex, sign `+` or words. */
export function parseDecimal(text: string): number | undefined {
  const trimmed = text.trim();
  if (!DECIMAL.test(trimmed)) return undefined;
  const value = Number(trimmed);
  if (!Number.isFinite(value)) return undefined; // 400 digits overflow to Infinity
  return value === 0 ? 0 : value; // no -0
}

const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
const MS_PER_UNIT: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3, // micro sign
  μs: 1e-3, // Greek mu
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * A Go `time.Duration` string, as OpenAI sends: `20ms`, `1s`, `6m0s`, `2m52.8s`,
 * `1h2m3.5s`; returns ms. Units are required (a bare number is not a duration).
 */
export function parseGoDuration(text: string): number | undefined {
  let rest = text.trim();
  let sign = 1;
  if (rest.startsWith('-')) {
    sign = -1;
    rest = rest.slice(1);
  } else if (rest.startsWith('+')) {
    rest = rest.slice(1);
  }
  if (rest === '') return undefined;
  let total = 0;
  let position = 0;
  while (position < rest.length) {
    DURATION_PART.lastIndex = position;
    const part = DURATION_PART.exec(rest);
    if (part === null) return undefined;
    total += Number(part[1]) * (MS_PER_UNIT[part[2] as string] as number);
    position = DURATION_PART.lastIndex;
  }
  if (!Number.isFinite(total)) return undefined;
  return total === 0 ? 0 : sign * total;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY = '(?:mon|tue|wed|thu|fri|sat|sun)';
const LONG_DAY = '(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)';
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
/** `Sun, 06 Nov 1994 08:49:37 GMT`; UTC/UT/+0000/Z accepted for GMT, a one-digit day too. */
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{1,2}) ([a-z]{3}) (\\d{4}) ${TIME} (?:gmt|utc|ut|\\+0000|z)$`, 'i');
/** `Sunday, 06-Nov-94 08:49:37 GMT` (obsolete, but recipients must accept it). */
const RFC_850 = new RegExp(`^${LONG_DAY}, (\\d{2})-([a-z]{3})-(\\d{2}) ${TIME} gmt$`, 'i');
/** `Sun Nov  6 08:49:37 1994` (C asctime; whitespace runs are collapsed before matching). */
const ASCTIME = new RegExp(`^${DAY} ([a-z]{3}) (\\d{1,2}) ${TIME} (\\d{4})$`, 'i');
/** `2025-08-21T12:40:59Z`, `2024-01-01T00:00:00.5+01:00`. */
const RFC_3339 = /^(\d{4})-(\d{2})-(\d{2})[t ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(z|[+-]\d{2}:\d{2})$/i;

/**
 * Epoch ms of a calendar time, or undefined when a field is out of range (Feb 30, 25:00).
 * A second of 60 (a leap second) is accepted and lands on the next minute.
 */
function utcTime(year: number, month: number, day: number, hour: number, minute: number, second: number): number | undefined {
  if (month < 0 || month > 11 || day < 1 || hour > 23 || minute > 59 || second > 60) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, month, day); // setUTCFullYear, unlike Date.UTC, keeps years < 100 as given
  if (date.getUTCMonth() !== month || date.getUTCDate() !== day) return undefined;
  date.setUTCHours(hour, minute, second, 0);
  return date.getTime();
}

function monthIndex(name: string): number {
  return MONTHS.indexOf(name.toLowerCase());
}

/**
 * An HTTP-date in any of the three RFC 9110 forms; returns epoch ms. `referenceMs`
 * resolves the two-digit years of RFC 850: a date more than 50 years in the future is
 * taken to be in the previous century.
 */
export function parseHttpDate(text: string, referenceMs: number): number | undefined {
  const normalized = text.trim().replace(/\s+/g, ' ');
  let match = IMF_FIXDATE.exec(normalized);
  if (match !== null) {
    const [, day, month, year, hour, minute, second] = match as unknown as string[];
    return utcTime(Number(year), monthIndex(month as string), Number(day), Number(hour), Number(minute), Number(second));
  }
  match = RFC_850.exec(normalized);
  if (match !== null) {
    const [, day, month, shortYear, hour, minute, second] = match as unknown as string[];
    const referenceYear = new Date(referenceMs).getUTCFullYear();
    let year = referenceYear - (referenceYear % 100) + Number(shortYear);
    if (year > referenceYear + 50) year -= 100;
    return utcTime(year, monthIndex(month as string), Number(day), Number(hour), Number(minute), Number(second));
  }
  match = ASCTIME.exec(normalized);
  if (match !== null) {
    const [, month, day, hour, minute, second, year] = match as unknown as string[];
    return utcTime(Number(year), monthIndex(month as string), Number(day), Number(hour), Number(minute), Number(second));
  }
  return undefined;
}

/** An RFC 3339 date-time (as Anthropic sends its resets); returns epoch ms, fractions kept. */
export function parseRfc3339(text: string): number | undefined {
  const match = RFC_3339.exec(text.trim());
  if (match === null) return undefined;
  const [, year, month, day, hour, minute, second, fraction, zone] = match as unknown as string[];
  const base = utcTime(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second));
  if (base === undefined) return undefined;
  let offsetMs = 0;
  if (zone !== undefined && zone.toLowerCase() !== 'z') {
    const offsetHours = Number(zone.slice(1, 3));
    const offsetMinutes = Number(zone.slice(4, 6));
    if (offsetHours > 23 || offsetMinutes > 59) return undefined;
    offsetMs = (zone.startsWith('-') ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  }
  return base + (fraction === undefined ? 0 : Number(`0${fraction}`) * 1000) - offsetMs;
}

/** How a time value was written, which decides whether it is relative or absolute. */
export type TimeSource = 'seconds' | 'duration' | 'epoch-seconds' | 'epoch-milliseconds' | 'date';

/** A time read from a header: a delay from the response (`delayMs`) or an instant (`atMs`, epoch ms). */
export type TimeValue =
  | { readonly source: 'seconds' | 'duration'; readonly delayMs: number }
  | { readonly source: 'epoch-seconds' | 'epoch-milliseconds' | 'date'; readonly atMs: number };

/**
 * A bare number of seconds-or-epoch: below `EPOCH_SECONDS_THRESHOLD` (1e9) it is delta
 * seconds, from there epoch seconds, from `EPOCH_MILLISECONDS_THRESHOLD` (1e12) epoch ms.
 */
export function timeFromNumber(value: number): TimeValue {
  if (value >= EPOCH_MILLISECONDS_THRESHOLD) return { source: 'epoch-milliseconds', atMs: value };
  if (value >= EPOCH_SECONDS_THRESHOLD) return { source: 'epoch-seconds', atMs: value * 1000 };
  return { source: 'seconds', delayMs: value * 1000 };
}

/**
 * Any of the ways servers write a reset or retry time: seconds or epoch (`timeFromNumber`),
 * a Go duration (`6m0s`), an HTTP-date, or an RFC 3339 time.
 */
export function parseTimeValue(text: string, referenceMs: number): TimeValue | undefined {
  const number = parseDecimal(text);
  if (number !== undefined) return timeFromNumber(number);
  const duration = parseGoDuration(text);
  if (duration !== undefined) return { source: 'duration', delayMs: duration };
  const at = parseHttpDate(text, referenceMs) ?? parseRfc3339(text);
  return at === undefined ? undefined : { source: 'date', atMs: at };
}

const WEEKDAY_ONLY = new RegExp(`^(?:${DAY}|${LONG_DAY})$`, 'i');

/**
 * Splits a field value that may be several comma-joined values (fetch `Headers` and Node
 * join repeated fields with ", "). With `dates`, the comma inside an HTTP-date
 * (`Sun, 06 Nov 1994 ...`) is kept: a lone weekday is glued back to what follows it.
 */
export function splitFieldValue(value: string, dates: boolean): string[] {
  const pieces = value.split(',').map((piece) => piece.trim());
  const items: string[] = [];
  for (let index = 0; index < pieces.length; index++) {
    const piece = pieces[index] as string;
    const next = pieces[index + 1];
    if (dates && next !== undefined && WEEKDAY_ONLY.test(piece)) {
      items.push(`${piece}, ${next}`);
      index++;
    } else if (piece !== '') {
      items.push(piece);
    }
  }
  return items;
}
