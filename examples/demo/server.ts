import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LimitPhase } from './limitPlan';
import type { Timeline } from './timeline';

/** How the demo API talks about its limit. */
export type HeaderStyle = 'github' | 'ietf' | 'retry-after-only' | 'none';
export const HEADER_STYLES: readonly HeaderStyle[] = ['github', 'ietf', 'retry-after-only', 'none'];

/** What a server of each style tells its client, in one line. */
export const STYLE_EXPLANATIONS: Readonly<Record<HeaderStyle, string>> = {
  github: 'X-RateLimit-Limit/Remaining/Reset on every reply',
  ietf: 'RateLimit-Policy + RateLimit (IETF draft) on every reply',
  'retry-after-only': 'nothing until a 429, then Retry-After (whole seconds)',
  none: 'nothing at all: a bare 429 past the limit',
};

/** A request the API answers outside its limit: Node's fetch takes a few hundred ms to load on first use. */
export const WARM_UP_PATH = '/warm-up';

export interface ApiOptions {
  style: HeaderStyle;
  /** Requests per second the API sustains (the first phase's, when `phases` is given). */
  rate: number;
  /** Burst: requests it admits at once after a quiet spell. */
  capacity: number;
  /** Work time of a request, ms (uniform in [min, max]). */
  latencyMs: readonly [number, number];
  /** The limit changing during the run (the first phase must start at 0). Default: `rate` and `capacity` throughout. */
  phases?: readonly LimitPhase[];
  /** Where each answer is counted by time, for the chart. */
  timeline?: Timeline;
}

export interface ApiCounters {
  ok: number;
  throttled: number;
}

export interface RunningApi {
  url: string;
  counters: ApiCounters;
  /** The limit in force now, requests per second. */
  readonly rate: number;
  /** Starts the run's clock afresh (a full bucket, the first phase), after a warm-up. */
  begin(): void;
  close(): Promise<void>;
}

/**
 * A small HTTP API on loopback that enforces a limit its clients are not told: its own token
 * bucket (written out here, independently of the library under demonstration), answering
 * 429 when it is empty, with the rate-limit headers of the chosen style.
 */
export async function startApi(options: ApiOptions): Promise<RunningApi> {
  const { style, timeline } = options;
  const phases = options.phases ?? [{ fromMs: 0, rate: options.rate, capacity: options.capacity }];
  let phaseIndex = 0;
  let { rate, capacity } = phases[0]!;
  let started = performance.now();
  let tokens = capacity;
  let updated = started;
  const counters: ApiCounters = { ok: 0, throttled: 0 };

  function refill(now: number): void {
    tokens = Math.min(capacity, tokens + ((now - updated) * rate) / 1000);
    updated = now;
  }

  /** Refills at each old rate up to its phase's end, then switches; a lower burst cuts what was saved. */
  function advance(now: number): void {
    for (let next = phases[phaseIndex + 1]; next !== undefined && started + next.fromMs <= now; next = phases[phaseIndex + 1]) {
      refill(started + next.fromMs);
      ({ rate, capacity } = next);
      tokens = Math.min(tokens, capacity);
      phaseIndex++;
    }
    refill(now);
  }

  function limitHeaders(response: ServerResponse): void {
    const remaining = Math.floor(tokens);
    const msToFull = ((capacity - tokens) / rate) * 1000;
    const secondsToFull = Math.ceil(msToFull / 1000);
    const windowSeconds = Math.round(capacity / rate);
    if (style === 'github') {
      response.setHeader('X-RateLimit-Limit', String(capacity));
      response.setHeader('X-RateLimit-Remaining', String(remaining));
      response.setHeader('X-RateLimit-Used', String(capacity - remaining));
      // GitHub sends the reset as epoch seconds; the server's wall clock is the reference.
      response.setHeader('X-RateLimit-Reset', String(Math.ceil((Date.now() + msToFull) / 1000)));
      response.setHeader('X-RateLimit-Resource', 'core');
    } else if (style === 'ietf') {
      response.setHeader('RateLimit-Policy', `"default";q=${capacity};w=${windowSeconds}`);
      response.setHeader('RateLimit', `"default";r=${remaining};t=${secondsToFull}`);
    }
  }

  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    request.resume();
    if (request.url === WARM_UP_PATH) {
      response.statusCode = 204; // outside the limit and the counts
      response.end();
      return;
    }
    const now = performance.now();
    advance(now);
    const admitted = tokens >= 1;
    timeline?.record(now - started, admitted);
    if (!admitted) {
      counters.throttled++;
      response.statusCode = 429;
      if (style !== 'none') {
        // Retry-After is whole seconds (RFC 9110): round the wait for one token up.
        response.setHeader('Retry-After', String(Math.max(1, Math.ceil((1 - tokens) / rate))));
      }
      limitHeaders(response);
      response.end('slow down\n');
      return;
    }
    tokens -= 1;
    counters.ok++;
    limitHeaders(response);
    const [min, max] = options.latencyMs;
    setTimeout(() => response.end('{"ok":true}\n'), min + Math.random() * (max - min));
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counters,
    begin() {
      started = updated = performance.now();
      phaseIndex = 0;
      ({ rate, capacity } = phases[0]!);
      tokens = capacity;
    },
    get rate() {
      advance(performance.now());
      return rate;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
