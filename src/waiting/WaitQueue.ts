/**
 * What a bucket needs from something waiting for tokens. Operators implement it on the
 * object that already holds the waiting value, so a waiting value costs one small object
 * and no closure.
 */
export interface Waiter {
  /** Tokens this waiter needs; validated before it is queued. */
  readonly cost: number;
  /** Higher goes first; FIFO within a level. Absent means 0. A finite number, validated before it is queued. */
  readonly priority?: number;
  /** Called once, when the tokens have been taken for it. */
  granted(): void;
  /** Called once instead of `granted` when it may not wait: `retryAfter` is its predicted wait in ms. */
  refused(retryAfter: number): void;
  /** Called once instead of `granted` when it can never be granted (the capacity shrank below its cost). */
  failed(error: Error): void;
  /** Queue links, owned by the queue that holds the waiter. */
  queuedAt: number;
  previousWaiter: Waiter | null;
  nextWaiter: Waiter | null;
}

/** The waiters of one priority: a run of the queue's list, and their count and total cost. */
interface Level {
  readonly priority: number;
  last: Waiter;
  count: number;
  cost: number;
}

/**
 * The waiters of a bucket in the order they are granted: strict priority, higher first, FIFO
 * within a priority. An intrusive doubly linked list (O(1) removal from anywhere, an unsubscribe
 * mid-queue) cut into runs of one priority each; a waiter joins at the end of its run, so a
 * queue whose waiters share one priority (the default, 0) is a plain FIFO with O(1) push. It also
 * keeps the cost waiting, in all and ahead of a priority: what predicts a newcomer's wait.
 */
export class WaitQueue {
  head: Waiter | null = null;
  private count = 0;
  private costSum = 0;
  /** The runs, highest priority first; nearly always one. */
  private levels: Level[] = [];

  get size(): number {
    return this.count;
  }

  /** Total cost of the waiters, exactly 0 when the queue is empty. */
  get totalCost(): number {
    return this.count === 0 ? 0 : this.costSum;
  }

  /** Cost of the waiters a newcomer of `priority` would wait behind (those of its priority or higher). */
  costAhead(priority: number): number {
    const levels = this.levels;
    if (levels.length <= 1 && (levels.length === 0 || levels[0]!.priority >= priority)) return this.totalCost;
    let cost = 0;
    for (const level of levels) {
      if (level.priority < priority) break;
      cost += level.cost;
    }
    return cost;
  }

  push(waiter: Waiter): void {
    const priority = waiter.priority ?? 0;
    const levels = this.levels;
    // From the lowest run up to the first of this priority or higher: nearly always the lowest itself.
    let index = levels.length;
    while (index > 0 && levels[index - 1]!.priority < priority) index--;
    const above = levels[index - 1];
    if (above !== undefined && above.priority === priority) {
      this.insertAfter(waiter, above.last);
      above.last = waiter;
      above.count++;
      above.cost += waiter.cost;
    } else {
      // A new run, after the run of the next higher priority (or first of all).
      this.insertAfter(waiter, above === undefined ? null : above.last);
      levels.splice(index, 0, { priority, last: waiter, count: 1, cost: waiter.cost });
    }
    this.count++;
    this.costSum += waiter.cost;
  }

  /** Removes `waiter`; returns false if it was not queued (already granted or removed). */
  remove(waiter: Waiter): boolean {
    if (waiter.previousWaiter === null && this.head !== waiter) return false;
    const { previousWaiter, nextWaiter } = waiter;
    const level = this.levelOf(waiter);
    if (--level.count === 0) this.levels.splice(this.levels.indexOf(level), 1);
    else {
      level.cost -= waiter.cost;
      if (level.last === waiter) level.last = previousWaiter!;
    }
    if (previousWaiter === null) this.head = nextWaiter;
    else previousWaiter.nextWaiter = nextWaiter;
    if (nextWaiter !== null) nextWaiter.previousWaiter = previousWaiter;
    waiter.previousWaiter = null;
    waiter.nextWaiter = null;
    this.count--;
    // Reset rather than subtract down to a float residue like 1e-17.
    this.costSum = this.count === 0 ? 0 : this.costSum - waiter.cost;
    return true;
  }

  /** Waiters in queue order (a copy: the queue may change while the caller iterates). */
  toArray(): Waiter[] {
    const waiters: Waiter[] = [];
    for (let waiter = this.head; waiter !== null; waiter = waiter.nextWaiter) waiters.push(waiter);
    return waiters;
  }

  private levelOf(waiter: Waiter): Level {
    const levels = this.levels;
    if (levels.length === 1) return levels[0]!;
    const priority = waiter.priority ?? 0;
    return levels.find((level) => level.priority === priority)!;
  }

  /** Links `waiter` in after `before` (at the head when null). */
  private insertAfter(waiter: Waiter, before: Waiter | null): void {
    const after = before === null ? this.head : before.nextWaiter;
    waiter.previousWaiter = before;
    waiter.nextWaiter = after;
    if (before === null) this.head = waiter;
    else before.nextWaiter = waiter;
    if (after !== null) after.previousWaiter = waiter;
  }
}
