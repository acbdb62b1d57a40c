/**
 * The arithmetic of a token bucket, and nothing else: no timers, no clock of its own.
 * Every method takes the current time as an argument (in ms, any origin), so the same
 * ledger works under a real clock, a virtual `TestScheduler` clock or a Redis server's.
 *
 * Tokens refill continuously and lazily: `tokens(t) = min(capacity, tokens(t0) + (t - t0) * refillRate / interval)`.
 * The count is kept with compensated (Neumaier) summation, so a million grant/refill
 * cycles with fractional costs do not drift.
 */
export interface LedgerLimits {
  /** Burst size: the most tokens the bucket holds. */
  readonly capacity: number;
  /** Tokens added per `interval` ms. */
  readonly refillRate: number;
  /** The period `refillRate` is expressed over, in ms. */
  readonly interval: number;
}

/**
 * Tokens within this fraction of capacity count as present. It absorbs floating-point
 * noise (0.7 + 0.3 = 0.9999999999999999) so that a wait computed as exactly 3 ms is
 * not followed by a second timer of 1e-13 ms; it is far below anything observable.
 */
const SLACK = 1e-12;

/** Waits within float noise of a 1 µs grid land on it, so that noise never yields 3.0000000000000004 ms. */
const STEPS_PER_MS = 1000;

/**
 * The float noise of a wait, as a fraction of the time to earn `amount + capacity` tokens:
 * it grows with that time (a 3e9 ms wait computes as 3e9 + 2e-7) yet stays 50x below
 * SLACK, so a wait snapped down to the grid is never short of what `tryTake` grants.
 */
const NOISE = 1e-14;

export class TokenLedger implements LedgerLimits {
  capacity: number;
  refillRate: number;
  interval: number;
  private tokensPerMs: number;
  /** `capacity * SLACK`, kept in step with capacity. */
  private slack: number;
  /** Tokens at `updatedAt`, as a compensated sum `tokens + compensation`. */
  private tokens: number;
  private compensation = 0;
  private updatedAt: number;
  /** Before this time nothing is granted (a server said "wait"); -Infinity when not paused. */
  private resumeAt = Number.NEGATIVE_INFINITY;

  constructor(limits: LedgerLimits, initialTokens: number, now: number) {
    this.capacity = limits.capacity;
    this.refillRate = limits.refillRate;
    this.interval = limits.interval;
    this.tokensPerMs = limits.refillRate / limits.interval;
    this.slack = limits.capacity * SLACK;
    this.tokens = initialTokens;
    this.updatedAt = now;
  }

  /**
   * Tokens at `now`, without changing the ledger (during a pause: what has been earned, though
   * none can be taken yet). May be a hair below zero after a tolerant grant.
   */
  tokensAt(now: number): number {
    const elapsed = now - this.updatedAt;
    const current = this.tokens + this.compensation + (elapsed > 0 ? elapsed * this.tokensPerMs : 0);
    return current < this.capacity ? current : this.capacity;
  }

  /**
   * Brings the count up to `now`. A clock that went backwards mints nothing and loses
   * nothing: the count is kept and time restarts from the earlier reading.
   */
  advance(now: number): void {
    const elapsed = now - this.updatedAt;
    this.updatedAt = now;
    if (elapsed <= 0) return;
    this.add(elapsed * this.tokensPerMs);
    if (this.tokens + this.compensation >= this.capacity) {
      this.tokens = this.capacity;
      this.compensation = 0;
    }
  }

  /** The time of the last update: refill is counted from here. */
  get lastUpdate(): number {
    return this.updatedAt;
  }

  /** Takes `cost` if it is covered at `now`; otherwise changes nothing. */
  tryTake(cost: number, now: number): boolean {
    if (now < this.resumeAt) return false;
    if (now !== this.updatedAt) this.advance(now);
    const tokens = this.tokens;
    if (tokens + this.compensation + this.slack < cost) return false;
    // The hot path of every grant: `add(-cost)` written out.
    const sum = tokens - cost;
    this.compensation += Math.abs(tokens) >= cost ? tokens - sum - cost : -cost - sum + tokens;
    this.tokens = sum;
    return true;
  }

