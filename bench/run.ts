/**
 * `npm run bench [-- --quick] [-- --only <suite>] [-- --runs <n>]`
 *
 * Runs every suite listed in SUITES, each in its own child process
 * (`node --expose-gc --import tsx bench/child.ts`) so heaps and timers never leak from one
 * suite into the next, prints their tables, and writes `.bench-out/latest.md` and
 * `.bench-out/latest.json`. Targets are reported as PASS/MISS; the exit code is non-zero
 * only when a suite crashes (or overruns its time limit), never for a missed target.
 */
import { execFileSync, fork } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchContext, BenchRatio, BenchRow, BenchSection } from './harness';

/** Suite files in bench/suites/, run in this order. Append new suites here. */
const SUITES: string[] = ['overhead', 'queue', 'accuracy', 'perKey', 'adaptive', 'redis', 'acquire', 'size'];

/** Packages whose versions are reported with every run (read from node_modules). */
const PACKAGES = [
  'rxjs',
  'bottleneck',
  'p-queue',
  'limiter',
  'rxjs-ratelimiter',
  'rate-limiter-flexible',
  'ioredis',
  'esbuild',
  '@smithy/util-retry',
  '@opentelemetry/sdk-metrics',
  'tsx',
  'typescript',
];

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const rootDir = path.resolve(benchDir, '..');
const outDir = path.join(rootDir, '.bench-out');

interface Options {
  quick: boolean;
  only: string[];
  runs: number | undefined;
}

function parseArgs(argv: readonly string[]): Options {
  const options: Options = { quick: false, only: [], runs: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') options.quick = true;
    else if (arg === '--only') options.only.push(...(argv[++i] ?? '').split(',').filter(Boolean));
    else if (arg.startsWith('--only=')) options.only.push(...arg.slice(7).split(',').filter(Boolean));
    else if (arg === '--runs' || arg.startsWith('--runs=')) {
      const text = arg === '--runs' ? argv[++i] : arg.slice(7);
      const runs = Number(text);
      if (!Number.isInteger(runs) || runs < 1) throw new RangeError(`--runs must be an integer >= 1, got ${text}`);
      options.runs = runs;
    } else if (arg === '--help' || arg === '-h') {
      console.log('usage: npm run bench [-- --quick] [-- --only <suite>[,<suite>]] [-- --runs <n>]');
      console.log(`suites: ${SUITES.join(', ')}`);
      process.exit(0);
    } else throw new TypeError(`unknown argument ${JSON.stringify(arg)} (try --help)`);
  }
  for (const name of options.only) {
    if (!SUITES.includes(name)) throw new RangeError(`--only: no suite ${JSON.stringify(name)}; suites: ${SUITES.join(', ')}`);
  }
  return options;
}

// ---- machine facts ----

interface Machine {
  date: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  platform: string;
  node: string;
  loadBefore: number[];
  loadAfter: number[];
  packages: Record<string, string>;
  project: string;
}

function packageVersion(name: string): string {
  const file = path.join(rootDir, 'node_modules', name, 'package.json');
  if (!existsSync(file)) return 'not installed';
  return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? '?';
}

function projectVersion(): string {
  const { name, version } = JSON.parse(readFileSync(path.join(rootDir, 'package.json'), 'utf8')) as { name: string; version: string };
  return `${name}@${version} (src/ through tsx), ${gitCommit()}`;
}

