import { expect } from 'vitest';
import { TestScheduler } from 'rxjs/testing';

/** A TestScheduler that compares with vitest's deep equality. */
export function createTestScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });
}
