import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { perKey } from '../../src/operators/perKey';
import { KeyedBuckets } from '../../src/limiters/keyed/KeyedBuckets';
import { TokenBucket } from '../../src/limiters/TokenBucket';

/** A key's bucket in the tests: `capacity` tokens, one token every `every` ms (integers, so every instant is an integer ms). */
interface Limit {
  capacity: number;
  every: number;
}
interface Arrival {
  id: number;
  time: number;
  key: number;
  cost: number;
}
interface Emission {
  id: number;
  time: number;
}

const limitArb = (maxCapacity: number, maxEvery: number) =>
  fc.record({ capacity: fc.integer({ min: 1, max: maxCapacity }), every: fc.integer({ min: 1, max: maxEvery }) });

/** Arrivals sorted by time (stable), costs clamped to what `capOf(key)` can ever grant. */
function arrivalsArb(keys: number, maxTime: number, maxLength: number, capOf: (key: number) => number) {
  return fc
    .array(fc.record({ time: fc.integer({ min: 0, max: maxTime }), key: fc.nat(keys - 1), cost: fc.integer({ min: 1, max: 4 }) }), {
      minLength: 1,
      maxLength,
    })
    .map((raw) =>
      raw
        .map((arrival, id) => ({ ...arrival, id, cost: Math.min(arrival.cost, capOf(arrival.key)) }))
        .sort((a, b) => a.time - b.time || a.id - b.id),
    );
}

/**
 * Runs `arrivals` through `perKey` in virtual time; returns each value's emission time.
 * Same-instant arrivals are pushed in array order.
 */
function simulate(
  arrivals: readonly Arrival[],
  makeKeyed: () => KeyedBuckets<number>,
  options: { unsubscribeAt?: number; after?: (keyed: KeyedBuckets<number>, ts: TestScheduler) => void } = {},
): { emissions: Emission[]; completedAt: number | undefined } {
  const ts = new TestScheduler(() => {});
  const emissions: Emission[] = [];
  let completedAt: number | undefined;
  ts.run(() => {
    const keyed = makeKeyed();
    const lastTime = arrivals[arrivals.length - 1]!.time;
    const source = new Observable<Arrival>((subscriber) => {
      for (const arrival of arrivals) ts.schedule(() => subscriber.next(arrival), arrival.time);
      ts.schedule(() => subscriber.complete(), lastTime);
    });
    const subscription = source
      .pipe(perKey((arrival: Arrival) => arrival.key, keyed, { cost: (arrival) => arrival.cost }))
      .subscribe({ next: (arrival) => emissions.push({ id: arrival.id, time: ts.now() }), complete: () => (completedAt = ts.now()) });
    if (options.unsubscribeAt !== undefined) ts.schedule(() => subscription.unsubscribe(), options.unsubscribeAt);
    ts.flush();
    options.after?.(keyed, ts);
  });
  return { emissions, completedAt };
}

/**
 * The reference: each key an independent FIFO token bucket that is never forgotten, in
 * integer units (1 unit = 1/every token, so one unit per ms).
 */
function referenceSchedule(arrivals: readonly Arrival[], limits: readonly Limit[]): Map<number, number> {
  const state = limits.map((limit) => ({ units: limit.capacity * limit.every, at: 0, lastEmission: 0 }));
  const times = new Map<number, number>();
  for (const arrival of arrivals) {
    const limit = limits[arrival.key]!;
    const bucket = state[arrival.key]!;
    const start = Math.max(arrival.time, bucket.lastEmission);
    const units = Math.min(limit.capacity * limit.every, bucket.units + (start - bucket.at));
    const need = arrival.cost * limit.every;
    const emission = units >= need ? start : start + (need - units);
    bucket.units = Math.min(limit.capacity * limit.every, units + (emission - start)) - need;
    bucket.at = emission;
    bucket.lastEmission = emission;
    times.set(arrival.id, emission);
  }
  return times;
}

