import { describe, expect, it } from 'vitest';
import { map, take } from 'rxjs';
import { RateLimitExceededError } from '../../src/shared/errors';
import { perKey } from '../../src/operators/perKey';
import { throttleByTokens } from '../../src/operators/throttleByTokens';
import { KeyedBuckets } from '../../src/limiters/keyed/KeyedBuckets';
import type { KeyedBucketsEvent } from '../../src/limiters/keyed/KeyedBucketsStats';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { createTestScheduler } from '../support/marbles';
import { itHandlesEmptyNeverAndErrorSources } from '../support/sourceCases';
import { probeAt } from '../support/virtualTime';

/** Values are named `<key><n>`: the key is the first character. */
const keyOf = (value: string): string => value[0]!;

/** Marble letters → values: a,b,c → a1,a2,a3; d,e,f → b1,b2,b3; g,h,i → c1,c2,c3. */
const V = { a: 'a1', b: 'a2', c: 'a3', d: 'b1', e: 'b2', f: 'b3', g: 'c1', h: 'c2', i: 'c3' } as const;

const oneEvery10 = { capacity: 1, refillRate: 1, interval: 10 };

describe('perKey: every key capacity 1, refill 1 token / 10 ms', () => {
  it('values of different keys never wait for each other', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('(abd) 5ms (e|)', V);
      const expected = '   (ad)   6ms (eb|)';
      expectObservable(source.pipe(perKey(keyOf, oneEvery10))).toBe(expected, V);
    });
  });

  it('keeps order within a key, each value at the earliest instant its key covers it', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('(abcd|)', V);
      const expected = '   (ad) 6ms b 9ms (c|)';
      expectObservable(source.pipe(perKey(keyOf, oneEvery10))).toBe(expected, V);
    });
  });

  it('a key idle long enough to refill passes at once, as a fresh key would', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const keyed = new KeyedBuckets<string>(oneEvery10);
      const source = cold('a 29ms b 9ms (c|)', V);
      const expected = '   a 29ms b 9ms (c|)';
      expectObservable(source.pipe(perKey(keyOf, keyed))).toBe(expected, V);
    });
  });

  it('empty source: completes at once', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const empty = cold('|');
      expectObservable(empty.pipe(perKey(keyOf, oneEvery10))).toBe('|');
      expectSubscriptions(empty.subscriptions).toBe('(^!)');
    });
  });

  it('never: emits nothing and schedules nothing', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable }) => {
      const keyed = new KeyedBuckets<string>(oneEvery10);
      expectObservable(cold('-').pipe(perKey(keyOf, keyed))).toBe('-');
      ts.schedule(() => expect(keyed.stats().timerScheduled).toBe(false), 5);
    });
  });

  it('source error: errors at once, waiting values withdrawn, no timer left', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const keyed = new KeyedBuckets<string>(oneEvery10);
      const source = cold('(abd) 2ms #', V);
      const expected = '   (ad)   3ms #';
      expectObservable(source.pipe(perKey(keyOf, keyed))).toBe(expected, V);
      expectSubscriptions(source.subscriptions).toBe('^ 6ms !');
      ts.schedule(() => {
        const stats = keyed.stats();
        expect(stats).toMatchObject({ queued: 0, timerScheduled: false, cancelled: 1, granted: 2 });
      }, 8);
    });
  });

  it('completion waits for the last waiting value of every key', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('(abde|)', V);
      const expected = '   (ad) 6ms (be|)';
      expectObservable(source.pipe(perKey(keyOf, oneEvery10))).toBe(expected, V);
    });
  });

  it('unsubscribe mid-wait: values withdrawn, nothing taken, no timer or queue entry left', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const keyed = new KeyedBuckets<string>(oneEvery10);
      const source = cold('(abde)', V);
      const unsub = '   ^ 4ms !';
      expectObservable(source.pipe(perKey(keyOf, keyed)), unsub).toBe('(ad)', V);
      expectSubscriptions(source.subscriptions).toBe(unsub);
      ts.schedule(() => {
        expect(keyed.stats()).toMatchObject({ queued: 0, waitingKeys: 0, timerScheduled: false, cancelled: 2, granted: 2 });
        // Nothing of the withdrawn values was taken: both keys refill from 0 at 0.
        expect(keyed.keyStats('a').available).toBeCloseTo(0.6, 9);
      }, 6);
      ts.schedule(() => expect(keyed.stats().keys).toBe(0), 10);
    });
  });
});

