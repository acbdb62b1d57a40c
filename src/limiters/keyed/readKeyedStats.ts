import { isLimiter } from '../TokenLimiter';
import type { KeyEntry } from './KeyEntries';
import type { KeyedBucketsStats, KeyStats } from './KeyedBucketsStats';
import type { KeyedEngine } from './KeyedEngine';

/** Keys listed in `topKeys`. */
const TOP_KEYS = 10;

/** `KeyedBuckets.stats()`: a fresh snapshot, after forgetting the keys that have refilled, so `keys` is exact now. */
export function readKeyedStats<K>(engine: KeyedEngine<K>): KeyedBucketsStats<K> {
  const now = engine.clock();
  engine.registry.forgetRefilled(now);
  let queued = 0;
  let queuedCost = 0;
  const busy: { key: K; queued: number; queuedCost: number }[] = [];
  const count = (entry: KeyEntry<K>): void => {
    const size = (entry.queue?.size ?? 0) + (entry.remote ? entry.tickets : 0);
    if (size === 0) return;
    const cost = (entry.queue?.totalCost ?? 0) + (entry.remote ? entry.ticketCost : 0);
    queued += size;
    queuedCost += cost;
    busy.push({ key: entry.key, queued: size, queuedCost: cost });
  };
  for (const entry of engine.waiting.toArray()) count(entry);
  for (const entry of engine.contention?.ring.toArray() ?? []) if (!entry.remote) count(entry);
  for (const entry of engine.registry.remoteKeys) count(entry);
  busy.sort((a, b) => b.queuedCost - a.queuedCost);
  const gate = engine.contention?.gate;
  const { granted, grantedCost, dropped, rejected, cancelled } = engine.activity.counters.snapshot();
  return {
    keys: engine.registry.size,
    maxKeys: engine.registry.maxKeys,
    waitingKeys: busy.length,
    contendingKeys: engine.contention?.ring.size ?? 0,
    queued,
    queuedCost,
    granted,
    grantedCost,
    dropped,
    rejected,
    refusedMaxKeys: engine.activity.refusedMaxKeys,
    cancelled,
    forgotten: engine.registry.forgottenCount,
    overrides: engine.registry.table.overrideCount,
    timerScheduled: engine.timerScheduled,
    global: gate === undefined ? null : { ...gate.limits(), available: gate.available(now), requesting: gate.pending },
    topKeys: busy.slice(0, TOP_KEYS),
  };
}

/** One key now. A key not held in memory reports a fresh (full) bucket; throws if `bucketFor` has none for it. */
/** `KeyedBuckets.keyStats(key)`: a key not held in memory reports a fresh (full) bucket. */
export function readKeyStats<K>(engine: KeyedEngine<K>, key: K): KeyStats {
  const now = engine.clock();
  engine.registry.forgetRefilled(now);
  const entry = engine.registry.get(key);
  const held = entry !== undefined;
  if (entry?.remote === true) {
    const queued = (entry.queue?.size ?? 0) + entry.tickets;
    const queuedCost = (entry.queue?.totalCost ?? 0) + entry.ticketCost;
    return { held, capacity: entry.capacity, refillRate: undefined, interval: undefined, available: undefined, queued, queuedCost };
  }
  if (entry !== undefined) {
    const { capacity, refillRate, interval } = entry;
    const available = Math.max(0, entry.tokensAt(now));
    return { held, capacity, refillRate, interval, available, queued: entry.queue?.size ?? 0, queuedCost: entry.queue?.totalCost ?? 0 };
  }
  const limits = engine.registry.table.resolve(key);
  if (isLimiter(limits)) {
    return {
      held,
      capacity: limits.capacity,
      refillRate: undefined,
      interval: undefined,
      available: undefined,
      queued: 0,
      queuedCost: 0,
    };
  }
  return {
    held,
    capacity: limits.capacity,
    refillRate: limits.refillRate,
    interval: limits.interval,
    available: limits.capacity,
    queued: 0,
    queuedCost: 0,
  };
}
