/**
 * The Promise API when tokens are plentiful: what one grant costs through `acquire` and
 * `execute` when nothing ever waits, beside the peers' Promise APIs doing the same work:
 * limiter's `removeTokens` (a promise of tokens: `acquire`'s peer) and p-queue's `add(fn)`
 * (runs a function: `execute`'s peer). Every subject grants N times and delivers each grant
 * to the same counting sink, in two shapes: one grant at a time (`await` each) and N at once
 * (`Promise.all`). All subjects of both shapes are timed in the same interleaved rounds, so
 * every headline is a ratio of times taken in the same round.
 */
import { TokenBucket as LimiterTokenBucket } from 'limiter';
import PQueue from 'p-queue';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { median, significant, timeInterleaved, type BenchRatio, type BenchRow, type BenchSuite, type Timed } from '../harness';
import { resetTimerCounts, setTimerCounting, timerCounts } from '../timerProbe';

/** So many tokens that no subject ever runs short within a benchmark. */
const PLENTY = 1e12;

let received = 0;
const sink = (_grant: number): void => {
  received++;
};

type Shape = 'sequential' | 'concurrent';

/** One grant, then its delivery to the sink: the unit of work every subject does N times. */
type Grant = (index: number) => PromiseLike<unknown>;

interface Subject {
  readonly name: string;
  /** A fresh limiter for each shape (held across rounds, as an application holds one). */
  readonly make: () => Grant;
  readonly note?: string;
}

const FLOOR = 'await a resolved promise (floor)';
const ACQUIRE = 'TokenBucket.acquire()';
const EXECUTE = 'TokenBucket.execute(fn)';
const LIMITER = 'limiter TokenBucket.removeTokens(1)';
const P_QUEUE = 'p-queue add(fn), interval mode';
const P_QUEUE_BARE = 'p-queue add(fn), no limits';

const subjects: Subject[] = [
  {
    name: FLOOR,
    make: () => (index) => Promise.resolve().then(() => sink(index)),
    note: '`Promise.resolve().then(deliver)`: the least a promise-returning grant can cost',
  },
  {
    name: ACQUIRE,
    make: () => {
      const bucket = new TokenBucket({ capacity: PLENTY, refillRate: PLENTY });
      return (index) => bucket.acquire().then(() => sink(index));
    },
    note: 'then delivers; capacity and refill 1e12/s',
  },
  {
    name: EXECUTE,
    make: () => {
      const bucket = new TokenBucket({ capacity: PLENTY, refillRate: PLENTY });
      return (index) => bucket.execute(() => sink(index));
    },
    note: 'runs the delivery as `fn`',
  },
  {
    name: LIMITER,
    make: () => {
      const bucket = new LimiterTokenBucket({ bucketSize: PLENTY, tokensPerInterval: PLENTY, interval: 'second' });
      bucket.content = PLENTY; // it starts empty; start it full like the others
      return (index) => bucket.removeTokens(1).then(() => sink(index));
    },
    note: 'then delivers; `acquire`’s peer (a promise of tokens, no function run)',
  },
  {
    name: P_QUEUE,
    make: () => {
      const queue = new PQueue({ interval: 1000, intervalCap: Number.MAX_SAFE_INTEGER });
      return (index) => queue.add(() => sink(index));
    },
    note: '`interval: 1000, intervalCap: MAX_SAFE_INTEGER`: p-queue configured as a rate limiter with room for all; `execute`’s peer',
  },
  {
    name: P_QUEUE_BARE,
    make: () => {
      const queue = new PQueue();
      return (index) => queue.add(() => sink(index));
    },
    note: 'default options (concurrency Infinity, no interval): p-queue as cheap as it gets, limiting nothing',
  },
];

/** `count` grants, each awaited before the next is asked for. */
function sequential(grant: Grant, count: number): () => Promise<void> {
  return async () => {
    const before = received;
    for (let index = 0; index < count; index++) await grant(index);
    if (received - before !== count) throw new Error(`${received - before} of ${count} grants delivered`);
  };
}

/** `count` grants asked for at once, awaited together. */
function concurrent(grant: Grant, count: number): () => Promise<void> {
  return async () => {
    const before = received;
    const grants: PromiseLike<unknown>[] = new Array(count);
    for (let index = 0; index < count; index++) grants[index] = grant(index);
    await Promise.all(grants);
    if (received - before !== count) throw new Error(`${received - before} of ${count} grants delivered`);
  };
}

const SHAPES: readonly Shape[] = ['sequential', 'concurrent'];
const SHAPE_TEXT: Record<Shape, string> = {
  sequential: 'one at a time (`await` each)',
  concurrent: 'all at once (`Promise.all`)',
};
const timedName = (shape: Shape, subject: string) => `${subject} [${shape}]`;