describe('perKey: weighted costs (cost = the number after the key), every key capacity 3, 1 token / 10 ms', () => {
  const W = { a: 'a3', b: 'a1', c: 'a2', d: 'b1', e: 'b3' } as const;
  const cost = (value: string): number => Number(value.slice(1));

  it('a heavy head is not overtaken by lighter values of its key; other keys are unaffected', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('(abcde|)', W);
      // a3 empties key a; a1 needs 10 ms; a2 20 ms more. b1 then b3 (needs 1 more token).
      const expected = '   (ad) 6ms (be) 16ms (c|)';
      expectObservable(source.pipe(perKey(keyOf, { capacity: 3, refillRate: 1, interval: 10 }, { cost }))).toBe(expected, W);
    });
  });
});

describe('perKey: an endpoint table (/search* 1 per 10 ms, /users/* burst 2 then 1 per 15 ms, default burst 3)', () => {
  const rules = {
    rules: [
      { match: '/search*', limit: { capacity: 1, refillRate: 1, interval: 10 } },
      { match: '/users/*', limit: { capacity: 2, refillRate: 1, interval: 15 } },
    ],
    default: { capacity: 3, refillRate: 1, interval: 10 },
  };
  const P = { s: '/search?q=1', t: '/search?q=2', u: '/users/1', x: '/other' } as const;

  it('each path gets the first matching rule, else the default; each path is its own key', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('(sstuuuxxxx|)', P);
      // /search?q=1: 1 now, 1 at 10. /search?q=2 is another key: now. /users/1: 2 now, 1 at 15.
      // /other: 3 now, 1 at 10.
      const expected = '   (stuuxxx) 1ms (sx) 1ms (u|)';
      expectObservable(source.pipe(perKey((path: string) => path, rules))).toBe(expected, P);
    });
  });
});

