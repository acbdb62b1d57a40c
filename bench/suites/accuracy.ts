/**
 * Real-time accuracy with each library's default clock and timers: `count` values arrive at
 * once and must leave at 200/s with capacity 1, i.e. the k-th emission at t0 + 5k ms.
 * For each emission: lateness against that ideal instant; "early" when more than 0.5 ms
 * before it (the limit was exceeded); "reordered" when a value leaves after a later one.
 */
import Bottleneck from 'bottleneck';
import { TokenBucket as LimiterTokenBucket } from 'limiter';
import os from 'node:os';
import { concat, concatMap, delay, ignoreElements, mergeMap, of, range, timer } from 'rxjs';
import { throttleByTokens } from '../../src/operators/throttleByTokens';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { atMost, collectGarbage, median, percentile, significant, sleep, trace, type BenchRow, type BenchSuite } from '../harness';
import { RxjsRateLimiter } from '../peers';

const RATE = 200; // per second
const GAP = 1000 / RATE; // ms between emissions
const EARLY = 0.5; // ms

interface Started {
  /** Withdraws whatever still waits (a no-op where the library cannot). */
  stop(): void;
}

interface AccuracySubject {
  readonly name: string;
  /**
   * Where its k-th emission belongs, in gaps after t0: 0 for a limiter that lets the first
   * value through at once; 1 for `delay`, which holds every value (the first included) one gap.
   */
  readonly offsetGaps: number;
  start(count: number, emit: (value: number) => void): Started;
  readonly note?: string;
}

const OURS = 'throttleByTokens (TokenBucket)';

const subjects: AccuracySubject[] = [
  {
    name: OURS,
    offsetGaps: 0,
    start(count, emit) {
      const bucket = new TokenBucket({ capacity: 1, refillRate: RATE });
      const subscription = range(0, count).pipe(throttleByTokens<number>(bucket)).subscribe(emit);
      return { stop: () => subscription.unsubscribe() };
    },
  },
  {
    name: 'bottleneck (minTime 5)',
    offsetGaps: 0,
    start(count, emit) {
      const limiter = new Bottleneck({ minTime: GAP });
      for (let i = 0; i < count; i++) void limiter.schedule(async () => emit(i)).catch(() => {});
      return { stop: () => void limiter.stop({ dropWaitingJobs: true }) };
    },
  },
  {
    name: 'rxjs-ratelimiter (1 per 5 ms)',
    offsetGaps: 0,
    start(count, emit) {
      const limiter = new RxjsRateLimiter(1, GAP);
      const subscription = range(0, count)
        .pipe(mergeMap((value) => limiter.limit(of(value))))
        .subscribe(emit);
      return { stop: () => subscription.unsubscribe() };
    },
  },
  {
    name: 'limiter TokenBucket (1, 200/s)',
    offsetGaps: 0,
    start(count, emit) {
      const bucket = new LimiterTokenBucket({ bucketSize: 1, tokensPerInterval: RATE, interval: 'second' });
      bucket.content = 1; // it starts empty; start it full like the others
      for (let i = 0; i < count; i++) void bucket.removeTokens(1).then(() => emit(i));
      // Cannot withdraw a waiter: an unlimited bucket lets each one through when its timer fires.
      return { stop: () => void (bucket.bucketSize = 0) };
    },
  },
  {
    name: 'concatMap + delay(5)',
    offsetGaps: 1,
    start(count, emit) {
      const subscription = range(0, count)
        .pipe(concatMap((value) => of(value).pipe(delay(GAP))))
        .subscribe(emit);
      return { stop: () => subscription.unsubscribe() };
    },
    note: 'each value is delayed 5 ms after the previous one left, so timer lateness accumulates; its ideal is shifted one gap (the first value waits too)',
  },
  {
    name: 'concatMap + timer (emit, then wait 5)',
    offsetGaps: 0,
    start(count, emit) {
      const subscription = range(0, count)
        .pipe(concatMap((value) => concat(of(value), timer(GAP).pipe(ignoreElements()))))
        .subscribe(emit);
      return { stop: () => subscription.unsubscribe() };
    },
    note: 'also waits after each emission rather than against a clock, so lateness accumulates',
  },
];

interface AccuracySample {
  emitted: number;
  medianLateMs: number;
  p99LateMs: number;
  maxLateMs: number;
  early: number;
  reordered: number;
  load1: number;
}

