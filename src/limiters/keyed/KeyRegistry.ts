import { KeyHeap } from '../../waiting/KeyHeap';
import { isLimiter } from '../TokenLimiter';
import { LocalKey, RemoteKey, type KeyEntry } from './KeyEntries';
import type { KeyLimitTable } from './KeyLimitTable';
import { readWeight, type KeyWeight } from './keyWeight';

/**
 * Which keys are held in memory, bounded by `maxKeys`, and their exact, timer-free eviction:
 * an idle local key sits in a heap by the instant its bucket is full again, and full ones are
 * forgotten by the next operation (a full idle bucket *is* a fresh one, so forgetting never
 * changes what is emitted). A remote key is forgotten as soon as nothing of it waits.
 */
export class KeyRegistry<K> {
  private readonly entries = new Map<K, KeyEntry<K>>();
  /** Idle local keys still refilling, by the instant they are full (and can be forgotten). */
  private readonly refilling = new KeyHeap<LocalKey<K>>();
  /** Keys backed by a `TokenLimiter` (held only while something of theirs waits). */
  readonly remoteKeys = new Set<RemoteKey<K>>();
  /** Keys forgotten since creation. */
  forgottenCount = 0;

  constructor(
    readonly maxKeys: number,
    readonly table: KeyLimitTable<K>,
    /** Told of each key forgotten, with the time it was noticed. */
    private readonly onForgotten: (key: K, now: number) => void,
    /** The `weight` option, read once per key created; absent: every key weighs 1. */
    private readonly weight?: KeyWeight<K>,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Whether a new key would be one too many. */
  get full(): boolean {
    return this.entries.size >= this.maxKeys;
  }

  get(key: K): KeyEntry<K> | undefined {
    return this.entries.get(key);
  }

  /**
   * A fresh entry for `key` from the limit table, with its weight (not yet held: `hold` it once
   * its first value is accepted). Throws naming the key if either is invalid.
   */
  create(key: K, now: number): KeyEntry<K> {
    const resolved = this.table.resolve(key);
    const weight = this.weight === undefined ? 1 : readWeight(this.weight, key);
    return isLimiter(resolved) ? new RemoteKey(key, resolved, weight) : new LocalKey(key, resolved, now, weight);
  }

  hold(entry: KeyEntry<K>): void {
    this.entries.set(entry.key, entry);
    if (entry.remote) this.remoteKeys.add(entry);
  }

  forget(entry: KeyEntry<K>, now: number): void {
    this.entries.delete(entry.key);
    if (entry.remote) this.remoteKeys.delete(entry);
    this.forgottenCount++;
    this.onForgotten(entry.key, now);
  }

  /**
   * An idle local key: forgotten if full now, else kept in the refilling heap. A key already
   * there keeps its place unless `reaim`: taking tokens only moves its "full at" later, and
   * `forgetRefilled` re-aims a key popped too early, so a grant costs no heap operation.
   * Limits changed by `configure` may move it earlier: re-aim then.
   */
  settleIdle(entry: LocalKey<K>, now: number, reaim: boolean): void {
    if (!reaim && this.refilling.has(entry)) return;
    const untilFull = entry.timeUntil(entry.capacity, now);
    if (untilFull === 0) {
      this.refilling.remove(entry);
      this.forget(entry, now);
    } else this.refilling.set(entry, now + untilFull);
  }

  /** A local key that has values waiting again is no longer refilling idle. */
  busy(entry: LocalKey<K>): void {
    this.refilling.remove(entry);
  }

  /** Drops the idle keys that are full by `now`: the lazy, amortised half of exact eviction. */
  forgetRefilled(now: number): void {
    for (let top = this.refilling.peek(); top !== undefined && top.dueAt <= now; top = this.refilling.peek()) {
      const untilFull = top.timeUntil(top.capacity, now);
      if (untilFull > 0) {
        this.refilling.set(top, now + untilFull);
        continue;
      }
      this.refilling.remove(top);
      this.forget(top, now);
    }
  }

  /** Whether any idle key is still refilling (so `forgetRefilled` has work). */
  get anyRefilling(): boolean {
    return this.refilling.size > 0;
  }

  /** Ms until a key may be forgotten: the soonest refilled idle key, else `soonestBusy` (when a busy key's head is due). */
  timeUntilKeyFreed(now: number, soonestBusy: number | undefined): number {
    const soonest = this.refilling.peek()?.dueAt ?? soonestBusy;
    return soonest === undefined ? 0 : Math.max(0, soonest - now);
  }
}
