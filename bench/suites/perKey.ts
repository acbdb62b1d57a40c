/**
 * `perKey` at scale: a million distinct keys (100 000 with --quick), each value a new key
 * that takes one token. Time per value against `map` on the same source and against the
 * naive ways of limiting per key — a `Map` of `TokenBucket`s, and `groupBy` with a
 * `throttleByTokens` per group — in the same run; then the heap held while every key is
 * refilling, and once they have all refilled (target: back to the baseline, as the naive
 * ways never are).
 *
 * The buckets run on a hand-driven clock (a `SchedulerLike` whose `now()` the suite sets):
 * frozen, every key stays held for the whole run (the worst case for memory); advanced by
 * a fixed step per value, keys refill and are forgotten as the stream goes on (steady churn).
 * Either way the result does not depend on how fast this machine happens to be.
 */
import {
  asyncScheduler,
  concat,
  filter,
  groupBy,
  map,
  mergeMap,
  NEVER,
  range,
  type OperatorFunction,
  type SchedulerAction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import { perKey } from '../../src/operators/perKey';
import { throttleByTokens } from '../../src/operators/throttleByTokens';
import { KeyedBuckets } from '../../src/limiters/keyed/KeyedBuckets';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import {
  atMost,
  canCollectGarbage,
  heapAfterGc,
  median,
  significant,
  timeInterleaved,
  type BenchRow,
  type BenchSuite,
  type Timed,
} from '../harness';
import { checkSinkReached, through } from '../pipeThrough';

/** A clock the suite sets by hand; timers (never needed here: nothing waits) go to asyncScheduler. */
class HandClock implements SchedulerLike {
  time = 0;
  now(): number {
    return this.time;
  }
  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay?: number, state?: T): Subscription {
    return asyncScheduler.schedule(work, delay, state);
  }
}

/** The naive per-key limiter: a `TokenBucket` per key in a `Map` that only grows. */
function mapOfBuckets(
  buckets: Map<number, TokenBucket>,
  limits: { capacity: number; refillRate: number; interval: number; scheduler: SchedulerLike },
) {
  return filter((key: number) => {
    let bucket = buckets.get(key);
    if (bucket === undefined) buckets.set(key, (bucket = new TokenBucket(limits)));
    return bucket.tryTake();
  });
}

/** The other naive one: a group (a Subject and a subscription) and a bucket per key, kept for ever. */
function groupByThrottle(limits: {
  capacity: number;
  refillRate: number;
  interval: number;
  scheduler: SchedulerLike;
}): OperatorFunction<number, number> {
  return (source) =>
    source.pipe(
      groupBy((key) => key),
      mergeMap((group) => group.pipe(throttleByTokens<number>(limits))),
    );
}

const MB = 1024 * 1024;

