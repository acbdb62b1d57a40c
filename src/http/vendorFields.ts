/**
 * The de-facto header families of popular APIs:
 *
 * - `X-RateLimit-Limit/-Remaining/-Reset/-Used` (GitHub: reset in epoch seconds, plus
 *   `X-RateLimit-Resource`; Discord: epoch seconds with a fraction, plus
 *   `X-RateLimit-Reset-After` in seconds and `X-RateLimit-Bucket`; Reddit: `-Used`,
 *   fractional `-Remaining`, reset in relative seconds) and the `X-Rate-Limit-*` spelling
 *   of X/Twitter (epoch seconds). Resets are told apart by size (see `timeFromNumber`).
 * - Per-resource families: OpenAI/Groq/Azure `x-ratelimit-limit-requests`,
 *   `x-ratelimit-remaining-tokens`, `x-ratelimit-reset-tokens: 6m0s` (Go durations or
 *   seconds), one budget per suffix; Anthropic `anthropic-ratelimit-requests-limit`,
 *   `-tokens-`, `-input-tokens-`, `-output-tokens-` with RFC 3339 resets. Both mean
 *   "until fully refilled": these budgets refill continuously.
 */
import type { BudgetDraft } from './budgets';
import { readCount, readText, readTime, type ReadContext } from './fieldReadings';
import type { RateLimitHeaderFormat } from './RateLimitInfo';

/** The budgets stated by vendor header families, in a fixed family order. */
export function readVendorBudgets(context: ReadContext): BudgetDraft[] {
  const drafts: BudgetDraft[] = [];
  for (const [prefix, format] of [
    ['x-ratelimit-', 'x-ratelimit'],
    ['x-rate-limit-', 'x-rate-limit'],
  ] as const) {
    const draft = readSingleBudgetFamily(context, prefix, format);
    if (draft !== undefined) drafts.push(draft);
  }
  drafts.push(...readPerResourceBudgets(context, PER_RESOURCE, 'per-resource'));
  drafts.push(...readPerResourceBudgets(context, ANTHROPIC, 'anthropic'));
  return drafts;
}

/**
 * One budget from `<prefix>limit`, `-remaining`, `-used`, and `-reset-after` (preferred:
 * relative, so immune to clock skew) or `-reset`. Named after `-resource` (GitHub) or
 * `-bucket` (Discord) when present.
 */
function readSingleBudgetFamily(context: ReadContext, prefix: string, format: RateLimitHeaderFormat): BudgetDraft | undefined {
  const limit = readCount(context, `${prefix}limit`, 'lowest');
  const remaining = readCount(context, `${prefix}remaining`, 'lowest');
  const used = readCount(context, `${prefix}used`, 'highest');
  const resetAfter = readTime(context, `${prefix}reset-after`, 'delay') ?? readTime(context, `${prefix}reset`, 'any');
  if (limit === undefined && remaining === undefined && used === undefined && resetAfter === undefined) return undefined;
  const name = readText(context, `${prefix}resource`) ?? readText(context, `${prefix}bucket`) ?? prefix.slice(0, -1);
  const draft: BudgetDraft = { name, format, refill: 'at-reset' };
  if (limit !== undefined) draft.limit = limit;
  if (remaining !== undefined) draft.remaining = remaining;
  if (used !== undefined) draft.used = used;
  if (resetAfter !== undefined) draft.resetAfter = resetAfter;
  return draft;
}

type Field = 'limit' | 'remaining' | 'reset';

/** How a family spells its header names: which part is the field and which the budget. */
interface NamePattern {
  readonly pattern: RegExp;
  readonly parse: (match: RegExpExecArray) => { field: Field; budget: string } | undefined;
}

/** `x-ratelimit-<field>-<budget>`; `x-ratelimit-reset-after` is Discord's, not a budget "after". */
const PER_RESOURCE: NamePattern = {
  pattern: /^x-ratelimit-(limit|remaining|reset)-(.+)$/,
  parse: (match) => {
    const field = match[1] as Field;
    const budget = match[2] as string;
    return field === 'reset' && budget === 'after' ? undefined : { field, budget };
  },
};

/** `anthropic-ratelimit-<budget>-<field>`. */
const ANTHROPIC: NamePattern = {
  pattern: /^anthropic-ratelimit-(.+)-(limit|remaining|reset)$/,
  parse: (match) => ({ budget: match[1] as string, field: match[2] as Field }),
};

/**
 * One continuously refilling budget per name found: `requests` first, then by name, so the
 * order does not depend on the headers shape (fetch `Headers` iterate sorted).
 */
function readPerResourceBudgets(context: ReadContext, naming: NamePattern, format: RateLimitHeaderFormat): BudgetDraft[] {
  const headersByBudget = new Map<string, Partial<Record<Field, string>>>();
  for (const header of context.fields.names()) {
    const match = naming.pattern.exec(header);
    const parsed = match === null ? undefined : naming.parse(match);
    if (parsed === undefined) continue;
    const headers = headersByBudget.get(parsed.budget) ?? {};
    headers[parsed.field] = header;
    headersByBudget.set(parsed.budget, headers);
  }
  const drafts: BudgetDraft[] = [];
  const names = [...headersByBudget.keys()].sort((a, b) => (a === b ? 0 : a === 'requests' ? -1 : b === 'requests' ? 1 : a < b ? -1 : 1));
  for (const name of names) {
    const headers = headersByBudget.get(name) as Partial<Record<Field, string>>;
    const draft: BudgetDraft = { name, format, refill: 'continuous' };
    const limit = headers.limit === undefined ? undefined : readCount(context, headers.limit, 'lowest');
    const remaining = headers.remaining === undefined ? undefined : readCount(context, headers.remaining, 'lowest');
    const resetAfter = headers.reset === undefined ? undefined : readTime(context, headers.reset, 'any');
    if (limit !== undefined) draft.limit = limit;
    if (remaining !== undefined) draft.remaining = remaining;
    if (resetAfter !== undefined) draft.resetAfter = resetAfter;
    drafts.push(draft);
  }
  return drafts;
}
