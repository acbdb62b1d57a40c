/**
 * The IETF `RateLimit` header fields (draft-ietf-httpapi-ratelimit-headers), in the three
 * shapes the drafts went through, parsed with `structured-headers` (RFC 9651):
 *
 * - drafts 08+: `RateLimit: "default";r=50;t=30` and `RateLimit-Policy: "default";q=100;w=60`,
 *   lists of named items; each name is a budget, matched across the two fields;
 * - draft 07: `RateLimit: limit=100, remaining=50, reset=5` (a dictionary) with
 *   `RateLimit-Policy: 100;w=60, 1000;w=3600` (unnamed policies, one per limit value);
 * - drafts up to 06: `RateLimit-Limit: 100`, `RateLimit-Remaining: 50`, `RateLimit-Reset: 5`
 *   (draft 03 also lists policies inline: `RateLimit-Limit: 10, 10;w=1, 50;w=60`).
 *
 * The expiring limit of the older shapes (the one closest to running out) is matched to the
 * policy with the same limit, which gives it its window. All resets are delta seconds.
 */
import { parseDictionary, parseList, Token, type BareItem, type InnerList, type Item, type Parameters } from 'structured-headers';
import type { BudgetDraft } from './budgets';
import { mostCautious, msUntil, readCount, readTime, report, type Caution, type ReadContext, type Reading } from './fieldReadings';
import { timeFromNumber } from './timeValues';

/** The budgets stated by the IETF fields, in header order. */
export function readIetfBudgets(context: ReadContext): BudgetDraft[] {
  const policies = readPolicies(context);
  const drafts: BudgetDraft[] = [];
  const rateLimitField = context.fields.values('ratelimit').join(', ');
  let expiring: BudgetDraft | undefined;
  if (rateLimitField.trim() !== '') {
    const dictionary = parseDictionaryForm(context, rateLimitField);
    if (dictionary !== undefined) expiring = dictionary;
    else drafts.push(...parseServiceLimits(context, rateLimitField, policies));
  }
  const split = readSplitFields(context, policies);
  for (const draft of [expiring, split]) {
    if (draft !== undefined) drafts.push(attachPolicy(draft, policies));
  }
  for (const policy of policies) {
    if (!policy.matched) drafts.push(policy.draft);
  }
  return drafts;
}

/** A `RateLimit-Policy` item, until a `RateLimit` item or expiring limit claims it. */
interface Policy {
  draft: BudgetDraft;
  /** Named (draft 08+) policies are matched by name, unnamed ones by limit. */
  named: boolean;
  matched: boolean;
}

function isInnerList(member: Item | InnerList): member is InnerList {
  return Array.isArray(member[0]);
}

/** The name an item stands for: a string or token; anything else is not a name. */
function nameOf(item: BareItem): string | undefined {
  if (typeof item === 'string') return item;
  if (item instanceof Token) return item.toString();
  return undefined;
}

/** Describes a bare item for a report. */
function showItem(item: BareItem): string {
  if (typeof item === 'string') return JSON.stringify(item);
  if (item instanceof Token || typeof item === 'number' || typeof item === 'boolean') return String(item);
  return 'a non-text item';
}

/** A numeric parameter, reported and ignored when it is present but not a number. */
function numberParameter(context: ReadContext, header: string, parameters: Parameters, key: string, itemText: string): number | undefined {
  const value = parameters.get(key);
  if (value === undefined) return undefined;
  if (typeof value === 'number') return value;
  report(context, header, `${itemText};${key}=${showItem(value)}`, `parameter "${key}" is not a number; ignored`);
  return undefined;
}

/** Parses a structured field, reporting (never throwing) when it is malformed. */
function parseStructured<T>(context: ReadContext, header: string, value: string, parse: (text: string) => T): T | undefined {
  try {
    return parse(value);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    report(context, header, value, `not a valid structured field (RFC 9651): ${reason}; ignored`);
    return undefined;
  }
}

function readPolicies(context: ReadContext): Policy[] {
  const header = 'ratelimit-policy';
  const value = context.fields.values(header).join(', ');
  if (value.trim() === '') return [];
  const members = parseStructured(context, header, value, parseList) ?? [];
  const policies: Policy[] = [];
  const names = new Set<string>(); // of named policies: a lookup, not a scan, per policy
  for (const member of members) {
    if (isInnerList(member)) {
      report(context, header, value, 'an inner list is not a quota policy; ignored');
      continue;
    }
    const policy = policyFromItem(context, header, member);
    if (policy === undefined) continue;
    if (policy.named) {
      if (names.has(policy.draft.name)) {
        report(context, header, policy.draft.name, 'policy named twice; the first is used');
        continue;
      }
      names.add(policy.draft.name);
    }
    policies.push(policy);
  }
  return policies;
}

