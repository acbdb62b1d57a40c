/**
 * A budget as read from the headers (raw numbers, possibly negative, absurd or
 * contradictory) and the checks that turn it into a `RateLimitBudget`, plus the order
 * that decides which budget runs out first.
 */
import { isNoticeablyPast, report, writtenNegative, type ReadContext, type Reading } from './fieldReadings';
import {
  MAX_COUNT,
  MAX_RESET_MS,
  MAX_WINDOW_MS,
  MIN_WINDOW_MS,
  type RateLimitBudget,
  type RateLimitHeaderFormat,
  type RateLimitInfo,
} from './RateLimitInfo';

/** One budget as the headers state it, before any check. Times are ms from now. */
export interface BudgetDraft {
  name: string;
  format: RateLimitHeaderFormat;
  refill?: 'at-reset' | 'continuous';
  unit?: string;
  limit?: Reading;
  remaining?: Reading;
  /** Units used so far (`X-RateLimit-Used`): fills in `limit` or `remaining` when one is missing. */
  used?: Reading;
  resetAfter?: Reading;
  window?: Reading;
}

/** Rounds ms to the microsecond, as the bucket does, so float noise never shows. */
function roundMs(ms: number): number {
  const rounded = Math.round(ms * 1000) / 1000;
  return rounded > 0 ? rounded : 0;
}

function seconds(ms: number): string {
  return `${Math.round(ms) / 1000} s`;
}

/** A count as read, clamped to `MAX_COUNT` (reported), so sums and rates of counts stay finite and exact. */
function believableCount(context: ReadContext, count: Reading | undefined): number | undefined {
  if (count === undefined || count.value <= MAX_COUNT) return count?.value;
  report(context, count.header, count.raw, `${count.value} is beyond 2^53 - 1 (MAX_COUNT); clamped to it`);
  return MAX_COUNT;
}

/**
 * Checks a draft and returns the budget it describes, or undefined when nothing usable is
 * left (no limit, remaining or window). Every value dropped or changed is reported:
 * - a negative limit is ignored (servers send -1 for "not reported"); so is a negative
 *   remaining next to it, while a negative remaining alone (an overdrawn quota) becomes 0;
 * - remaining above limit is clamped to the limit;
 * - a count beyond `MAX_COUNT` (2^53 − 1) is clamped to it;
 * - a missing limit or remaining is derived from `used` (`limit = used + remaining`);
 * - a reset in the past becomes 0, one beyond `MAX_RESET_MS` (24 h) is clamped to it;
 * - a window <= 0 or beyond `MAX_WINDOW_MS` is ignored;
 * - a continuously refilling budget without a window gets the estimate
 *   `resetAfter * limit / (limit - remaining)`, at least `MIN_WINDOW_MS`.
 */
