/**
 * The shape the throughput suites time: `count` values from `range` through one operator into
 * a sink that only counts, so the pipe's own cost is what is measured.
 */
import { range, type OperatorFunction } from 'rxjs';

let received = 0;
/** Counts what arrives; every subject of a suite delivers here. */
export const sink = (_value: number): void => {
  received++;
};

/** A run of `count` values through `operator`, resolved when the pipe completes. */
export function through(count: number, operator: OperatorFunction<number, number>): () => Promise<void> {
  return () =>
    new Promise<void>((resolve, reject) => {
      range(0, count).pipe(operator).subscribe({ next: sink, error: reject, complete: resolve });
    });
}

/** Throws if no value reached the sink: a suite that timed nothing must not report a figure. */
export function checkSinkReached(): void {
  if (received === 0) throw new Error('no value reached the sink');
}