describe('perKey: under a global bucket of capacity 2, 1 token / 10 ms (keys capacity 1, 1 token / 10 ms)', () => {
  const global = { capacity: 2, refillRate: 1, interval: 10 };

  it('a value takes its key and the global tokens at the same instant', () => {
    const ts = createTestScheduler();
    const granted: KeyedBucketsEvent<string>[] = [];
    ts.run(({ cold, expectObservable }) => {
      const keyed = new KeyedBuckets<string>(oneEvery10, { global });
      keyed.events$.subscribe((event) => event.type === 'granted' && granted.push(event));
      const source = cold('(adg|)', V);
      const expected = '   (ad) 6ms (g|)';
      expectObservable(source.pipe(perKey(keyOf, keyed))).toBe(expected, V);
      ts.schedule(() => {
        // c1 waited for the global bucket with key c full; at 10 both were taken together.
        expect(keyed.keyStats('c').available).toBeCloseTo(0.1, 9);
        expect(keyed.stats().global).toMatchObject({ requesting: false });
        expect(keyed.stats().global!.available).toBeCloseTo(0.1, 9);
      }, 11);
    });
    expect(
      granted.map(
        (event) => event.type === 'granted' && { key: event.key, time: event.time, waited: event.waited, available: event.available },
      ),
    ).toEqual([
      { key: 'a', time: 0, waited: 0, available: 0 },
      { key: 'b', time: 0, waited: 0, available: 0 },
      { key: 'c', time: 10, waited: 10, available: 0 },
    ]);
  });

  it('the global bucket is shared by deficit round robin: a backlog of one key does not delay others', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const fastKeys = { capacity: 5, refillRate: 1, interval: 1 };
      const source = cold('(abcdefgh|)', V);
      // a1 a2 take the global burst. Then turns of quantum 2 tokens: a3 (key a is then empty),
      // b1 b2, c1 c2, b3 — one global token every 10 ms.
      const expected = '   (ab) 6ms c 9ms d 9ms e 9ms g 9ms h 9ms (f|)';
      expectObservable(source.pipe(perKey(keyOf, fastKeys, { global }))).toBe(expected, V);
    });
  });

  it('quantum 1: one value per key per round', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const fastKeys = { capacity: 5, refillRate: 1, interval: 1 };
      const source = cold('(abcdefgh|)', V);
      const expected = '   (ab) 6ms c 9ms d 9ms g 9ms e 9ms h 9ms (f|)';
      expectObservable(source.pipe(perKey(keyOf, fastKeys, { global, quantum: 1 }))).toBe(expected, V);
    });
  });

  itHandlesEmptyNeverAndErrorSources(() => perKey(keyOf, oneEvery10, { global }));

  it('unsubscribing while a value waits for the global tokens withdraws it: it takes neither its key nor the global tokens', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const keyed = new KeyedBuckets<string>(oneEvery10, { global });
      const source = cold('(adg)', V);
      const unsub = '   ^ 4ms !';
      expectObservable(source.pipe(perKey(keyOf, keyed)), unsub).toBe('(ad)', V);
      expectSubscriptions(source.subscriptions).toBe(unsub);
      probeAt(ts, 6, () => {
        expect(keyed.stats()).toMatchObject({ queued: 0, timerScheduled: false, cancelled: 1, granted: 2 });
        expect(keyed.stats().global).toMatchObject({ requesting: false });
        // a1 and b1 took the global burst at 0; c1 took nothing: 6 ms of refill since.
        expect(keyed.stats().global!.available).toBeCloseTo(0.6, 9);
        expect(ts.actions.length).toBe(0);
      });
    });
  });
});

describe('perKey: a hot key and a cold one under a global bucket of capacity 1, 1 token / 10 ms', () => {
  it('the cold key waits at most the rest of the hot turn plus its own cost (quantum 1): 2 tokens, 20 ms', () => {
    createTestScheduler().run(({ cold, hot, expectObservable }) => {
      const hotValues = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [String(i), `h${i}`]));
      const source = hot('(0123456789) 25ms a 19ms b|', { ...hotValues, a: 'c1', b: 'c2' });
      // c1 arrives at 37 while h3's request is outstanding (due 40): c1 at 50, then h4, then c2 (arrived 57) at 70.
      const expected = '0 9ms 1 9ms 2 9ms 3 9ms 4 9ms a 9ms 5 9ms b 9ms 6 9ms 7 9ms 8 9ms (9|)';
      const fastKeys = { capacity: 100, refillRate: 100, interval: 1 };
      expectObservable(source.pipe(perKey(keyOf, fastKeys, { global: oneEvery10 }))).toBe(expected, { ...hotValues, a: 'c1', b: 'c2' });
      void cold;
    });
  });

  it('weighted by cost (quantum 3): a turn of the hot key is three values of cost 1, of the cold key one of cost 3', () => {
    createTestScheduler().run(({ hot, expectObservable }) => {
      const values = { h: 'h', c: 'c' };
      const source = hot('(hhhhhhhhh) 1ms c|', values);
      const cost = (value: string): number => (value === 'c' ? 3 : 1);
      const fastKeys = { capacity: 100, refillRate: 100, interval: 1 };
      // h h h at 0 (the burst). Hot's turn: h4 at 10, h5 at 20, h6 at 30. c (arrived at 12)
      // needs 3 tokens: at 60. Then hot's next turn: h7, h8, h9.
      const expected = '(hhh) 5ms h 9ms h 9ms h 29ms c 9ms h 9ms h 9ms (h|)';
      expectObservable(
        source.pipe(perKey((v: string) => v, fastKeys, { cost, global: { capacity: 3, refillRate: 1, interval: 10 } })),
      ).toBe(expected, values);
    });
  });
});

