/**
 * What a response or an error says about a server's limit: where its headers and status
 * are, whether it is a throttle signal, and the feedback it carries — parsed from headers,
 * or given already parsed and checked here as the header parser checks its own numbers.
 */
import type { RateLimitFeedback } from '../arithmetic/adaptation';
import type { HeadersLike } from './headerFields';
import { parseRateLimitHeaders } from './parseRateLimitHeaders';
import { MAX_RESET_MS, MAX_WINDOW_MS, type RateLimitInfo } from './RateLimitInfo';

/** What a response or error says about the limit: headers to parse, or feedback already parsed. */
export type FeedbackSource = HeadersLike | RateLimitFeedback | undefined;

/** A carrier's `headers` property, when it is an object. */
export function headersOf(carrier: unknown): FeedbackSource {
  const headers = (carrier as { headers?: unknown } | null | undefined)?.headers;
  return headers !== null && typeof headers === 'object' ? (headers as HeadersLike) : undefined;
}

/** The headers of an error, or of the response it carries: `error.headers ?? error.response?.headers`. */
export function headersOfError(error: unknown): FeedbackSource {
  return headersOf(error) ?? headersOf(responseOf(error));
}

/** A carrier's numeric `status` (fetch) or `statusCode` (Node). */
export function statusOf(carrier: unknown): number | undefined {
  const status = carrier as { status?: unknown; statusCode?: unknown } | null | undefined;
  const value = status?.status ?? status?.statusCode;
  return typeof value === 'number' ? value : undefined;
}

/** 429 Too Many Requests or 503 Service Unavailable. */
export function isThrottleStatus(status: number | undefined): boolean {
  return status === 429 || status === 503;
}

/** An error is a throttle signal when its status (or its response's) is 429/503, or its feedback says when to come back. */
export function isThrottleError(error: unknown, feedback: RateLimitFeedback | undefined): boolean {
  return isThrottleStatus(statusOf(error) ?? statusOf(responseOf(error))) || feedback?.retryAfter !== undefined;
}

function responseOf(error: unknown): unknown {
  return (error as { response?: unknown } | null | undefined)?.response;
}

const FEEDBACK_KEYS = new Set(['limit', 'remaining', 'resetAfter', 'window', 'retryAfter', 'budgets', 'name', 'refill', 'unit']);

/** Parsed feedback (checked by `checkFeedback`) passes through; anything else is read as headers. */
export function toFeedback(source: FeedbackSource, wallClock: () => number): RateLimitFeedback | undefined {
  if (source === undefined || source === null) return undefined;
  if (isParsedFeedback(source)) return checkFeedback(source);
  return parseRateLimitHeaders(source as HeadersLike, wallClock());
}

/** An object with only `RateLimitInfo`'s keys (not a `Headers` or a `Map`) is feedback already parsed. */
export function isParsedFeedback(source: object): source is RateLimitFeedback {
  if (typeof (source as { get?: unknown }).get === 'function') return false; // Headers, Map
  const keys = Object.keys(source);
  return keys.length > 0 && keys.every((key) => FEEDBACK_KEYS.has(key));
}

/**
 * Feedback a caller parsed, held to what `parseRateLimitHeaders` guarantees: a field that is
 * not a finite number >= 0 is dropped, as is a `window` of 0 or beyond `MAX_WINDOW_MS`;
 * `remaining` above `limit` is clamped to it, `resetAfter` and `retryAfter` to `MAX_RESET_MS`;
 * `refill` is kept when it is one of its two values. Only `RateLimitFeedback`'s fields are
 * kept (not `name`, `unit` or `budgets`, which adapting never reads). Undefined when no
 * number is left.
 */
export function checkFeedback(feedback: RateLimitFeedback): RateLimitFeedback | undefined {
  const limit = finiteNonNegative(feedback.limit);
  const remaining = finiteNonNegative(feedback.remaining);
  const resetAfter = finiteNonNegative(feedback.resetAfter);
  const window = finiteNonNegative(feedback.window);
  const retryAfter = finiteNonNegative(feedback.retryAfter);
  const checked: RateLimitInfo = {};
  if (limit !== undefined) checked.limit = limit;
  if (remaining !== undefined) checked.remaining = limit === undefined ? remaining : Math.min(remaining, limit);
  if (resetAfter !== undefined) checked.resetAfter = Math.min(resetAfter, MAX_RESET_MS);
  if (window !== undefined && window > 0 && window <= MAX_WINDOW_MS) checked.window = window;
  if (retryAfter !== undefined) checked.retryAfter = Math.min(retryAfter, MAX_RESET_MS);
  if (Object.keys(checked).length === 0) return undefined;
  if (feedback.refill === 'at-reset' || feedback.refill === 'continuous') checked.refill = feedback.refill;
  return checked;
}

function finiteNonNegative(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** Feedback that tells the limit, not only "wait" (a Retry-After alone reads as remaining 0 until then). */
export function describesLimit(feedback: RateLimitFeedback): boolean {
  return feedback.limit !== undefined || (feedback.retryAfter === undefined && hasBudgetInfo(feedback));
}

/** Feedback with a budget to spend: remaining before a reset, or a limit per window. */
export function hasBudgetInfo(feedback: RateLimitFeedback): boolean {
  return (
    (feedback.remaining !== undefined && feedback.resetAfter !== undefined) ||
    (feedback.limit !== undefined && feedback.window !== undefined)
  );
}
