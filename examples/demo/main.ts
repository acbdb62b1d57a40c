/**
 * `npm run demo`: an HTTP API on loopback enforces a limit its client is not told, and a
 * client drives it with `adaptiveThrottle` over Node's fetch, starting from a wrong guess.
 * Every header style runs at once, each against its own API; by default the limit steps
 * during the run (20/s → 8/s → 30/s), so the client is seen learning, then re-learning.
 * Live progress, then a table of what each client achieved beside the limit, how fast it
 * settled after each step, and a chart of the rate over time. `--help` for the options.
 */
import { chartLines } from './chart';
import { BURST_SECONDS, limitPhases, secondsOf } from './limitPlan';
import { DEFAULT_SECONDS, parseDemoArgs, UsageError, USAGE, type DemoOptions } from './options';
import { ProgressView } from './progressView';
import { resultOf, resultsTable, settlingTable } from './report';
import { CONCURRENCY, GUESS, startRun, type RunPlan } from './runStyle';
import { Screen } from './screen';
import { STYLE_EXPLANATIONS, type HeaderStyle } from './server';
import { describeSettled, describeTargets } from './targets';

/** Without headers there is no evidence for a rate above the start: the user allows the search this far up. */
const HEADERLESS_MAX_RATE = 60;
const HEADERLESS: readonly HeaderStyle[] = ['retry-after-only', 'none'];
const REDRAW_MS = 250;

function introduce(options: DemoOptions, screen: Screen): void {
  const { styles, seconds, scenario, safetyFactor } = options;
  const phases = limitPhases(scenario, seconds);
  const steps = phases
    .slice(1)
    .map((phase) => `${phase.rate}/s at ${secondsOf(phase.fromMs)} s`)
    .join(' and ');
  const limit = scenario === 'fixed' ? `${phases[0]!.rate}/s throughout` : `${phases[0]!.rate}/s, stepping to ${steps}`;
  const together =
    styles.length > 1 ? `${styles.length} header styles side by side, each against its own API` : `1 header style, against an API`;
  screen.paragraph(`rxjs-token-bucket demo: takes about ${Math.ceil(seconds)} s (${together} on loopback). --help for the options.`);
  screen.print('');
  screen.paragraph(
    `Each API enforces a limit its client is not told: ${limit} (burst: ${BURST_SECONDS} s of the rate). ` +
      `Each client, adaptiveThrottle over fetch with concurrency ${CONCURRENCY}, starts from a wrong guess of ` +
      `${GUESS.refillRate}/s and learns from the replies.`,
  );
  screen.paragraph(
    safetyFactor === 1
      ? 'safetyFactor 1: spend all the API allows (the default, 0.9, leaves a tenth).'
      : `safetyFactor ${safetyFactor}: aims at ${safetyFactor} × the limit (the demo's default is 1).`,
  );
  screen.print('', '  what each API tells its client:');
  for (const style of styles) screen.print(`  ${style.padEnd(17)} ${STYLE_EXPLANATIONS[style]}`);
  if (styles.some((style) => HEADERLESS.includes(style))) {
    screen.paragraph(
      `Without headers the rate never rises above its start unless maxRate allows it: ` +
        `the header-less clients run with maxRate ${HEADERLESS_MAX_RATE}/s.`,
      '  ',
    );
  }
  screen.print('');
}

function planFor(style: HeaderStyle, options: DemoOptions): RunPlan {
  return {
    scenario: options.scenario,
    safetyFactor: options.safetyFactor,
    ...(HEADERLESS.includes(style) ? { maxRate: HEADERLESS_MAX_RATE } : {}),
  };
}

async function demo(options: DemoOptions, screen: Screen): Promise<void> {
  introduce(options, screen);
  const runs = await Promise.all(options.styles.map((style) => startRun(style, options.seconds, planFor(style, options))));
  const view = new ProgressView(screen, runs, options.seconds, Math.max(1, Math.round(options.seconds / 6)) * 1000);
  const redraw = setInterval(() => view.update(), REDRAW_MS);
  let outcomes;
  try {
    outcomes = await Promise.all(runs.map((run) => run.done));
  } finally {
    clearInterval(redraw);
  }
  if (screen.tty) view.update(); // the live block's last state stays on the screen

  const results = outcomes.map((outcome) => resultOf(outcome, options.safetyFactor));
  screen.print(
    '',
    `  results after ${options.seconds} s (ok: requests the API admitted; limit/s: its mean limit)`,
    ...resultsTable(results),
  );
  screen.paragraph('goodput: ok ÷ the most the API could admit (first burst + limit × time).', '  ');
  screen.paragraph(`targets: ${describeTargets(false)} (the goodput targets × safetyFactor)`, '  ');
  screen.print('', ...settlingTable(results));
  screen.paragraph(
    `settled: from the first instant after which ${describeSettled()}, as the scenario tests judge it. ` +
      '"!": later than the target. 429s: from the change until settled.',
    '  ',
  );
  screen.print(
    '',
    ...chartLines(
      outcomes.map((o) => ({ name: o.style, timeline: o.timeline, phases: o.phases })),
      screen.width,
    ),
  );
  const missed = results.filter((r) => !r.met).map((r) => r.outcome.style);
  screen.print('', missed.length === 0 ? '  all targets met.' : `  targets missed by: ${missed.join(', ')}.`);
  // Real time on a shared machine, and in a short run the first burst and each step weigh more:
  // the targets themselves are checked in virtual time (test/scenarios, npm run bench -- --only adaptive).
  if (missed.length > 0 && options.seconds < DEFAULT_SECONDS) {
    screen.paragraph(`a ${options.seconds} s run is shorter than the ${DEFAULT_SECONDS} s the targets are set for.`, '  ');
  }
}

async function main(): Promise<void> {
  // Piped into `head` that has read enough: stop quietly, as a command-line tool does.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(0);
  });
  const screen = new Screen();
  let parsed;
  try {
    parsed = parseDemoArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`demo: ${error.message}\nrun \`npm run demo -- --help\` for the options\n`);
    process.exitCode = 2;
    return;
  }
  if (parsed.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  await demo(parsed, screen);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
