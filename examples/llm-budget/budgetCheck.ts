/**
 * Whether what the server admitted stayed within a continuously refilling budget of `limit`
 * units per `windowMs`, full at the start (OpenAI's tokens and requests per minute): for every
 * two admissions a ≤ b, the units admitted from a to b (both included) are at most
 * `limit + limit · (t_b − t_a) / windowMs` — what the budget held at a, at most `limit`, plus
 * what it refilled until b. (This is exactly the condition for such a budget never to be
 * overdrawn.) Pure, and independent of both the server's and the library's arithmetic.
 */
export interface Admitted {
  /** Ms since the start. */
  readonly at: number;
  readonly units: number;
}

export interface BudgetVerdict {
  readonly held: boolean;
  /** The largest share of its bound any stretch a..b used (1 = exactly at the limit). */
  readonly tightest: number;
  /** The stretch of the tightest share. */
  readonly from: number;
  readonly to: number;
  readonly used: number;
  readonly bound: number;
  /** The most units admitted within any sliding window of `windowMs`. */
  readonly busiestWindow: number;
}

/** Float noise allowed on a bound (the sums are of integers; the times are not). */
const NOISE = 1e-6;

export function checkBudget(admitted: readonly Admitted[], limit: number, windowMs: number): BudgetVerdict {
  const perMs = limit / windowMs;
  let verdict: BudgetVerdict = { held: true, tightest: 0, from: 0, to: 0, used: 0, bound: limit, busiestWindow: 0 };
  for (let a = 0; a < admitted.length; a++) {
    let used = 0;
    let inWindow = 0;
    for (let b = a; b < admitted.length; b++) {
      used += admitted[b]!.units;
      const span = admitted[b]!.at - admitted[a]!.at;
      if (span <= windowMs) inWindow = used;
      const bound = limit + perMs * span;
      if (used / bound > verdict.tightest) {
        verdict = { ...verdict, tightest: used / bound, from: admitted[a]!.at, to: admitted[b]!.at, used, bound };
      }
      if (used > bound + NOISE) verdict = { ...verdict, held: false };
    }
    if (inWindow > verdict.busiestWindow) verdict = { ...verdict, busiestWindow: inWindow };
  }
  return verdict;
}
