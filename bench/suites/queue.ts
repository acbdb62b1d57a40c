/**
 * Everything waiting: many values queued at once on one limiter of capacity 1.
 *
 * - Heap: bytes per waiting value after a full GC, with a limit so slow (1 per hour) that
 *   nothing drains while it is measured; the library and each peer hold the same number
 *   of waiting values, each with the same continuation (deliver the number to a sink).
 * - Drain: capacity 1, 1e6 per second; values delivered per second of real time until all
 *   are delivered or a time window closes; and the timers created meanwhile (the bench
 *   child wraps setTimeout/setInterval to count them), with the most alive at once.
 */
import Bottleneck from 'bottleneck';
import { TokenBucket as LimiterTokenBucket } from 'limiter';
import PQueue from 'p-queue';
import { concat, concatMap, ignoreElements, mergeMap, of, range, timer } from 'rxjs';
import { throttleByTokens } from '../../src/operators/throttleByTokens';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import {
  atMost,
  collectGarbage,
  heapAfterGc,
  median,
  runIsolated,
  significant,
  sleep,
  trace,
  type BenchRatio,
  type BenchRow,
  type BenchSuite,
} from '../harness';
import { RxjsRateLimiter } from '../peers';
import { resetTimerCounts, setTimerCounting, timerCounts } from '../timerProbe';

/** Values queued by one subject; `stop` withdraws whatever still waits. */
interface Queued {
  stop(): Promise<void>;
}

interface QueueSubject {
  readonly name: string;
  /**
   * False when what it queued cannot be withdrawn promptly (it would keep running timers
   * into the next measurement): such a subject is measured in a fresh process each time.
   */
  readonly withdrawable: boolean;
  /** Queues `count` values at once on a fresh limiter of capacity 1 refilled `perSecond`, each delivered to `sink`. */
  start(count: number, perSecond: number, sink: (value: number) => void): Queued;
  readonly note?: string;
}

const OURS = 'throttleByTokens (TokenBucket)';
const P_QUEUE = 'p-queue (intervalCap 1)';
const LIMITER = 'limiter TokenBucket.removeTokens';

const subjects: QueueSubject[] = [
  {
    name: OURS,
    withdrawable: true,
    start(count, perSecond, sink) {
      const bucket = new TokenBucket({ capacity: 1, refillRate: perSecond });
      const subscription = range(0, count).pipe(throttleByTokens<number>(bucket)).subscribe(sink);
      return { stop: async () => subscription.unsubscribe() };
    },
  },
  {
    name: 'throttleByTokens (capacity 1000)',
    withdrawable: true,
    start(count, perSecond, sink) {
      // Not the same limit: bursts of up to a millisecond's refill (at 1e6/s) are allowed.
      const bucket = new TokenBucket({ capacity: Math.max(1, perSecond / 1000), refillRate: perSecond });
      bucket.tryTake(bucket.capacity); // start empty-handed like capacity 1 after its first grant
      const subscription = range(0, count).pipe(throttleByTokens<number>(bucket)).subscribe(sink);
      return { stop: async () => subscription.unsubscribe() };
    },
    note: 'capacity = one millisecond of refill (1000 at 1e6/s): a looser limit than the others, shown for the drain rate a timer-driven bucket reaches once a timer turn’s refill fits in it',
  },
  {
    name: P_QUEUE,
    withdrawable: true,
    start(count, perSecond, sink) {
      const queue = new PQueue({ intervalCap: 1, interval: 1000 / perSecond });
      for (let i = 0; i < count; i++) void queue.add(() => sink(i));
      return {
        stop: async () => {
          queue.clear();
          await queue.onIdle();
        },
      };
    },
    note: 'fixed window of `1000 / rate` ms holding one job: the same limit as capacity 1',
  },
  {
    name: 'bottleneck (minTime)',
    withdrawable: false,
    start(count, perSecond, sink) {
      const limiter = new Bottleneck({ minTime: 1000 / perSecond });
      for (let i = 0; i < count; i++) void limiter.schedule(async () => sink(i));
      return { stop: async () => void limiter.stop({ dropWaitingJobs: true }) };
    },
    note: 'bottleneck takes jobs in through a lock that yields a 0 ms timer per job, so most are still being submitted while they wait',
  },
  {
    name: 'rxjs-ratelimiter (mergeMap + limit)',
    withdrawable: true,
    start(count, perSecond, sink) {
      const limiter = new RxjsRateLimiter(1, 1000 / perSecond);
      const subscription = range(0, count)
        .pipe(mergeMap((value) => limiter.limit(of(value))))
        .subscribe(sink);
      return { stop: async () => subscription.unsubscribe() };
    },
    note: 'a `delay` timer per waiting value',
  },
  {
    name: 'concatMap + timer (emit, then wait)',
    withdrawable: true,
    start(count, perSecond, sink) {
      const gap = 1000 / perSecond;
      const subscription = range(0, count)
        .pipe(concatMap((value) => concat(of(value), timer(gap).pipe(ignoreElements()))))
        .subscribe(sink);
      return { stop: async () => subscription.unsubscribe() };
    },
    note: 'the hand-made throttle: `concatMap` buffers waiting values in an array, the floor for memory',
  },
  {
    name: LIMITER,
    withdrawable: false,
    start(count, perSecond, sink) {
      const bucket = new LimiterTokenBucket({ bucketSize: 1, tokensPerInterval: perSecond, interval: 1000 });
      bucket.content = 1; // it starts empty; start it full like the others
      for (let i = 0; i < count; i++) void bucket.removeTokens(1).then(() => sink(i));
      return {
        stop: async () => {
          // No way to withdraw a waiter: make the bucket unlimited so each retry resolves when its timer fires.
          bucket.bucketSize = 0;
          await sleep(20);
        },
      };
    },
    note: 'a timer per waiting call, each retrying when it fires (the README warns of this under load)',
  },
];

