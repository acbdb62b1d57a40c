import type { BudgetDraft } from './budgets';
import { finishBudget, scarcestBudget } from './budgets';
import { keepScarcest, UniqueNames } from './budgetSelection';
import { readClock, readCount, readTime, report, writtenNegative, type ReadContext, type Reading } from './fieldReadings';
import { readHeaderFields, type HeadersCarrier, type HeadersLike } from './headerFields';
import { readIetfBudgets } from './ietfFields';
import { ProblemLog } from './ProblemLog';
import {
  MAX_BUDGETS,
  MAX_RESET_MS,
  PAST_TOLERANCE_MS,
  type ParsedRateLimitHeaders,
  type RateLimitBudget,
  type RateLimitHeaderFormat,
  type RateLimitInfo,
} from './RateLimitInfo';
import { readVendorBudgets } from './vendorFields';

export type { FetchHeadersLike, HeadersCarrier, HeadersLike, HeaderValue } from './headerFields';
export type {
  ParsedRateLimitHeaders,
  RateLimitBudget,
  RateLimitHeaderFormat,
  RateLimitHeaderProblem,
  RateLimitInfo,
} from './RateLimitInfo';
export {
  MAX_BUDGETS,
  MAX_COUNT,
  MAX_FIELD_LENGTH,
  MAX_PROBLEM_VALUE_LENGTH,
  MAX_PROBLEMS,
  MAX_RESET_MS,
  MAX_WINDOW_MS,
  MIN_WINDOW_MS,
} from './RateLimitInfo';

