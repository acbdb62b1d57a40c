import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Observable, Subscription, type SchedulerAction, type SchedulerLike } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { throttleByTokens } from '../../src/operators/throttleByTokens';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { TokenLedger } from '../../src/arithmetic/TokenLedger';

// ---------------------------------------------------------------------------------------------
// Scenarios: several streams sharing one bucket, values arriving at integer frames with integer
// or fractional costs, some streams unsubscribed mid-way (at non-integer frames, so that an
// unsubscription never ties with an arrival).
// ---------------------------------------------------------------------------------------------

interface Item {
  readonly stream: number;
  readonly index: number;
  readonly at: number;
  readonly cost: number;
}

interface StreamPlan {
  readonly items: Item[];
  readonly completeAt: number;
  readonly unsubscribeAt: number | undefined;
}

interface Scenario {
  readonly capacity: number;
  readonly refillRate: number;
  readonly interval: number;
  readonly initialTokens: number;
  readonly streams: StreamPlan[];
}

const UNSUBSCRIBE_OFFSET = 0.4567;

function scenarioArbitrary(): fc.Arbitrary<Scenario> {
  const itemArb = fc.record({
    gap: fc.integer({ min: 0, max: 15 }),
    integerCost: fc.boolean(),
    fraction: fc.double({ min: 0, max: 1, noNaN: true }),
  });
  const streamArb = fc.record({
    items: fc.array(itemArb, { maxLength: 12 }),
    tail: fc.integer({ min: 0, max: 20 }),
    unsubscribeAt: fc.option(fc.integer({ min: 0, max: 150 }), { nil: undefined, freq: 3 }),
  });
  return fc
    .record({
      capacity: fc.oneof(fc.integer({ min: 1, max: 10 }), fc.double({ min: 0.5, max: 10, noNaN: true })),
      refillRate: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.double({ min: 0.1, max: 5, noNaN: true })),
      interval: fc.oneof(fc.integer({ min: 1, max: 50 }), fc.double({ min: 0.5, max: 50, noNaN: true })),
      initialFraction: fc.oneof(fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })),
      streams: fc.array(streamArb, { minLength: 1, maxLength: 4 }),
    })
    .map(({ capacity, refillRate, interval, initialFraction, streams }) => ({
      capacity,
      refillRate,
      interval,
      initialTokens: capacity * initialFraction,
      streams: streams.map((plan, stream) => {
        let at = 0;
        const items = plan.items.map((item, index) => {
          at += item.gap;
          const cost = item.integerCost
            ? Math.min(Math.floor(capacity), Math.floor(item.fraction * (capacity + 1)))
            : item.fraction * capacity;
          return { stream, index, at, cost };
        });
        return {
          items,
          completeAt: at + plan.tail,
          unsubscribeAt: plan.unsubscribeAt === undefined ? undefined : plan.unsubscribeAt + UNSUBSCRIBE_OFFSET,
        };
      }),
    }));
}

// ---------------------------------------------------------------------------------------------
// The reference model: an event-by-event simulation of an ideal FIFO token bucket, written
// independently of src (plain floats, no rounding, no slack).
// ---------------------------------------------------------------------------------------------

interface Grant {
  readonly stream: number;
  readonly index: number;
  readonly time: number;
  readonly cost: number;
}

interface ReferenceOutcome {
  readonly grants: Grant[];
  /** An unsubscription within a µs of the head's due time: a tie the rounding may settle either way. */
  readonly ambiguous: boolean;
  readonly withdrawn: number;
  /** Stream → completion time, for streams that complete before their unsubscription. */
  readonly completions: Map<number, number>;
}