interface HeapSample {
  bytesPerValue: number;
  waiting: number;
  enqueueNsPerValue: number;
}

/**
 * The heap phase's rate: slow enough that nothing drains while it is measured, fast enough
 * that the 100 000th value's wait (1e9 ms) stays below setTimeout's 2^31−1 ms: peers that
 * give each value its own timer would otherwise have Node clamp it to 1 ms and run it early.
 */
const HEAP_RATE = 0.1;

/** Heap held per waiting value, with a limit so slow that nothing drains while it is measured. */
async function measureHeap(subject: QueueSubject, count: number, withdraw = true): Promise<HeapSample> {
  let delivered = 0;
  const sink = () => {
    delivered++;
  };
  setTimerCounting(false); // the probe's own bookkeeping would count as the subject's heap
  const before = heapAfterGc();
  const start = performance.now();
  const queued = subject.start(count, HEAP_RATE, sink);
  const enqueueMs = performance.now() - start;
  const after = heapAfterGc();
  const waiting = count - delivered;
  if (withdraw) await queued.stop();
  setTimerCounting(true);
  collectGarbage();
  return { bytesPerValue: (after - before) / waiting, waiting, enqueueNsPerValue: (enqueueMs * 1e6) / count };
}

interface DrainSample {
  perSecond: number;
  delivered: number;
  /** Time to queue them all (the window opens after it). */
  enqueueMs: number;
  /** From the first value queued to the last delivered, or to the window's end (the rate counts from `enqueueMs` on). */
  elapsedMs: number;
  timersCreated: number;
  maxLiveTimers: number;
  /** Deliveries out of queue order. */
  reordered: number;
}

/** Capacity 1 at 1e6/s: delivery rate in real time, and the timers it takes. */
async function measureDrain(subject: QueueSubject, count: number, windowMs: number, withdraw = true): Promise<DrainSample> {
  let delivered = 0;
  let reordered = 0;
  let highest = -1;
  let finishedAt = Number.NaN;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const sink = (value: number) => {
    if (value < highest) reordered++;
    else highest = value;
    if (++delivered === count) {
      finishedAt = performance.now();
      finish();
    }
  };
  collectGarbage();
  const liveBefore = timerCounts().live;
  resetTimerCounts();
  const start = performance.now();
  const queued = subject.start(count, 1e6, sink);
  // The window opens once everything is queued (enqueueing is measured on its own in the heap
  // phase); its own timer is not counted against the subject.
  const enqueued = performance.now();
  setTimerCounting(false);
  const windowClosed = sleep(windowMs);
  setTimerCounting(true);
  await Promise.race([finished, windowClosed]);
  const end = Number.isNaN(finishedAt) ? performance.now() : finishedAt;
  const counts = timerCounts();
  const deliveredInWindow = delivered;
  if (withdraw) {
    await queued.stop();
    await windowClosed;
  }
  return {
    perSecond: (deliveredInWindow / Math.max(end - enqueued, 1e-3)) * 1000,
    delivered: deliveredInWindow,
    enqueueMs: enqueued - start,
    elapsedMs: end - start,
    timersCreated: counts.created,
    maxLiveTimers: counts.maxLive - liveBefore,
    reordered,
  };
}

const subjectNamed = (name: string): QueueSubject => {
  const subject = subjects.find((candidate) => candidate.name === name);
  if (subject === undefined) throw new RangeError(`no queue subject ${JSON.stringify(name)}`);
  return subject;
};

/** `measureHeap` alone in a fresh process (called there through `runIsolated`). */
export const isolatedHeap = (name: string, count: number) => measureHeap(subjectNamed(name), count, false);
/** `measureDrain` alone in a fresh process (called there through `runIsolated`). */
export const isolatedDrain = (name: string, count: number, windowMs: number) => measureDrain(subjectNamed(name), count, windowMs, false);