/**
 * Reads what a response's headers say about the server's rate limits, whichever of the
 * common header families it uses, into one `RateLimitInfo` (times in ms from now).
 * Returns `undefined` when no usable rate-limit header is present. Pure apart from the
 * `now` default; never throws.
 *
 * ```
 * x-ratelimit-limit: 60, x-ratelimit-remaining: 0, x-ratelimit-reset: 1377013266,
 * date: Tue, 20 Aug 2013 14:50:41 GMT            →  { limit: 60, remaining: 0, resetAfter: 3_025_000 }
 * ```
 *
 * Formats understood (each a budget; see `RateLimitHeaderFormat`):
 * - `X-RateLimit-Limit / -Remaining / -Reset / -Used` (GitHub, Discord, Reddit, many
 *   others), `X-RateLimit-Reset-After` (Discord, preferred over `-Reset`),
 *   `X-RateLimit-Resource` / `-Bucket` as the name; `X-Rate-Limit-*` (X/Twitter).
 * - IETF draft-ietf-httpapi-ratelimit-headers: `RateLimit-Limit / -Remaining / -Reset`
 *   (drafts ≤ 06), `RateLimit: limit=100, remaining=50, reset=5` (draft 07), and
 *   `RateLimit: "default";r=50;t=30` with `RateLimit-Policy: "default";q=100;w=60`
 *   (drafts 08+, parsed as RFC 9651 structured fields). Each policy of a
 *   `RateLimit-Policy` list is a budget; named ones are matched to `RateLimit` items by
 *   name, unnamed ones (`100;w=60`) to the expiring limit by value.
 * - `x-ratelimit-limit-requests / -remaining-tokens / -reset-requests: 6m0s` (OpenAI, Groq,
 *   Azure OpenAI; one budget per suffix) and `anthropic-ratelimit-<budget>-limit /
 *   -remaining / -reset` (RFC 3339 reset; `requests`, `tokens`, `input-tokens`, ...).
 * - `Retry-After` (delta seconds or an HTTP-date) and `retry-after-ms`.
 *
 * Semantics:
 * - Times: delta seconds, Go durations (`1h2m3.5s`, `20ms`), epoch seconds or ms,
 *   HTTP-dates and RFC 3339 times are all accepted. A bare number below 1e9 is delta
 *   seconds, from 1e9 epoch seconds, from 1e12 epoch ms (1e9 s is 2001 as a date but 31
 *   years as a delay, so real values are never ambiguous); an epoch value in a field
 *   defined as delta seconds (IETF, Retry-After) is read as epoch and reported.
 * - Absolute times are converted against the response's own `Date` header when it has a
 *   valid one (else against `now`), so clock skew between client and server cancels out.
 * - GitHub/X/Discord/IETF/Reddit budgets refill at the reset (`refill: 'at-reset'`);
 *   OpenAI and Anthropic resets mean "until fully refilled" (`refill: 'continuous'`), and
 *   such a budget gets an estimated `window` of `resetAfter * limit / (limit - remaining)`.
 * - Several budgets are all listed in `budgets`; the top-level fields are those of the one
 *   that runs out first: an exhausted one (the latest reset first), else the smallest
 *   share `remaining / limit`, else the lowest long-run rate `limit / window`.
 * - `Retry-After` takes precedence: it is reported as `retryAfter`, and the top-level
 *   `remaining` becomes 0 and `resetAfter` equals it, so a caller waits at least that long.
 * - Repeated headers (Node arrays, or values fetch joined with ", ") resolve to the most
 *   cautious value: the lowest limit and remaining, the latest reset.
 * - Malformed values are ignored; negative, absurd or contradictory ones are ignored or
 *   clamped; every such judgement is listed by `parseRateLimitHeadersDetailed`. Every number
 *   returned is finite and in range: `limit` and `remaining` in [0, `MAX_COUNT` = 2^53 − 1]
 *   (`1` followed by 308 zeros is clamped), `remaining <= limit`; `resetAfter` and
 *   `retryAfter` in [0, `MAX_RESET_MS` = 24 h] (0 is "now"); `window` in
 *   [`MIN_WINDOW_MS` = 1 ms, `MAX_WINDOW_MS` = 366 days]. No field is NaN, negative or -0.
 * - Work and result are bounded by the input, linearly: at most `MAX_BUDGETS` (16) budgets
 *   are listed, the ones that run out first (the top-level one always among them), and one
 *   problem counts the rest; a header longer than `MAX_FIELD_LENGTH` (64 KiB) is not read;
 *   at most `MAX_PROBLEMS` (32) problems are listed, each value cut to 200 characters.
 *
 * @param headers a fetch `Headers`, Node's `IncomingHttpHeaders`, a `Map`, a plain object
 *   (any key case) or `[name, value]` pairs; or a response carrying them in `headers` (a
 *   fetch `Response`, an axios or undici response, Node's `IncomingMessage`), whose
 *   `headers` is read: `parseRateLimitHeaders(response)` means `response.headers`.
 * @param now the wall-clock time in ms since the epoch, used for epoch and date values
 *   when the response carries no valid `Date` header. Default `Date.now()`.
 *
 * @example
 * ```ts
 * import { parseRateLimitHeaders } from 'rxjs-token-bucket';
 *
 * const response = await fetch('https://api.github.com/rate_limit');
 * const info = parseRateLimitHeaders(response.headers); // or (response): the same
 * if (info?.remaining === 0) console.log(`quota back in ${info.resetAfter} ms`);
 *
 * parseRateLimitHeaders({
 *   'x-ratelimit-limit-requests': '60', 'x-ratelimit-remaining-requests': '59',
 *   'x-ratelimit-reset-requests': '1s', 'x-ratelimit-limit-tokens': '150000',
 *   'x-ratelimit-remaining-tokens': '149984', 'x-ratelimit-reset-tokens': '6m0s',
 * });
 * // → top level = the "requests" budget (59/60 left beats 149984/150000), budgets lists both
 * ```
 */
export function parseRateLimitHeaders(headers: HeadersLike | HeadersCarrier, now: number = Date.now()): RateLimitInfo | undefined {
  return parseRateLimitHeadersDetailed(headers, now).info;
}

/**
 * `parseRateLimitHeaders`, with the diagnostics: every value that was malformed, negative,
 * absurd or contradictory and what was done about it (`problems`: at most `MAX_PROBLEMS`,
 * then one note of budgets dropped beyond `MAX_BUDGETS` and one counting the problems not
 * listed), and which header families the listed budgets came from (`formats`). Never throws.
 *
 * @example
 * ```ts
 * const { info, problems } = parseRateLimitHeadersDetailed({ 'retry-after': '315360000' });
 * // info: { retryAfter: 86_400_000, remaining: 0, resetAfter: 86_400_000 }
 * // problems: [{ header: 'retry-after', value: '315360000', issue: 'wait is 315360000 s away, ...; clamped to 24 h' }]
 * ```
 */
