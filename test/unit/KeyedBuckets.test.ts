import { describe, expect, it } from 'vitest';
import { from, Observable, type Subscription, type SchedulerAction, type SchedulerLike } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { perKey } from '../../src/operators/perKey';
import { DeficitRoundRobin, type RingMember } from '../../src/waiting/DeficitRoundRobin';
import { KeyedBuckets } from '../../src/limiters/keyed/KeyedBuckets';
import type { KeyedBucketsEvent } from '../../src/limiters/keyed/KeyedBucketsStats';
import { KeyHeap, type HeapMember } from '../../src/waiting/KeyHeap';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { MAX_TIMER_DELAY } from '../../src/waiting/SingleTimer';
import { WaitQueue, type Waiter } from '../../src/waiting/WaitQueue';

/** A TestScheduler run without marble assertions, for scripted scenarios. */
function virtual<R>(scenario: (ts: TestScheduler) => R): R {
  const ts = new TestScheduler(() => {});
  let result!: R;
  ts.run(() => {
    result = scenario(ts);
    ts.flush();
  });
  return result;
}

/**
 * Wraps a scheduler to count the actions scheduled and not yet run or cancelled, and to
 * record every delay asked for. `early` makes each timer fire that fraction of its delay early.
 */
function countingScheduler(inner: SchedulerLike, early = 0) {
  const live = new Set<object>();
  const probe = {
    peak: 0,
    delays: [] as number[],
    get live() {
      return live.size;
    },
  };
  const scheduler: SchedulerLike = {
    now: () => inner.now(),
    schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T): Subscription {
      const token = {};
      live.add(token);
      probe.peak = Math.max(probe.peak, live.size);
      probe.delays.push(delay);
      const subscription = inner.schedule(
        function (this: SchedulerAction<T>, s?: T) {
          live.delete(token);
          work.call(this, s);
        },
        delay * (1 - early),
        state,
      );
      subscription.add(() => live.delete(token));
      return subscription;
    },
  };
  return { scheduler, probe };
}

const oneEvery10 = { capacity: 1, refillRate: 1, interval: 10 };

describe('KeyedBuckets: memory follows busy keys, not keys ever seen', () => {
  it('100 000 keys: all held while refilling, none once refilled (virtual time)', () => {
    virtual((ts) => {
      const keyed = new KeyedBuckets<number>(oneEvery10);
      const keys = Array.from({ length: 100_000 }, (_, i) => i);
      let emitted = 0;
      from(keys)
        .pipe(perKey((key: number) => key, keyed))
        .subscribe(() => emitted++);
      expect(emitted).toBe(100_000);
      expect(keyed.stats().keys).toBe(100_000);
      ts.schedule(() => expect(keyed.stats().keys).toBe(100_000), 9);
      ts.schedule(() => {
        const stats = keyed.stats();
        expect(stats.keys).toBe(0);
        expect(stats.forgotten).toBe(100_000);
        expect(stats.timerScheduled).toBe(false);
      }, 10);
    });
  });

  it('keys arriving one per ms with a 10 ms refill: never more than 10 held at once', () => {
    virtual((ts) => {
      const keyed = new KeyedBuckets<number>(oneEvery10);
      let peak = 0;
      const source = new Observable<number>((subscriber) => {
        for (let t = 0; t < 1000; t++) ts.schedule(() => subscriber.next(t), t);
        ts.schedule(() => subscriber.complete(), 1000);
      });
      source.pipe(perKey((key: number) => key, keyed)).subscribe(() => (peak = Math.max(peak, keyed.stats().keys)));
      ts.schedule(() => expect(keyed.stats().keys).toBe(0), 2000);
      ts.flush();
      expect(peak).toBe(10);
    });
  });

  it('a key forgotten and seen again behaves as if it had been kept', () => {
    const times = virtual((ts) => {
      const keyed = new KeyedBuckets<string>({ capacity: 2, refillRate: 1, interval: 10 });
      const out: number[] = [];
      const source = new Observable<string>((subscriber) => {
        for (const t of [0, 0, 0, 35, 35, 35, 36]) ts.schedule(() => subscriber.next('k'), t);
      });
      source.pipe(perKey((key: string) => key, keyed)).subscribe(() => out.push(ts.now()));
      ts.schedule(() => expect(keyed.keyStats('k').held).toBe(false), 30);
      return out;
    });
    // Full again at 30 (forgotten), so at 35 it starts full: 35, 35, then 45, 55.
    expect(times).toEqual([0, 0, 10, 35, 35, 45, 55]);
  });
});

