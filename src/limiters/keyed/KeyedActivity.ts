import type { WaitQueue, Waiter } from '../../waiting/WaitQueue';
import { LimiterCounters } from '../LimiterCounters';
import { LimiterEvents } from '../LimiterEvents';
import type { KeyEntry } from './KeyEntries';
import type { KeyedBucketsEvent } from './KeyedBucketsStats';
import type { KeyedRefusal } from './KeyedLimiter';

/** What a `KeyedBuckets` counts and reports on `events$`, each event with its key. */
export class KeyedActivity<K> {
  readonly counters = new LimiterCounters();
  /** Of the refusals: values of new keys refused because `maxKeys` were held. */
  refusedMaxKeys = 0;
  readonly events = new LimiterEvents<KeyedBucketsEvent<K>>();

  granted(entry: KeyEntry<K>, cost: number, waited: number, now: number): void {
    this.counters.grant(cost);
    if (this.events.observers > 0) {
      const available = entry.remote ? undefined : Math.max(0, entry.tokensAt(now));
      this.events.emit({ type: 'granted', key: entry.key, time: now, cost, waited, available });
    }
  }

  queued(entry: KeyEntry<K>, waiter: Waiter, queue: WaitQueue, now: number): void {
    if (this.events.observers > 0) {
      this.events.emit({ type: 'queued', key: entry.key, time: now, cost: waiter.cost, queued: queue.size, queuedCost: queue.totalCost });
    }
  }

  cancelled(entry: KeyEntry<K>, waiter: Waiter, now: number): void {
    this.counters.cancelled++;
    if (this.events.observers > 0) this.events.emit({ type: 'cancelled', key: entry.key, time: now, cost: waiter.cost });
  }

  refused(key: K, refusal: KeyedRefusal, now: number): void {
    this.counters.refusal(refusal);
    if (refusal.reason === 'max-keys') this.refusedMaxKeys++;
    if (this.events.observers > 0) {
      const { cost, reason, retryAfter } = refusal;
      this.events.emit({ type: refusal.outcome, key, time: now, cost, reason, retryAfter });
    }
  }

  forgotten(key: K, now: number): void {
    if (this.events.observers > 0) this.events.emit({ type: 'forgotten', key, time: now });
  }
}
