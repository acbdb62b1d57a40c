/**
 * What a bucket needs from something waiting for tokens. Operators implement it on the
 * object that already holds the waiting value, so a waiting value costs one small object
 * and no closure.
 */
export interface Waiter {
  /** Tokens this waiter needs; validated before it is queued. */
  readonly cost: number;
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

/**
 * A FIFO of waiters as an intrusive doubly linked list: O(1) push, O(1) removal from
 * anywhere (an unsubscribe mid-queue), no array to grow or compact. It also keeps the
 * total cost waiting, which is what predicts the wait of a newcomer.
 */
export class WaitQueue {
  head: Waiter | null = null;
  private tail: Waiter | null = null;
  private count = 0;
  private costSum = 0;

  get size(): number {
    return this.count;
  }

  /** Total cost of the waiters, exactly 0 when the queue is empty. */
  get totalCost(): number {
    return this.count === 0 ? 0 : this.costSum;
  }

  push(waiter: Waiter): void {
    waiter.previousWaiter = this.tail;
    waiter.nextWaiter = null;
    if (this.tail === null) this.head = waiter;
    else this.tail.nextWaiter = waiter;
    this.tail = waiter;
    this.count++;
    this.costSum += waiter.cost;
  }

  /** Removes `waiter`; returns false if it was not queued (already granted or removed). */
  remove(waiter: Waiter): boolean {
    if (waiter.previousWaiter === null && this.head !== waiter) return false;
    const { previousWaiter, nextWaiter } = waiter;
    if (previousWaiter === null) this.head = nextWaiter;
    else previousWaiter.nextWaiter = nextWaiter;
    if (nextWaiter === null) this.tail = previousWaiter;
    else nextWaiter.previousWaiter = previousWaiter;
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
}