describe('KeyedBuckets: one scheduled action for all keys', () => {
  it('many keys with values waiting: at most one action at any time, none at the end', () => {
    virtual((ts) => {
      const { scheduler, probe } = countingScheduler(ts);
      const keyed = new KeyedBuckets<number>((key) => ({ capacity: 1, refillRate: 1, interval: 3 + (key % 7) }), { scheduler });
      let emitted = 0;
      const source = new Observable<number>((subscriber) => {
        for (let i = 0; i < 2000; i++) ts.schedule(() => subscriber.next(i % 50), (i * 7) % 301);
        ts.schedule(() => subscriber.complete(), 301);
      });
      source.pipe(perKey((key: number) => key, keyed)).subscribe({ next: () => emitted++, complete: () => expect(probe.live).toBe(0) });
      ts.flush();
      expect(emitted).toBe(2000);
      expect(probe.peak).toBe(1);
      expect(probe.live).toBe(0);
    });
  });

  it('with an in-memory global bucket too: still one action', () => {
    virtual((ts) => {
      const { scheduler, probe } = countingScheduler(ts);
      const keyed = new KeyedBuckets<number>(
        { capacity: 2, refillRate: 1, interval: 4 },
        { scheduler, global: { capacity: 3, refillRate: 1, interval: 1 } },
      );
      let emitted = 0;
      const source = new Observable<number>((subscriber) => {
        for (let i = 0; i < 600; i++) ts.schedule(() => subscriber.next(i % 13), i % 97);
        ts.schedule(() => subscriber.complete(), 97);
      });
      source.pipe(perKey((key: number) => key, keyed)).subscribe(() => emitted++);
      ts.flush();
      expect(emitted).toBe(600);
      expect(probe.peak).toBe(1);
      expect(probe.live).toBe(0);
    });
  });

  it('a wait beyond 2^31−1 ms is taken in capped steps and granted exactly on time', () => {
    const times = virtual((ts) => {
      const { scheduler, probe } = countingScheduler(ts);
      const keyed = new KeyedBuckets<string>({ capacity: 1, refillRate: 1, interval: 5e9 }, { scheduler });
      const out: number[] = [];
      from(['a', 'a'])
        .pipe(perKey((key: string) => key, keyed))
        .subscribe(() => out.push(ts.now()));
      ts.flush();
      expect(Math.max(...probe.delays)).toBe(MAX_TIMER_DELAY);
      expect(probe.delays.length).toBe(3);
      return out;
    });
    expect(times).toEqual([0, 5e9]);
  });

  it('a timer that fires early is re-checked: nothing is granted before its instant', () => {
    const times = virtual((ts) => {
      const { scheduler } = countingScheduler(ts, 0.5);
      const keyed = new KeyedBuckets<string>(oneEvery10, { scheduler, global: { capacity: 1, refillRate: 1, interval: 7 } });
      const out: [string, number][] = [];
      from(['a', 'a', 'b', 'a'])
        .pipe(perKey((key: string) => key, keyed))
        .subscribe((key) => out.push([key, ts.now()]));
      return out;
    });
    // a@0 takes the global token. b (key full) asks the global at 0: 7. a2: key a at 10, then the
    // global (3/7 token at 10): 14. a3: key a at 24, the global is full by then. A timer that
    // always fires at half its delay is re-aimed until the instant is reached: never before it,
    // and within the ledger's 1 µs grid after it.
    expect(times.map(([key]) => key)).toEqual(['a', 'b', 'a', 'a']);
    [0, 7, 14, 24].forEach((instant, i) => {
      expect(times[i]![1]).toBeGreaterThanOrEqual(instant);
      expect(times[i]![1]).toBeLessThan(instant + 0.001);
    });
  });
});

describe('KeyedBuckets: a shared global TokenLimiter', () => {
  it('holds at most one outstanding request in the shared bucket, whatever the number of contending keys', () => {
    virtual((ts) => {
      const global = new TokenBucket({ capacity: 1, refillRate: 1, interval: 2 });
      const keyed = new KeyedBuckets<number>({ capacity: 5, refillRate: 5, interval: 1 }, { global });
      let peakQueued = 0;
      global.events$.subscribe(() => (peakQueued = Math.max(peakQueued, global.stats().queued)));
      let emitted = 0;
      from(Array.from({ length: 200 }, (_, i) => i % 20))
        .pipe(perKey((key: number) => key, keyed))
        .subscribe(() => emitted++);
      ts.flush();
      expect(emitted).toBe(200);
      expect(peakQueued).toBe(1);
      expect(global.stats()).toMatchObject({ granted: 200, queued: 0, timerScheduled: false });
      expect(keyed.stats().timerScheduled).toBe(false);
    });
  });

  it('an in-memory global: cancelling the value that holds the request leaks no token of either bucket', () => {
    virtual((ts) => {
      const keyed = new KeyedBuckets<string>(oneEvery10, { global: { capacity: 1, refillRate: 1, interval: 10 } });
      const subscription = from(['a', 'b'])
        .pipe(perKey((key: string) => key, keyed))
        .subscribe();
      ts.schedule(() => subscription.unsubscribe(), 4);
      ts.schedule(() => {
        // Global: 1 taken at 0 by a, refilling since: 0.5 at 5. Key b: never charged, not held.
        expect(keyed.stats()).toMatchObject({ queued: 0, timerScheduled: false, cancelled: 1 });
        expect(keyed.stats().global!.available).toBeCloseTo(0.5, 9);
        expect(keyed.keyStats('b')).toMatchObject({ held: false, available: 1 });
      }, 5);
    });
  });
});

