/**
 * The clients of issue 11's scenarios, each driven against a fresh `SimulatedApi` in virtual
 * time: `adaptiveThrottle` (inside `TestScheduler.run`), the AWS SDK's adaptive limiter
 * (`DefaultRateLimiter` of @smithy/util-retry, its clock and timer stubbed onto a
 * `VirtualEventLoop`), and bottleneck told the true limit (the oracle; Node's timers and
 * `Date.now` swapped for the loop's, so bench only). Every client has more work than the
 * run can finish, so the client, not the source, sets the pace.
 */
import { DefaultRateLimiter } from '@smithy/util-retry';
import Bottleneck from 'bottleneck';
import { defer, interval, map, range, takeUntil, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { adaptiveThrottle } from '../../src/operators/adaptiveThrottle';
import {
  SIMULATED_EPOCH_MS,
  SimulatedApi,
  figuresOf,
  type HeaderStyle,
  type LatencySpec,
  type LimitPhase,
  type ScenarioFigures,
  type SimulatedResponse,
} from './simulatedApi';
import { VirtualEventLoop } from './virtualEventLoop';

/** The parts of `DefaultRateLimiter` the harness uses; its clock and state are private in its types, public at run time. */
interface AwsLimiterInternals {
  getSendToken(): Promise<void>;
  updateClientSendingRate(response: unknown): void;
  getCurrentTimeInSeconds(): number;
  readonly enabled: boolean;
  readonly fillRate: number;
}
const AwsRateLimiter = DefaultRateLimiter as unknown as new () => AwsLimiterInternals;
const awsStatics = DefaultRateLimiter as unknown as { setTimeoutFn: (callback: () => void, delay: number) => unknown };

export interface ScenarioPlan {
  readonly style: HeaderStyle;
  readonly phases: readonly LimitPhase[];
  readonly seconds: number;
  /** Independent clients sharing the server's one limit. Default 1. */
  readonly clients?: number;
  readonly latency: LatencySpec;
  /** Each client's starting bucket (adaptiveThrottle). */
  readonly start: { readonly capacity: number; readonly refillRate: number };
  readonly concurrency: number;
  readonly safetyFactor?: number;
  /** adaptiveThrottle's `maxRate`: header-less learning above the start needs it. */
  readonly maxRate?: number;
  readonly limit?: 'token-bucket' | 'fixed-window';
  readonly seed?: number;
}

export interface ScenarioRun extends ScenarioFigures {
  /** Each client's rate when the run ended (requests per second). */
  readonly finalRates: number[];
  /** Each client's highest rate during the run, from its bucket's `reconfigured` events (adaptiveThrottle only). */
  readonly peakRates?: number[];
  /** The first client's rate at the end of every second (adaptiveThrottle only). */
  readonly rateTrace?: number[];
  /** 429s the server answered in every second. */
  readonly refusedTrace: number[];
}

/** A burst of two seconds' worth, as the demo's API; `steps` of [fromSeconds, rate]. */
export function limitSteps(steps: readonly (readonly [number, number])[], burstSeconds = 2): LimitPhase[] {
  return steps.map(([from, rate]) => ({ fromMs: from * 1000, rate, capacity: rate * burstSeconds }));
}

function refusedTrace(api: SimulatedApi, seconds: number): number[] {
  return Array.from({ length: seconds }, (_, second) => api.counts(second * 1000, (second + 1) * 1000).refused);
}

function apiFor(plan: ScenarioPlan): SimulatedApi {
  return new SimulatedApi({
    style: plan.style,
    phases: plan.phases,
    latency: plan.latency,
    seed: plan.seed ?? 7,
    ...(plan.limit === undefined ? {} : { limit: plan.limit }),
  });
}

/** Values enough that no client runs dry: twice what the whole server could admit. */
function workFor(api: SimulatedApi, plan: ScenarioPlan): number {
  return Math.ceil(2 * api.mostAdmitted(plan.seconds * 1000)) + 100;
}

/** `adaptiveThrottle`, one per client, each with its own bucket. */
export function runAdaptive(plan: ScenarioPlan): ScenarioRun {
  const api = apiFor(plan);
  const clients = plan.clients ?? 1;
  const endMs = plan.seconds * 1000;
  const buckets: TokenBucket[] = [];
  const rateTrace: number[] = [];
  const peakRates: number[] = [];
  const scheduler = new TestScheduler(() => {});
  scheduler.run(() => {
    interval(1000)
      .pipe(takeUntil(timer(endMs + 1)))
      .subscribe(() => rateTrace.push(buckets[0]!.refillRate));
    for (let client = 0; client < clients; client++) {
      const bucket = new TokenBucket(plan.start);
      buckets.push(bucket);
      peakRates.push(bucket.refillRate);
      bucket.events$.subscribe((event) => {
        if (event.type === 'reconfigured') peakRates[client] = Math.max(peakRates[client]!, event.refillRate);
      });
      range(0, workFor(api, plan))
        .pipe(
          adaptiveThrottle(
            () =>
              defer(() => {
                const response = api.answer(scheduler.now(), client);
                return timer(api.latency()).pipe(map(() => response));
              }),
            {
              bucket,
              concurrency: plan.concurrency,
              safetyFactor: plan.safetyFactor ?? 1,
              retry: 1000,
              wallClock: () => SIMULATED_EPOCH_MS + scheduler.now(),
              ...(plan.maxRate === undefined ? {} : { maxRate: plan.maxRate }),
            },
          ),
          takeUntil(timer(endMs)),
        )
        .subscribe();
    }
  });
  return {
    ...figuresOf(api, endMs, clients),
    refusedTrace: refusedTrace(api, plan.seconds),
    finalRates: buckets.map((bucket) => bucket.refillRate),
    peakRates,
    rateTrace,
  };
}

/**
 * The AWS SDK's adaptive limiter (token bucket + CUBIC), one per client, as its
 * `AdaptiveRetryStrategy` uses it: every attempt awaits `getSendToken()`, every answer is
 * reported through `updateClientSendingRate` (a throttle as `errorType: 'THROTTLING'`). A
 * throttled call is retried within its slot after the server's Retry-After, if any, and with
 * no backoff of its own (the SDK would add one: this gives the peer the benefit of the doubt).
 * Its clock (`getCurrentTimeInSeconds`) and its timer (`DefaultRateLimiter.setTimeoutFn`)
 * are the loop's.
 */
export async function runAwsAdaptive(plan: ScenarioPlan): Promise<ScenarioRun> {
  const api = apiFor(plan);
  const clients = plan.clients ?? 1;
  const endMs = plan.seconds * 1000;
  const loop = new VirtualEventLoop(SIMULATED_EPOCH_MS);
  class VirtualTimeRateLimiter extends AwsRateLimiter {
    override getCurrentTimeInSeconds(): number {
      return loop.wallClock() / 1000;
    }
  }
  const savedTimeout = awsStatics.setTimeoutFn;
  awsStatics.setTimeoutFn = (callback, delay) => loop.setTimeout(callback, delay);
  const limiters: VirtualTimeRateLimiter[] = [];
  try {
    for (let client = 0; client < clients; client++) {
      const limiter = new VirtualTimeRateLimiter();
      limiters.push(limiter);
      for (let slot = 0; slot < plan.concurrency; slot++) void awsWorker(limiter, api, loop, client, endMs);
    }
    await loop.run(endMs);
  } finally {
    awsStatics.setTimeoutFn = savedTimeout;
  }
  return {
    ...figuresOf(api, endMs, clients),
    refusedTrace: refusedTrace(api, plan.seconds),
    // Disabled until the first throttle, it limits nothing: Infinity.
    finalRates: limiters.map((limiter) => (limiter.enabled ? limiter.fillRate : Infinity)),
  };
}

async function awsWorker(
  limiter: AwsLimiterInternals,
  api: SimulatedApi,
  loop: VirtualEventLoop,
  client: number,
  endMs: number,
): Promise<void> {
  while (loop.now < endMs) {
    for (;;) {
      await limiter.getSendToken();
      if (loop.now >= endMs) return;
      const response: SimulatedResponse = api.answer(loop.now, client);
      await loop.sleep(api.latency());
      limiter.updateClientSendingRate(response.status === 429 ? { errorType: 'THROTTLING' } : {});
      if (response.status !== 429) break;
      const retryAfter = Number(response.headers['retry-after'] ?? 0) * 1000;
      if (retryAfter > 0) await loop.sleep(retryAfter);
    }
  }
}

/**
 * The oracle: bottleneck told each client's share of the true limit (`minTime`), re-told at
 * every step, with the same concurrency. It reads no headers and retries nothing.
 */
export async function runBottleneckOracle(plan: ScenarioPlan): Promise<ScenarioRun> {
  const api = apiFor(plan);
  const clients = plan.clients ?? 1;
  const endMs = plan.seconds * 1000;
  const loop = new VirtualEventLoop(SIMULATED_EPOCH_MS);
  const restore = loop.installGlobals();
  const minTimeAt = (rate: number): number => (1000 * clients) / rate;
  const limiters: Bottleneck[] = [];
  try {
    for (let client = 0; client < clients; client++) {
      const limiter = new Bottleneck({ maxConcurrent: plan.concurrency, minTime: minTimeAt(plan.phases[0]!.rate) });
      limiters.push(limiter);
      for (const phase of plan.phases.slice(1)) {
        loop.setTimeout(() => void limiter.updateSettings({ minTime: minTimeAt(phase.rate) }), phase.fromMs);
      }
      const jobs = Math.ceil(workFor(api, plan) / clients);
      for (let job = 0; job < jobs; job++) {
        limiter
          .schedule(
            () =>
              new Promise<SimulatedResponse>((resolve) => {
                const response = api.answer(loop.now, client);
                loop.setTimeout(() => resolve(response), api.latency());
              }),
          )
          .catch(() => {});
      }
    }
    await loop.run(endMs);
  } finally {
    restore();
  }
  return {
    ...figuresOf(api, endMs, clients),
    refusedTrace: refusedTrace(api, plan.seconds),
    finalRates: plan.phases.slice(-1).map((phase) => phase.rate / clients),
  };
}
