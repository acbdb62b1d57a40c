/**
 * `npm run demo`: an HTTP API on loopback enforces a limit its client is not told, and a
 * client drives it with `adaptiveThrottle` over Node's fetch, starting from a wrong guess.
 * For each header style the API can speak, it shows a live progress bar, then a table and a
 * text chart of the rate over time: requests, 429s, and goodput as a share of the API's limit.
 *
 *   npm run demo                       # every style, 45 s each
 *   npm run demo -- --style ietf       # one style
 *   npm run demo -- --quick            # short runs (CI)
 */
import { Observable, range, takeUntil, timer } from 'rxjs';
import { adaptiveThrottle } from '../../src/operators/adaptiveThrottle';
import { TokenBucket } from '../../src/scheduler/TokenBucket';
import { HEADER_STYLES, startApi, type HeaderStyle } from './server';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const styleArg = args.includes('--style') ? args[args.indexOf('--style') + 1] : undefined;
if (styleArg !== undefined && !HEADER_STYLES.includes(styleArg as HeaderStyle)) {
  console.error(`unknown --style ${styleArg}; choose one of ${HEADER_STYLES.join(', ')}`);
  process.exit(2);
}
const styles = styleArg === undefined ? HEADER_STYLES : [styleArg as HeaderStyle];

/** The API's secret limit, and the client's wrong first guess. */
const API_RATE = 20; // requests per second
const API_BURST = 40;
const GUESS = { capacity: 2, refillRate: 50 }; // 2.5× too fast
const SECONDS = quick ? 20 : 45;
const CONCURRENCY = 8;

interface Outcome {
  style: HeaderStyle;
  sent: number;
  ok: number;
  throttled: number;
  seconds: number;
  okPerSecond: number[];
  throttledPerSecond: number[];
  finalRate: number;
}

interface Reply {
  status: number;
  headers: Headers;
}

/** One GET through fetch, as a cancellable Observable: unsubscribing aborts it. */
function get(url: string): Observable<Reply> {
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

async function runStyle(style: HeaderStyle): Promise<Outcome> {
  const api = await startApi({ style, rate: API_RATE, capacity: API_BURST, latencyMs: [5, 25] });
  const bucket = new TokenBucket(GUESS);
  const started = performance.now();
  let sent = 0;
  let ok = 0;
  const throttledPerSecond: number[] = [];
  const second = (): number => Math.floor((performance.now() - started) / 1000);

  // A live bar on a terminal; a line every few seconds in a log (CI).
  const tty = process.stdout.isTTY === true;
  let ticks = 0;
  const progress = setInterval(() => {
    if (tty || ++ticks % 25 === 0) drawProgress(style, performance.now() - started, ok, api.counters.throttled, bucket.refillRate, tty);
  }, 200);
  await new Promise<void>((resolve, reject) => {
    // More work than the run can finish: the limit, not the source, sets the pace.
    range(0, API_RATE * SECONDS * 3)
      .pipe(
        adaptiveThrottle(
          (n: number) => {
            sent++;
            return get(`${api.url}/items/${n}`);
          },
          { bucket, concurrency: CONCURRENCY, retry: 10 },
        ),
        takeUntil(timer(SECONDS * 1000)),
      )
      .subscribe({
        next: (reply) => {
          if (reply.status === 200) ok++;
        },
        error: reject,
        complete: resolve,
      });
  });
  clearInterval(progress);
  for (let s = 0; s < SECONDS; s++) throttledPerSecond[s] = 0;
  void second;
  await api.close();
  if (tty) process.stdout.write('\n');
  return {
    style,
    sent: api.counters.ok + api.counters.throttled,
    ok: api.counters.ok,
    throttled: api.counters.throttled,
    seconds: SECONDS,
    okPerSecond: api.counters.okPerSecond,
    throttledPerSecond,
    finalRate: bucket.refillRate,
  };
}

function drawProgress(style: string, elapsedMs: number, ok: number, throttled: number, rate: number, tty: boolean): void {
  const width = 30;
  const done = Math.min(width, Math.round((elapsedMs / (SECONDS * 1000)) * width));
  const bar = '█'.repeat(done) + '░'.repeat(width - done);
  const line = `  ${style.padEnd(17)} ${bar} ${(elapsedMs / 1000).toFixed(1).padStart(5)}s  ok ${String(ok).padStart(5)}  429 ${String(throttled).padStart(3)}  rate ${rate.toFixed(1).padStart(6)}/s`;
  process.stdout.write(tty ? `\r${line}` : `${line}\n`);
}

const SPARKS = ' ▁▂▃▄▅▆▇█';
function sparkline(values: number[], ceiling: number): string {
  return values.map((v) => SPARKS[Math.max(0, Math.min(8, Math.round(((v ?? 0) / ceiling) * 8)))]).join('');
}

async function main(): Promise<void> {
  console.log(`rxjs-token-bucket demo: an API allowing ${API_RATE} req/s (burst ${API_BURST}), not told to the client;`);
  console.log(`the client guesses ${GUESS.refillRate} req/s and learns from each response (concurrency ${CONCURRENCY}, ${SECONDS} s per style).\n`);
  const outcomes: Outcome[] = [];
  for (const style of styles) outcomes.push(await runStyle(style));

  console.log('\n  style              requests   ok     429   429 share  goodput (share of 20 req/s)  final rate');
  let allMet = true;
  for (const o of outcomes) {
    const share = o.throttled / Math.max(1, o.sent);
    const goodput = o.ok / (API_RATE * o.seconds);
    const met = goodput >= 0.9 && share <= 0.02;
    allMet &&= met;
    console.log(
      `  ${o.style.padEnd(17)} ${String(o.sent).padStart(8)} ${String(o.ok).padStart(6)} ${String(o.throttled).padStart(6)}   ${(share * 100).toFixed(2).padStart(6)} %   ${(goodput * 100).toFixed(1).padStart(6)} %  ${met ? 'met ' : 'MISS'}             ${o.finalRate.toFixed(1)}/s`,
    );
  }
  console.log('\n  admitted requests per second (full block = the limit, 20/s):');
  for (const o of outcomes) console.log(`  ${o.style.padEnd(17)} |${sparkline(o.okPerSecond.slice(0, o.seconds), API_RATE)}|`);
  console.log(`\n  targets: goodput >= 90 % of the limit, <= 2 % of requests answered 429 — ${allMet ? 'all met' : 'NOT all met'}`);
  if (!allMet) process.exitCode = 1;
}

void main();