describe('KeyedBuckets: rules for groups of keys', () => {
  const limit = (capacity: number) => ({ capacity, refillRate: 1 });
  const keyed = new KeyedBuckets<string>({
    rules: [
      { match: '/search*', limit: limit(1) },
      { match: '/users/*/posts', limit: limit(2) },
      { match: /^\/admin/g, limit: limit(3) },
      { match: (key) => key.endsWith('.png'), limit: limit(4) },
      { match: '/exact', limit: limit(5) },
    ],
    default: limit(9),
  });

  it.each([
    ['/search', 1],
    ['/search?q=x', 1],
    ['/users/42/posts', 2],
    ['/users/42/posts/1', 9],
    ['/admin/a', 3],
    ['/admin/b', 3], // a global RegExp keeps no state between keys
    ['/search.png', 1], // the first match wins
    ['/img/a.png', 4],
    ['/exact', 5],
    ['/exact/not', 9],
    ['/a.b', 9], // '.' in a pattern is literal
  ])('%s → capacity %i', (key, capacity) => {
    expect(keyed.keyStats(key).capacity).toBe(capacity);
  });

  it('invalid rules throw at construction, naming the rule and option', () => {
    expect(() => new KeyedBuckets({ rules: [{ match: 'a', limit: { capacity: 0, refillRate: 1 } }] })).toThrow(
      'KeyedBuckets rules[0].limit: TokenBucket option "capacity" must be a finite number > 0, got 0',
    );
    expect(() => new KeyedBuckets({ rules: [{ match: 5 as never, limit: limit(1) }] })).toThrow(
      'KeyedBuckets rules[0].match must be a string, a RegExp or a function, got 5',
    );
    expect(() => new KeyedBuckets({ rules: 'x' as never })).toThrow('KeyedBuckets option "rules" must be an array, got "x"');
    expect(() => new KeyedBuckets({ rules: [], default: { capacity: 1, refillRate: 1, scheduler: undefined } as never })).toThrow(
      'KeyedBuckets rules.default has no option "scheduler"',
    );
  });
});