describe('perKey: under a shared global TokenBucket (capacity 1, 1 token / 10 ms) used by another pipe too', () => {
  it('asks the global bucket through the protocol, one request at a time, in its FIFO with the other pipe', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const global = new TokenBucket(oneEvery10);
      const keyed = new KeyedBuckets<string>({ capacity: 5, refillRate: 1, interval: 1 }, { global });
      const keyedSource = cold('(adg|)', V);
      const otherSource = cold('-(xy|)');
      // b1's request joins the global FIFO at 0; x and y join at 1; c1's request only after b1's grant.
      expectObservable(keyedSource.pipe(perKey(keyOf, keyed))).toBe('a 9ms d 29ms (g|)', V);
      expectObservable(otherSource.pipe(throttleByTokens(global))).toBe('- 19ms x 9ms (y|)');
    });
  });

  it('unsubscribing while its request is outstanding withdraws it: the global and the key lose nothing', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const global = new TokenBucket(oneEvery10);
      const keyed = new KeyedBuckets<string>(oneEvery10, { global });
      const source = cold('(ad)', V);
      expectObservable(source.pipe(perKey(keyOf, keyed)), '^ 4ms !').toBe('a', V);
      expectSubscriptions(source.subscriptions).toBe('^ 4ms !');
      ts.schedule(() => {
        expect(global.stats()).toMatchObject({ queued: 0, granted: 1, cancelled: 1, timerScheduled: false });
        expect(keyed.keyStats('b')).toMatchObject({ held: false, available: 1 });
        expect(keyed.stats()).toMatchObject({ keys: 1, queued: 0, timerScheduled: false });
      }, 6);
    });
  });
});

describe('perKey: strategy "drop" and "error"', () => {
  it('drop: discards a value whose key has no token now, reporting it with its key', () => {
    const ts = createTestScheduler();
    const dropped: string[] = [];
    const events: KeyedBucketsEvent<string>[] = [];
    ts.run(({ cold, expectObservable }) => {
      const keyed = new KeyedBuckets<string>(oneEvery10);
      keyed.events$.subscribe((event) => events.push(event));
      const source = cold('(abd) 6ms c|', V);
      const onDrop = (value: string, reason: string, key: string): void => void dropped.push(`${value}:${reason}:${key}`);
      expectObservable(source.pipe(perKey(keyOf, keyed, { strategy: 'drop', onDrop }))).toBe('(ad) 7ms c|', V);
    });
    expect(dropped).toEqual(['a2:no-tokens:a']);
    expect(events.filter((event) => event.type === 'dropped')).toEqual([
      { type: 'dropped', key: 'a', time: 0, cost: 1, reason: 'no-tokens', retryAfter: 10 },
    ]);
  });

  it('error: fails with RateLimitExceededError carrying retryAfter and reason', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('(abd)', V);
      expectObservable(source.pipe(perKey(keyOf, oneEvery10, { strategy: 'error' }))).toBe(
        '(a#)',
        V,
        new RateLimitExceededError(10, 1, 'no-tokens'),
      );
      expectSubscriptions(source.subscriptions).toBe('(^!)');
    });
  });

  for (const strategy of ['drop', 'error'] as const) {
    describe(`strategy "${strategy}"`, () => {
      itHandlesEmptyNeverAndErrorSources(() => perKey(keyOf, oneEvery10, { strategy }));

      it('unsubscribing releases the source: what it would push later is neither emitted nor refused', () => {
        const ts = createTestScheduler();
        ts.run(({ cold, expectObservable, expectSubscriptions }) => {
          const keyed = new KeyedBuckets<string>(oneEvery10);
          const source = cold('(ad) 6ms b', V);
          const unsub = '   ^ 5ms !    ';
          expectObservable(source.pipe(perKey(keyOf, keyed, { strategy })), unsub).toBe('(ad)', V);
          expectSubscriptions(source.subscriptions).toBe(unsub);
          probeAt(ts, 8, () => {
            // Before a2 was due (10): nothing of the stream is scheduled any more.
            expect(keyed.stats()).toMatchObject({ granted: 2, dropped: 0, rejected: 0, queued: 0, timerScheduled: false });
            expect(ts.actions.length).toBe(0);
          });
        });
      });
    });
  }
});

