import { expect, it } from 'vitest';
import type { OperatorFunction } from 'rxjs';
import { createTestScheduler } from './marbles';
import { probeAt } from './virtualTime';

/**
 * The three sources every operator must handle, as marble tests in the calling `describe`:
 * an empty source completes at once, a source that never emits leaves nothing scheduled once
 * unsubscribed, and a failing source fails the output at once with its error. Each also
 * checks that the source is released (`expectSubscriptions`). `operator` is called inside
 * `TestScheduler.run`, so buckets it builds run in virtual time.
 */
export function itHandlesEmptyNeverAndErrorSources(operator: () => OperatorFunction<string, unknown>): void {
  it('empty source: completes at once and releases the source', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('|');
      expectObservable(source.pipe(operator())).toBe('|');
      expectSubscriptions(source.subscriptions).toBe('(^!)');
    });
  });

  it('never source: emits nothing; unsubscribing releases the source and leaves no scheduled action', () => {
    const ts = createTestScheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-');
      const unsub = '      ^ 50ms !';
      expectObservable(source.pipe(operator()), unsub).toBe('-');
      expectSubscriptions(source.subscriptions).toBe(unsub);
      probeAt(ts, 60, () => expect(ts.actions.length).toBe(0));
    });
  });

  it('error source: errors at once with its error and releases the source', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const failure = new Error('source failed');
      const source = cold('#', undefined, failure);
      expectObservable(source.pipe(operator())).toBe('#', undefined, failure);
      expectSubscriptions(source.subscriptions).toBe('(^!)');
    });
  });
}
