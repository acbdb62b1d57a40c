/**
 * Fan-out over WebSockets without being disconnected: one process holds many connections
 * to a server that polices each connection's byte budget and drops any that exceeds it.
 * A bursty stream of outgoing messages (some connections hot, most quiet) goes through
 * `perKey`, keyed by connection with cost = message bytes, under a global cap on the total
 * upload; then each message is sent on its connection. It runs to completion with zero
 * disconnects and prints each connection's rates against its budget.
 *
 *   npx tsx examples/websocket-fanout/main.ts           # ~12 s of traffic
 *   npx tsx examples/websocket-fanout/main.ts --quick   # ~3 s (CI)
 *
 * Exit code 1 if any connection was disconnected or a message was lost.
 */
import { concatMap, from, interval, type Observable, takeWhile, tap } from 'rxjs';
import WebSocket from 'ws';
import { KeyedBuckets, perKey } from 'rxjs-token-bucket';
import { startBudgetServer, type ConnectionReport } from './server';

const quick = process.argv.includes('--quick');

/** What the server allows each connection. */
const BUDGET = { burstBytes: 16_000, bytesPerSecond: 32_000 };
/**
 * What the sender allows itself: a little under the budget. The server meters arrivals,
 * not sends; loopback and event-loop jitter can bunch messages sent apart, so the sender
 * keeps 30% of the burst (~150 ms of jitter at full rate) and 10% of the rate in hand.
 */
const PER_CONNECTION = { capacity: BUDGET.burstBytes * 0.7, refillRate: BUDGET.bytesPerSecond * 0.9 };
/** The process's total upload cap, below what the connections could use together: it binds. */
const GLOBAL = { capacity: 32_000, refillRate: 128_000 };
/**
 * Deficit round robin credit per turn (bytes): about one large message, so a quiet
 * connection waits for at most one turn of each busy one (the default, the global burst of
 * 32 kB, would let a hot connection send 250 ms worth before a quiet one's turn).
 */
const QUANTUM = 4_000;

const CONNECTIONS = 8;
/** Offered load per connection, as a share of its budget: two hot connections, six quiet ones. */
const LOAD = [1.3, 1.1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5];
const SECONDS = quick ? 2 : 10;
const TICK_MS = 20;

interface Message {
  readonly connection: string;
  readonly payload: string;
  readonly bytes: number;
  readonly producedAt: number;
}

/** Seeded so every run offers the same traffic. */
let seed = 42;
function random(): number {
  seed = (seed * 16807) % 2147483647;
  return seed / 2147483647;
}