function referenceDelay(scenario: Scenario): ReferenceOutcome {
  const { capacity, streams } = scenario;
  const rate = scenario.refillRate / scenario.interval;
  type Event =
    { time: number; order: number; kind: 'arrival'; item: Item } | { time: number; order: number; kind: 'unsubscribe'; stream: number };
  const events: Event[] = [];
  let order = 0;
  for (const plan of streams) for (const item of plan.items) events.push({ time: item.at, order: order++, kind: 'arrival', item });
  streams.forEach((plan, stream) => {
    if (plan.unsubscribeAt !== undefined) events.push({ time: plan.unsubscribeAt, order: order++, kind: 'unsubscribe', stream });
  });
  events.sort((a, b) => a.time - b.time || a.order - b.order);

  let tokens = scenario.initialTokens;
  let updatedAt = 0;
  const refillTo = (time: number) => {
    tokens = Math.min(capacity, tokens + (time - updatedAt) * rate);
    updatedAt = time;
  };
  const queue: Item[] = [];
  const gone = new Set<number>();
  const grants: Grant[] = [];
  let withdrawn = 0;
  let ambiguous = false;
  let next = 0;
  for (;;) {
    const event = events[next];
    const head = queue[0];
    if (head !== undefined) {
      const due = tokens >= head.cost ? updatedAt : updatedAt + (head.cost - tokens) / rate;
      // An arrival at the very instant the head is due queues behind it (arrivals run first).
      if (event === undefined || due < event.time) {
        refillTo(due);
        tokens -= head.cost;
        queue.shift();
        grants.push({ stream: head.stream, index: head.index, time: due, cost: head.cost });
        continue;
      }
    }
    if (event === undefined) break;
    next++;
    refillTo(event.time);
    if (event.kind === 'unsubscribe') {
      const waiting = queue[0];
      if (waiting !== undefined && (waiting.cost - tokens) / rate < 0.003) ambiguous = true;
      gone.add(event.stream);
      for (let i = queue.length - 1; i >= 0; i--) {
        if (queue[i]!.stream === event.stream) {
          queue.splice(i, 1);
          withdrawn++;
        }
      }
    } else if (!gone.has(event.item.stream)) {
      const { item } = event;
      if (queue.length === 0 && tokens >= item.cost) {
        tokens -= item.cost;
        grants.push({ stream: item.stream, index: item.index, time: item.at, cost: item.cost });
      } else {
        queue.push(item);
      }
    }
  }
  const completions = new Map<number, number>();
  streams.forEach((plan, stream) => {
    let last = plan.completeAt;
    for (const grant of grants) if (grant.stream === stream) last = Math.max(last, grant.time);
    const granted = grants.filter((grant) => grant.stream === stream).length;
    if (granted === plan.items.length && (plan.unsubscribeAt === undefined || last < plan.unsubscribeAt)) completions.set(stream, last);
  });
  for (const plan of streams) {
    const at = plan.unsubscribeAt;
    if (at !== undefined && grants.some((grant) => Math.abs(grant.time - at) < 0.003)) ambiguous = true;
  }
  return { grants, withdrawn, completions, ambiguous };
}

// ---------------------------------------------------------------------------------------------
// Running a scenario through the implementation, in virtual time.
// ---------------------------------------------------------------------------------------------

/** Schedules on the TestScheduler, counting pending actions and refusing a runaway timer loop. */
class CountingScheduler implements SchedulerLike {
  pending = 0;
  maxPending = 0;
  calls = 0;
  constructor(
    private readonly ts: TestScheduler,
    private readonly limit: number,
  ) {}
  now(): number {
    return this.ts.now();
  }
  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay?: number, state?: T): Subscription {
    if (++this.calls > this.limit) throw new Error(`runaway timer: ${this.calls} schedule calls`);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      this.pending--;
    };
    this.pending++;
    this.maxPending = Math.max(this.maxPending, this.pending);
    const action = this.ts.schedule(
      function (this: SchedulerAction<T>, s?: T) {
        finish();
        work.call(this, s);
      },
      delay,
      state,
    );
    action.add(finish);
    return action;
  }
}

interface ImplementationOutcome {
  readonly emissions: Grant[];
  readonly completions: Map<number, number>;
  readonly dropped: Array<{ stream: number; index: number; time: number }>;
  readonly errors: unknown[];
  readonly bucket: TokenBucket;
  readonly scheduler: CountingScheduler;
}

function runImplementation(scenario: Scenario, strategy: 'delay' | 'drop'): ImplementationOutcome {
  const ts = new TestScheduler(() => undefined);
  const valueCount = scenario.streams.reduce((sum, plan) => sum + plan.items.length, 0);
  const scheduler = new CountingScheduler(ts, 20 * valueCount + 50);
  const emissions: Grant[] = [];
  const dropped: Array<{ stream: number; index: number; time: number }> = [];
  const completions = new Map<number, number>();
  const errors: unknown[] = [];
  let bucket!: TokenBucket;
  ts.run(() => {
    const { capacity, refillRate, interval, initialTokens } = scenario;
    bucket = new TokenBucket({ capacity, refillRate, interval, initialTokens, scheduler });
    const subscriptions = scenario.streams.map((plan, stream) => {
      const source = new Observable<Item>((subscriber) => {
        const timers = new Subscription();
        for (const item of plan.items) timers.add(ts.schedule(() => subscriber.next(item), item.at));
        timers.add(ts.schedule(() => subscriber.complete(), plan.completeAt));
        return timers;
      });
      const config =
        strategy === 'delay'
          ? { cost: (item: Item) => item.cost }
          : {
              cost: (item: Item) => item.cost,
              strategy: 'drop' as const,
              onDrop: (item: Item) => dropped.push({ stream: item.stream, index: item.index, time: ts.now() }),
            };
      return source.pipe(throttleByTokens(bucket, config)).subscribe({
        next: (item) => emissions.push({ stream: item.stream, index: item.index, time: ts.now(), cost: item.cost }),
        error: (error: unknown) => errors.push(error),
        complete: () => completions.set(stream, ts.now()),
      });
    });
    scenario.streams.forEach((plan, stream) => {
      if (plan.unsubscribeAt !== undefined) ts.schedule(() => subscriptions[stream]!.unsubscribe(), plan.unsubscribeAt);
    });
  });
  return { emissions, completions, dropped, errors, bucket, scheduler };
}

