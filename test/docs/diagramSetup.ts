import type { OperatorFunction } from 'rxjs';
/** How to run one marble diagram of the docs: the operator its source goes through, and the values and error its result uses. */
export interface DiagramSetup {
  /** The diagram's header line, exactly as written above its `source:` line. */
  readonly header: string;
  /** A fresh operator for one run (called inside TestScheduler.run, so default schedulers are virtual). */
  readonly operator: () => OperatorFunction<string, unknown>;
  readonly values?: Record<string, unknown>;
  readonly error?: unknown;
}
