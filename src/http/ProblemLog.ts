/**
 * The problems one parse found, bounded: a hostile response with thousands of bad items
 * costs at most `MAX_PROBLEMS` entries of at most `MAX_PROBLEM_VALUE_LENGTH` characters, and
 * one entry counts the rest.
 */
import { MAX_PROBLEM_VALUE_LENGTH, MAX_PROBLEMS, type RateLimitHeaderProblem } from './RateLimitInfo';

export class ProblemLog {
  private readonly listed: RateLimitHeaderProblem[] = [];
  private unlisted = 0;
  private note: RateLimitHeaderProblem | undefined;

  /** Lists a problem while fewer than `MAX_PROBLEMS` are listed; afterwards only counts it. */
  add(header: string, value: string, issue: string): void {
    if (this.listed.length < MAX_PROBLEMS) this.listed.push({ header, value: shortened(value), issue });
    else this.unlisted++;
  }

  /**
   * The one note a parse must not lose to the cap (how many budgets were dropped): listed
   * after the others, whatever their number. A second call replaces the first.
   */
  setNote(header: string, value: string, issue: string): void {
    this.note = { header, value: shortened(value), issue };
  }

  /** The problems in the order met, then the note, then how many were left out. */
  toArray(): RateLimitHeaderProblem[] {
    const problems = [...this.listed];
    if (this.note !== undefined) problems.push({ ...this.note });
    if (this.unlisted > 0) {
      problems.push({
        header: '(problems)',
        value: String(this.unlisted),
        issue: `${this.unlisted} more problems not listed (at most ${MAX_PROBLEMS} are)`,
      });
    }
    return problems;
  }
}

function shortened(value: string): string {
  return value.length <= MAX_PROBLEM_VALUE_LENGTH ? value : `${value.slice(0, MAX_PROBLEM_VALUE_LENGTH - 1)}…`;
}
