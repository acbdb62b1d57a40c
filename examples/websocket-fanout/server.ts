/**
 * A WebSocket server on loopback that polices each connection's upload budget with its
 * own token bucket on bytes (written here independently of the library, so the example
 * checks the library against a second implementation), and disconnects any connection
 * that sends more than its budget allows (close code 1008).
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface Budget {
  /** Bytes a connection may send in one burst. */
  burstBytes: number;
  /** Bytes per second it may sustain. */
  bytesPerSecond: number;
}

/** What the server saw of one connection. */
export interface ConnectionReport {
  readonly id: string;
  messages: number;
  bytes: number;
  firstAt: number;
  lastAt: number;
  /** The lowest the connection's bucket went (bytes); below 0 it was disconnected. */
  lowestTokens: number;
  disconnected: boolean;
}

export interface BudgetServer {
  readonly url: string;
  readonly reports: Map<string, ConnectionReport>;
  /** Resolves once `count` messages in total have been received (or a connection was dropped). */
  received(count: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts the server on 127.0.0.1 on an ephemeral port. Clients connect to `${url}/<connection id>`. */
export async function startBudgetServer(budget: Budget): Promise<BudgetServer> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const reports = new Map<string, ConnectionReport>();
  let total = 0;
  let waiting: { count: number; resolve: () => void } | null = null;
  const check = (): void => {
    const anyDropped = [...reports.values()].some((report) => report.disconnected);
    if (waiting !== null && (total >= waiting.count || anyDropped)) {
      waiting.resolve();
      waiting = null;
    }
  };

  server.on('connection', (socket: WebSocket, request) => {
    const id = (request.url ?? '/').slice(1);
    const report: ConnectionReport = {
      id,
      messages: 0,
      bytes: 0,
      firstAt: NaN,
      lastAt: NaN,
      lowestTokens: budget.burstBytes,
      disconnected: false,
    };
    reports.set(id, report);
    // The connection's bucket: full at connect, refilled continuously by elapsed time.
    let tokens = budget.burstBytes;
    let updatedAt = performance.now();
    socket.on('message', (data: Buffer) => {
      if (report.disconnected) return;
      const now = performance.now();
      tokens = Math.min(budget.burstBytes, tokens + ((now - updatedAt) / 1000) * budget.bytesPerSecond);
      updatedAt = now;
      tokens -= data.length;
      report.lowestTokens = Math.min(report.lowestTokens, tokens);
      if (tokens < 0) {
        report.disconnected = true;
        socket.close(1008, 'over budget');
        check();
        return;
      }
      report.messages++;
      report.bytes += data.length;
      if (Number.isNaN(report.firstAt)) report.firstAt = now;
      report.lastAt = now;
      total++;
      check();
    });
  });

  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    reports,
    received(count) {
      return new Promise<void>((resolve) => {
        waiting = { count, resolve };
        check();
      });
    },
    close() {
      for (const client of server.clients) client.terminate();
      return new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
