/**
 * Overhead when tokens are plentiful: what it costs to pass a value through the limiter
 * when nothing ever waits. The floor is `range(0, N).pipe(map(identity))`; every subject
 * does the same work (N numbers from the same source into the same sink) and is timed in
 * the same rounds, interleaved, so the headline is a ratio of medians from one run.
 */
import Bottleneck from 'bottleneck';
import { RateLimiter as LimiterRateLimiter, TokenBucket as LimiterTokenBucket } from 'limiter';
import PQueue from 'p-queue';
import {
  concatMap,
  delay,
  distinctUntilChanged,
  filter,
  map,
  mergeMap,
  of,
  range,
  scan,
  skip,
  takeWhile,
  tap,
  timer,
  type OperatorFunction,
} from 'rxjs';
import { RxjsRateLimiter } from '../peers';
import { throttleByTokens } from '../../src/operators/throttleByTokens';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { atMost, median, significant, timeInterleaved, type BenchRow, type BenchSuite, type Timed } from '../harness';
import { checkSinkReached, sink, through } from '../pipeThrough';

/** So many tokens that no subject ever runs short within a benchmark. */
const PLENTY = 1e12;

/**
 * The throttle people write by hand: a token bucket kept in a closure, `of(value)` when
 * the tokens are there and a `timer` otherwise, serialised by `concatMap`.
 */
function handMadeTokenBucket(capacity: number, perMs: number): OperatorFunction<number, number> {
  let tokens = capacity;
  let last = performance.now();
  return concatMap((value: number) => {
    const now = performance.now();
    tokens = Math.min(capacity, tokens + (now - last) * perMs);
    last = now;
    if (tokens >= 1) {
      tokens--;
      return of(value);
    }
    const wait = (1 - tokens) / perMs;
    tokens = 0;
    last = now + wait;
    return timer(wait).pipe(map(() => value));
  });
}

/** `count` jobs added at once to a p-queue in interval mode with room for all, awaited together. */
function viaPQueue(count: number): () => Promise<void> {
  return async () => {
    const queue = new PQueue({ interval: 1000, intervalCap: Number.MAX_SAFE_INTEGER });
    for (let i = 0; i < count; i++) void queue.add(() => sink(i));
    await queue.onIdle();
  };
}

/** `count` jobs scheduled at once on a bottleneck without limits, awaited together. */
function viaBottleneck(count: number): () => Promise<void> {
  return async () => {
    const limiter = new Bottleneck();
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < count; i++) jobs.push(limiter.schedule(async () => sink(i)));
    await Promise.all(jobs);
  };
}

/**
 * Runs values through a pipe of several different operators first. Every RxJS operator
 * shares `OperatorSubscriber`; in a process where it has seen only `map`, V8 may compile a
 * monomorphic fast path for it (or not, by the luck of timing: the floor then swings by half
 * between runs). Any real application uses several operators, so the floor is measured in
 * that state, the same for every subject.
 */
function warmSharedInternals(): void {
  for (let round = 0; round < 20; round++) {
    range(0, 100_000)
      .pipe(
        map((value) => value + 1),
        filter((value) => value >= 0),
        tap(() => undefined),
        scan((sum, value) => sum + value, 0),
        distinctUntilChanged(),
        skip(1),
        takeWhile(() => true),
      )
      .subscribe(sink);
  }
}

interface Subject extends Timed {
  readonly count: number;
  readonly note?: string;
}

/** A subject passing `count` values through `operator`, warmed up on a tenth of them. */
function piped(name: string, count: number, operator: OperatorFunction<number, number>, note?: string): Subject {
  return {
    name,
    count,
    run: through(count, operator),
    warmUp: through(Math.ceil(count / 10), operator),
    ...(note === undefined ? {} : { note }),
  };
}

const FLOOR = 'map (floor)';
const OURS = 'throttleByTokens(shared TokenBucket)';
const OURS_PRIORITY = 'throttleByTokens(shared TokenBucket, priority: 1)';
const OURS_PRIORITY_FN = 'throttleByTokens(shared TokenBucket, priority: () => 1)';
const LIMITER = 'limiter TokenBucket.tryRemoveTokens (in filter)';
const P_QUEUE = 'p-queue, interval mode (add × n, onIdle)';
/** Rounds of the cheap subjects per requested run (3 in quick mode). */
const FAST_ROUNDS_PER_RUN = 5;

/** One row per subject: medians, and the median over rounds of its per-value time ÷ the floor's in that round. */
function tabulate(subjects: readonly Subject[], times: Map<string, number[]>): BenchRow[] {
  const floorTimes = times.get(FLOOR)!;
  const floorCount = subjects.find((subject) => subject.name === FLOOR)!.count;
  return subjects.map((subject) => {
    const samples = times.get(subject.name)!;
    const ms = median(samples);
    const perRound = samples.map((time, round) => time / subject.count / (floorTimes[round]! / floorCount));
    return {
      subject: subject.name,
      metrics: {
        values: subject.count,
        'median ms': significant(ms),
        'min ms': significant(Math.min(...samples)),
        'ns/value': significant((ms * 1e6) / subject.count),
        '× map': significant(median(perRound)),
      },
    };
  });
}