/**
 * Grants per subject and round, the same in quick mode: a grant's cost depends on how many
 * are made per round (garbage collection after the full GC before each measurement, live
 * promises in the concurrent shape), so quick mode takes fewer rounds, not smaller ones.
 */
const GRANTS = 20_000;
/** Rounds per requested run in full mode (quick mode: one per run). */
const ROUNDS_PER_RUN = 4;

const suite: BenchSuite = async ({ quick, runs }) => {
  const N = GRANTS;
  const rounds = quick ? runs : runs * ROUNDS_PER_RUN;

  const timed: Timed[] = SHAPES.flatMap((shape) =>
    subjects.map((subject) => ({
      name: timedName(shape, subject.name),
      run: (shape === 'sequential' ? sequential : concurrent)(subject.make(), N),
    })),
  );
  // The timer probe wraps every timer a peer makes in a closure of its own: off while timing.
  setTimerCounting(false);
  const times = await timeInterleaved(timed, rounds);
  setTimerCounting(true);
  if (received === 0) throw new Error('no grant reached the sink');
  // Then one more run of each, untimed, counting the timers it creates.
  const timersCreated = new Map<string, number>();
  for (const measurement of timed) {
    resetTimerCounts();
    await measurement.run();
    timersCreated.set(measurement.name, timerCounts().created);
  }

  const samplesOf = (shape: Shape, subject: string) => times.get(timedName(shape, subject))!;
  /** Median over rounds of `numerator`'s time ÷ `denominator`'s in the same round (same N, so per grant too). */
  const ratio = (shape: Shape, numerator: string, denominator: string) => {
    const below = samplesOf(shape, denominator);
    return median(samplesOf(shape, numerator).map((ms, round) => ms / below[round]!));
  };

  const rows: BenchRow[] = SHAPES.flatMap((shape) =>
    subjects.map((subject) => {
      const samples = samplesOf(shape, subject.name);
      const ms = median(samples);
      return {
        subject: subject.name,
        metrics: {
          shape,
          grants: N,
          'median ms': significant(ms),
          'min ms': significant(Math.min(...samples)),
          'ns/grant': significant((ms * 1e6) / N),
          '× floor': significant(ratio(shape, subject.name, FLOOR)),
          'timers / grant': significant(timersCreated.get(timedName(shape, subject.name))! / N),
        },
      };
    }),
  );

  const ratios: BenchRatio[] = SHAPES.flatMap((shape) => [
    // Target: ≥ 1 (ours no slower than p-queue's add). The harness marks only upper bounds (`atMost`), so it is reported plainly.
    { label: `p-queue add (interval mode) ÷ execute, ${shape}`, value: significant(ratio(shape, P_QUEUE, EXECUTE)) },
    { label: `p-queue add (no limits) ÷ execute, ${shape}`, value: significant(ratio(shape, P_QUEUE_BARE, EXECUTE)) },
    { label: `limiter removeTokens ÷ acquire, ${shape}`, value: significant(ratio(shape, LIMITER, ACQUIRE)) },
    { label: `p-queue add (interval mode) ÷ acquire, ${shape}`, value: significant(ratio(shape, P_QUEUE, ACQUIRE)) },
    { label: `execute ÷ acquire, ${shape}`, value: significant(ratio(shape, EXECUTE, ACQUIRE)) },
  ]);

  return {
    id: 'acquire',
    title: 'The Promise API with plentiful tokens: ns per grant, `acquire`/`execute` beside limiter and p-queue',
    rows,
    ratios,
    notes: [
      `Each subject grants ${N.toLocaleString('en-US')} times per round, each grant delivered to a counting sink, in two shapes: ` +
        `${SHAPES.map((shape) => `${shape}: ${SHAPE_TEXT[shape]}`).join('; ')}. ` +
        'Each subject holds one limiter per shape across rounds, with so many tokens that nothing ever waits.',
      `All ${timed.length} measurements are timed in ${rounds} interleaved rounds after one warm-up each; ` +
        'a ratio is the median over rounds of the two subjects’ times in the same round (same grants, so also per grant); ' +
        '`× floor` likewise against the floor of the same shape. ' +
        'Timers are not counted while timing; `timers / grant` comes from one more, untimed, run of each.',
      'Targets: p-queue add ÷ execute ≥ 1 (ours no slower than p-queue’s `add`); reported without PASS/MISS (the harness marks only upper bounds).',
      ...subjects.filter((subject) => subject.note !== undefined).map((subject) => `${subject.name}: ${subject.note}.`),
    ],
  };
};

export default suite;