const suite: BenchSuite = async ({ quick, runs }) => {
  const keys = quick ? 100_000 : 1_000_000;
  const groupKeys = quick ? 10_000 : 30_000;
  const churnWindow = quick ? 10_000 : 100_000;
  const hotKeys = 1_000;
  const naiveRuns = Math.min(runs, 3);
  /** One token per key, refilled over this many ms (of the hand clock). */
  const refillMs = 1_000;
  const frozen = new HandClock();
  const limits = { capacity: 1, refillRate: 1, interval: refillMs };
  const onFrozen = { ...limits, scheduler: frozen };

  /** Every value advances the clock so that a key is full again `churnWindow` values after its grant. */
  const churning =
    (extra: { global?: { capacity: number; refillRate: number } } = {}): (() => Promise<void>) =>
    () => {
      const clock = new HandClock();
      const step = refillMs / churnWindow;
      return through(keys, (source) =>
        source.pipe(
          map((value) => ((clock.time += step), value)),
          perKey((key: number) => key, limits, { maxKeys: churnWindow + 1, scheduler: clock, ...extra }),
        ),
      )();
    };

  // ---- time per value ----
  const subjects: (Timed & { count: number; note?: string })[] = [
    {
      name: 'map (floor)',
      count: keys,
      run: through(
        keys,
        map((value) => value),
      ),
    },
    {
      name: 'perKey, every value a new key, all keys held (clock frozen)',
      count: keys,
      run: through(
        keys,
        perKey((key: number) => key, limits, { maxKeys: keys, scheduler: frozen }),
      ),
      note: `the worst case for memory: all ${keys.toLocaleString('en-US')} keys live at the end of the run`,
    },
    {
      name: `perKey, every value a new key, ${churnWindow.toLocaleString('en-US')} held at a time`,
      count: keys,
      run: churning(),
      note: `the clock advances so that each key is full (and forgotten) ${churnWindow.toLocaleString('en-US')} values after its grant: creation and forgetting both paid`,
    },
    {
      name: `perKey + global bucket, every value a new key, ${churnWindow.toLocaleString('en-US')} held at a time`,
      count: keys,
      run: churning({ global: { capacity: 1e12, refillRate: 1e12 } }),
      note: 'a global bucket that never runs short: its fast path, taken at the same instant as the key’s',
    },
    {
      name: `perKey, ${hotKeys} keys over and over`,
      count: keys,
      run: through(keys, (source) =>
        source.pipe(
          map((value) => value % hotKeys),
          perKey((key: number) => key, { capacity: 1e9, refillRate: 1 }, { scheduler: frozen }),
        ),
      ),
      note: 'steady state: keys stay held and never wait: a Map lookup and a ledger take per value',
    },
  ];
  const naive: (Timed & { count: number; note?: string })[] = [
    {
      name: 'Map of TokenBuckets + tryTake (in filter), every value a new key',
      count: keys,
      run: () => through(keys, mapOfBuckets(new Map(), onFrozen))(),
      note: `never forgets a key; ${naiveRuns} rounds`,
    },
    {
      name: 'groupBy + throttleByTokens per group, every value a new key',
      count: groupKeys,
      run: through(groupKeys, groupByThrottle(onFrozen)),
      note: `${groupKeys.toLocaleString('en-US')} keys per round (a group costs ~4 kB and much time), ${naiveRuns} rounds; compare per value`,
    },
  ];
  const times = new Map([...(await timeInterleaved(subjects, runs)), ...(await timeInterleaved(naive, naiveRuns))]);
  const floorNs = (median(times.get('map (floor)')!) * 1e6) / keys;
  const rows: BenchRow[] = [...subjects, ...naive].map((subject) => {
    const samples = times.get(subject.name)!;
    const ns = (median(samples) * 1e6) / subject.count;
    return {
      subject: subject.name,
      metrics: {
        values: subject.count,
        'median ms': significant(median(samples)),
        'ns/value': significant(ns),
        '× map': significant(ns / floorNs),
      },
    };
  });
  const nsOf = (prefix: string): number => Number(rows.find((row) => row.subject.startsWith(prefix))!.metrics['ns/value']);

  // ---- memory: all keys held, then all refilled ----
  const clock = new HandClock();
  const baseline = heapAfterGc();
  const keyed = new KeyedBuckets<number>(limits, { maxKeys: keys, scheduler: clock });
  await through(
    keys,
    perKey((key: number) => key, keyed),
  )();
  const heldKeys = keyed.stats().keys;
  const peak = heapAfterGc() - baseline;
  clock.time += refillMs; // every key is full again
  const afterStats = keyed.stats(); // forgets them: the first operation after the refill
  const after = heapAfterGc() - baseline;

  const naiveBaseline = heapAfterGc();
  const buckets = new Map<number, TokenBucket>();
  await through(keys, mapOfBuckets(buckets, { ...limits, scheduler: clock }))();
  clock.time += refillMs;
  const naiveAfter = heapAfterGc() - naiveBaseline;
  const naiveKeys = buckets.size;
  buckets.clear();

  const groupBaseline = heapAfterGc();
  let groups = 0;
  // Held open (concat NEVER): a completed source would close every group before the measurement.
  const groupSubscription = concat(range(0, groupKeys), NEVER)
    .pipe(groupByThrottle({ ...limits, scheduler: clock }))
    .subscribe(() => groups++);
  const groupHeld = heapAfterGc() - groupBaseline;
  groupSubscription.unsubscribe();

  checkSinkReached();
  const perHeldKey = peak / Math.max(heldKeys, 1);
  const memoryRows: BenchRow[] = [
    {
      subject: 'heap: perKey (KeyedBuckets), all keys refilling',
      metrics: { keys: heldKeys, 'heap MB': significant(peak / MB), 'bytes/key': Math.round(perHeldKey) },
    },
    {
      subject: 'heap: perKey (KeyedBuckets), once refilled (after stats())',
      metrics: { keys: afterStats.keys, 'heap MB': significant(after / MB), 'bytes/key': '—' },
    },
    {
      subject: 'heap: Map of TokenBuckets, once refilled',
      metrics: { keys: naiveKeys, 'heap MB': significant(naiveAfter / MB), 'bytes/key': Math.round(naiveAfter / naiveKeys) },
    },
    {
      subject: 'heap: groupBy + throttleByTokens, groups open',
      metrics: { keys: groups, 'heap MB': significant(groupHeld / MB), 'bytes/key': Math.round(groupHeld / groupKeys) },
    },
  ];

  return {
    id: 'perKey',
    title: `perKey at scale: ${keys.toLocaleString('en-US')} distinct keys (time per value; heap held, then released)`,
    rows: [...rows, ...memoryRows],
    ratios: [
      { label: 'perKey ÷ map, every value a new key, all held', value: significant(nsOf('perKey, every value a new key, all') / floorNs) },
      {
        label: `perKey ÷ map, every value a new key, ${churnWindow.toLocaleString('en-US')} held`,
        value: significant(nsOf('perKey, every value a new key, 1') / floorNs),
      },
      atMost(
        'perKey ÷ Map of TokenBuckets, every value a new key, all held',
        nsOf('perKey, every value a new key, all') / nsOf('Map of TokenBuckets'),
        1,
        '×',
      ),
      {
        label: 'groupBy + throttleByTokens ÷ perKey (per value)',
        value: significant(nsOf('groupBy + throttleByTokens') / nsOf('perKey, every value a new key, all')),
      },
      atMost('perKey heap once refilled − baseline', significant(after / MB), 1, ' MB'),
      { label: 'perKey heap per refilling key', value: Math.round(perHeldKey), target: 'bytes' },
      { label: 'Map of TokenBuckets heap once refilled', value: significant(naiveAfter / MB), target: 'MB (never released)' },
    ],
    notes: [
      `Medians of ${runs} interleaved rounds (naive peers: ${naiveRuns}); source \`range(0, n)\`, key = value, one token per key ` +
        `refilled over ${refillMs} ms of a hand-driven clock; map floor ${significant(floorNs)} ns/value.`,
      `Heap: \`heapUsed\` after a full GC${canCollectGarbage ? '' : ' (NOT available: run with --expose-gc)'}, minus a baseline taken just before; ` +
        `perKey's with all ${heldKeys.toLocaleString('en-US')} keys held, then after the clock moved ${refillMs} ms and \`stats()\` forgot the refilled keys.`,
      'A forgotten key is exactly a fresh one (full, nothing waiting), so forgetting changes no emission; it needs no timer.',
      ...[...subjects, ...naive].filter((subject) => subject.note !== undefined).map((subject) => `${subject.name}: ${subject.note}.`),
    ],
  };
};

export default suite;
