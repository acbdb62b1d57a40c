/**
 * One run of the demo: an API on loopback with a secret limit, driven for `seconds` by a
 * client under `adaptiveThrottle` that starts from a wrong guess. Shared by the demo and the
 * benchmark suite that compares it with static limiters.
 */
import { range, takeUntil, timer } from 'rxjs';
import { adaptiveThrottle, TokenBucket } from 'rxjs-token-bucket';
import { BURST_SECONDS, FIRST_RATE, limitPhases, type LimitPhase, type LimitScenario } from './limitPlan';
import { startApi, WARM_UP_PATH, type HeaderStyle } from './server';
import { Timeline } from './timeline';

/** The API's secret (first) limit, and the client's wrong first guess. */
export const API_RATE = FIRST_RATE; // requests per second
export const API_BURST = FIRST_RATE * BURST_SECONDS;
export const GUESS = { capacity: 2, refillRate: 50 }; // 2.5× too fast
export const CONCURRENCY = 8;
/** The demo API's work time per request, ms. */
export const LATENCY_MS: readonly [number, number] = [5, 25];

export interface RunPlan {
  /** The API's limit: fixed at API_RATE (default), or stepping during the run. */
  scenario?: LimitScenario;
  /** adaptiveThrottle's `safetyFactor` (default: the operator's own, 0.9). */
  safetyFactor?: number;
  /** adaptiveThrottle's `maxRate` (default: none). */
  maxRate?: number;
}

export interface Outcome {
  style: HeaderStyle;
  /** Requests the API saw, admitted and refused (429). */
  sent: number;
  ok: number;
  throttled: number;
  seconds: number;
  phases: readonly LimitPhase[];
  /** What the API answered, by half second. */
  timeline: Timeline;
  /** The client's rate when the run ended (requests per second). */
  finalRate: number;
}

/** A run under way: what it stands at now, and its outcome once done. */
export interface Run {
  readonly style: HeaderStyle;
  progress(): Progress;
  readonly done: Promise<Outcome>;
}

export interface Progress {
  elapsedMs: number;
  /** Counted by the API, as the outcome is. */
  ok: number;
  throttled: number;
  /** The API's limit now, and the client's bucket rate now (requests per second). */
  limit: number;
  clientRate: number;
}

export interface Reply {
  status: number;
  headers: Headers;
}

/** One GET through fetch; the operator's `signal` aborts it when the request is cancelled (unsubscribing). */
export async function get(url: string, signal: AbortSignal): Promise<Reply> {
  const response = await fetch(url, { signal });
  await response.arrayBuffer();
  return { status: response.status, headers: response.headers };
}

/** Starts the adaptive client against a fresh API speaking `style`, for `seconds`. */
export async function startRun(style: HeaderStyle, seconds: number, plan: RunPlan = {}): Promise<Run> {
  const phases = limitPhases(plan.scenario ?? 'fixed', seconds);
  const timeline = new Timeline(seconds);
  const api = await startApi({ style, rate: API_RATE, capacity: API_BURST, latencyMs: LATENCY_MS, phases, timeline });
  // Warm fetch up first, so its first-use cost is not shown as the client's learning.
  await (await fetch(`${api.url}${WARM_UP_PATH}`)).arrayBuffer();
  api.begin();
  const bucket = new TokenBucket(GUESS);
  const started = performance.now();
  const learning = {
    ...(plan.safetyFactor === undefined ? {} : { safetyFactor: plan.safetyFactor }),
    ...(plan.maxRate === undefined ? {} : { maxRate: plan.maxRate }),
  };
  const finished = new Promise<void>((resolve, reject) => {
    // More work than the run can finish: the limit, not the source, sets the pace.
    range(0, Math.max(...phases.map((phase) => phase.rate)) * seconds * 3)
      .pipe(
        adaptiveThrottle((n: number, _index, signal) => get(`${api.url}/items/${n}`, signal), {
          bucket,
          concurrency: CONCURRENCY,
          retry: 10,
          ...learning,
        }),
        takeUntil(timer(seconds * 1000)),
      )
      .subscribe({ error: reject, complete: resolve });
  });
  const done = finished
    .finally(() => api.close())
    .then((): Outcome => ({
      style,
      sent: api.counters.ok + api.counters.throttled,
      ok: api.counters.ok,
      throttled: api.counters.throttled,
      seconds,
      phases,
      timeline,
      finalRate: bucket.refillRate,
    }));
  return {
    style,
    done,
    progress: () => ({
      elapsedMs: Math.min(seconds * 1000, performance.now() - started),
      ok: api.counters.ok,
      throttled: api.counters.throttled,
      limit: api.rate,
      clientRate: bucket.refillRate,
    }),
  };
}

/** Runs the adaptive client against a fresh API speaking `style` for `seconds`. */
export async function runStyle(style: HeaderStyle, seconds: number, plan: RunPlan = {}): Promise<Outcome> {
  return (await startRun(style, seconds, plan)).done;
}