/** Waits are rounded up to the µs grid (TokenLedger.timeUntil), plus float noise. */
const EARLY_TOLERANCE = 1e-6;
const LATE_TOLERANCE = 1e-3 + 1e-6;

function expectWithinRounding(actual: number, ideal: number, what: string): void {
  if (actual < ideal - EARLY_TOLERANCE || actual > ideal + LATE_TOLERANCE) {
    throw new Error(`${what}: at ${actual}, the ideal schedule says ${ideal}`);
  }
}

describe("throttleByTokens 'delay' against an ideal FIFO token bucket (fast-check)", () => {
  it('every emission at the ideal time, in order, nothing lost, never more than capacity + rate·(t2 − t1) in a window', () => {
    fc.assert(
      fc.property(scenarioArbitrary(), (scenario) => {
        const reference = referenceDelay(scenario);
        fc.pre(!reference.ambiguous);
        const run = runImplementation(scenario, 'delay');
        expect(run.errors).toEqual([]);

        // Same values, same (global FIFO) order, at the ideal instants.
        expect(run.emissions.map((e) => `${e.stream}:${e.index}`)).toEqual(reference.grants.map((g) => `${g.stream}:${g.index}`));
        run.emissions.forEach((emission, i) =>
          expectWithinRounding(emission.time, reference.grants[i]!.time, `value ${emission.stream}:${emission.index}`),
        );

        // Order kept within each stream; nothing lost by a stream that stayed subscribed.
        scenario.streams.forEach((plan, stream) => {
          const indexes = run.emissions.filter((e) => e.stream === stream).map((e) => e.index);
          expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
          if (plan.unsubscribeAt === undefined) expect(indexes).toEqual(plan.items.map((item) => item.index));
        });

        // Completion waits for the last value, and only streams still subscribed complete.
        expect([...run.completions.keys()].sort()).toEqual([...reference.completions.keys()].sort());
        for (const [stream, time] of reference.completions)
          expectWithinRounding(run.completions.get(stream)!, time, `completion of ${stream}`);

        // The rate limit itself, in every window between two emissions.
        const rate = scenario.refillRate / scenario.interval;
        const sorted = [...run.emissions].sort((a, b) => a.time - b.time);
        for (let i = 0; i < sorted.length; i++) {
          let cost = 0;
          for (let j = i; j < sorted.length; j++) {
            cost += sorted[j]!.cost;
            const allowed = scenario.capacity + rate * (sorted[j]!.time - sorted[i]!.time);
            if (cost > allowed + 1e-9 * (1 + scenario.capacity))
              throw new Error(`window [${sorted[i]!.time}, ${sorted[j]!.time}] emitted ${cost} > ${allowed}`);
          }
        }

        // The bucket's books, and its single timer.
        const stats = run.bucket.stats();
        expect(stats.granted).toBe(reference.grants.length);
        expect(stats.cancelled).toBe(reference.withdrawn);
        expect(stats.queued).toBe(0);
        expect(stats.timerScheduled).toBe(false);
        expect(run.scheduler.maxPending).toBeLessThanOrEqual(1);
        expect(run.scheduler.pending).toBe(0);
      }),
      { numRuns: 2500 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// 'drop': on a grid where the reference can be exact (integers in units of 1/(4·interval)
// tokens), so that "the tokens are there" has no float ambiguity.
// ---------------------------------------------------------------------------------------------

interface DropScenario extends Scenario {
  /** Per item: cost in quarters of a token. */
  readonly quarterCosts: Map<Item, number>;
  readonly initialQuarters: number;
}

function dropScenarioArbitrary(): fc.Arbitrary<DropScenario> {
  return fc
    .record({
      capacity: fc.integer({ min: 1, max: 8 }),
      refillRate: fc.integer({ min: 1, max: 4 }),
      interval: fc.constantFrom(1, 2, 4, 5, 8, 10),
      initialFraction: fc.double({ min: 0, max: 1, noNaN: true }),
      streams: fc.array(
        fc.record({
          items: fc.array(fc.record({ gap: fc.integer({ min: 0, max: 6 }), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }), {
            maxLength: 15,
          }),
          tail: fc.integer({ min: 0, max: 5 }),
          unsubscribeAt: fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined, freq: 3 }),
        }),
        { minLength: 1, maxLength: 3 },
      ),
    })
    .map(({ capacity, refillRate, interval, initialFraction, streams }) => {
      const quarterCosts = new Map<Item, number>();
      const initialQuarters = Math.floor(initialFraction * capacity * 4);
      return {
        capacity,
        refillRate,
        interval,
        initialTokens: initialQuarters / 4,
        initialQuarters,
        quarterCosts,
        streams: streams.map((plan, stream) => {
          let at = 0;
          const items = plan.items.map((raw, index) => {
            at += raw.gap;
            const quarters = Math.min(capacity * 4, Math.floor(raw.fraction * (capacity * 4 + 1)));
            const item = { stream, index, at, cost: quarters / 4 };
            quarterCosts.set(item, quarters);
            return item;
          });
          return {
            items,
            completeAt: at + plan.tail,
            unsubscribeAt: plan.unsubscribeAt === undefined ? undefined : plan.unsubscribeAt + 0.5,
          };
        }),
      };
    });
}

/** Exact: units of 1/(4·interval) token; refill is 4·refillRate units per ms. */
function referenceDrop(scenario: DropScenario): { admitted: Set<Item>; refused: Set<Item> } {
  const unitsPerQuarter = scenario.interval;
  const capacityUnits = scenario.capacity * 4 * unitsPerQuarter;
  const refillUnitsPerMs = 4 * scenario.refillRate;
  const arrivals = scenario.streams
    .flatMap((plan) => plan.items.filter((item) => plan.unsubscribeAt === undefined || item.at < plan.unsubscribeAt))
    .sort((a, b) => a.at - b.at || a.stream - b.stream || a.index - b.index);
  let units = scenario.initialQuarters * unitsPerQuarter;
  let updatedAt = 0;
  const admitted = new Set<Item>();
  const refused = new Set<Item>();
  for (const item of arrivals) {
    units = Math.min(capacityUnits, units + (item.at - updatedAt) * refillUnitsPerMs);
    updatedAt = item.at;
    const costUnits = scenario.quarterCosts.get(item)! * unitsPerQuarter;
    if (units >= costUnits) {
      units -= costUnits;
      admitted.add(item);
    } else {
      refused.add(item);
    }
  }
  return { admitted, refused };
}

describe("throttleByTokens 'drop' against an exact reference (fast-check)", () => {
  it('emits exactly the values the reference admits, at their arrival, and onDrop gets exactly the rest', () => {
    fc.assert(
      fc.property(dropScenarioArbitrary(), (scenario) => {
        const { admitted, refused } = referenceDrop(scenario);
        const run = runImplementation(scenario, 'drop');
        expect(run.errors).toEqual([]);
        const key = (v: { stream: number; index: number }) => `${v.stream}:${v.index}`;
        const sortedKeys = (items: Iterable<{ stream: number; index: number }>) => [...items].map(key).sort();
        expect(sortedKeys(run.emissions)).toEqual(sortedKeys(admitted));
        expect(sortedKeys(run.dropped)).toEqual(sortedKeys(refused));
        for (const emission of run.emissions) expect(emission.time).toBe(scenario.streams[emission.stream]!.items[emission.index]!.at);
        for (const drop of run.dropped) expect(drop.time).toBe(scenario.streams[drop.stream]!.items[drop.index]!.at);
        const stats = run.bucket.stats();
        expect(stats).toMatchObject({ granted: admitted.size, dropped: refused.size, queued: 0, timerScheduled: false, cancelled: 0 });
        expect(run.scheduler.calls).toBe(0); // dropping never needs a timer
      }),
      { numRuns: 1500 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The ledger's waits: never short (so one timer suffices), exact but for float noise.
// ---------------------------------------------------------------------------------------------

describe('TokenLedger.timeUntil (fast-check)', () => {
  it('a timer aimed at timeUntil always finds the tokens there, and is not late', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.001, max: 1e6, noNaN: true }),
        fc.double({ min: 1, max: 1e9, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1000, noNaN: true }),
        (capacity, fillTime, startFraction, costFraction, now) => {
          const tokensPerMs = capacity / fillTime;
          const ledger = new TokenLedger({ capacity, refillRate: tokensPerMs, interval: 1 }, capacity * startFraction, now);
          const cost = capacity * costFraction;
          const wait = ledger.timeUntil(cost, now);
          const ideal = Math.max(0, (cost - capacity * startFraction) / tokensPerMs);
          // Early by at most the ledger's slack: 1e-12 of capacity, i.e. 1e-12 of the fill time.
          expect(wait).toBeGreaterThanOrEqual(ideal - fillTime * 1e-12 - 1e-9);
          // Exact (or snapped to the µs grid within float noise); a tiny deficit waits one µs step.
          expect(wait).toBeLessThanOrEqual(Math.max(ideal + 2 * fillTime * 1e-14 + 1e-9, 0.001));
          expect(ledger.tryTake(cost, now + wait)).toBe(true);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
