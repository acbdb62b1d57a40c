/**
 * Weighted shares of a global limit (`KeyedBucketsOptions.weight`): deficit round robin credits
 * each key `quantum × weight` per turn, so backlogged keys share the global tokens in proportion
 * to their weights, and a key alone gets them all. In virtual time; the keys' own buckets never
 * run short, so only the global limit and the weights decide.
 */
import { describe, expect, it } from 'vitest';
import { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { perKey } from '../../src/operators/perKey';
import { KeyedBuckets, type KeyedBucketsOptions } from '../../src/limiters/keyed/KeyedBuckets';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { describe as show } from '../../src/shared/describe';

interface Job {
  readonly key: string;
  readonly cost: number;
}
interface Grant extends Job {
  readonly time: number;
}

/** Own buckets that never run short: 1000 tokens, refilled 1000 per ms. */
const roomy = { capacity: 1000, refillRate: 1000, interval: 1 };
/** The global limit: capacity 1, 1 token per ms (a grant per ms at cost 1). */
const oneTokenPerMs = { capacity: 1, refillRate: 1, interval: 1 };
const nineToOne = (key: string): number => (key === 'a' ? 9 : 1);

/** Pushes `jobs` at time 0 (in order) through `perKey` on a fresh `KeyedBuckets`; returns every grant, in order, with its time. */
function grantsOf(
  jobs: readonly Job[],
  options: KeyedBucketsOptions<string>,
  bucketFor: ConstructorParameters<typeof KeyedBuckets<string>>[0] = roomy,
) {
  const grants: Grant[] = [];
  const ts = new TestScheduler(() => {});
  ts.run(() => {
    const keyed = new KeyedBuckets<string>(bucketFor, options);
    new Observable<Job>((subscriber) => {
      for (const job of jobs) subscriber.next(job);
      subscriber.complete();
    })
      .pipe(perKey((job: Job) => job.key, keyed, { cost: (job) => job.cost }))
      .subscribe((job) => grants.push({ ...job, time: ts.now() }));
    ts.flush();
    expect(keyed.stats()).toMatchObject({ queued: 0, timerScheduled: false });
  });
  return grants;
}

/** `count` jobs of each key, alternating, costs from `costOf(key, i)`. */
function alternating(keys: readonly string[], count: number, costOf: (key: string, i: number) => number = () => 1): Job[] {
  const jobs: Job[] = [];
  for (let i = 0; i < count; i++) for (const key of keys) jobs.push({ key, cost: costOf(key, i) });
  return jobs;
}

/** The grants made while every key still had values waiting (after the last of one key, the others have the rate to themselves). */
function whileAllBacklogged(grants: readonly Grant[], jobs: readonly Job[]): Grant[] {
  const left = new Map<string, number>();
  for (const job of jobs) left.set(job.key, (left.get(job.key) ?? 0) + 1);
  for (let i = 0; i < grants.length; i++) {
    const remaining = left.get(grants[i]!.key)! - 1;
    left.set(grants[i]!.key, remaining);
    if (remaining === 0) return grants.slice(0, i);
  }
  return [...grants];
}

/** Key `key`'s share of the granted cost in every window of `size` consecutive grants: [lowest, highest]. */
function shareRange(grants: readonly Grant[], key: string, size: number): [number, number] {
  expect(grants.length).toBeGreaterThanOrEqual(size);
  let lowest = Infinity;
  let highest = -Infinity;
  for (let start = 0; start + size <= grants.length; start++) {
    let ofKey = 0;
    let total = 0;
    for (let i = start; i < start + size; i++) {
      total += grants[i]!.cost;
      if (grants[i]!.key === key) ofKey += grants[i]!.cost;
    }
    lowest = Math.min(lowest, ofKey / total);
    highest = Math.max(highest, ofKey / total);
  }
  return [lowest, highest];
}

/** A tiny deterministic generator (LCG), for reproducible costs. */
function costs(seed: number, max: number): (key: string, i: number) => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return 1 + (state % max);
  };
}

