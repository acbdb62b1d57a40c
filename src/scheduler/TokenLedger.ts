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

/** Waits are rounded up to a 1 µs grid so that float noise never yields 3.0000000000000004 ms. */
const STEPS_PER_MS = 1000;

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

  constructor(limits: LedgerLimits, initialTokens: number, now: number) {
    this.capacity = limits.capacity;
    this.refillRate = limits.refillRate;
    this.interval = limits.interval;
    this.tokensPerMs = limits.refillRate / limits.interval;
    this.slack = limits.capacity * SLACK;
    this.tokens = initialTokens;
    this.updatedAt = now;
  }

  /** Tokens at `now`, without changing the ledger. May be a hair below zero after a tolerant grant. */
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

  /** Takes `cost` if it is covered at `now`; otherwise changes nothing. */
  tryTake(cost: number, now: number): boolean {
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

  /**
   * Ms from `now` until the count reaches `amount`, rounded up to 1 µs. `amount` may
   * exceed capacity: that is the wait of the last of several queued values, which is
   * exact because the count never reaches capacity while values wait.
   */
  timeUntil(amount: number, now: number): number {
    const deficit = amount - this.tokensAt(now);
    if (deficit <= this.slack) return 0;
    const wait = deficit / this.tokensPerMs;
    // Round up to the grid, forgiving a few ulps of noise, so the wait is never short.
    return Math.ceil(wait * STEPS_PER_MS - 1e-6) / STEPS_PER_MS;
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
