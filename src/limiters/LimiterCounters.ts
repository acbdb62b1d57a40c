import type { RefusalReason } from '../shared/errors';
import type { Refusal } from './TokenLimiter';

/** What every limiter counts since its creation. */
export interface LimiterCounts {
  /** Grants, and their total cost. */
  readonly granted: number;
  readonly grantedCost: number;
  /** Values discarded by operators (`strategy: 'drop'`, or a bound with `overflow: 'drop'`). */
  readonly dropped: number;
  /** Values refused with `RateLimitExceededError`. */
  readonly rejected: number;
  /** Waiters withdrawn before their grant (unsubscribed). */
  readonly cancelled: number;
}

/** The fields every limiter's `stats()` has. */
export interface LimiterStats extends LimiterCounts {
  readonly capacity: number;
  readonly refillRate: number;
  readonly interval: number;
  /** Tokens now, 0..capacity. */
  readonly available: number;
  /** Values waiting, and their total cost. */
  readonly queued: number;
  readonly queuedCost: number;
  /** Whether the limiter's one grant timer is scheduled. */
  readonly timerScheduled: boolean;
}

/** The event of a value an operator discarded or rejected. */
export interface RefusalEvent {
  readonly type: 'dropped' | 'rejected';
  readonly time: number;
  readonly cost: number;
  readonly reason: RefusalReason;
  readonly retryAfter: number;
}

/** The counters behind `LimiterCounts`, kept by every limiter. */
export class LimiterCounters implements LimiterCounts {
  granted = 0;
  grantedCost = 0;
  dropped = 0;
  rejected = 0;
  cancelled = 0;

  grant(cost: number): void {
    this.granted++;
    this.grantedCost += cost;
  }

  refusal(refusal: Refusal): void {
    if (refusal.outcome === 'dropped') this.dropped++;
    else this.rejected++;
  }

  /** A fresh copy, for `stats()`. */
  snapshot(): LimiterCounts {
    const { granted, grantedCost, dropped, rejected, cancelled } = this;
    return { granted, grantedCost, dropped, rejected, cancelled };
  }
}

/** The `events$` entry for a refusal recorded at `time`. */
export function refusalEvent(refusal: Refusal, time: number): RefusalEvent {
  return { type: refusal.outcome, time, cost: refusal.cost, reason: refusal.reason, retryAfter: refusal.retryAfter };
}