describe('KeyedBuckets: configure one key live', () => {
  it('an override outlives the key being forgotten, until cleared with null', () => {
    virtual((ts) => {
      const keyed = new KeyedBuckets<string>(oneEvery10);
      keyed.configure('vip', { capacity: 5 });
      expect(keyed.keyStats('vip')).toMatchObject({ held: false, capacity: 5, available: 5 });
      expect(keyed.tryTake('vip', 5)).toBe(true);
      ts.schedule(() => {
        expect(keyed.keyStats('vip').held).toBe(false);
        expect(keyed.tryTake('vip', 5)).toBe(true);
        keyed.configure('vip', null);
        expect(keyed.keyStats('vip')).toMatchObject({ held: true, capacity: 1, available: 0 });
        expect(keyed.stats().overrides).toBe(0);
      }, 50);
    });
  });

  it('shrinking a key below a waiting cost fails that value with a RangeError naming the key', () => {
    virtual((ts) => {
      const keyed = new KeyedBuckets<string>({ capacity: 3, refillRate: 1, interval: 10 });
      const errors: string[] = [];
      const emitted: string[] = [];
      from([3, 3])
        .pipe(perKey(() => 'k', keyed, { cost: (cost) => cost }))
        .subscribe({
          next: (value) => emitted.push(`${value}@${ts.now()}`),
          error: (error: Error) => errors.push(`${error.message}@${ts.now()}`),
        });
      ts.schedule(() => keyed.configure('k', { capacity: 2 }), 5);
      ts.flush();
      expect(emitted).toEqual(['3@0']);
      expect(errors).toEqual(['cost 3 exceeds capacity 2 of key "k"@5']);
      expect(keyed.stats()).toMatchObject({ queued: 0, timerScheduled: false });
    });
  });

  it('rejects bad patches, keys backed by a TokenLimiter, and overrides past maxKeys', () => {
    const keyed = new KeyedBuckets<string>((key) => (key === 'remote' ? new TokenBucket(oneEvery10) : oneEvery10), { maxKeys: 2 });
    expect(() => keyed.configure('a', { capacity: -1 })).toThrow(
      'KeyedBuckets.configure option "capacity" must be a finite number > 0, got -1',
    );
    expect(() => keyed.configure('a', { initialTokens: 1 } as never)).toThrow('KeyedBuckets.configure has no option "initialTokens"');
    expect(() => keyed.configure('remote', { capacity: 2 })).toThrow(
      'key "remote" is limited by a TokenLimiter; configure that limiter instead',
    );
    keyed.configure('a', { capacity: 2 });
    keyed.configure('b', { capacity: 2 });
    keyed.configure('a', { refillRate: 2 });
    expect(() => keyed.configure('c', { capacity: 2 })).toThrow('already 2 keys configured (maxKeys)');
  });

  it('configureGlobal changes the in-memory global limit live', () => {
    const times = virtual((ts) => {
      const keyed = new KeyedBuckets<number>({ capacity: 9, refillRate: 9 }, { global: { capacity: 1, refillRate: 1, interval: 10 } });
      const out: number[] = [];
      from([1, 2, 3])
        .pipe(perKey((key: number) => key, keyed))
        .subscribe(() => out.push(ts.now()));
      ts.schedule(() => keyed.configureGlobal({ interval: 2 }), 5);
      expect(() => new KeyedBuckets(oneEvery10).configureGlobal({ capacity: 1 })).toThrow('is not held by this KeyedBuckets');
      return out;
    });
    // At 5 the global has 0.5 token; the rest at 1 per 2 ms: 6, then 8.
    expect(times).toEqual([0, 6, 8]);
  });
});

describe('KeyedBuckets: observability', () => {
  it('events carry their key; stats() reports totals and the busiest keys', () => {
    virtual((ts) => {
      const keyed = new KeyedBuckets<string>(oneEvery10);
      const events: KeyedBucketsEvent<string>[] = [];
      keyed.events$.subscribe((event) => events.push(event));
      from(['a', 'a', 'a', 'b', 'b', 'c'])
        .pipe(perKey((key: string) => key, keyed))
        .subscribe();
      const stats = keyed.stats();
      expect(stats).toMatchObject({ keys: 3, waitingKeys: 2, queued: 3, queuedCost: 3, granted: 3, timerScheduled: true });
      expect(stats.topKeys).toEqual([
        { key: 'a', queued: 2, queuedCost: 2 },
        { key: 'b', queued: 1, queuedCost: 1 },
      ]);
      ts.flush();
      ts.schedule(() => keyed.stats(), 100);
      ts.flush();
      const summary = events.map((event) => `${event.type}:${'key' in event ? event.key : ''}@${event.time}`);
      expect(summary).toEqual([
        'granted:a@0',
        'queued:a@0',
        'queued:a@0',
        'granted:b@0',
        'queued:b@0',
        'granted:c@0',
        'forgotten:c@10', // full at 10, noticed by the next operation: the timer at 10
        'granted:a@10',
        'granted:b@10',
        'forgotten:b@20',
        'granted:a@20',
        'forgotten:a@120', // full at 30, noticed by stats() at 120: no timer runs for forgetting
      ]);
    });
  });

  it('tryTake never overtakes a waiting value; take() waits its turn and can be withdrawn', () => {
    virtual((ts) => {
      const keyed = new KeyedBuckets<string>(oneEvery10);
      const out: string[] = [];
      expect(keyed.tryTake('k')).toBe(true);
      expect(keyed.tryTake('k')).toBe(false);
      keyed.take('k').subscribe({ complete: () => out.push(`first@${ts.now()}`) });
      const second = keyed.take('k').subscribe({ complete: () => out.push(`second@${ts.now()}`) });
      ts.schedule(() => expect(keyed.tryTake('k')).toBe(false), 10);
      ts.schedule(() => second.unsubscribe(), 15);
      ts.flush();
      expect(out).toEqual(['first@10']);
      expect(keyed.stats()).toMatchObject({ queued: 0, cancelled: 1, timerScheduled: false });
    });
  });

  it('validates its options, naming them', () => {
    expect(() => new KeyedBuckets(oneEvery10, { maxKeys: -1 })).toThrow('KeyedBuckets option "maxKeys" must be a number > 0, got -1');
    expect(() => new KeyedBuckets(oneEvery10, { quantum: 0 })).toThrow('KeyedBuckets option "quantum" must be a finite number > 0, got 0');
    expect(() => new KeyedBuckets(oneEvery10, { limit: 1 } as never)).toThrow('KeyedBuckets has no option "limit"');
    expect(() => new KeyedBuckets(oneEvery10, { global: { capacity: 1, refillRate: 1, scheduler: undefined } as never })).toThrow(
      'KeyedBuckets option "global" has no option "scheduler"',
    );
    expect(() => new KeyedBuckets({ capacity: 2, refillRate: 1, initialTokens: 0 })).toThrow(
      'KeyedBuckets bucketFor: option "initialTokens" (0) must equal capacity 2',
    );
    const keyed = new KeyedBuckets<string>(() => ({ capacity: 1, refillRate: Number.NaN }));
    expect(() => keyed.tryTake('x')).toThrow(
      'KeyedBuckets bucketFor("x"): TokenBucket option "refillRate" must be a finite number > 0, got NaN',
    );
    expect(() => new KeyedBuckets<string>(oneEvery10).tryTake('x', -1)).toThrow('cost must be a finite number >= 0, got -1');
  });
});

