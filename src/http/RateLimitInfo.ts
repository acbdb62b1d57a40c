/**
 * What a server said about its rate limits, normalised from whichever headers it used.
 * All times are milliseconds; all fields are optional because every API sends a different
 * subset. Every number present is finite and within a documented range, so arithmetic on
 * it cannot overflow: `limit` and `remaining` in [0, `MAX_COUNT`] with `remaining <= limit`;
 * `resetAfter` and `retryAfter` in [0, `MAX_RESET_MS`] (0 means "now": a caller dividing by
 * `resetAfter` must floor it); `window` in [`MIN_WINDOW_MS`, `MAX_WINDOW_MS`], never 0.
 */
export interface RateLimitInfo {
  /** Quota units (requests, tokens, ...) granted per window. */
  limit?: number;
  /** Quota units left now. */
  remaining?: number;
  /**
   * Ms from now until quota comes back. For `refill: 'at-reset'` budgets (GitHub, X,
   * Discord, Reddit, the IETF drafts) the window ends then; for `refill: 'continuous'`
   * budgets (OpenAI, Anthropic) it is when the budget will be full again.
   */
  resetAfter?: number;
  /**
   * Length of the quota window in ms, when known: from an IETF `RateLimit-Policy` (`w`),
   * or estimated for a continuously refilling budget as
   * `resetAfter * limit / (limit - remaining)` (the time to refill it from empty).
   */
  window?: number;
  /**
   * Ms the server asked the client to wait (`Retry-After`, `retry-after-ms`). When present
   * it takes precedence: the top-level `remaining` is 0 and `resetAfter` equals it.
   */
  retryAfter?: number;
  /** Which budget the top-level fields describe: a policy, resource or family name. */
  name?: string;
  /**
   * How quota returns: all at once when `resetAfter` elapses (`'at-reset'`), or a little
   * at a time until it is full after `resetAfter` (`'continuous'`: OpenAI, Anthropic).
   * Under `'continuous'`, `remaining / resetAfter` is NOT a sustainable rate; use
   * `limit / window`.
   */
  refill?: 'at-reset' | 'continuous';
  /** IETF `qu` quota unit of the budget (`"requests"`, `"content-bytes"`, ...), when given. */
  unit?: string;
  /**
   * Every budget, when the response described more than one (requests and tokens, several
   * policies), up to `MAX_BUDGETS`: beyond it, the ones that run out first. The top-level
   * fields are those of the budget that runs out first (see `parseRateLimitHeaders`).
   */
  budgets?: RateLimitBudget[];
}

/** One of several budgets a response described (the parser never sets `budgets` or `retryAfter` on one). */
export type RateLimitBudget = RateLimitInfo & { name: string };

/** A header value that was malformed, negative, absurd or contradictory, and what was done about it. */
export interface RateLimitHeaderProblem {
  /**
   * Lower-case header name; or, for a note on the call as a whole, `(headers)`, `(now)`,
   * `(budgets)` (how many were dropped beyond `MAX_BUDGETS`) or `(problems)` (how many more
   * problems there were than `MAX_PROBLEMS`).
   */
  header: string;
  /** The offending value (or the part of it at fault). */
  value: string;
  /** What was wrong and what was done instead: ignored, clamped, or read a certain way. */
  issue: string;
}

/** A header family `parseRateLimitHeadersDetailed` recognised. */
export type RateLimitHeaderFormat =
  /** IETF draft 08+: `RateLimit: "name";r=50;t=30`, `RateLimit-Policy: "name";q=100;w=60`. */
  | 'ietf-structured'
  /** IETF draft 07: `RateLimit: limit=100, remaining=50, reset=5`. */
  | 'ietf-dictionary'
  /** IETF drafts up to 06: `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`. */
  | 'ietf-split'
  /** IETF drafts up to 07: `RateLimit-Policy: 100;w=60, 1000;w=3600` alone. */
  | 'ietf-policy'
  /** `X-RateLimit-Limit/-Remaining/-Reset/-Used/-Reset-After` (GitHub, Discord, Reddit, ...). */
  | 'x-ratelimit'
  /** `X-Rate-Limit-Limit/-Remaining/-Reset` (X/Twitter). */
  | 'x-rate-limit'
  /** `x-ratelimit-limit-requests`, `x-ratelimit-remaining-tokens`, ... (OpenAI, Groq, Azure OpenAI). */
  | 'per-resource'
  /** `anthropic-ratelimit-requests-limit`, `anthropic-ratelimit-tokens-reset`, ... */
  | 'anthropic'
  /** `Retry-After` or `retry-after-ms`. */
  | 'retry-after';

/** The result of `parseRateLimitHeadersDetailed`. */
export interface ParsedRateLimitHeaders {
  /** What could be used; `undefined` when nothing usable was present. */
  info: RateLimitInfo | undefined;
  /** Values that were ignored, clamped or read in a particular way, in the order met. */
  problems: RateLimitHeaderProblem[];
  /** The header families that contributed to `info`. */
  formats: RateLimitHeaderFormat[];
}

/**
 * Longest wait a header can impose: 24 h. A reset or Retry-After further away (a
 * misconfigured server, a reset "ten years away") is clamped to it and reported, so a
 * client re-checks the next day instead of freezing.
 */
export const MAX_RESET_MS = 24 * 60 * 60 * 1000;

/** Longest believable policy window: 366 days. A longer `w` is ignored and reported. */
export const MAX_WINDOW_MS = 366 * 24 * 60 * 60 * 1000;

/**
 * Shortest window reported: 1 ms (the finest an IETF `w` can state). A shorter estimated
 * window is raised to it, so `limit / window` is at most `MAX_COUNT` per ms.
 */
export const MIN_WINDOW_MS = 1;

/**
 * Largest count (`limit`, `remaining`, `used`) believed: 2^53 − 1, beyond which integers are
 * no longer exact. A larger value (`1` followed by 308 zeros) is clamped to it and reported.
 */
export const MAX_COUNT = Number.MAX_SAFE_INTEGER;

/**
 * Most budgets a result lists. Beyond it the ones that run out first are kept (see
 * `compareScarcity`), the top-level one always among them, and one problem says how many
 * were dropped: a response cannot make the result, or the work on it, grow without bound.
 */
export const MAX_BUDGETS = 16;

/**
 * Longest header value read, in characters (all field lines of one name together, as
 * joined with ", "): 64 KiB, four times what Node and undici accept for a whole response
 * head by default. A longer value is not parsed at all, and reported.
 */
export const MAX_FIELD_LENGTH = 65_536;

/**
 * Most problems listed from reading the headers; one more entry says how many were left
 * out. Each problem's `value` is cut to `MAX_PROBLEM_VALUE_LENGTH` characters.
 */
export const MAX_PROBLEMS = 32;

/** Longest `value` of a problem, in characters; a longer one is cut and ends with "…". */
export const MAX_PROBLEM_VALUE_LENGTH = 200;

/**
 * A bare number at or above this is an epoch time in seconds rather than delta seconds:
 * 1e9 s is 2001-09-09 as a date but 31.7 years as a delay, so no real reset is ambiguous.
 */
export const EPOCH_SECONDS_THRESHOLD = 1e9;

/** A bare number at or above this is an epoch time in milliseconds (1e12 ms is 2001-09-09). */
export const EPOCH_MILLISECONDS_THRESHOLD = 1e12;

/**
 * A reset or retry time this far (ms) in the past is read as "now" without a report: the
 * `Date` header has one-second resolution and the response took time to arrive.
 */
export const PAST_TOLERANCE_MS = 1000;
