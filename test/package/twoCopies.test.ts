/**
 * Two copies of the package in one process — the ESM and the CJS build, or two versions a
 * dependency tree holds — with one rxjs between them. Limiters are recognised by their
 * `Symbol.for` brands, not `instanceof`, so each copy's operators take the other's buckets: an
 * `instanceof` check would read a foreign bucket as options and throw.
 * (`npm run check:package` runs the same across the built ESM and CJS files.)
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestScheduler } from '../support/marbles';

type Package = typeof import('../../src/index');

let first: Package;
let second: Package;

beforeAll(async () => {
  first = await import('../../src/index');
  // A fresh module registry: the second import evaluates every file of src/ again (rxjs, from
  // node_modules, stays one instance, as in an application holding two copies of this package).
  vi.resetModules();
  second = await import('../../src/index');
});

describe('two copies of the package', () => {
  it('are really two copies', () => {
    expect(second.TokenBucket).not.toBe(first.TokenBucket);
    expect(new first.TokenBucket({ capacity: 1, refillRate: 1 })).not.toBeInstanceOf(second.TokenBucket);
  });

  it("recognise each other's limiters by brand", () => {
    expect(second.isLimiter(new first.TokenBucket({ capacity: 1, refillRate: 1 }))).toBe(true);
    expect(first.isLimiter(new second.TokenBucket({ capacity: 1, refillRate: 1 }))).toBe(true);
    expect(second.isKeyedLimiter(new first.KeyedBuckets<string>({ capacity: 1, refillRate: 1 }))).toBe(true);
    expect(second.isLimiter({ capacity: 1, refillRate: 1 })).toBe(false);
  });

  it("throttleByTokens of one shapes by the other's shared TokenBucket", () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const bucket = new first.TokenBucket({ capacity: 2, refillRate: 1, interval: 10 });
      // Both pipes take from the one bucket: its third token is 10 ms away, the fourth 20.
      expectObservable(cold('(abc|)').pipe(second.throttleByTokens(bucket))).toBe('(ab) 6ms (c|)');
      expectObservable(cold('d|').pipe(first.throttleByTokens(bucket))).toBe('20ms (d|)');
    });
  });

  it("perKey of one runs on the other's KeyedBuckets", () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const keyed = new first.KeyedBuckets<string>({ capacity: 1, refillRate: 1, interval: 10 });
      // Key a waits for its own second token; key b does not wait for a.
      expectObservable(cold('(aab|)').pipe(second.perKey((key: string) => key, keyed))).toBe('(ab) 6ms (a|)');
    });
  });
});
