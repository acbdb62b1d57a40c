/**
 * Promises in virtual time: a limiter runs on a `TestScheduler` outside `run()`, `flushTo`
 * advances it, and the promises settle on the microtask queue in between.
 */
import { expect } from 'vitest';
import { TestScheduler } from 'rxjs/testing';

/** A TestScheduler driven by hand, and `flushTo(frame)`: runs every action due up to `frame`, then lets settled promises' callbacks run. */
export function handDrivenScheduler(): { ts: TestScheduler; flushTo: (frame: number) => Promise<void> } {
  const ts = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  const flushTo = async (frame: number): Promise<void> => {
    ts.schedule(() => undefined, frame - ts.now());
    ts.maxFrames = frame;
    ts.flush();
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { ts, flushTo };
}

/** Records how a promise settled, without awaiting it. */
export function settled<T>(promise: Promise<T>): { value?: T; error?: unknown; done: boolean } {
  const state: { value?: T; error?: unknown; done: boolean } = { done: false };
  promise.then(
    (value) => Object.assign(state, { value, done: true }),
    (error: unknown) => Object.assign(state, { error, done: true }),
  );
  return state;
}
