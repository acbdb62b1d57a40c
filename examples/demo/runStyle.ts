/**
 * One run of the demo: an API on loopback with a secret limit, driven for `seconds` by a
 * client under `adaptiveThrottle` that starts from a wrong guess. Shared by the demo and the
 * benchmark suite that compares it with static limiters.
 */
import { Observable, range, takeUntil, timer } from 'rxjs';
import { adaptiveThrottle } from '../../src/operators/adaptiveThrottle';
import { TokenBucket } from '../../src/limiters/TokenBucket';
import { startApi, type HeaderStyle } from './server';

/** The API's secret limit, and the client's wrong first guess. */
export const API_RATE = 20; // requests per second
export const API_BURST = 40;
export const GUESS = { capacity: 2, refillRate: 50 }; // 2.5× too fast
export const CONCURRENCY = 8;

export interface Outcome {
  style: HeaderStyle;
  /** Requests the API saw, admitted and refused (429). */
  sent: number;
  ok: number;
  throttled: number;
  seconds: number;
  /** Admitted requests per whole second of the run. */
  okPerSecond: number[];
  /** The client's rate when the run ended (requests per second). */
  finalRate: number;
}

export interface Progress {
  elapsedMs: number;
  ok: number;
  throttled: number;
  rate: number;
}

export interface Reply {
  status: number;
  headers: Headers;
}

/** One GET through fetch, as a cancellable Observable: unsubscribing aborts it. */
export function get(url: string): Observable<Reply> {
  return new Observable<Reply>((subscriber) => {
    const controller = new AbortController();
    fetch(url, { signal: controller.signal })
      .then(async (response) => {
        await response.arrayBuffer();
        subscriber.next({ status: response.status, headers: response.headers });
        subscriber.complete();
      })
      .catch((error: unknown) => subscriber.error(error));
    return () => controller.abort();
  });
}

/** Runs the adaptive client against a fresh API speaking `style` for `seconds`. */
export async function runStyle(style: HeaderStyle, seconds: number, onProgress?: (progress: Progress) => void): Promise<Outcome> {
  const api = await startApi({ style, rate: API_RATE, capacity: API_BURST, latencyMs: [5, 25] });
  const bucket = new TokenBucket(GUESS);
  const started = performance.now();
  let ok = 0;
  const progress =
    onProgress &&
    setInterval(
      () => onProgress({ elapsedMs: performance.now() - started, ok, throttled: api.counters.throttled, rate: bucket.refillRate }),
      200,
    );
  try {
    await new Promise<void>((resolve, reject) => {
      // More work than the run can finish: the limit, not the source, sets the pace.
      range(0, API_RATE * seconds * 3)
        .pipe(
          adaptiveThrottle((n: number) => get(`${api.url}/items/${n}`), { bucket, concurrency: CONCURRENCY, retry: 10 }),
          takeUntil(timer(seconds * 1000)),
        )
        .subscribe({
          next: (reply) => {
            if (reply.status === 200) ok++;
          },
          error: reject,
          complete: resolve,
        });
    });
  } finally {
    if (progress) clearInterval(progress);
    await api.close();
  }
  return {
    style,
    sent: api.counters.ok + api.counters.throttled,
    ok: api.counters.ok,
    throttled: api.counters.throttled,
    seconds,
    okPerSecond: Array.from({ length: seconds }, (_, s) => api.counters.okPerSecond[s] ?? 0),
    finalRate: bucket.refillRate,
  };
}