export function finishBudget(draft: BudgetDraft, context: ReadContext): RateLimitBudget | undefined {
  let limit = believableCount(context, draft.limit);
  let remaining = believableCount(context, draft.remaining);
  let used = believableCount(context, draft.used);
  let resetAfter = draft.resetAfter?.value;
  let window = draft.window?.value;

  if (draft.limit !== undefined && draft.limit.value < 0) {
    report(context, draft.limit.header, draft.limit.raw, 'negative limit; ignored');
    limit = undefined;
  }
  if (draft.used !== undefined && draft.used.value < 0) {
    report(context, draft.used.header, draft.used.raw, 'negative count of used units; ignored');
    used = undefined;
  }
  if (draft.remaining !== undefined && draft.remaining.value < 0) {
    if (draft.limit !== undefined && draft.limit.value < 0) {
      report(context, draft.remaining.header, draft.remaining.raw, 'negative remaining next to a negative limit; ignored');
      remaining = undefined;
    } else {
      report(context, draft.remaining.header, draft.remaining.raw, 'negative remaining (quota overdrawn); read as 0');
      remaining = 0;
    }
  }
  if (limit === undefined && remaining !== undefined && used !== undefined) limit = Math.min(MAX_COUNT, used + remaining);
  if (remaining === undefined && limit !== undefined && used !== undefined) remaining = Math.max(0, limit - used);
  if (limit !== undefined && remaining !== undefined && remaining > limit) {
    const source = draft.remaining ?? draft.used;
    report(
      context,
      source?.header ?? draft.name,
      source?.raw ?? String(remaining),
      `remaining ${remaining} exceeds limit ${limit}; clamped to the limit`,
    );
    remaining = limit;
  }

  if (draft.resetAfter !== undefined && resetAfter !== undefined) {
    const { header, raw } = draft.resetAfter;
    if (resetAfter < 0 && writtenNegative(raw)) {
      report(context, header, raw, 'negative reset; read as now');
    } else if (isNoticeablyPast(resetAfter)) {
      report(context, header, raw, `reset is ${seconds(-resetAfter)} in the past; read as now`);
    } else if (resetAfter > MAX_RESET_MS) {
      report(context, header, raw, `reset is ${seconds(resetAfter)} away, beyond the 24 h cap; clamped to 24 h`);
      resetAfter = MAX_RESET_MS;
    }
    resetAfter = roundMs(resetAfter);
  }

  if (draft.window !== undefined && window !== undefined && !(window > 0 && window <= MAX_WINDOW_MS)) {
    const issue = window > 0 ? 'window longer than 366 days; ignored' : 'window must be > 0; ignored';
    report(context, draft.window.header, draft.window.raw, issue);
    window = undefined;
  } else if (draft.window !== undefined && window !== undefined && window < MIN_WINDOW_MS) {
    report(context, draft.window.header, draft.window.raw, `window shorter than ${MIN_WINDOW_MS} ms; read as ${MIN_WINDOW_MS} ms`);
    window = MIN_WINDOW_MS;
  }
  if (
    window === undefined &&
    draft.refill === 'continuous' &&
    limit !== undefined &&
    remaining !== undefined &&
    remaining < limit &&
    resetAfter !== undefined &&
    resetAfter > 0
  ) {
    const estimate = (resetAfter * limit) / (limit - remaining);
    if (estimate <= MAX_WINDOW_MS) window = Math.max(MIN_WINDOW_MS, estimate);
  }

  if (limit === undefined && remaining === undefined && window === undefined) return undefined;
  const budget: RateLimitBudget = { name: draft.name };
  if (limit !== undefined) budget.limit = limit;
  if (remaining !== undefined) budget.remaining = remaining;
  if (resetAfter !== undefined) budget.resetAfter = resetAfter;
  if (window !== undefined) budget.window = roundMs(window);
  if (draft.refill !== undefined) budget.refill = draft.refill;
  if (draft.unit !== undefined) budget.unit = draft.unit;
  return budget;
}

/** `remaining / limit`, or undefined when either is unknown. */
function shareLeft(budget: RateLimitInfo): number | undefined {
  if (budget.remaining === undefined || budget.limit === undefined || budget.limit === 0) return undefined;
  return budget.remaining / budget.limit;
}

/** Units per ms granted in the long run (`limit / window`), or undefined. */
function longRunRate(budget: RateLimitInfo): number | undefined {
  if (budget.limit === undefined || budget.window === undefined) return undefined;
  return budget.limit / budget.window;
}

/**
 * Orders budgets by how soon they stop a client (negative: `a` first):
 * 1. exhausted ones (remaining 0) first, the one that resets last ahead (unknown reset last of all);
 * 2. then the smallest share left (`remaining / limit`) when both shares are known;
 * 3. else the smallest `remaining` when both are known, else the one whose `remaining` is known;
 * 4. then the lowest long-run rate (`limit / window`), which decides between budgets known
 *    only by their policy, such as `100;w=60` and `1000;w=86400`.
 * Remaining ties keep the order the headers listed them in.
 */
export function compareScarcity(a: RateLimitInfo, b: RateLimitInfo): number {
  const aExhausted = a.remaining === 0;
  const bExhausted = b.remaining === 0;
  if (aExhausted !== bExhausted) return aExhausted ? -1 : 1;
  if (aExhausted) {
    const aReset = a.resetAfter ?? Number.POSITIVE_INFINITY;
    const bReset = b.resetAfter ?? Number.POSITIVE_INFINITY;
    return aReset === bReset ? 0 : aReset > bReset ? -1 : 1;
  }
  const aShare = shareLeft(a);
  const bShare = shareLeft(b);
  if (aShare !== undefined && bShare !== undefined) {
    if (aShare !== bShare) return aShare - bShare;
  } else if (a.remaining !== undefined && b.remaining !== undefined) {
    if (a.remaining !== b.remaining) return a.remaining - b.remaining;
  } else if ((a.remaining === undefined) !== (b.remaining === undefined)) {
    return a.remaining === undefined ? 1 : -1;
  }
  const aRate = longRunRate(a);
  const bRate = longRunRate(b);
  if (aRate !== undefined && bRate !== undefined && aRate !== bRate) return aRate - bRate;
  return 0;
}

/** The budget that runs out first (see `compareScarcity`); `budgets` must not be empty. */
export function scarcestBudget(budgets: readonly RateLimitBudget[]): RateLimitBudget {
  let scarcest = budgets[0] as RateLimitBudget;
  for (const budget of budgets) if (compareScarcity(budget, scarcest) < 0) scarcest = budget;
  return scarcest;
}