const suite: BenchSuite = async ({ quick, runs }) => {
  const N = 1_000_000;
  // Promise-based peers and per-value timers are orders of magnitude slower; they run on
  // fewer values (same shape of work) and are compared per value.
  const asyncCount = quick ? 10_000 : 200_000;
  const timerCount = quick ? 50 : 400;
  // Quick mode (CI) also shortens the slowest synchronous peers; compare them per value.
  const slowSyncCount = quick ? 200_000 : N;

  const bucket = new TokenBucket({ capacity: PLENTY, refillRate: PLENTY });
  const limiterBucket = new LimiterTokenBucket({ bucketSize: PLENTY, tokensPerInterval: PLENTY, interval: 'second' });
  limiterBucket.content = PLENTY; // it starts empty; start it full like the others
  const limiterRateLimiter = new LimiterRateLimiter({ tokensPerInterval: PLENTY, interval: 'second' });
  const rxjsRateLimiter = new RxjsRateLimiter(PLENTY, 1000);

  const floor = piped(
    FLOOR,
    N,
    map((value) => value),
  );
  // Cheap subjects: many rounds, for a steady median on a noisy machine.
  const fastSubjects: Subject[] = [
    floor,
    piped(OURS, N, throttleByTokens<number>(bucket)),
    piped('throttleByTokens(options: a bucket per subscription)', N, throttleByTokens<number>({ capacity: PLENTY, refillRate: PLENTY })),
    piped(
      OURS_PRIORITY,
      N,
      throttleByTokens<number>(bucket, { priority: 1 }),
      'a constant priority: what a pipe that sets one pays on the fast path (the priority matters only once values wait)',
    ),
    piped(
      OURS_PRIORITY_FN,
      N,
      throttleByTokens<number>(bucket, { priority: () => 1 }),
      'a priority function, called and checked for every value',
    ),
    piped(
      'filter(() => TokenBucket.tryTake())',
      N,
      filter(() => bucket.tryTake()),
      'this library’s synchronous API, in the same pipe shape as the limiter rows',
    ),
    piped(
      LIMITER,
      N,
      filter(() => limiterBucket.tryRemoveTokens(1)),
    ),
  ];
  // Expensive subjects: `runs` rounds, each with the floor timed again beside them.
  const slowSubjects: Subject[] = [
    floor,
    piped(
      'limiter RateLimiter.tryRemoveTokens (in filter)',
      N,
      filter(() => limiterRateLimiter.tryRemoveTokens(1)),
    ),
    piped('hand-made concatMap token bucket (of / timer)', slowSyncCount, handMadeTokenBucket(PLENTY, PLENTY / 1000)),
    piped(
      'rxjs-ratelimiter (mergeMap + limit(of(v)))',
      slowSyncCount,
      mergeMap((value: number) => rxjsRateLimiter.limit(of(value))),
    ),
    {
      name: P_QUEUE,
      count: asyncCount,
      run: viaPQueue(asyncCount),
      warmUp: viaPQueue(asyncCount / 10),
    },
    {
      name: 'bottleneck (schedule × n, no limits)',
      count: timerCount,
      run: viaBottleneck(timerCount),
      warmUp: viaBottleneck(timerCount / 10),
      note: 'its local store yields to the event loop with a 0 ms timer on every submit and register, so each job costs timer turns',
    },
    piped(
      'concatMap + delay(0)',
      timerCount,
      concatMap((value: number) => of(value).pipe(delay(0))),
      'a timer per value: Node runs a 0 ms timer after ≥ 1 ms',
    ),
  ];

  warmSharedInternals();
  const fastRounds = runs * (quick ? 3 : FAST_ROUNDS_PER_RUN);
  const rows: BenchRow[] = [
    ...tabulate(fastSubjects, await timeInterleaved(fastSubjects, fastRounds)),
    ...tabulate(slowSubjects, await timeInterleaved(slowSubjects, runs)).filter((row) => row.subject !== FLOOR),
  ];
  const ratioOf = (name: string) => Number(rows.find((row) => row.subject === name)!.metrics['× map']);
  checkSinkReached();
  const floorNsPerValue = Number(rows.find((row) => row.subject === FLOOR)!.metrics['ns/value']);

  return {
    id: 'overhead',
    title: 'Overhead with plentiful tokens (ratio to `map` on the same source)',
    rows,
    ratios: [
      atMost('throttleByTokens(shared bucket) ÷ map, 1e6 values', ratioOf(OURS), 1.2, '×'),
      {
        label: 'throttleByTokens(priority: 1) ÷ throttleByTokens (no priority)',
        value: significant(ratioOf(OURS_PRIORITY) / ratioOf(OURS)),
      },
      {
        label: 'throttleByTokens(priority: () => 1) ÷ throttleByTokens (no priority)',
        value: significant(ratioOf(OURS_PRIORITY_FN) / ratioOf(OURS)),
      },
      { label: 'limiter TokenBucket.tryRemoveTokens ÷ throttleByTokens', value: significant(ratioOf(LIMITER) / ratioOf(OURS)) },
      { label: 'p-queue ÷ throttleByTokens (per value)', value: significant(ratioOf(P_QUEUE) / ratioOf(OURS)) },
    ],
    notes: [
      `Source \`range(0, n)\` into a counting sink. Before timing, values run once through a pipe of seven different operators, ` +
        'as in any application, so RxJS’s shared `OperatorSubscriber` is in the same (polymorphic) state for every subject ' +
        '(otherwise the `map` floor swings between two speeds from run to run). ' +
        `Subjects are timed in interleaved rounds after one warm-up each: ` +
        `the ${N.toLocaleString('en-US')}-value subjects ${fastRounds} rounds, the slower peers ${runs} (with \`map\` timed again beside them). ` +
        `\`× map\` is the median over rounds of the subject's time per value ÷ \`map\`'s in the same round; map floor ${significant(floorNsPerValue)} ns/value.`,
      `Subjects run ${N.toLocaleString('en-US')} values per round unless the \`values\` column says fewer (the slowest, so the run stays short); ` +
        'compare those per value (`ns/value`, `× map`).',
      ...[...fastSubjects, ...slowSubjects]
        .filter((subject) => subject.note !== undefined)
        .map((subject) => `${subject.name}: ${subject.note}.`),
    ],
  };
};

export default suite;