describe('perKey: bounds per key (maxQueue, maxWait) and on keys (maxKeys)', () => {
  it('maxQueue 1 with overflow "drop": a key with one value waiting drops the next; other keys unaffected', () => {
    const dropped: string[] = [];
    createTestScheduler().run(({ cold, expectObservable }) => {
      const source = cold('(abcde|)', V);
      const onDrop = (value: string, reason: string): void => void dropped.push(`${value}:${reason}`);
      const expected = '   (ad) 6ms (be|)';
      expectObservable(source.pipe(perKey(keyOf, oneEvery10, { maxQueue: 1, overflow: 'drop', onDrop }))).toBe(expected, V);
    });
    expect(dropped).toEqual(['a3:max-queue']);
  });

  it('maxWait 13 with overflow "error": a value whose predicted wait is 14 ms fails at arrival', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      // a3 arrives at 6 behind a2: key a has 0.6 token, both need 2: 14 ms.
      const source = cold('(ab) 2ms c', V);
      expectObservable(source.pipe(perKey(keyOf, oneEvery10, { maxWait: 13 }))).toBe(
        'a 5ms #',
        V,
        new RateLimitExceededError(14, 1, 'max-wait'),
      );
      expectSubscriptions(source.subscriptions).toBe('^ 5ms !');
    });
  });

  it('maxKeys 2: a new key past it is refused with reason "max-keys" until a key has refilled and is forgotten', () => {
    const dropped: string[] = [];
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable }) => {
      const keyed = new KeyedBuckets<string>(oneEvery10, { maxKeys: 2 });
      const source = cold('(adg) 3ms g 4ms g|', V);
      const onDrop = (value: string, reason: string, key: string): void => void dropped.push(`${ts.now()}:${value}:${reason}:${key}`);
      // At 8 keys a and b are still refilling (full at 10); at 13 they are forgotten.
      expectObservable(source.pipe(perKey(keyOf, keyed, { maxQueue: 5, overflow: 'drop', onDrop }))).toBe('(ad) 9ms g|', V);
      ts.schedule(() => expect(keyed.stats()).toMatchObject({ keys: 1, refusedMaxKeys: 2, dropped: 2 }), 15);
    });
    expect(dropped).toEqual(['0:c1:max-keys:c', '8:c1:max-keys:c']);
  });

  it('maxKeys with overflow "error": RateLimitExceededError with reason "max-keys" and the time until a key frees', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('(adg)', V);
      expectObservable(source.pipe(perKey(keyOf, oneEvery10, { maxKeys: 2 }))).toBe(
        '(ad#)',
        V,
        new RateLimitExceededError(10, 1, 'max-keys'),
      );
      expectSubscriptions(source.subscriptions).toBe('(^!)');
    });
  });
});