/**
 * `"name";q=100;w=60;qu="requests"` (named) or `100;w=60` (draft 07 and before: the
 * item is the limit). The window is in seconds.
 */
function policyFromItem(context: ReadContext, header: string, [item, parameters]: Item): Policy | undefined {
  const name = nameOf(item);
  const itemText = showItem(item);
  const windowSeconds = numberParameter(context, header, parameters, 'w', itemText);
  const window = windowSeconds === undefined ? undefined : reading(header, windowSeconds * 1000, `w=${windowSeconds}`);
  if (typeof item === 'number') {
    const draft: BudgetDraft = {
      name: windowSeconds === undefined ? String(item) : `${item};w=${windowSeconds}`,
      format: 'ietf-policy',
      refill: 'at-reset',
      limit: reading(header, item, String(item)),
    };
    if (window !== undefined) draft.window = window;
    return { draft, named: false, matched: false };
  }
  if (name === undefined) {
    report(context, header, itemText, 'a policy must be a name (string or token) or a number; ignored');
    return undefined;
  }
  const quota = numberParameter(context, header, parameters, 'q', itemText);
  if (quota === undefined && !parameters.has('q')) report(context, header, itemText, 'policy has no "q" (quota) parameter');
  const draft: BudgetDraft = { name, format: 'ietf-structured', refill: 'at-reset' };
  if (quota !== undefined) draft.limit = reading(header, quota, `q=${quota}`);
  if (window !== undefined) draft.window = window;
  const unit = parameters.get('qu');
  if (unit !== undefined) {
    const unitName = nameOf(unit);
    if (unitName !== undefined) draft.unit = unitName;
  }
  return { draft, named: true, matched: false };
}

function reading(header: string, value: number, raw: string): Reading {
  return { value: value === 0 ? 0 : value, header, raw }; // the SF parser keeps "-0" as -0
}

/** A delta-seconds number from a structured field, as ms from now (epoch values reported). */
function delayReading(context: ReadContext, header: string, seconds: number, raw: string): Reading {
  return reading(header, msUntil(context, header, raw, timeFromNumber(seconds), 'delay'), raw);
}

/** Draft 07 `RateLimit: limit=100, remaining=50, reset=5`; undefined when the field is not of that form. */
function parseDictionaryForm(context: ReadContext, value: string): BudgetDraft | undefined {
  let dictionary: Map<string, Item | InnerList>;
  try {
    dictionary = parseDictionary(value);
  } catch {
    return undefined; // not a dictionary: the list form is tried (and reported) next
  }
  const keys = ['limit', 'remaining', 'reset'];
  if (!keys.some((key) => typeof dictionary.get(key)?.[0] === 'number')) return undefined;
  const header = 'ratelimit';
  const draft: BudgetDraft = { name: 'ratelimit', format: 'ietf-dictionary', refill: 'at-reset' };
  for (const key of keys) {
    const member = dictionary.get(key);
    if (member === undefined) continue;
    const item = member[0];
    if (typeof item !== 'number') {
      const shown = Array.isArray(item) ? 'an inner list' : showItem(item);
      report(context, header, `${key}=${shown}`, `"${key}" is not a number; ignored`);
      continue;
    }
    const raw = `${key}=${item}`;
    if (key === 'limit') draft.limit = reading(header, item, raw);
    else if (key === 'remaining') draft.remaining = reading(header, item, raw);
    else draft.resetAfter = delayReading(context, header, item, raw);
  }
  return draft;
}

