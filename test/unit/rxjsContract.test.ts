/**
 * The RxJS behaviour the library's fast paths rely on, held to the public API of the RxJS
 * version installed. If an upgrade changes one of them, these tests say which fast path is
 * gone and what still works.
 *
 * - `src/operators/SourceObserver.ts`: an operator's per-subscription state is a `Subscription`
 *   with `next`/`error`/`complete`, which RxJS's `isSubscriber` duck check subscribes to the
 *   source as it is, instead of wrapping it in a `SafeSubscriber`.
 * - `src/waiting/monotonicScheduler.ts`: inside `TestScheduler.run()` `asyncScheduler.now()` is
 *   the virtual frame, more than a day from `Date.now()`; outside it, it is `Date.now()`.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { asyncScheduler, Observable, of, Subscription, type Subscriber } from 'rxjs';
import { SourceObserver } from '../../src/operators/SourceObserver';
import { throttleByTokens } from '../../src/operators/throttleByTokens';
import { monotonicScheduler } from '../../src/waiting/monotonicScheduler';
import { createTestScheduler } from '../support/marbles';
import { probeAt } from '../support/virtualTime';

const FAST_PATH_GONE =
  'RxJS no longer subscribes a Subscription with next/error/complete to a source as it is (its isSubscriber check changed): ' +
  "SourceObserver's fast path is gone, so every value now pays for an extra SafeSubscriber layer. Nothing else breaks " +
  '(the operators still work, only slower); see src/operators/SourceObserver.ts.';

const VIRTUAL_TIME_GONE =
  'RxJS no longer tells virtual time from real time the way src/waiting/monotonicScheduler.ts expects ' +
  '(inside TestScheduler.run() asyncScheduler.now() is the virtual frame, far from Date.now(); outside it is Date.now()): ' +
  'the default clock can no longer detect TestScheduler.run() through the public API.';

/** More than a day: how far a virtual frame is from the wall clock (monotonicScheduler's test). */
const A_DAY = 86_400_000;

/** The smallest SourceObserver: records what it is sent. */
class RecordingObserver extends SourceObserver<string> {
  readonly log: string[] = [];
  protected arrive(value: string): void {
    this.log.push(`next ${value}`);
  }
  fail(error: unknown): void {
    this.log.push(`error ${String(error)}`);
  }
  protected sourceCompleted(): void {
    this.log.push('complete');
  }
  withdrawAll(): void {}
}

/** A source that hands out the subscriber it receives, then sends one value and completes. */
function revealingSource(): { source: Observable<string>; received: () => Subscriber<string> | undefined } {
  let received: Subscriber<string> | undefined;
  const source = new Observable<string>((subscriber) => {
    received = subscriber;
    subscriber.next('a');
    subscriber.complete();
  });
  return { source, received: () => received };
}

describe("RxJS subscribes an operator's state object to the source as it is (SourceObserver's fast path)", () => {
  it('the subscriber the source receives IS the SourceObserver passed to subscribe()', () => {
    const { source, received } = revealingSource();
    const observer = new RecordingObserver();
    source.subscribe(observer);
    expect(received(), FAST_PATH_GONE).toBe(observer);
    expect(observer.log).toEqual(['next a', 'complete']);
    expect(observer.closed).toBe(true); // released by its own complete()
  });

  it('so does any Subscription with next, error and complete (the duck check itself)', () => {
    const { source, received } = revealingSource();
    const seen: string[] = [];
    const observer = Object.assign(new Subscription(), {
      next: (value: string) => seen.push(value),
      error: () => {},
      complete: () => seen.push('|'),
    });
    source.subscribe(observer);
    expect(received(), FAST_PATH_GONE).toBe(observer);
    expect(seen).toEqual(['a', '|']);
  });

  it("throttleByTokens' source is subscribed with the operator's own SourceObserver", () => {
    const { source, received } = revealingSource();
    source.pipe(throttleByTokens({ capacity: 1, refillRate: 1 })).subscribe();
    expect(received(), FAST_PATH_GONE).toBeInstanceOf(SourceObserver);
  });

  it('and the operators work: a value passes through throttleByTokens', () => {
    const seen: string[] = [];
    of('a')
      .pipe(throttleByTokens({ capacity: 1, refillRate: 1 }))
      .subscribe({ next: (value) => seen.push(value), complete: () => seen.push('|') });
    expect(seen).toEqual(['a', '|']);

    const { source } = revealingSource();
    const fromRevealing: string[] = [];
    source.pipe(throttleByTokens({ capacity: 1, refillRate: 1 })).subscribe((value) => fromRevealing.push(value));
    expect(fromRevealing).toEqual(['a']);
  });
});

describe('RxJS tells virtual time from real time through the public API (the default clock, monotonicScheduler)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('inside TestScheduler.run(), asyncScheduler.now() is the virtual frame, more than a day from Date.now()', () => {
    const ts = createTestScheduler();
    const readings: Array<[frame: number, asyncNow: number, distance: number, monotonicNow: number]> = [];
    const read = () => {
      const asyncNow = asyncScheduler.now();
      readings.push([ts.now(), asyncNow, Math.abs(asyncNow - Date.now()), monotonicScheduler.now()]);
    };
    ts.run(() => {
      read();
      probeAt(ts, 25, read);
      probeAt(ts, 1000, read);
    });
    expect(readings.map(([frame]) => frame)).toEqual([0, 25, 1000]);
    for (const [frame, asyncNow, distance, monotonicNow] of readings) {
      expect(asyncNow, VIRTUAL_TIME_GONE).toBe(frame);
      expect(distance, VIRTUAL_TIME_GONE).toBeGreaterThan(A_DAY);
      expect(monotonicNow, 'monotonicScheduler.now() inside run() must be the virtual frame').toBe(frame);
    }
  });

  it('outside it, asyncScheduler.now() is Date.now()', () => {
    const before = Date.now();
    const reading = asyncScheduler.now();
    const after = Date.now();
    expect(reading, VIRTUAL_TIME_GONE).toBeGreaterThanOrEqual(before);
    expect(reading, VIRTUAL_TIME_GONE).toBeLessThanOrEqual(after);
    vi.spyOn(Date, 'now').mockReturnValue(1_234_567);
    expect(asyncScheduler.now(), VIRTUAL_TIME_GONE).toBe(1_234_567);
  });

  it('a TokenBucket built outside run() in the same synchronous turn gives exact virtual timings inside it', async () => {
    // Fresh modules: the default clock has not seen a TestScheduler.run() yet, so the reading the
    // bucket's constructor takes outside run() is one the clock would reuse for the rest of the turn.
    vi.resetModules();
    const { TokenBucket } = await import('../../src/limiters/TokenBucket');
    const operators = await import('../../src/operators/throttleByTokens');
    const clock = await import('../../src/waiting/monotonicScheduler');

    // One synchronous turn from here on: built in real time, used in virtual time.
    const bucket = new TokenBucket({ capacity: 1, refillRate: 1, interval: 10 });
    expect(bucket.scheduler).toBe(clock.monotonicScheduler);
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable }) => {
      // Subscribing resamples the clock (resampleMonotonicClock): the stream sees frame 0, not the earlier reading.
      expectObservable(cold('(abc|)').pipe(operators.throttleByTokens(bucket))).toBe('a 9ms b 9ms (c|)');
      probeAt(ts, 25, () => {
        expect(clock.monotonicScheduler.now()).toBe(25);
        expect(bucket.available()).toBeCloseTo(0.5, 12);
      });
    });
  });
});