async function measure(subject: AccuracySubject, count: number): Promise<AccuracySample> {
  const times = new Float64Array(count);
  const values = new Int32Array(count);
  let emitted = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const emit = (value: number) => {
    if (emitted < count) {
      times[emitted] = performance.now();
      values[emitted] = value;
    }
    if (++emitted === count) done();
  };
  collectGarbage();
  const load1 = os.loadavg()[0]!;
  const t0 = performance.now();
  const started = subject.start(count, emit);
  // Generous: 3x the ideal duration, plus 2 s.
  await Promise.race([finished, sleep(3 * count * GAP + 2000)]);
  started.stop();

  const n = Math.min(emitted, count);
  const lateness: number[] = [];
  let early = 0;
  let reordered = 0;
  let highest = -1;
  for (let k = 0; k < n; k++) {
    const late = times[k]! - (t0 + (k + subject.offsetGaps) * GAP);
    lateness.push(late);
    if (late < -EARLY) early++;
    if (values[k]! < highest) reordered++;
    else highest = values[k]!;
  }
  await sleep(20); // let a withdrawn peer's last timers pass before the next subject
  return {
    emitted: n,
    medianLateMs: median(lateness),
    p99LateMs: percentile(lateness, 99),
    maxLateMs: Math.max(...lateness),
    early,
    reordered,
    load1,
  };
}

const suite: BenchSuite = async ({ quick, runs }) => {
  const count = quick ? 100 : 1000;
  const samples = new Map<string, AccuracySample[]>(subjects.map((subject) => [subject.name, []]));
  const loadBefore = os.loadavg()[0]!;
  // Round by round, so a burst of load from other processes falls on every subject alike.
  for (let run = 0; run < runs; run++) {
    for (const subject of subjects) {
      const sample = await measure(subject, count);
      trace(`[run ${run + 1}] ${subject.name}: ${JSON.stringify(sample)}`);
      samples.get(subject.name)!.push(sample);
    }
  }
  const loadAfter = os.loadavg()[0]!;

  const rows: BenchRow[] = subjects.map((subject) => {
    const mine = samples.get(subject.name)!;
    const mid = (pick: (sample: AccuracySample) => number) => significant(median(mine.map(pick)));
    return {
      subject: subject.name,
      metrics: {
        emitted: `${Math.min(...mine.map((s) => s.emitted))}/${count}`,
        'median late ms': mid((s) => s.medianLateMs),
        'p99 late ms': mid((s) => s.p99LateMs),
        'max late ms': mid((s) => s.maxLateMs),
        'early (worst run)': Math.max(...mine.map((s) => s.early)),
        'reordered (worst run)': Math.max(...mine.map((s) => s.reordered)),
      },
    };
  });
  const ours = rows.find((row) => row.subject === OURS)!.metrics;
  const peers = rows.filter((row) => row.subject !== OURS);
  const bestP99 = (candidates: readonly BenchRow[]) =>
    Math.min(...candidates.map((row) => Number(row.metrics['p99 late ms'])).filter((p99) => p99 > 0));
  const bestPeerP99 = bestP99(peers);
  // A peer can look punctual by letting values out early or out of order; compare with the ones that do neither too.
  const bestCorrectPeerP99 = bestP99(
    peers.filter((row) => row.metrics['early (worst run)'] === 0 && row.metrics['reordered (worst run)'] === 0),
  );

  return {
    id: 'accuracy',
    title: `Real-time accuracy: ${count} values at ${RATE}/s, capacity 1, default clock and timers`,
    rows,
    ratios: [
      atMost('throttleByTokens early emissions (> 0.5 ms), worst run', Number(ours['early (worst run)']), 0),
      atMost('throttleByTokens reordered emissions, worst run', Number(ours['reordered (worst run)']), 0),
      atMost('throttleByTokens p99 lateness (idle machine)', Number(ours['p99 late ms']), 2, ' ms'),
      { label: 'best peer p99 ÷ throttleByTokens p99', value: significant(bestPeerP99 / Math.max(Number(ours['p99 late ms']), 0.001)) },
      {
        label: 'best peer with 0 early and 0 reordered: p99 ÷ throttleByTokens p99',
        value: significant(bestCorrectPeerP99 / Math.max(Number(ours['p99 late ms']), 0.001)),
      },
    ],
    notes: [
      `${count} values arrive at once; the k-th emission belongs at t0 + ${GAP}k ms. Lateness is measured per emission ` +
        `(negative = early); medians over ${runs} rounds, subjects interleaved; early and reordered are the worst round.`,
      `Load average (1 min) during the suite: ${loadBefore.toFixed(2)} → ${loadAfter.toFixed(2)} on ${os.cpus().length} cores; ` +
        'the p99 target assumes an idle machine, and lateness on a loaded one mostly measures the wait for a CPU.',
      ...subjects.filter((subject) => subject.note !== undefined).map((subject) => `${subject.name}: ${subject.note}.`),
    ],
  };
};

export default suite;
