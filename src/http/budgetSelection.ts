/**
 * Which budgets a result lists, and under which names: every name unique (a later
 * duplicate gets a `#2`, `#3` suffix), at most `MAX_BUDGETS` of them (the ones that run out
 * first). Both in time linear in the number of budgets, whatever a response repeats.
 */
import { compareScarcity } from './budgets';
import { MAX_BUDGETS, type RateLimitBudget } from './RateLimitInfo';

/** Hands out unique budget names: each duplicate costs O(1) amortised, not a scan of the earlier ones. */
export class UniqueNames {
  private readonly taken = new Set<string>();
  /** Per name, the suffix to try next: suffixes only grow, so no taken one is tried twice. */
  private readonly nextCopy = new Map<string, number>();

  /** `name` when it is free, else `name#2`, `name#3`, ... (the first free one). */
  claim(name: string): string {
    if (!this.taken.has(name)) {
      this.taken.add(name);
      return name;
    }
    let copy = this.nextCopy.get(name) ?? 2;
    while (this.taken.has(`${name}#${copy}`)) copy++;
    const unique = `${name}#${copy}`;
    this.nextCopy.set(name, copy + 1);
    this.taken.add(unique);
    return unique;
  }
}

/**
 * The `MAX_BUDGETS` budgets that run out first (by `compareScarcity`, ties to the earlier),
 * `mustKeep` always among them, in their original order. A ranked list of at most
 * `MAX_BUDGETS` entries is kept while scanning, so the cost is O(budgets × MAX_BUDGETS).
 */
export function keepScarcest<T extends { readonly budget: RateLimitBudget }>(entries: readonly T[], mustKeep: RateLimitBudget): T[] {
  if (entries.length <= MAX_BUDGETS) return [...entries];
  const ranked: number[] = [];
  entries.forEach((entry, index) => {
    let position = ranked.length;
    while (position > 0 && compareScarcity(entry.budget, (entries[ranked[position - 1] as number] as T).budget) < 0) position--;
    if (position >= MAX_BUDGETS) return;
    ranked.splice(position, 0, index);
    if (ranked.length > MAX_BUDGETS) ranked.pop();
  });
  if (!ranked.some((index) => (entries[index] as T).budget === mustKeep)) {
    const mustKeepIndex = entries.findIndex((entry) => entry.budget === mustKeep);
    if (mustKeepIndex >= 0) ranked[ranked.length - 1] = mustKeepIndex;
  }
  return ranked.sort((a, b) => a - b).map((index) => entries[index] as T);
}
