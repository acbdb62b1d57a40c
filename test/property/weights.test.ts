/**
 * Weighted shares of a global limit, against models written here: a literal weighted deficit
 * round robin (every round iterated, no shortcut) for the order of the grants, DRR's fairness
 * bound for the shares, and the unweighted engine for weight 1.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { perKey } from '../../src/operators/perKey';
import { KeyedBuckets, type KeyedBucketsOptions } from '../../src/limiters/keyed/KeyedBuckets';

interface Job {
  readonly id: number;
  readonly key: number;
  readonly cost: number;
  readonly time: number;
}
interface Grant {
  readonly id: number;
  readonly key: number;
  readonly cost: number;
  readonly time: number;
}

/** Own buckets that never run short, so only the global limit and the weights decide. */
const roomy = { capacity: 1000, refillRate: 1000, interval: 1 };

/** Runs `jobs` through `perKey` in virtual time (same-instant jobs in array order); returns the grants in order. */
function simulate(jobs: readonly Job[], options: KeyedBucketsOptions<number>): Grant[] {
  const grants: Grant[] = [];
  const ts = new TestScheduler(() => {});
  ts.run(() => {
    const keyed = new KeyedBuckets<number>(roomy, options);
    new Observable<Job>((subscriber) => {
      for (const job of jobs) ts.schedule(() => subscriber.next(job), job.time);
      ts.schedule(() => subscriber.complete(), jobs[jobs.length - 1]!.time);
    })
      .pipe(perKey((job: Job) => job.key, keyed, { cost: (job) => job.cost }))
      .subscribe((job) => grants.push({ id: job.id, key: job.key, cost: job.cost, time: ts.now() }));
    ts.flush();
    expect(keyed.stats()).toMatchObject({ queued: 0, timerScheduled: false });
  });
  return grants;
}

/**
 * Weighted deficit round robin as Shreedhar & Varghese describe it, every round iterated: the
 * front key of the ring is credited `quantum × weight` at the start of its turn and sends its
 * head while the head fits its deficit; then the next key's turn begins; a key whose queue empties
 * leaves the ring and its deficit is reset. Keys join in the order of their first value; the
 * first decision is made as the first key joins (alone in the ring then), the others join behind it.
 */
function literalDrr(queues: readonly (readonly number[])[], weights: readonly number[], quantum: number): { key: number; cost: number }[] {
  const waiting = queues.map((costs) => [...costs]);
  const deficit = weights.map(() => 0);
  const ring = [0];
  let othersJoined = false;
  let turnStarted = false;
  const order: { key: number; cost: number }[] = [];
  while (ring.length > 0) {
    const key = ring[0]!;
    if (!turnStarted) {
      deficit[key]! += quantum * weights[key]!;
      turnStarted = true;
    }
    const head = waiting[key]![0]!;
    if (head > deficit[key]!) {
      ring.push(ring.shift()!); // its turn is over, the deficit carries over
      turnStarted = false;
      continue;
    }
    waiting[key]!.shift();
    deficit[key]! -= head;
    order.push({ key, cost: head });
    if (!othersJoined) {
      for (let other = 1; other < queues.length; other++) ring.push(other);
      othersJoined = true;
    }
    if (waiting[key]!.length === 0) {
      ring.shift();
      deficit[key] = 0;
      turnStarted = false;
    }
  }
  return order;
}

/** Every key's values at time 0, interleaved (the i-th value of each key in turn). */
function interleaved(queues: readonly (readonly number[])[]): Job[] {
  const jobs: Job[] = [];
  const longest = Math.max(...queues.map((costs) => costs.length));
  for (let i = 0; i < longest; i++) {
    queues.forEach((costs, key) => {
      if (i < costs.length) jobs.push({ id: jobs.length, key, cost: costs[i]!, time: 0 });
    });
  }
  return jobs;
}