/** Cost emitted in every window [t1, t2] ≤ capacity + (t2 − t1) / every. */
function assertWindowBound(emissions: readonly { time: number; cost: number }[], limit: Limit): void {
  const sorted = [...emissions].sort((a, b) => a.time - b.time);
  for (let i = 0; i < sorted.length; i++) {
    let cost = 0;
    for (let j = i; j < sorted.length; j++) {
      cost += sorted[j]!.cost;
      const span = sorted[j]!.time - sorted[i]!.time;
      expect(cost).toBeLessThanOrEqual(limit.capacity + span / limit.every + 1e-9);
    }
  }
}

describe('perKey property: per-key buckets, with keys forgotten as they refill', () => {
  it('emits every value exactly when an independent never-forgetting per-key FIFO model says', () => {
    fc.assert(
      fc.property(
        fc.array(limitArb(4, 12), { minLength: 1, maxLength: 4 }).chain((limits) =>
          fc.tuple(
            fc.constant(limits),
            arrivalsArb(limits.length, 80, 30, (key) => limits[key]!.capacity),
          ),
        ),
        ([limits, arrivals]) => {
          const { emissions, completedAt } = simulate(
            arrivals,
            () => new KeyedBuckets<number>((key) => ({ capacity: limits[key]!.capacity, refillRate: 1, interval: limits[key]!.every })),
            {
              after: (keyed, ts) => {
                // Long after: every key has refilled and is forgotten; nothing is scheduled.
                ts.schedule(() => {
                  const stats = keyed.stats();
                  expect(stats).toMatchObject({ keys: 0, queued: 0, timerScheduled: false });
                  expect(stats.forgotten).toBeGreaterThanOrEqual(new Set(arrivals.map((a) => a.key)).size);
                }, 1000);
                ts.flush();
              },
            },
          );
          const expected = referenceSchedule(arrivals, limits);
          expect(new Map(emissions.map((e) => [e.id, e.time]))).toEqual(expected);
          expect(completedAt).toBe(Math.max(...expected.values(), arrivals[arrivals.length - 1]!.time));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('perKey property: under a global bucket', () => {
  const scenario = fc
    .record({
      limits: fc.array(limitArb(4, 6), { minLength: 1, maxLength: 4 }),
      global: limitArb(5, 6),
      quantum: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
    })
    .chain((setup) =>
      fc.tuple(
        fc.constant(setup),
        arrivalsArb(setup.limits.length, 60, 30, (key) => Math.min(setup.limits[key]!.capacity, setup.global.capacity)),
      ),
    );

  it("never exceeds the global or any key's limit in any window, keeps order per key, loses nothing, forgets everything", () => {
    fc.assert(
      fc.property(scenario, ([{ limits, global, quantum }, arrivals]) => {
        const { emissions, completedAt } = simulate(
          arrivals,
          () =>
            new KeyedBuckets<number>((key) => ({ capacity: limits[key]!.capacity, refillRate: 1, interval: limits[key]!.every }), {
              global: { capacity: global.capacity, refillRate: 1, interval: global.every },
              quantum,
            }),
          {
            after: (keyed, ts) => {
              ts.schedule(() => expect(keyed.stats()).toMatchObject({ keys: 0, queued: 0, timerScheduled: false }), 1000);
              ts.flush();
            },
          },
        );
        const byId = new Map(arrivals.map((arrival) => [arrival.id, arrival]));
        expect(emissions.length).toBe(arrivals.length);
        expect(completedAt).toBe(Math.max(...emissions.map((e) => e.time), arrivals[arrivals.length - 1]!.time));
        const emitted = emissions.map((e) => ({ ...byId.get(e.id)!, emittedAt: e.time }));
        for (const e of emitted) {
          expect(e.emittedAt).toBeGreaterThanOrEqual(e.time);
          expect(Number.isInteger(e.emittedAt)).toBe(true); // exact deficits: no float drift, no µs early/late
        }
        assertWindowBound(
          emitted.map((e) => ({ time: e.emittedAt, cost: e.cost })),
          global,
        );
        limits.forEach((limit, key) => {
          const ofKey = emitted.filter((e) => e.key === key);
          assertWindowBound(
            ofKey.map((e) => ({ time: e.emittedAt, cost: e.cost })),
            limit,
          );
          const arrivalOrder = arrivals.filter((a) => a.key === key).map((a) => a.id);
          expect(ofKey.map((e) => e.id)).toEqual(arrivalOrder);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('a cold key waits at most (quantum + largest cost + its cost) global tokens behind a hot backlog', () => {
    fc.assert(
      fc.property(
        fc.record({
          global: limitArb(5, 5),
          hotCosts: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 10, maxLength: 40 }),
          coldCosts: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 5 }),
          coldStart: fc.integer({ min: 0, max: 20 }),
        }),
        ({ global, hotCosts, coldCosts, coldStart }) => {
          const largest = global.capacity; // costs are clamped to it
          const quantum = global.capacity; // the default
          const gap = (quantum + 2 * largest) * global.every + 1; // each cold value is done before the next arrives
          const arrivals: Arrival[] = [
            ...hotCosts.map((cost, i) => ({ id: i, time: 0, key: 0, cost: Math.min(cost, largest) })),
            ...coldCosts.map((cost, i) => ({ id: 100 + i, time: coldStart + i * gap, key: 1, cost: Math.min(cost, largest) })),
          ].sort((a, b) => a.time - b.time || a.id - b.id);
          const { emissions } = simulate(
            arrivals,
            () =>
              new KeyedBuckets<number>(
                { capacity: 5, refillRate: 5, interval: 1 },
                {
                  global: { capacity: global.capacity, refillRate: 1, interval: global.every },
                },
              ),
          );
          const emittedAt = new Map(emissions.map((e) => [e.id, e.time]));
          expect(emittedAt.size).toBe(arrivals.length);
          for (const arrival of arrivals.filter((a) => a.key === 1)) {
            const delay = emittedAt.get(arrival.id)! - arrival.time;
            expect(delay).toBeLessThanOrEqual((quantum + largest + arrival.cost) * global.every);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('with a shared TokenBucket as global and a random unsubscribe: both sides charged together or not at all', () => {
    fc.assert(
      fc.property(
        fc.record({ limits: fc.array(limitArb(3, 5), { minLength: 1, maxLength: 3 }), global: limitArb(3, 5) }).chain((setup) =>
          fc.tuple(
            fc.constant(setup),
            arrivalsArb(setup.limits.length, 40, 25, (key) => Math.min(setup.limits[key]!.capacity, setup.global.capacity)),
            fc.integer({ min: 0, max: 60 }),
          ),
        ),
        ([{ limits, global }, arrivals, unsubscribeAt]) => {
          let globalBucket!: TokenBucket;
          let checked = false;
          const { emissions } = simulate(
            arrivals,
            () => {
              globalBucket = new TokenBucket({ capacity: global.capacity, refillRate: 1, interval: global.every });
              return new KeyedBuckets<number>((key) => ({ capacity: limits[key]!.capacity, refillRate: 1, interval: limits[key]!.every }), {
                global: globalBucket,
              });
            },
            {
              unsubscribeAt,
              after: (keyed) => {
                const keyedStats = keyed.stats();
                const globalStats = globalBucket.stats();
                expect(globalStats).toMatchObject({ queued: 0, timerScheduled: false });
                expect(keyedStats).toMatchObject({ queued: 0, timerScheduled: false });
                // Every global grant went to exactly one emitted value, and vice versa.
                expect(globalStats.grantedCost).toBe(keyedStats.grantedCost);
                checked = true;
              },
            },
          );
          const byId = new Map(arrivals.map((arrival) => [arrival.id, arrival]));
          const emittedCost = emissions.reduce((sum, e) => sum + byId.get(e.id)!.cost, 0);
          expect(globalBucket.stats().grantedCost).toBe(emittedCost);
          expect(emissions.every((e) => e.time <= unsubscribeAt)).toBe(true);
          expect(checked).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });
});