/** Bursty traffic: each tick a connection may stay silent and make up for it later, in sizes of 100–3000 bytes. */
function traffic(): Observable<Message> {
  const credit = new Array<number>(CONNECTIONS).fill(0);
  const sequence = new Array<number>(CONNECTIONS).fill(0);
  const startedAt = performance.now();
  return interval(TICK_MS).pipe(
    takeWhile(() => performance.now() - startedAt < SECONDS * 1000),
    concatMap(() => {
      const batch: Message[] = [];
      for (let c = 0; c < CONNECTIONS; c++) {
        credit[c]! += (LOAD[c]! * BUDGET.bytesPerSecond * TICK_MS) / 1000;
        if (random() < 0.4) continue; // silent this tick: a bigger burst later
        for (let size = 100 + Math.floor(random() * 2900); credit[c]! >= size; size = 100 + Math.floor(random() * 2900)) {
          credit[c]! -= size;
          const header = `conn-${c}#${sequence[c]!++}:`;
          const payload = header + 'x'.repeat(size - header.length);
          batch.push({ connection: `conn-${c}`, payload, bytes: Buffer.byteLength(payload), producedAt: performance.now() });
        }
      }
      return from(batch);
    }),
  );
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

async function main(): Promise<number> {
  const server = await startBudgetServer(BUDGET);
  const sockets = new Map<string, WebSocket>();
  for (let c = 0; c < CONNECTIONS; c++) sockets.set(`conn-${c}`, await open(`${server.url}/conn-${c}`));
  let closedByServer = 0;
  for (const socket of sockets.values()) socket.on('close', (code) => code === 1008 && closedByServer++);

  const keyed = new KeyedBuckets<string>(PER_CONNECTION, { global: GLOBAL, quantum: QUANTUM });
  const waits = new Map<string, number[]>();
  let sent = 0;
  const startedAt = performance.now();
  console.log(
    `${CONNECTIONS} connections to ${server.url}; budget ${BUDGET.bytesPerSecond} B/s (burst ${BUDGET.burstBytes} B) each; ` +
      `sender: ${PER_CONNECTION.refillRate} B/s (burst ${PER_CONNECTION.capacity} B) each, ${GLOBAL.refillRate} B/s in total; ${SECONDS} s of traffic`,
  );

  await new Promise<void>((resolve, reject) => {
    traffic()
      .pipe(
        perKey((message: Message) => message.connection, keyed, { cost: (message) => message.bytes }),
        tap((message) => {
          const socket = sockets.get(message.connection)!;
          if (socket.readyState !== WebSocket.OPEN) return;
          socket.send(message.payload);
          sent++;
          const list = waits.get(message.connection) ?? [];
          list.push(performance.now() - message.producedAt);
          waits.set(message.connection, list);
        }),
      )
      .subscribe({ complete: resolve, error: reject });
  });
  await server.received(sent);
  const elapsed = (performance.now() - startedAt) / 1000;

  printReport([...server.reports.values()], waits, elapsed);
  const stats = keyed.stats();
  console.log(
    `\nsender: ${stats.granted} messages granted, ${stats.grantedCost} bytes; keys held now ${stats.keys} ` +
      `(forgotten once refilled: ${stats.forgotten} so far); timer scheduled: ${stats.timerScheduled}`,
  );

  for (const socket of sockets.values()) socket.close();
  await Promise.all(
    [...sockets.values()].map(
      (socket) => new Promise((resolve) => (socket.readyState === WebSocket.CLOSED ? resolve(null) : socket.once('close', resolve))),
    ),
  );
  await server.close();

  const disconnected = [...server.reports.values()].filter((report) => report.disconnected).length;
  const received = [...server.reports.values()].reduce((sum, report) => sum + report.messages, 0);
  console.log(`disconnects: ${disconnected} (1008 closes seen by clients: ${closedByServer}); messages sent ${sent}, received ${received}`);
  return disconnected === 0 && closedByServer === 0 && received === sent ? 0 : 1;
}

function printReport(reports: ConnectionReport[], waits: Map<string, number[]>, elapsed: number): void {
  const rows = reports
    .sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }))
    .map((report) => {
      const span = Math.max((report.lastAt - report.firstAt) / 1000, 1e-9);
      const sorted = (waits.get(report.id) ?? []).sort((a, b) => a - b);
      const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0;
      // Over a span the budget allows its burst plus rate × span: how much of that was used.
      const allowed = BUDGET.burstBytes + BUDGET.bytesPerSecond * span;
      return {
        connection: report.id,
        offered: `${Math.round(LOAD[Number(report.id.split('-')[1])]! * 100)}% of budget`,
        msgs: report.messages,
        bytes: report.bytes,
        'span s': span.toFixed(2),
        'B/s': Math.round(report.bytes / span),
        'budget B/s': BUDGET.bytesPerSecond,
        'msgs/s': (report.messages / span).toFixed(1),
        'used of allowed': `${((100 * report.bytes) / allowed).toFixed(0)}%`,
        'min headroom B': Math.round(report.lowestTokens),
        'p99 wait ms': Math.round(p99),
        disconnected: report.disconnected ? 'YES' : 'no',
      };
    });
  console.table(rows);
  console.log(
    "'used of allowed': bytes ÷ (burst + budget × span); 'min headroom': the fewest bytes the server's bucket held " +
      "after a message (below 0 means disconnect); 'p99 wait': time in the sender's per-connection queue.",
  );
  const totalBytes = reports.reduce((sum, report) => sum + report.bytes, 0);
  const allowed = GLOBAL.capacity + GLOBAL.refillRate * elapsed;
  console.log(
    `total ${totalBytes} bytes in ${elapsed.toFixed(2)} s = ${Math.round(totalBytes / elapsed)} B/s; ` +
      `global cap ${GLOBAL.refillRate} B/s (burst ${GLOBAL.capacity} B): ${((100 * totalBytes) / allowed).toFixed(0)}% of allowed`,
  );
}

// A watchdog that never keeps the process alive by itself.
setTimeout(() => {
  console.error('websocket-fanout: did not finish in 120 s');
  process.exit(1);
}, 120_000).unref();

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
