import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the demo API talks about its limit. */
export type HeaderStyle = 'github' | 'ietf' | 'retry-after-only' | 'none';
export const HEADER_STYLES: readonly HeaderStyle[] = ['github', 'ietf', 'retry-after-only', 'none'];

export interface ApiOptions {
  style: HeaderStyle;
  /** Requests per second the API sustains. */
  rate: number;
  /** Burst: requests it admits at once after a quiet spell. */
  capacity: number;
  /** Work time of a request, ms (uniform in [min, max]). */
  latencyMs: readonly [number, number];
}

export interface ApiCounters {
  ok: number;
  throttled: number;
  /** Admitted requests per whole second since start (for the chart). */
  okPerSecond: number[];
}

export interface RunningApi {
  url: string;
  counters: ApiCounters;
  close(): Promise<void>;
}

/**
 * A small HTTP API on loopback that enforces a limit its clients are not told: its own token
 * bucket (written out here, independently of the library under demonstration), answering
 * 429 when it is empty, with the rate-limit headers of the chosen style.
 */
export async function startApi(options: ApiOptions): Promise<RunningApi> {
  const { rate, capacity, style } = options;
  const perMs = rate / 1000;
  const started = performance.now();
  let tokens = capacity;
  let updated = started;
  const counters: ApiCounters = { ok: 0, throttled: 0, okPerSecond: [] };

  function refill(now: number): void {
    tokens = Math.min(capacity, tokens + (now - updated) * perMs);
    updated = now;
  }

  function limitHeaders(response: ServerResponse, now: number): void {
    const remaining = Math.floor(tokens);
    const msToFull = (capacity - tokens) / perMs;
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
    void now;
  }

  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const now = performance.now();
    refill(now);
    request.resume();
    if (tokens < 1) {
      counters.throttled++;
      response.statusCode = 429;
      if (style !== 'none') {
        // Retry-After is whole seconds (RFC 9110): round the wait for one token up.
        response.setHeader('Retry-After', String(Math.max(1, Math.ceil((1 - tokens) / perMs / 1000))));
      }
      limitHeaders(response, now);
      response.end('slow down\n');
      return;
    }
    tokens -= 1;
    counters.ok++;
    const second = Math.floor((now - started) / 1000);
    counters.okPerSecond[second] = (counters.okPerSecond[second] ?? 0) + 1;
    limitHeaders(response, now);
    const [min, max] = options.latencyMs;
    setTimeout(() => response.end('{"ok":true}\n'), min + Math.random() * (max - min));
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counters,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