/** Drafts 08+ `RateLimit: "default";r=50;t=30, "daily";r=900;t=3600`: one budget per name. */
function parseServiceLimits(context: ReadContext, value: string, policies: Policy[]): BudgetDraft[] {
  const header = 'ratelimit';
  const members = parseStructured(context, header, value, parseList) ?? [];
  const byName = new Map<string, BudgetDraft>();
  for (const member of members) {
    if (isInnerList(member)) {
      report(context, header, value, 'an inner list is not a service limit; ignored');
      continue;
    }
    const [item, parameters] = member;
    const name = nameOf(item);
    const itemText = showItem(item);
    if (name === undefined) {
      report(context, header, itemText, 'a service limit must name its policy (string or token); ignored');
      continue;
    }
    const left = numberParameter(context, header, parameters, 'r', itemText);
    const resetSeconds = numberParameter(context, header, parameters, 't', itemText);
    if (left === undefined && resetSeconds === undefined) {
      report(context, header, itemText, 'service limit has neither "r" nor "t"; ignored');
      continue;
    }
    const draft: BudgetDraft = { name, format: 'ietf-structured', refill: 'at-reset' };
    if (left !== undefined) draft.remaining = reading(header, left, `${itemText};r=${left}`);
    if (resetSeconds !== undefined) draft.resetAfter = delayReading(context, header, resetSeconds, `${itemText};t=${resetSeconds}`);
    const earlier = byName.get(name);
    byName.set(name, earlier === undefined ? draft : mergeDrafts(context, earlier, draft));
  }
  const namedPolicies = new Map<string, Policy>(); // names are unique (readPolicies keeps the first)
  for (const policy of policies) if (policy.named) namedPolicies.set(policy.draft.name, policy);
  const drafts: BudgetDraft[] = [];
  for (const draft of byName.values()) {
    const policy = namedPolicies.get(draft.name);
    drafts.push(policy === undefined || policy.matched ? draft : claim(policy, draft));
  }
  return drafts;
}

/** The same budget stated twice (by two proxies, say): the cautious value of each field. */
function mergeDrafts(context: ReadContext, first: BudgetDraft, second: BudgetDraft): BudgetDraft {
  const merged: BudgetDraft = { ...first };
  const fields: ReadonlyArray<readonly ['remaining' | 'resetAfter', Caution]> = [
    ['remaining', 'lowest'],
    ['resetAfter', 'highest'],
  ];
  for (const [field, caution] of fields) {
    const readings = [first[field], second[field]].filter((value): value is Reading => value !== undefined);
    const chosen = mostCautious(context, readings[0]?.header ?? 'ratelimit', readings, caution);
    if (chosen !== undefined) merged[field] = chosen;
  }
  return merged;
}

/** Gives a service limit the quota and window of its policy. */
function claim(policy: Policy, draft: BudgetDraft): BudgetDraft {
  policy.matched = true;
  return { ...policy.draft, ...definedFields(draft), name: policy.draft.name, format: draft.format };
}

function definedFields(draft: BudgetDraft): Partial<BudgetDraft> {
  const fields: Partial<BudgetDraft> = {};
  for (const [key, value] of Object.entries(draft)) {
    if (value !== undefined) (fields as Record<string, unknown>)[key] = value;
  }
  return fields;
}

/**
 * Matches an expiring limit (dictionary or split form) with its policy: the one whose
 * quota equals its limit, or the only policy when it states no limit.
 */
function attachPolicy(draft: BudgetDraft, policies: Policy[]): BudgetDraft {
  const open = policies.filter((policy) => !policy.matched);
  const limit = draft.limit?.value;
  const policy =
    limit === undefined
      ? open.length === 1 && policies.length === 1
        ? open[0]
        : undefined
      : open.find((candidate) => candidate.draft.limit?.value === limit);
  return policy === undefined ? draft : claim(policy, draft);
}

/**
 * Drafts up to 06: `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (delta
 * seconds). `RateLimit-Limit` is read as a structured list so that draft 03's inline
 * policies (`10, 10;w=1, 50;w=60`) become policies; repeated plain values resolve to the lowest.
 */
function readSplitFields(context: ReadContext, policies: Policy[]): BudgetDraft | undefined {
  const header = 'ratelimit-limit';
  const limits: Reading[] = [];
  const limitValue = context.fields.values(header).join(', ');
  if (limitValue.trim() !== '') {
    const members = parseStructured(context, header, limitValue, parseList) ?? [];
    for (const member of members) {
      if (isInnerList(member) || typeof member[0] !== 'number') {
        report(context, header, isInnerList(member) ? limitValue : showItem(member[0]), 'not a number; ignored');
      } else if (member[1].has('w')) {
        const policy = policyFromItem(context, header, member);
        if (policy !== undefined) policies.push(policy);
      } else {
        limits.push(reading(header, member[0], String(member[0])));
      }
    }
  }
  const limit = mostCautious(context, header, limits, 'lowest');
  const remaining = readCount(context, 'ratelimit-remaining', 'lowest');
  const resetAfter = readTime(context, 'ratelimit-reset', 'delay');
  if (limit === undefined && remaining === undefined && resetAfter === undefined) return undefined;
  const draft: BudgetDraft = { name: 'ratelimit', format: 'ietf-split', refill: 'at-reset' };
  if (limit !== undefined) draft.limit = limit;
  if (remaining !== undefined) draft.remaining = remaining;
  if (resetAfter !== undefined) draft.resetAfter = resetAfter;
  return draft;
}
