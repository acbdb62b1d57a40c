import type { LimiterEvents } from '../limiters/LimiterEvents';
import type { BucketStore } from './BucketStore';
import type { CountMirror } from './CountMirror';
import type { RedisTokenBucketEvent } from './events';
import type { LocalFallback } from './LocalFallback';
import type { CountReply } from './replies';
import type { StoreHealth } from './StoreHealth';

/**
 * The calls that change the shared count outside the queue: `debit` and `refund` (the settle
 * script) and `adapt`'s cap and pause (the adjust script). The mirror shows a debit or refund
 * at once and takes the count each answer reports. No value waits on these calls, so a failed
 * one does not decide the bucket's health: it is counted (`stats().storeErrors`) and the next
 * reserve call meets the outage. A debit or refund Redis could not take is lost for the shared
 * count; under `onStoreError: 'local'` the local share bears it instead, as it does at once
 * while Redis counts as failing (the local share is what grants then).
 */
export class CountChanges {
  constructor(
    private readonly store: BucketStore,
    private readonly mirror: CountMirror,
    private readonly health: StoreHealth,
    /** The local share, under `onStoreError: 'local'` (else null). */
    private readonly fallback: LocalFallback | null,
    private readonly events: LimiterEvents<RedisTokenBucketEvent>,
    private readonly clock: () => number,
  ) {}

  /** Takes `amount` (a debit, into debt if need be) or gives it back (a refund), already checked. */
  settle(cause: 'debit' | 'refund', amount: number): void {
    const now = this.clock();
    const mirror = this.mirror;
    if (cause === 'debit') mirror.spend(amount, now);
    else mirror.refund(amount, now);
    if (this.events.observers > 0) {
      this.events.emit({ type: 'adjusted', time: now, cause, amount, available: mirror.available(now), debt: mirror.debt(now) });
    }
    if (amount === 0) return;
    const local = this.health.degraded && this.applyLocally(cause, amount);
    this.track(this.store.settle(cause === 'debit' ? amount : -amount), () => {
      if (!local) this.applyLocally(cause, amount);
    });
  }

  /** Lowers the shared count to at most `cap` (if given) and pauses grants for `pauseMicros` (`adapt`). */
  adjust(cap: number | undefined, pauseMicros: number): void {
    this.track(this.store.adjust(cap, pauseMicros));
  }

  /** Applies a debit or refund to the local share, if there is one; returns whether there was. */
  private applyLocally(cause: 'debit' | 'refund', amount: number): boolean {
    if (this.fallback === null) return false;
    if (cause === 'debit') this.fallback.debit(amount);
    else this.fallback.refund(amount);
    return true;
  }

  private track(call: Promise<CountReply>, onFailure?: () => void): void {
    call.then(
      (count) => this.mirror.heard(count, this.clock()),
      () => {
        this.health.errors++;
        onFailure?.();
      },
    );
  }
}
