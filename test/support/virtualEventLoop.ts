/**
 * A discrete-event loop in virtual time for peers written against Node's clock and timers
 * (the AWS SDK's `DefaultRateLimiter`, bottleneck): timers are events on a virtual clock, and
 * after each event the real microtask queue is drained (one `setImmediate` turn), so Promise
 * continuations run at the virtual instant of the timer that released them. `installGlobals`
 * swaps `setTimeout`/`setInterval`/`Date.now` for the loop's while a peer that reads them
 * directly runs (bench only: a test runner's own timers must not land in virtual time).
 */

interface VirtualTimer {
  readonly id: number;
  at: number;
  readonly callback: () => void;
  readonly every: number | undefined;
  cancelled: boolean;
}

/** What `setTimeout` returns here: enough of Node's `Timeout` for the peers (`ref`, `unref`, `hasRef`). */
class VirtualHandle {
  constructor(readonly timer: VirtualTimer) {}
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  hasRef(): boolean {
    return true;
  }
  [Symbol.toPrimitive](): number {
    return this.timer.id;
  }
}

const realSetImmediate = setImmediate;
const turn = (): Promise<void> => new Promise<void>((resolve) => realSetImmediate(resolve));

export class VirtualEventLoop {
  /** Virtual ms since the loop began. */
  now = 0;
  private readonly timers: VirtualTimer[] = [];
  private readonly byId = new Map<number, VirtualTimer>();
  private nextId = 1;

  constructor(private readonly epochMs = 0) {}

  /** Wall-clock ms of `now`. */
  wallClock(): number {
    return this.epochMs + this.now;
  }

  setTimeout(callback: () => void, delay = 0, every?: number): VirtualHandle {
    const at = this.now + (Number.isFinite(delay) && delay > 0 ? delay : 0);
    const timer: VirtualTimer = { id: this.nextId++, at, callback, every, cancelled: false };
    this.insert(timer);
    this.byId.set(timer.id, timer);
    return new VirtualHandle(timer);
  }

  clearTimeout(handle: unknown): void {
    const timer = handle instanceof VirtualHandle ? handle.timer : this.byId.get(Number(handle));
    if (timer === undefined) return;
    timer.cancelled = true;
    this.byId.delete(timer.id);
  }

  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => this.setTimeout(resolve, ms));
  }

  /** Runs every event due before `endMs`, in order, draining microtasks after each. */
  async run(endMs: number): Promise<void> {
    await turn();
    while (this.timers.length > 0 && this.timers[0]!.at < endMs) {
      const timer = this.timers.shift()!;
      if (timer.cancelled) continue;
      this.now = Math.max(this.now, timer.at);
      if (timer.every === undefined) this.byId.delete(timer.id);
      else {
        timer.at = this.now + Math.max(1, timer.every);
        this.insert(timer);
      }
      timer.callback();
      await turn();
    }
    this.now = Math.max(this.now, endMs);
  }

  /** Replaces the global timers and `Date.now` with the loop's until the returned function is called. */
  installGlobals(): () => void {
    const saved = {
      setTimeout: globalThis.setTimeout,
      clearTimeout: globalThis.clearTimeout,
      setInterval: globalThis.setInterval,
      clearInterval: globalThis.clearInterval,
      now: Date.now,
    };
    const fake = globalThis as unknown as Record<string, unknown>;
    fake['setTimeout'] = (callback: (...args: unknown[]) => void, delay?: number, ...args: unknown[]) =>
      this.setTimeout(() => callback(...args), delay);
    fake['clearTimeout'] = (handle: unknown) => this.clearTimeout(handle);
    fake['setInterval'] = (callback: (...args: unknown[]) => void, delay?: number, ...args: unknown[]) =>
      this.setTimeout(() => callback(...args), delay, delay ?? 1);
    fake['clearInterval'] = (handle: unknown) => this.clearTimeout(handle);
    Date.now = () => this.wallClock();
    return () => {
      Object.assign(globalThis, {
        setTimeout: saved.setTimeout,
        clearTimeout: saved.clearTimeout,
        setInterval: saved.setInterval,
        clearInterval: saved.clearInterval,
      });
      Date.now = saved.now;
    };
  }

  /** Keeps the timers in (instant, creation) order: binary search, then one splice. */
  private insert(timer: VirtualTimer): void {
    let low = 0;
    let high = this.timers.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.timers[middle]!.at <= timer.at) low = middle + 1;
      else high = middle;
    }
    this.timers.splice(low, 0, timer);
  }
}