const suite: BenchSuite = async ({ quick, runs }) => {
  const heapCount = quick ? 10_000 : 100_000;
  const drainCount = quick ? 5_000 : 100_000;
  const windowMs = quick ? 300 : 2_000;
  const heapRuns = Math.min(runs, 3);

  // bottleneck rejects the jobs it drops on stop(); nobody awaits them here.
  let droppedRejections = 0;
  process.on('unhandledRejection', (reason) => {
    if (reason instanceof Bottleneck.BottleneckError) droppedRejections++;
    else throw reason;
  });

  const heap = new Map<string, HeapSample[]>(subjects.map((subject) => [subject.name, []]));
  const drain = new Map<string, DrainSample[]>(subjects.map((subject) => [subject.name, []]));
  // A fresh process per measurement costs about a second, so quick mode measures those subjects once.
  const isolatedRuns = (wanted: number) => (quick ? 1 : wanted);
  for (let run = 0; run < heapRuns; run++) {
    for (const subject of subjects) {
      if (!subject.withdrawable && run >= isolatedRuns(heapRuns)) continue;
      const sample = subject.withdrawable
        ? await measureHeap(subject, heapCount)
        : await runIsolated<HeapSample>('suites/queue.ts', 'isolatedHeap', [subject.name, heapCount]);
      trace(`[heap ${run + 1}] ${subject.name}: ${JSON.stringify(sample)}`);
      heap.get(subject.name)!.push(sample);
    }
  }
  for (let run = 0; run < runs; run++) {
    for (const subject of subjects) {
      if (!subject.withdrawable && run >= isolatedRuns(runs)) continue;
      const sample = subject.withdrawable
        ? await measureDrain(subject, drainCount, windowMs)
        : await runIsolated<DrainSample>('suites/queue.ts', 'isolatedDrain', [subject.name, drainCount, windowMs]);
      trace(`[drain ${run + 1}] ${subject.name}: ${JSON.stringify(sample)}`);
      drain.get(subject.name)!.push(sample);
    }
  }

  const medianOf = <S>(samples: readonly S[], pick: (sample: S) => number) => median(samples.map(pick));
  const rows: BenchRow[] = subjects.map((subject) => {
    const heapSamples = heap.get(subject.name)!;
    const drainSamples = drain.get(subject.name)!;
    return {
      subject: subject.name,
      metrics: {
        'B / waiting value': significant(medianOf(heapSamples, (s) => s.bytesPerValue)),
        'enqueue ns/value': significant(medianOf(heapSamples, (s) => s.enqueueNsPerValue)),
        'drained / s': significant(medianOf(drainSamples, (s) => s.perSecond)),
        'drained in window': Math.round(medianOf(drainSamples, (s) => s.delivered)),
        'timers created': Math.round(medianOf(drainSamples, (s) => s.timersCreated)),
        'timers created / value': significant(medianOf(drainSamples, (s) => s.timersCreated / Math.max(1, s.delivered))),
        'max live timers': Math.max(...drainSamples.map((s) => s.maxLiveTimers)),
        reordered: Math.max(...drainSamples.map((s) => s.reordered)),
      },
    };
  });
  const metric = (name: string, key: string) => Number(rows.find((row) => row.subject === name)!.metrics[key]);

  const ratios: BenchRatio[] = [
    atMost('throttleByTokens heap per waiting value', metric(OURS, 'B / waiting value'), 120, ' B'),
    atMost('throttleByTokens max live timers per bucket', metric(OURS, 'max live timers'), 1),
    {
      label: 'p-queue heap ÷ throttleByTokens heap',
      value: significant(metric(P_QUEUE, 'B / waiting value') / metric(OURS, 'B / waiting value')),
    },
    {
      label: 'limiter heap ÷ throttleByTokens heap',
      value: significant(metric(LIMITER, 'B / waiting value') / metric(OURS, 'B / waiting value')),
    },
    { label: 'throttleByTokens drain rate ÷ p-queue', value: significant(metric(OURS, 'drained / s') / metric(P_QUEUE, 'drained / s')) },
    { label: 'throttleByTokens drain rate ÷ configured 1e6/s', value: significant(metric(OURS, 'drained / s') / 1e6) },
  ];

  return {
    id: 'queue',
    title: 'Everything waiting: values queued at once on one limiter of capacity 1',
    rows,
    ratios,
    notes: [
      `Heap: ${heapCount.toLocaleString('en-US')} values queued at once, capacity 1 and 1 per 10 s (nothing drains), ` +
        `\`heapUsed\` after \`gc()\` before and after, divided by the values still waiting; median of ${heapRuns}.`,
      `Drain: ${drainCount.toLocaleString('en-US')} values, capacity 1, 1e6/s; delivered per second from the moment all are queued until all are delivered ` +
        `or ${windowMs} ms have passed; ` +
        `timers counted while draining; median of ${runs} runs (max live timers and reordered: worst run).`,
      'A limiter that clamps its count to capacity 1 while values wait, and waits on timers, delivers about one value per timer turn (≥ 1 ms in Node) however high the rate.',
      `${subjects
        .filter((subject) => !subject.withdrawable)
        .map((subject) => subject.name)
        .join(' and ')}: what they queue cannot be withdrawn, ` +
        `so each of their measurements runs in a fresh process${quick ? ' (once, in quick mode)' : ''}.`,
      ...subjects.filter((subject) => subject.note !== undefined).map((subject) => `${subject.name}: ${subject.note}.`),
      ...(droppedRejections > 0
        ? [`bottleneck rejected ${droppedRejections.toLocaleString('en-US')} dropped jobs on stop() (expected).`]
        : []),
    ],
  };
};

export default suite;
