/**
 * Reading one number or one time out of a header: repeated values, malformed items and
 * the epoch-or-delta question are settled here, and every judgement is reported.
 */
import type { HeaderFields } from './headerFields';
import type { ProblemLog } from './ProblemLog';
import { PAST_TOLERANCE_MS } from './RateLimitInfo';
import { parseDecimal, parseTimeValue, splitFieldValue, type TimeValue } from './timeValues';

/** The wall clock a response is read against. */
export interface ResponseClock {
  /** The caller's wall-clock time (ms since the epoch). */
  readonly now: number;
  /**
   * The server's time when it sent the response: its `Date` header when present and
   * valid, else `now`. Absolute times are converted against it, so a client whose clock
   * is off still waits the right amount.
   */
  readonly serverNow: number;
}

export interface ReadContext {
  readonly fields: HeaderFields;
  readonly problems: ProblemLog;
  readonly clock: ResponseClock;
}

/** A number taken from a header, with where it came from (for reports). */
export interface Reading {
  readonly value: number;
  readonly header: string;
  readonly raw: string;
}

/** Which of several values is the cautious one: the smaller count, the later reset. */
export type Caution = 'lowest' | 'highest';

export function report(context: ReadContext, header: string, value: string, issue: string): void {
  context.problems.add(header, value, issue);
}

/** The cautious one of `readings`, reporting when they disagree. */
export function mostCautious(context: ReadContext, header: string, readings: readonly Reading[], caution: Caution): Reading | undefined {
  let chosen = readings[0];
  if (chosen === undefined) return undefined;
  for (const reading of readings) {
    if (caution === 'lowest' ? reading.value < chosen.value : reading.value > chosen.value) chosen = reading;
  }
  const chosenValue = chosen.value;
  if (readings.some((reading) => reading.value !== chosenValue)) {
    const all = readings.map((reading) => reading.raw).join(', ');
    report(context, header, all, `repeated with different values; using the most cautious, ${chosen.raw}`);
  }
  return chosen;
}

/** The raw items of a header: every field value, split at list commas. */
function itemsOf(context: ReadContext, header: string, dates: boolean): string[] {
  const values = context.fields.values(header);
  const items = values.flatMap((value) => splitFieldValue(value, dates));
  if (items.length === 0 && values.length > 0) report(context, header, values.join(', '), 'empty; ignored');
  return items;
}

/** A count (limit, remaining, used): a plain decimal; repeated values resolved by `caution`. */
export function readCount(context: ReadContext, header: string, caution: Caution): Reading | undefined {
  const readings: Reading[] = [];
  for (const item of itemsOf(context, header, false)) {
    const value = parseDecimal(item);
    if (value === undefined) report(context, header, item, 'not a number; ignored');
    else readings.push({ value, header, raw: item });
  }
  return mostCautious(context, header, readings, caution);
}

/**
 * What a time value means for a header: `'delay'` headers are defined as delta seconds
 * (IETF, Retry-After, Discord's reset-after), so reading an epoch time there is reported;
 * `'any'` headers are sent both ways in the wild (`X-RateLimit-Reset`).
 */
export type TimeExpectation = 'delay' | 'any';

/**
 * Ms from now until the time `value` names: delays as given, instants against the
 * server's clock (`serverNow`). Unclamped: may be negative or huge.
 */
export function msUntil(context: ReadContext, header: string, raw: string, value: TimeValue, expectation: TimeExpectation): number {
  if ('delayMs' in value) return value.delayMs;
  if (expectation === 'delay' && value.source !== 'date') {
    report(context, header, raw, `an epoch time (${value.source}) where delta-seconds are expected; read as epoch time`);
  }
  return value.atMs - context.clock.serverNow;
}

/**
 * A reset or retry time in ms from now (the latest of repeated values). Accepts delta
 * seconds, epoch seconds or ms (told apart by size, see `timeFromNumber`), Go durations,
 * HTTP-dates and RFC 3339 times.
 */
export function readTime(context: ReadContext, header: string, expectation: TimeExpectation): Reading | undefined {
  const readings: Reading[] = [];
  for (const item of itemsOf(context, header, true)) {
    const value = parseTimeValue(item, context.clock.serverNow);
    if (value === undefined) {
      report(context, header, item, 'not a time (seconds, epoch seconds, a duration such as 1m30s, or a date); ignored');
    } else {
      readings.push({ value: msUntil(context, header, item, value, expectation), header, raw: item });
    }
  }
  return mostCautious(context, header, readings, 'highest');
}

/** The first non-empty value of a text header (a name such as `X-RateLimit-Resource`). */
export function readText(context: ReadContext, header: string): string | undefined {
  for (const value of context.fields.values(header)) {
    const trimmed = value.trim();
    if (trimmed !== '') return trimmed;
  }
  return undefined;
}

/** Reads the response's `Date` header into a clock; an invalid one is reported and `now` used. */
export function readClock(fields: HeaderFields, now: number, problems: ProblemLog): ResponseClock {
  const clock: ResponseClock = { now, serverNow: now };
  const context: ReadContext = { fields, problems, clock };
  const dates = itemsOf(context, 'date', true);
  const first = dates[0];
  if (first === undefined) return clock;
  // Only an HTTP-date is valid here; RFC 3339 is accepted as a courtesy.
  const value = parseTimeValue(first, now);
  if (value === undefined || value.source !== 'date') {
    report(context, 'date', first, 'not an HTTP-date; absolute times are read against the local clock');
    return clock;
  }
  if (dates.length > 1 && dates.some((date) => date !== first)) {
    report(context, 'date', dates.join(', '), `repeated with different values; using the first, ${first}`);
  }
  return { now, serverNow: value.atMs };
}

/** Whether a wait this far in the past (negative ms) is worth a report rather than latency. */
export function isNoticeablyPast(ms: number): boolean {
  return ms < -PAST_TOLERANCE_MS;
}

/** Whether a raw value was written negative (`-5`, `t=-5`) rather than being a date in the past. */
export function writtenNegative(raw: string): boolean {
  return /(?:^|=)\s*-/.test(raw);
}
