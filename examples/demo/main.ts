/**
 * `npm run demo`: an HTTP API on loopback enforces a limit its client is not told, and a
 * client drives it with `adaptiveThrottle` over Node's fetch, starting from a wrong guess.
 * For each header style the API can speak, it shows a live progress bar, then a table and a
 * text chart of the rate over time: requests, 429s, and goodput as a share of the API's limit.
 *
 *   npm run demo                       # every style, 45 s each
 *   npm run demo -- --style ietf       # one style
 *   npm run demo -- --quick            # shorter runs (CI)
 */
import { HEADER_STYLES, type HeaderStyle } from './server';
import { API_BURST, API_RATE, CONCURRENCY, GUESS, runStyle, type Outcome, type Progress } from './runStyle';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const styleArg = args.includes('--style') ? args[args.indexOf('--style') + 1] : undefined;
if (styleArg !== undefined && !HEADER_STYLES.includes(styleArg as HeaderStyle)) {
  console.error(`unknown --style ${styleArg}; choose one of ${HEADER_STYLES.join(', ')}`);
  process.exit(2);
}
const styles = styleArg === undefined ? HEADER_STYLES : [styleArg as HeaderStyle];
const SECONDS = quick ? 25 : 45;
const tty = process.stdout.isTTY === true;

/** The most the API admits in a run: its full burst at the start, then its rate. */
function mostAdmitted(seconds: number): number {
  return API_BURST + API_RATE * seconds;
}

function drawProgress(style: string, { elapsedMs, ok, throttled, rate }: Progress): void {
  const width = 30;
  const done = Math.min(width, Math.round((elapsedMs / (SECONDS * 1000)) * width));
  const bar = '█'.repeat(done) + '░'.repeat(width - done);
  const line = `  ${style.padEnd(17)} ${bar} ${(elapsedMs / 1000).toFixed(1).padStart(5)}s  ok ${String(ok).padStart(5)}  429 ${String(throttled).padStart(3)}  rate ${rate.toFixed(1).padStart(6)}/s`;
  process.stdout.write(tty ? `\r${line}` : `${line}\n`);
}

const SPARKS = ' ▁▂▃▄▅▆▇█';
function sparkline(values: readonly number[], ceiling: number): string {
  return values.map((v) => SPARKS[Math.max(0, Math.min(8, Math.round((v / ceiling) * 8)))]).join('');
}

async function main(): Promise<void> {
  console.log(`rxjs-token-bucket demo: an API allowing ${API_RATE} req/s (burst ${API_BURST}), not told to the client;`);
  console.log(
    `the client guesses ${GUESS.refillRate} req/s and learns from each response (concurrency ${CONCURRENCY}, ${SECONDS} s per style).\n`,
  );
  const outcomes: Outcome[] = [];
  for (const style of styles) {
    let ticks = 0;
    // A live bar on a terminal; a line every five seconds in a log (CI).
    outcomes.push(await runStyle(style, SECONDS, (progress) => (tty || ++ticks % 25 === 0) && drawProgress(style, progress)));
    if (tty) process.stdout.write('\n');
  }

  console.log(`\n  style              requests     ok    429   429 share   goodput (share of the most the API admits)   final rate`);
  let allMet = true;
  for (const o of outcomes) {
    const share = o.throttled / Math.max(1, o.sent);
    const goodput = o.ok / mostAdmitted(o.seconds);
    const met = goodput >= 0.9 && share <= 0.02;
    allMet &&= met;
    console.log(
      `  ${o.style.padEnd(17)} ${String(o.sent).padStart(8)} ${String(o.ok).padStart(6)} ${String(o.throttled).padStart(6)}   ${(share * 100).toFixed(2).padStart(6)} %   ${(goodput * 100).toFixed(1).padStart(6)} %  ${met ? 'met ' : 'MISS'}                      ${o.finalRate.toFixed(1).padStart(5)}/s`,
    );
  }
  console.log(`\n  admitted requests per second (a full block is the limit, ${API_RATE}/s):`);
  for (const o of outcomes) console.log(`  ${o.style.padEnd(17)} |${sparkline(o.okPerSecond, API_RATE)}|`);
  console.log(
    `\n  goodput: admitted requests / (${API_BURST} burst + ${API_RATE}/s × ${SECONDS} s), the most the API could have admitted.`,
  );
  console.log(`  targets: goodput >= 90 % of the limit and <= 2 % of requests answered 429 — ${allMet ? 'all met' : 'NOT all met'}`);
  if (!allMet) process.exitCode = 1;
}

void main();