/** The commit measured, and whether src/ had uncommitted changes (read-only git calls). */
function gitCommit(): string {
  try {
    const git = (...args: string[]) =>
      execFileSync('git', args, { cwd: rootDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = git('status', '--porcelain', '--', 'src') !== '';
    return `commit ${git('rev-parse', '--short', 'HEAD')}${dirty ? ' + uncommitted changes in src/' : ''}`;
  } catch {
    return 'commit unknown';
  }
}

const loadAverage = (): number[] => os.loadavg().map((load) => Number(load.toFixed(2)));

function machineFacts(): Machine {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadBefore: loadAverage(),
    loadAfter: [],
    packages: Object.fromEntries(PACKAGES.map((name) => [name, packageVersion(name)])),
    project: projectVersion(),
  };
}

// ---- running suites ----

interface SuiteResult {
  suite: string;
  ok: boolean;
  seconds: number;
  loadBefore: number[];
  loadAfter: number[];
  section?: BenchSection;
  error?: string;
}

function runSuite(suite: string, context: BenchContext, timeLimitMs: number): Promise<SuiteResult> {
  const started = performance.now();
  const loadBefore = loadAverage();
  return new Promise((resolve) => {
    let section: BenchSection | undefined;
    let error: string | undefined;
    const child = fork(path.join(benchDir, 'child.ts'), [suite, JSON.stringify(context)], {
      cwd: rootDir,
      execArgv: ['--expose-gc', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const watchdog = setTimeout(() => {
      error = `overran its time limit of ${timeLimitMs / 1000} s and was killed`;
      child.kill('SIGKILL');
    }, timeLimitMs);
    child.on('message', (message: { type?: string; section?: BenchSection }) => {
      if (message.type === 'section') section = message.section;
    });
    child.on('error', (failure) => {
      error ??= failure.message;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(watchdog);
      if (section === undefined) error ??= `exited with ${signal ?? `code ${code}`} before reporting`;
      else if (code !== 0 && error === undefined) error = `exited with ${signal ?? `code ${code}`}`;
      resolve({
        suite,
        ok: error === undefined,
        seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
        loadBefore,
        loadAfter: loadAverage(),
        ...(section === undefined ? {} : { section }),
        ...(error === undefined ? {} : { error }),
      });
    });
  });
}

// ---- rendering ----

function formatCell(value: number | string | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  if (Number.isNaN(value)) return 'n/a';
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '-∞';
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  const magnitude = Math.abs(value);
  return magnitude >= 100
    ? value.toFixed(0)
    : magnitude >= 10
      ? value.toFixed(1)
      : magnitude >= 1
        ? value.toFixed(2)
        : value.toPrecision(2);
}

function markdownTable(header: readonly string[], lines: readonly (readonly string[])[]): string {
  const escape = (cell: string) => cell.replaceAll('|', '\\|');
  return [
    `| ${header.map(escape).join(' | ')} |`,
    `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...lines.map((line) => `| ${line.map(escape).join(' | ')} |`),
  ].join('\n');
}

function rowsTable(rows: readonly BenchRow[]): string {
  const columns: string[] = [];
  for (const row of rows) for (const key of Object.keys(row.metrics)) if (!columns.includes(key)) columns.push(key);
  return markdownTable(
    ['subject', ...columns],
    rows.map((row) => [row.subject, ...columns.map((column) => formatCell(row.metrics[column]))]),
  );
}

function ratiosTable(ratios: readonly BenchRatio[]): string {
  return markdownTable(
    ['headline', 'value', 'target', 'verdict'],
    ratios.map((ratio) => [
      ratio.label,
      formatCell(ratio.value),
      ratio.target ?? '',
      ratio.pass === undefined ? '' : ratio.pass ? 'PASS' : 'MISS',
    ]),
  );
}

function renderMachine(machine: Machine, context: BenchContext): string {
  const packages = Object.entries(machine.packages)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  return [
    `- Date: ${machine.date}; mode: ${context.quick ? 'quick' : 'full'} (${context.runs} runs per measurement)`,
    `- CPU: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB; ${machine.platform}`,
    `- Node ${machine.node}; ${machine.project}`,
    `- Peers and tools: ${packages}`,
    `- Load average (1/5/15 min): before ${machine.loadBefore.join(' / ')}, after ${machine.loadAfter.join(' / ')}`,
  ].join('\n');
}

function renderSuite(result: SuiteResult): string {
  const heading = `## ${result.section?.title ?? result.suite}`;
  const timing = `_suite \`${result.suite}\`: ${result.seconds} s, load ${result.loadBefore[0]} → ${result.loadAfter[0]}_`;
  if (!result.ok || result.section === undefined) {
    return [heading, timing, '', `**CRASHED**: ${result.error ?? 'unknown error'}`].join('\n');
  }
  const { rows, ratios, notes } = result.section;
  return [
    heading,
    timing,
    '',
    rowsTable(rows),
    ...(ratios.length > 0 ? ['', ratiosTable(ratios)] : []),
    ...(notes.length > 0 ? ['', ...notes.map((note) => `- ${note}`)] : []),
  ].join('\n');
}

// ---- main ----

let options: Options;
try {
  options = parseArgs(process.argv.slice(2));
} catch (error) {
  console.error(`bench: ${(error as Error).message}`);
  process.exit(2);
}
const context: BenchContext = { quick: options.quick, runs: options.runs ?? (options.quick ? 3 : 7) };
const suites = options.only.length > 0 ? SUITES.filter((suite) => options.only.includes(suite)) : SUITES;
// A suite that overruns this is killed and counted as a crash (quick mode is meant for CI).
const timeLimitMs = options.quick ? 120_000 : 1_800_000;

const machine = machineFacts();
console.log(`# rxjs-token-bucket benchmarks\n\n${renderMachine(machine, context)}\n`);

const results: SuiteResult[] = [];
for (const suite of suites) {
  console.log(`… running ${suite}`);
  const result = await runSuite(suite, context, timeLimitMs);
  results.push(result);
  console.log(`\n${renderSuite(result)}\n`);
}
machine.loadAfter = loadAverage();

const markdown = [
  '# rxjs-token-bucket benchmarks',
  '',
  renderMachine(machine, context),
  '',
  `Reproduce: \`npm run bench${options.quick ? ' -- --quick' : ''}\` (${suites.join(', ')}).`,
  '',
  ...results.map(renderSuite).flatMap((text) => [text, '']),
].join('\n');
mkdirSync(outDir, { recursive: true });
writeFileSync(path.join(outDir, 'latest.md'), markdown);
writeFileSync(path.join(outDir, 'latest.json'), `${JSON.stringify({ machine, context, results }, null, 2)}\n`);

const crashed = results.filter((result) => !result.ok);
const verdicts = results.flatMap((result) => result.section?.ratios ?? []).filter((ratio) => ratio.pass !== undefined);
console.log(`load average after: ${machine.loadAfter.join(' / ')}`);
console.log(
  `targets: ${verdicts.filter((ratio) => ratio.pass).length} PASS, ${verdicts.filter((ratio) => !ratio.pass).length} MISS; ` +
    `suites crashed: ${crashed.length}; wrote ${path.relative(rootDir, outDir)}/latest.md and latest.json`,
);
if (crashed.length > 0) process.exitCode = 1;
