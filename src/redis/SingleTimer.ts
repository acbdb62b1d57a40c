import type { SchedulerLike, Subscription } from 'rxjs';
import { MAX_TIMER_DELAY } from '../scheduler/TokenBucket';

/** At most one scheduled action, aimed at a due time on the scheduler's clock. */
export class SingleTimer {
  private action: Subscription | null = null;
  private due = Number.NaN;

  constructor(
    private readonly scheduler: SchedulerLike,
    private readonly fire: () => void,
  ) {}

  get scheduled(): boolean {
    return this.action !== null;
  }

  /**
   * Aims the timer at `due`, unless it is aimed there already (or, with `earlierWillDo`,
   * earlier). A timer may fire early or be capped (2^31−1 ms): the owner re-checks what is
   * due when it fires, and aims again.
   */
  aim(due: number, earlierWillDo = false): void {
    if (this.action !== null && (this.due === due || (earlierWillDo && this.due < due))) return;
    this.clear();
    this.due = due;
    const wait = Math.min(Math.max(0, due - this.scheduler.now()), MAX_TIMER_DELAY);
    this.action = this.scheduler.schedule(this.onFire, wait);
  }

  clear(): void {
    if (this.action === null) return;
    const action = this.action;
    this.action = null;
    action.unsubscribe();
  }

  private readonly onFire = (): void => {
    this.clear(); // released before the next is aimed, so one real timer at most (see TokenBucket)
    this.fire();
  };
}
