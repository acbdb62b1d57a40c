/**
 * The limit the demo's API enforces over a run: a fixed rate, or (scenario b of issue 11)
 * a rate that steps down and back up under the client, 20/s → 8/s → 30/s at a third and two
 * thirds of the run. The burst is always two seconds' worth of the current rate.
 */

/** The first limit, requests per second, and the burst as seconds of the rate. */
export const FIRST_RATE = 20;
export const BURST_SECONDS = 2;
/** The rates the steps go to, in order, each for an equal share of the run. */
export const STEP_RATES: readonly number[] = [8, 30];

export interface LimitPhase {
  /** When this limit starts, ms since the run's start. */
  readonly fromMs: number;
  /** Requests per second, and the burst (requests admitted at once after a quiet spell). */
  readonly rate: number;
  readonly capacity: number;
}

export type LimitScenario = 'steps' | 'fixed';

/** The phases of a run of `seconds`: one for `fixed`, three for `steps`. */
export function limitPhases(scenario: LimitScenario, seconds: number): LimitPhase[] {
  const rates = scenario === 'fixed' ? [FIRST_RATE] : [FIRST_RATE, ...STEP_RATES];
  const share = (seconds * 1000) / rates.length;
  return rates.map((rate, i) => ({ fromMs: Math.round(i * share), rate, capacity: rate * BURST_SECONDS }));
}

/** The phase in force `elapsedMs` after the start. */
export function phaseAt(phases: readonly LimitPhase[], elapsedMs: number): LimitPhase {
  let current = phases[0]!;
  for (const phase of phases) if (phase.fromMs <= elapsedMs) current = phase;
  return current;
}

/** The most the API can admit in `seconds`: its first burst, then each phase's rate for its time. */
export function mostAdmitted(phases: readonly LimitPhase[], seconds: number): number {
  const endMs = seconds * 1000;
  let most = phases[0]!.capacity;
  phases.forEach((phase, i) => {
    const untilMs = phases[i + 1]?.fromMs ?? endMs;
    most += (phase.rate * Math.max(0, untilMs - phase.fromMs)) / 1000;
  });
  return most;
}

/** The mean limit over the run, requests per second. */
export function meanLimit(phases: readonly LimitPhase[], seconds: number): number {
  return (mostAdmitted(phases, seconds) - phases[0]!.capacity) / seconds;
}

/** `ms` as seconds for the screen: whole, or to a tenth. */
export function secondsOf(ms: number): number {
  return Math.round(ms / 100) / 10;
}