export function parseRateLimitHeadersDetailed(headers: HeadersLike | HeadersCarrier, now: number = Date.now()): ParsedRateLimitHeaders {
  const problems = new ProblemLog();
  try {
    let wallClock = now;
    if (typeof wallClock !== 'number' || !Number.isFinite(wallClock)) {
      problems.add('(now)', String(now), 'not a finite time; Date.now() used');
      wallClock = Date.now();
    }
    const fields = readHeaderFields(headers, problems);
    const context: ReadContext = { fields, problems, clock: readClock(fields, wallClock, problems) };
    const found = checkedBudgets(context, [...readIetfBudgets(context), ...readVendorBudgets(context)]);
    const scarcest = found.length === 0 ? undefined : scarcestBudget(found.map((entry) => entry.budget));
    const kept = scarcest === undefined ? [] : keepScarcest(found, scarcest);
    if (kept.length < found.length) {
      const dropped = found.length - kept.length;
      const issue = `${found.length} budgets, more than the ${MAX_BUDGETS} listed; kept the ${kept.length} that run out first, ${dropped} dropped`;
      problems.setNote('(budgets)', String(found.length), issue);
    }
    const formats: RateLimitHeaderFormat[] = [];
    for (const { format } of kept) if (!formats.includes(format)) formats.push(format);
    const retryAfter = readRetryAfter(context);
    if (retryAfter !== undefined) formats.push('retry-after');
    const budgets = kept.map((entry) => entry.budget);
    return { info: assemble(context, budgets, scarcest, retryAfter), problems: problems.toArray(), formats };
  } catch (error) {
    // Unreachable for the documented shapes; a hostile object (a throwing getter) lands here.
    const reason = error instanceof Error ? error.message : String(error);
    problems.add('(headers)', '', `could not be read: ${reason}; nothing used`);
    return { info: undefined, problems: problems.toArray(), formats: [] };
  }
}

/** A checked budget and the header family it came from. */
interface FoundBudget {
  readonly budget: RateLimitBudget;
  readonly format: RateLimitHeaderFormat;
}

/** Every draft that leaves a usable budget, checked, each under a unique name (a later duplicate gets `#2`, ...). */
function checkedBudgets(context: ReadContext, drafts: readonly BudgetDraft[]): FoundBudget[] {
  const names = new UniqueNames();
  const found: FoundBudget[] = [];
  for (const draft of drafts) {
    const budget = finishBudget(draft, context);
    if (budget === undefined) continue;
    const name = names.claim(budget.name);
    found.push({ budget: name === budget.name ? budget : { ...budget, name }, format: draft.format });
  }
  return found;
}

/** `retry-after-ms` (more precise, as Azure/OpenAI send it) else `Retry-After`, checked and clamped. */
function readRetryAfter(context: ReadContext): number | undefined {
  const inMs = readCount(context, 'retry-after-ms', 'highest');
  const wait: Reading | undefined = inMs ?? readTime(context, 'retry-after', 'delay');
  if (wait === undefined) return undefined;
  let ms = wait.value;
  if (ms < 0) {
    if (writtenNegative(wait.raw)) report(context, wait.header, wait.raw, 'negative wait; read as 0');
    else if (ms < -PAST_TOLERANCE_MS) report(context, wait.header, wait.raw, `date is ${-ms / 1000} s in the past; read as 0`);
    ms = 0;
  } else if (ms > MAX_RESET_MS) {
    report(context, wait.header, wait.raw, `wait is ${ms / 1000} s away, beyond the 24 h cap; clamped to 24 h`);
    ms = MAX_RESET_MS;
  }
  return Math.round(ms * 1000) / 1000;
}

/** The top-level info: the scarcest budget, overridden by Retry-After, with every budget kept listed. */
function assemble(
  context: ReadContext,
  budgets: readonly RateLimitBudget[],
  scarcest: RateLimitBudget | undefined,
  retryAfter: number | undefined,
): RateLimitInfo | undefined {
  if (budgets.length === 0 && retryAfter === undefined) return undefined;
  const info: RateLimitInfo = scarcest === undefined ? {} : { ...scarcest };
  if (retryAfter !== undefined) {
    for (const budget of budgets) {
      // A continuous budget's reset is when it is full again: quota returns before it, no conflict.
      const reset = budget.resetAfter ?? 0;
      if (budget.remaining === 0 && budget.refill !== 'continuous' && reset > retryAfter + PAST_TOLERANCE_MS) {
        report(
          context,
          'retry-after',
          String(retryAfter / 1000),
          `earlier than the ${reset / 1000} s reset of exhausted budget "${budget.name}"; Retry-After takes precedence`,
        );
      }
    }
    info.retryAfter = retryAfter;
    info.remaining = 0;
    info.resetAfter = retryAfter;
  }
  if (budgets.length > 1) info.budgets = budgets.map((budget) => ({ ...budget }));
  return info;
}