const backlogged = fc
  .record({
    weights: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 2, maxLength: 4 }),
    maxCost: fc.integer({ min: 1, max: 4 }),
    quantum: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  })
  .chain((setup) =>
    fc.tuple(
      fc.constant(setup),
      fc.array(fc.array(fc.integer({ min: 1, max: setup.maxCost }), { minLength: 40, maxLength: 120 }), {
        minLength: setup.weights.length,
        maxLength: setup.weights.length,
      }),
    ),
  );

describe('weights property: backlogged keys under one global limit', () => {
  it('grants in the order of a literal weighted DRR, at the full global rate, each key within DRR’s bound of its weighted share', () => {
    fc.assert(
      fc.property(backlogged, ([{ weights, maxCost, quantum }, queues]) => {
        // The global bucket: capacity maxCost, 1 token per ms, starting empty (so every value goes through the round robin).
        const global = { capacity: maxCost, refillRate: 1, interval: 1, initialTokens: 0 };
        const grants = simulate(interleaved(queues), { global, quantum, weight: (key) => weights[key]! });
        const q = quantum ?? maxCost; // the default quantum is the global capacity
        expect(grants.map(({ key, cost }) => ({ key, cost }))).toEqual(literalDrr(queues, weights, q));

        // A request is always outstanding and no cost exceeds the capacity, so the tokens never
        // overflow: the k-th grant is at exactly the cost granted so far (1 token per ms, from 0).
        let granted = 0;
        for (const grant of grants) expect(grant.time).toBe((granted += grant.cost));

        // DRR's guarantee (Shreedhar & Varghese): with key i credited Q_i = q·w_i per turn, a
        // backlogged key's deficit is < maxCost after each of its turns and < Q_i + maxCost
        // during one, and the keys' credited turns differ by at most one. Writing key i's cost
        // granted so far as S_i = t_i·Q_i − D_i and the total as T, this gives
        //   −(Q_i + maxCost) < S_i − (w_i/W)·T < Q_i + (n·w_i/W)·maxCost
        // (W the sum of the weights, n the keys). The first key, deciding alone, may carry in
        // less than one more maxCost of credit from the rounds it was credited alone, shifting
        // each side by at most maxCost. So, at every grant while every key is backlogged:
        //   |S_i − (w_i/W)·T| ≤ q·w_i + (1 + n·w_i/W)·maxCost,
        // i.e. each key's share of the granted cost is within that over T of w_i/W.
        const n = weights.length;
        const W = weights.reduce((sum, w) => sum + w, 0);
        const left = queues.map((costs) => costs.length);
        const sent = weights.map(() => 0);
        let total = 0;
        for (const grant of grants) {
          sent[grant.key]! += grant.cost;
          total += grant.cost;
          if (--left[grant.key]! === 0) break; // from here on that key no longer contends
          weights.forEach((w, key) => {
            const bound = q * w + (1 + (n * w) / W) * maxCost;
            expect(Math.abs(sent[key]! - (w / W) * total)).toBeLessThanOrEqual(bound);
          });
        }
      }),
      { numRuns: 120 },
    );
  });

  it('weight 1 for every key grants exactly what no weight option grants (arrivals at any time, any costs)', () => {
    const scenario = fc.record({
      capacity: fc.integer({ min: 1, max: 4 }),
      every: fc.integer({ min: 1, max: 5 }),
      quantum: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
      jobs: fc.array(fc.record({ time: fc.integer({ min: 0, max: 40 }), key: fc.nat(3), cost: fc.integer({ min: 1, max: 4 }) }), {
        minLength: 1,
        maxLength: 40,
      }),
    });
    fc.assert(
      fc.property(scenario, ({ capacity, every, quantum, jobs: raw }) => {
        const jobs = raw
          .map((job, id) => ({ ...job, id, cost: Math.min(job.cost, capacity) }))
          .sort((a, b) => a.time - b.time || a.id - b.id);
        const global = { capacity, refillRate: 1, interval: every };
        expect(simulate(jobs, { global, quantum, weight: () => 1 })).toEqual(simulate(jobs, { global, quantum }));
      }),
      { numRuns: 150 },
    );
  });
});
