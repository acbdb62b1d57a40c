import { expect } from 'vitest';
import type { TestScheduler } from 'rxjs/testing';
import type { TokenBucket } from '../../src/limiters/TokenBucket';

/** Runs `check` at virtual `frame`, as its own action (after everything scheduled for that frame earlier). */
export function probeAt(ts: TestScheduler, frame: number, check: () => void): void {
  ts.schedule(check, frame);
}

/** After teardown nothing may remain: no queue entry, no timer, no scheduled action at all. */
export function expectNothingLeft(ts: TestScheduler, bucket: TokenBucket): void {
  expect(bucket.stats()).toMatchObject({ queued: 0, queuedCost: 0, timerScheduled: false });
  expect(ts.actions.length).toBe(0);
}
