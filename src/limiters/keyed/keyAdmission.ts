/** What `KeyedEngine.admit` asks of one key before deciding: whether a cost can ever pass, and how long it would wait. */
import { describe } from '../../shared/describe';
import type { GlobalGate } from './GlobalGate';
import type { KeyEntry } from './KeyEntries';

/** Throws unless a value of `cost` could ever pass `entry`'s bucket and the `gate` (a `RangeError` naming the key). */
export function checkEntryCost<K>(entry: KeyEntry<K>, cost: number, gate: GlobalGate | undefined): void {
  if (cost > entry.capacity) throw new RangeError(`cost ${cost} exceeds capacity ${entry.capacity} of key ${describe(entry.key)}`);
  if (gate !== undefined && cost > gate.capacity) throw new RangeError(`cost ${cost} exceeds the global capacity ${gate.capacity}`);
}

/** The wait of a value of `cost` and `priority` joining `entry` now: behind its values of that priority or higher, and the gate's. */
export function predictWait<K>(entry: KeyEntry<K>, cost: number, priority: number, now: number, gate: GlobalGate | undefined): number {
  const own = entry.remote
    ? entry.limiter.timeUntil(cost)
    : entry.timeUntil((entry.queue === null ? 0 : entry.queue.costAhead(priority)) + cost, now);
  if (gate === undefined) return own;
  const global = gate.timeUntil(cost, now);
  return own > global ? own : global;
}