  /**
   * Takes `cost` unconditionally, possibly into debt (a negative count that refill
   * pays back first). Used to record spending the ledger did not authorise itself,
   * such as requests a server reports as already made.
   */
  spend(cost: number, now: number): void {
    this.advance(now);
    this.add(-cost);
  }

  /** Gives `amount` back at `now` (paying a debt first), never lifting the count above capacity. */
  refund(amount: number, now: number): void {
    this.advance(now);
    this.add(amount);
    if (this.tokens + this.compensation >= this.capacity) {
      this.tokens = this.capacity;
      this.compensation = 0;
    }
  }

  /** Tokens owed at `now` (what `spend` took beyond the count, not yet paid back by refill); float noise is 0. */
  debtAt(now: number): number {
    const tokens = this.tokensAt(now);
    return tokens < -this.slack ? -tokens : 0;
  }

  /**
   * Ms from `now` until the count reaches `amount`: exact, or on the 1 µs grid when within
   * float noise of it, and at least 1 µs when not covered now. `amount` may
   * exceed capacity: that is the wait of the last of several queued values, which is
   * exact because the count never reaches capacity while values wait.
   */
  timeUntil(amount: number, now: number): number {
    const tokens = this.tokensAt(now);
    // Covered by the very test tryTake makes, so that a 0 here is always granted.
    const covered = tokens + this.slack >= amount;
    const pause = this.resumeAt - now;
    if (covered && pause <= 0) return 0;
    const refillWait = covered ? 0 : (amount - tokens) / this.tokensPerMs;
    const wait = refillWait > pause ? refillWait : pause;
    // Not rounded up: a timer fires when the tokens are there, not later (a late grant of a
    // full bucket's cost would lose the refill clamped away meanwhile, and every grant after
    // it would slip). At least one step: a shorter wait may not move the clock (50 + 1e-15
    // is 50), and a timer finding the deficit still there would be re-aimed there forever.
    const steps = wait * STEPS_PER_MS;
    const nearest = Math.round(steps);
    const noise = ((amount + this.capacity) / this.tokensPerMs) * STEPS_PER_MS * NOISE;
    if (Math.abs(steps - nearest) > noise) return steps >= 1 ? wait : 1 / STEPS_PER_MS;
    return (nearest >= 1 ? nearest : 1) / STEPS_PER_MS;
  }

  /**
   * Changes the limits at `now`: tokens earned so far are credited at the old rate,
   * then clamped to the new capacity.
   */
  reconfigure(limits: LedgerLimits, now: number): void {
    this.advance(now);
    this.capacity = limits.capacity;
    this.refillRate = limits.refillRate;
    this.interval = limits.interval;
    this.tokensPerMs = limits.refillRate / limits.interval;
    this.slack = limits.capacity * SLACK;
    if (this.tokens + this.compensation > this.capacity) {
      this.tokens = this.capacity;
      this.compensation = 0;
    }
  }

  /** Sets the count at `now` (clamped to capacity; may be negative, as debt). */
  setTokens(tokens: number, now: number): void {
    this.advance(now);
    this.tokens = Math.min(tokens, this.capacity);
    this.compensation = 0;
  }

  /**
   * Grants nothing before `resumeAt`, and empties the bucket now (a debt is kept); refill goes
   * on, so the bucket resumes with what the pause earned (at most capacity), as a server's
   * budget does when its window resets. What a `Retry-After`, or a reported remaining budget
   * of 0, asks for. A later, shorter pause does not cut an earlier one short.
   */
  pauseUntil(resumeAt: number, now: number): void {
    this.advance(now);
    if (this.tokens + this.compensation > 0) {
      this.tokens = 0;
      this.compensation = 0;
    }
    if (resumeAt > this.resumeAt) this.resumeAt = resumeAt;
  }

  /** The time refill resumes after a pause, or -Infinity. */
  get pausedUntil(): number {
    return this.resumeAt;
  }

  /** Neumaier's compensated addition: the rounding error of each step is kept, not lost. */
  private add(amount: number): void {
    const sum = this.tokens + amount;
    if (Math.abs(this.tokens) >= Math.abs(amount)) {
      this.compensation += this.tokens - sum + amount;
    } else {
      this.compensation += amount - sum + this.tokens;
    }
    this.tokens = sum;
  }
}
