import type { SchedulerLike, Subscription } from 'rxjs';

/** `setTimeout` holds at most 2^31−1 ms; a longer wait is taken in steps of at most this. */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/**
 * At most one scheduled action, aimed at a due time on the scheduler's clock: the one timer
 * every limiter keeps. The fired action is released before `fire` runs, so a re-aim from
 * inside it never leaves two real timers alive at once (asyncScheduler keeps a fired
 * action's interval until its callback returns).
 */
export class SingleTimer {
  private action: Subscription | null = null;
  private dueAt = Number.NaN;

  constructor(
    private readonly scheduler: SchedulerLike,
    /** Called when the timer fires, with the instant it was aimed at. */
    private readonly fire: (dueAt: number) => void,
  ) {}

  get scheduled(): boolean {
    return this.action !== null;
  }

  /**
   * Aims the timer at `due`, unless it is aimed there already (or, with `earlierWillDo`,
   * earlier). `delay` is how far away `due` is, if the caller has it exactly (`due - now`
   * can differ from it by float rounding). A timer may fire early or be capped
   * (2^31−1 ms): the owner re-checks what is due when it fires, and aims again.
   */
  aim(due: number, delay = due - this.scheduler.now(), earlierWillDo = false): void {
    if (this.action !== null && (this.dueAt === due || (earlierWillDo && this.dueAt < due))) return;
    this.clear();
    this.dueAt = due;
    this.action = this.scheduler.schedule(this.onFire, Math.min(Math.max(0, delay), MAX_TIMER_DELAY));
  }

  clear(): void {
    if (this.action === null) return;
    const action = this.action;
    this.action = null;
    action.unsubscribe();
  }

  private readonly onFire = (): void => {
    const dueAt = this.dueAt;
    this.clear();
    this.fire(dueAt);
  };
}
