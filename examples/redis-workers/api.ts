import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the API saw, by worker and in total. */
export interface ApiCounts {
  /** Requests admitted (200), per worker name (the `x-worker` header). */
  readonly admitted: Map<string, number>;
  /** Requests answered 429. */
  throttled: number;
  /** The most requests admitted within one rolling second. */
  busiestSecond: number;
  /** Performance-clock ms of the first and last admitted request. */
  firstAt: number;
  lastAt: number;
}

export interface QuotaApi {
  readonly url: string;
  readonly counts: ApiCounts;
  /** Admitted requests per worker since the last call (for a live line per second). */
  takeRecent(): Map<string, number>;
  close(): Promise<void>;
}

/**
 * A tiny HTTP API on loopback with a quota: at most `limitPerSecond` requests in any
 * rolling second (a sliding log of arrival times, written out here independently of the
 * library), answering 429 to anything over it. `POST /jobs/<n>` with an `x-worker` header.
 */
export async function startQuotaApi(limitPerSecond: number): Promise<QuotaApi> {
  /** Arrival times of the admitted requests of the last second, oldest first: a ring of `limitPerSecond`. */
  const window = new Float64Array(limitPerSecond);
  let windowStart = 0;
  let windowSize = 0;
  const counts: ApiCounts = { admitted: new Map(), throttled: 0, busiestSecond: 0, firstAt: Number.NaN, lastAt: Number.NaN };
  let recent = new Map<string, number>();

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const now = performance.now();
    request.resume();
    while (windowSize > 0 && window[windowStart]! <= now - 1000) {
      windowStart = (windowStart + 1) % limitPerSecond;
      windowSize--;
    }
    if (windowSize >= limitPerSecond) {
      counts.throttled++;
      response.writeHead(429, { 'retry-after': '1', 'content-type': 'text/plain' }).end('over quota\n');
      return;
    }
    window[(windowStart + windowSize) % limitPerSecond] = now;
    windowSize++;
    counts.busiestSecond = Math.max(counts.busiestSecond, windowSize);
    if (Number.isNaN(counts.firstAt)) counts.firstAt = now;
    counts.lastAt = now;
    const worker = String(request.headers['x-worker'] ?? '?');
    counts.admitted.set(worker, (counts.admitted.get(worker) ?? 0) + 1);
    recent.set(worker, (recent.get(worker) ?? 0) + 1);
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"done":true}\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    takeRecent() {
      const taken = recent;
      recent = new Map();
      return taken;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