describe('perKey: one KeyedBuckets shared by two pipes', () => {
  it('a key has one FIFO across both pipes; options instead give each subscription its own buckets', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const keyed = new KeyedBuckets<string>(oneEvery10);
      const first = cold('(ab|)', V);
      const second = cold('-(cd|)', V);
      expectObservable(first.pipe(perKey(keyOf, keyed))).toBe('a 9ms (b|)', V);
      expectObservable(second.pipe(perKey(keyOf, keyed))).toBe('-d 18ms (c|)', V);
      const own = perKey(keyOf, oneEvery10);
      expectObservable(cold('(ab|)', V).pipe(own)).toBe('a 9ms (b|)', V);
      expectObservable(cold('(ab|)', V).pipe(own)).toBe('a 9ms (b|)', V);
    });
  });
});

describe('perKey: configure one key mid-stream', () => {
  it('a faster limit for key a applies to its waiting values at once; key b keeps its own', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable }) => {
      const keyed = new KeyedBuckets<string>(oneEvery10);
      const source = cold('(abcdef|)', V);
      ts.schedule(() => keyed.configure('a', { interval: 2 }), 5);
      // At 5 key a has 0.5 token earned at the old rate; the rest (0.5) at 1 per 2 ms: a2 at 6, a3 at 8.
      const expected = '   (ad) 2ms b 1ms c 1ms e 9ms (f|)';
      expectObservable(source.pipe(perKey(keyOf, keyed))).toBe(expected, V);
    });
  });
});

describe('perKey: configure the key whose value holds the global request', () => {
  it('shrinking its capacity below the head fails that value; the request passes to the next key', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const keyed = new KeyedBuckets<string>(
        { capacity: 2, refillRate: 1, interval: 1 },
        { global: { capacity: 2, refillRate: 1, interval: 10 } },
      );
      const heavy = cold('(ab)', { a: 'a2', b: 'a2' });
      const light = cold('-d', V);
      const cost = (value: string): number => (value === 'a2' ? 2 : 1);
      // a2 takes the global burst at 0; the second a2 holds the request (due 20). At 5 key a
      // shrinks to 1: that value fails, and b1 (waiting since 1) gets the request: 10.
      ts.schedule(() => keyed.configure('a', { capacity: 1 }), 5);
      expectObservable(heavy.pipe(perKey(keyOf, keyed, { cost }))).toBe(
        'a    4ms #',
        { a: 'a2' },
        new RangeError('cost 2 exceeds capacity 1 of key "a"'),
      );
      expectSubscriptions(heavy.subscriptions).toBe('^ 4ms !'); // the failed stream releases its source at 5
      expectObservable(light.pipe(perKey(keyOf, keyed, { cost }))).toBe('- 9ms d', V);
    });
  });
});

describe('perKey: keys backed by their own TokenLimiter', () => {
  it("asks the key's limiter through the protocol and forgets the key once nothing of it waits", () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable }) => {
      const stores = new Map<string, TokenBucket>();
      const storeOf = (key: string): TokenBucket => {
        if (!stores.has(key)) stores.set(key, new TokenBucket(oneEvery10));
        return stores.get(key)!;
      };
      const keyed = new KeyedBuckets<string>(storeOf);
      expectObservable(cold('(abd|)', V).pipe(perKey(keyOf, keyed))).toBe('(ad) 6ms (b|)', V);
      ts.schedule(() => expect(keyed.stats()).toMatchObject({ keys: 1, queued: 1 }), 5);
      ts.schedule(() => expect(keyed.stats()).toMatchObject({ keys: 0, queued: 0, granted: 3 }), 11);
    });
  });

  it("with a global bucket: the key's limiter first, then the global one", () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const global = { capacity: 1, refillRate: 1, interval: 5 };
      const keyed = new KeyedBuckets<string>(() => new TokenBucket(oneEvery10), { global });
      expectObservable(cold('(adg|)', V).pipe(perKey(keyOf, keyed))).toBe('a 4ms d 4ms (g|)', V);
    });
  });
});