describe('KeyHeap', () => {
  it('pops in (due, insertion) order through random sets and removals', () => {
    interface Item extends HeapMember {
      id: number;
    }
    let seed = 7;
    const random = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const heap = new KeyHeap<Item>();
    const items: Item[] = Array.from({ length: 300 }, (_, id) => ({ id, heapIndex: -1, dueAt: 0, heapSeq: 0 }));
    const model = new Map<number, { due: number; order: number }>();
    let order = 0;
    for (let step = 0; step < 3000; step++) {
      const item = items[Math.floor(random() * items.length)]!;
      if (random() < 0.3) {
        expect(heap.remove(item)).toBe(model.delete(item.id));
      } else {
        const due = Math.floor(random() * 20);
        heap.set(item, due);
        model.set(item.id, { due, order: order++ });
      }
      expect(heap.size).toBe(model.size);
    }
    const expected = [...model.entries()].sort((a, b) => a[1].due - b[1].due || a[1].order - b[1].order).map(([id]) => id);
    const popped: number[] = [];
    for (let item = heap.pop(); item !== undefined; item = heap.pop()) popped.push(item.id);
    expect(popped).toEqual(expected);
  });
});

describe('DeficitRoundRobin', () => {
  class Member implements RingMember {
    ringNext: RingMember | null = null;
    ringPrev: RingMember | null = null;
    deficit = 0;
    turnStarted = false;
    readonly queue = new WaitQueue();
    constructor(
      readonly name: string,
      costs: number[],
    ) {
      for (const cost of costs) this.queue.push({ cost } as Waiter);
    }
  }

  /** Serves every head in pick order, as KeyedBuckets does, and returns the names in service order. */
  function serve(quantum: number, members: Member[]): string[] {
    const ring = new DeficitRoundRobin<Member>();
    for (const member of members) ring.join(member);
    const order: string[] = [];
    for (let member = ring.pick(quantum); member !== null; member = ring.pick(quantum)) {
      const head = member.queue.head!;
      member.queue.remove(head);
      ring.charge(member, head.cost);
      order.push(`${member.name}${head.cost}`);
      if (member.queue.size === 0) ring.leave(member);
    }
    return order;
  }

  it('quantum 2 over costs 1: two values per turn', () => {
    expect(serve(2, [new Member('a', [1, 1, 1]), new Member('b', [1, 1, 1])])).toEqual(['a1', 'a1', 'b1', 'b1', 'a1', 'b1']);
  });

  it('weighted by cost: a key of cost-3 values gets as many tokens as a key of cost-1 values', () => {
    expect(serve(3, [new Member('h', [1, 1, 1, 1, 1, 1]), new Member('c', [3, 3])])).toEqual([
      'h1',
      'h1',
      'h1',
      'c3',
      'h1',
      'h1',
      'h1',
      'c3',
    ]);
  });

  it('a quantum below the costs computes barren rounds instead of iterating them, with the same order', () => {
    // Quantum 1, iterated by hand: b2 at rounds 2, 4, 6, 8, 10; a5 at rounds 5 and 10 (a before b in the ring).
    expect(serve(1, [new Member('a', [5, 5]), new Member('b', [2, 2, 2, 2, 2])])).toEqual(['b2', 'b2', 'a5', 'b2', 'b2', 'a5', 'b2']);
    expect(serve(0.001, [new Member('a', [1_000_000])])).toEqual(['a1000000']);
  });
});