describe('KeyedBuckets weight: backlogged keys share the global tokens in proportion to their weights', () => {
  it('weights 9 and 1, cost 1: 90/10 (within 5 points) in every window of 100 consecutive grants, at the full global rate', () => {
    const jobs = alternating(['a', 'b'], 1500);
    const grants = whileAllBacklogged(grantsOf(jobs, { global: oneTokenPerMs, weight: nineToOne }), jobs);
    expect(grants.length).toBeGreaterThan(1000);
    const [lowest, highest] = shareRange(grants, 'a', 100);
    expect(lowest).toBeGreaterThanOrEqual(0.85);
    expect(highest).toBeLessThanOrEqual(0.95);
    // Exactly 9 to 1 in every window, in fact: a turn of a is 9 grants, one of b is 1.
    expect([lowest, highest]).toEqual([0.9, 0.9]);
    // The global rate is used in full: a grant every ms.
    grants.forEach((grant, i) => expect(grant.time).toBe(i));
  });

  it('weights 9 and 1, costs 1..3 (quantum 1): 90/10 of the granted cost, within 5 points, in every window of 100 grants', () => {
    const jobs = alternating(['a', 'b'], 1500, costs(7, 3));
    const grants = whileAllBacklogged(grantsOf(jobs, { global: { ...oneTokenPerMs, capacity: 3 }, quantum: 1, weight: nineToOne }), jobs);
    expect(grants.length).toBeGreaterThan(1000);
    const [lowest, highest] = shareRange(grants, 'a', 100);
    expect(lowest).toBeGreaterThanOrEqual(0.85);
    expect(highest).toBeLessThanOrEqual(0.95);
    // Tokens are never granted faster than the global bucket refills (capacity 3 + 1 per ms).
    let cost = 0;
    for (const grant of grants) {
      cost += grant.cost;
      expect(cost).toBeLessThanOrEqual(3 + grant.time);
    }
  });

  it('three keys of weights 3, 2, 1 (costs 1..2): 1/2, 1/3, 1/6 of the cost over every 300 grants, within 5 points', () => {
    const weights: Record<string, number> = { a: 3, b: 2, c: 1 };
    const jobs = alternating(['a', 'b', 'c'], 1200, costs(11, 2));
    const grants = whileAllBacklogged(
      grantsOf(jobs, { global: { ...oneTokenPerMs, capacity: 2 }, quantum: 1, weight: (key) => weights[key]! }),
      jobs,
    );
    for (const [key, share] of [
      ['a', 1 / 2],
      ['b', 1 / 3],
      ['c', 1 / 6],
    ] as const) {
      const [lowest, highest] = shareRange(grants, key, 300);
      expect(lowest).toBeGreaterThanOrEqual(share - 0.05);
      expect(highest).toBeLessThanOrEqual(share + 0.05);
    }
  });

  it('a key alone gets the whole global rate, whatever its weight; the other joining makes it 9 to 1', () => {
    for (const weight of [1, 9, 0.1]) {
      const grants = grantsOf(alternating(['b'], 50), { global: oneTokenPerMs, weight: () => weight });
      expect(grants.map((grant) => grant.time)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    }
    const costly = grantsOf(
      alternating(['b'], 20, () => 2),
      { global: { ...oneTokenPerMs, capacity: 2 }, quantum: 1, weight: () => 0.25 },
    );
    expect(costly.map((grant) => grant.time)).toEqual(Array.from({ length: 20 }, (_, i) => 2 * i)); // barren rounds computed, not waited
  });

  it('a key backed by its own TokenLimiter (remote) shares by its weight too', () => {
    const jobs = alternating(['r', 'l'], 600);
    const bucketFor = (key: string) => (key === 'r' ? new TokenBucket({ ...roomy }) : roomy);
    const grants = whileAllBacklogged(grantsOf(jobs, { global: oneTokenPerMs, weight: (key) => (key === 'r' ? 3 : 1) }, bucketFor), jobs);
    const [lowest, highest] = shareRange(grants, 'r', 100);
    expect(lowest).toBeGreaterThanOrEqual(0.7);
    expect(highest).toBeLessThanOrEqual(0.8);
  });

  it('weight 1 for every key grants exactly what no weight grants', () => {
    const jobs = alternating(['a', 'b', 'c'], 200, costs(3, 3));
    const options = { global: { ...oneTokenPerMs, capacity: 3 }, quantum: 2 };
    expect(grantsOf(jobs, { ...options, weight: () => 1 })).toEqual(grantsOf(jobs, options));
  });
});

describe('KeyedBuckets weight: read once per key, checked', () => {
  const global = oneTokenPerMs;

  it('is called once when a key is created in memory, and again after it was forgotten and re-created', () => {
    const ts = new TestScheduler(() => {});
    ts.run(() => {
      const calls: string[] = [];
      const keyed = new KeyedBuckets<string>(
        { capacity: 1, refillRate: 1, interval: 10 },
        { global: { capacity: 5, refillRate: 5, interval: 1 }, weight: (key) => (calls.push(key), 2) },
      );
      expect(keyed.tryTake('a')).toBe(true);
      expect(keyed.tryTake('a')).toBe(false); // held: not read again
      expect(keyed.tryTake('b')).toBe(true);
      expect(calls).toEqual(['a', 'b']);
      ts.schedule(() => {
        expect(keyed.stats().keys).toBe(0); // both refilled and forgotten
        expect(keyed.tryTake('a')).toBe(true);
        expect(calls).toEqual(['a', 'b', 'a']);
      }, 10);
    });
  });

  it('without a global limit there is nothing to share: it is not called', () => {
    let called = false;
    const keyed = new KeyedBuckets<string>(roomy, { weight: () => ((called = true), -1) });
    expect(keyed.tryTake('a')).toBe(true);
    expect(called).toBe(false);
  });

  it('must be a function: a TypeError at construction, naming the option', () => {
    for (const weight of [2, 'heavy', {}, null]) {
      expect(() => new KeyedBuckets<string>(roomy, { global, weight: weight as never })).toThrow(
        new TypeError(`KeyedBuckets option "weight" must be a function of the key returning a number > 0, got ${show(weight)}`),
      );
    }
  });

  it('a weight that is not a finite number > 0, or a weight function that throws, fails the value naming the option and the key', () => {
    const cases: [unknown, Error][] = [
      [0, new RangeError('KeyedBuckets option "weight" must return a finite number > 0, got 0 for key "a"')],
      [-2, new RangeError('KeyedBuckets option "weight" must return a finite number > 0, got -2 for key "a"')],
      [Number.NaN, new RangeError('KeyedBuckets option "weight" must return a finite number > 0, got NaN for key "a"')],
      [Infinity, new RangeError('KeyedBuckets option "weight" must return a finite number > 0, got Infinity for key "a"')],
      ['3', new TypeError('KeyedBuckets option "weight" must return a finite number > 0, got "3" for key "a"')],
      [undefined, new TypeError('KeyedBuckets option "weight" must return a finite number > 0, got undefined for key "a"')],
    ];
    for (const [weight, error] of cases) {
      const keyed = new KeyedBuckets<string>(roomy, { global, weight: (key) => (key === 'a' ? (weight as number) : 1) });
      expect(() => keyed.tryTake('a')).toThrow(error);
      expect(keyed.stats().keys).toBe(0); // the key was never held
      expect(keyed.tryTake('b')).toBe(true); // other keys are unaffected
      let failure: unknown;
      keyed.take('a').subscribe({ error: (e: unknown) => (failure = e) });
      expect(failure).toEqual(error);
    }
    const throwing = new KeyedBuckets<string>(roomy, {
      global,
      weight: () => {
        throw new Error('no such tenant');
      },
    });
    expect(() => throwing.tryTake('t1')).toThrow(new Error('KeyedBuckets option "weight" for key "t1": no such tenant'));
    expect(throwing.stats().keys).toBe(0);
  });
});

describe('KeyedBuckets weight: each turn of the round robin credits quantum × weight', () => {
  /** The keys of the grants, in order: the global bucket starts empty, so every value goes through the round robin. */
  function turns(jobs: readonly Job[], quantum: number, weights: Record<string, number>): string {
    const global = { capacity: 1, refillRate: 1, interval: 1, initialTokens: 0 };
    return grantsOf(jobs, { global, quantum, weight: (key) => weights[key]! })
      .map((grant) => grant.key)
      .join('');
  }
  const jobs = [...alternating(['a', 'b'], 4), ...alternating(['a'], 2)]; // a, b, a, b, … then two more a

  it('integer weights: turns of 3 and 1 values', () => {
    expect(turns(jobs, 1, { a: 3, b: 1 })).toBe('aaabaaabbb');
  });

  it('fractional weights: quantum 2, weights 1.5 and 0.5, the same turns', () => {
    expect(turns(jobs, 2, { a: 1.5, b: 0.5 })).toBe('aaabaaabbb');
  });
});