describe('perKey: bad input', () => {
  it('a keyOf that throws errors the stream with its error', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const boom = new Error('no key');
      const keyOfOrThrow = (value: string): string => {
        if (value === 'b1') throw boom;
        return keyOf(value);
      };
      const source = cold('(ad)', V);
      expectObservable(source.pipe(perKey(keyOfOrThrow, oneEvery10))).toBe('(a#)', V, boom);
      expectSubscriptions(source.subscriptions).toBe('(^!)');
    });
  });

  it("a cost above its key's capacity errors naming the cost, the capacity and the key", () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('a', V);
      expectObservable(source.pipe(perKey(keyOf, oneEvery10, { cost: 2 }))).toBe(
        '#',
        undefined,
        new RangeError('cost 2 exceeds capacity 1 of key "a"'),
      );
      expectSubscriptions(source.subscriptions).toBe('(^!)');
    });
  });

  it('a cost above the global capacity errors naming it', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const keys = { capacity: 5, refillRate: 1 };
      const source = cold('a', V);
      expectObservable(source.pipe(perKey(keyOf, keys, { cost: 3, global: { capacity: 2, refillRate: 1 } }))).toBe(
        '#',
        undefined,
        new RangeError('cost 3 exceeds the global capacity 2'),
      );
      expectSubscriptions(source.subscriptions).toBe('(^!)');
    });
  });

  it('a key no rule matches, without a default, errors naming the key', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const rules = { rules: [{ match: /^a/, limit: oneEvery10 }] };
      const source = cold('(ad)', V);
      expectObservable(source.pipe(perKey(keyOf, rules))).toBe(
        '(a#)',
        V,
        new RangeError('KeyedBuckets: no rule matches key "b" and there is no default'),
      );
      expectSubscriptions(source.subscriptions).toBe('(^!)');
    });
  });

  it('a cost function returning NaN errors naming the value', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('a', V);
      expectObservable(source.pipe(perKey(keyOf, oneEvery10, { cost: () => Number.NaN }))).toBe(
        '#',
        undefined,
        new RangeError('perKey: cost(value #0) returned NaN; the cost function must return a finite number >= 0 (tokens) for every value'),
      );
      expectSubscriptions(source.subscriptions).toBe('(^!)');
    });
  });

  it('invalid options throw at once, naming the option', () => {
    expect(() => perKey(keyOf, { capacity: -1, refillRate: 1 })).toThrow(
      'KeyedBuckets bucketFor: TokenBucket option "capacity" must be a finite number > 0, got -1',
    );
    expect(() => perKey(keyOf, oneEvery10, { maxKeys: 0 })).toThrow('KeyedBuckets option "maxKeys" must be a number > 0, got 0');
    expect(() => perKey(keyOf, oneEvery10, { strategy: 'drop', maxWait: 5 })).toThrow('apply to strategy "delay"');
    expect(() => perKey(keyOf, new KeyedBuckets(oneEvery10), { maxKeys: 5 })).toThrow(
      'perKey option "maxKeys" applies when given bucket options',
    );
    expect(() => perKey('a' as never, oneEvery10)).toThrow('perKey: keyOf must be a function, got "a"');
    expect(() => perKey(keyOf, oneEvery10, { rate: 1 } as never)).toThrow('perKey has no option "rate"');
  });
});

describe('perKey: inside a larger pipe', () => {
  it('works on objects keyed by a field, and a downstream take(2) withdraws the rest', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const keyed = new KeyedBuckets<number>(oneEvery10);
      const source = cold('(abc)', { a: { user: 1 }, b: { user: 1 }, c: { user: 2 } });
      const result = source.pipe(
        perKey((message: { user: number }) => message.user, keyed),
        map((message) => message.user),
        take(2),
      );
      expectObservable(result).toBe('(ac|)', { a: 1, c: 2 });
      expectSubscriptions(source.subscriptions).toBe('(^!)');
      ts.schedule(() => expect(keyed.stats()).toMatchObject({ queued: 0, cancelled: 1, granted: 2, timerScheduled: false }), 5);
    });
  });
});
