/**
 * `npm run examples`: runs every example once in its short mode, as CI does. Each
 * `examples/<name>/main.ts` (except `examples/demo`, which `npm run demo` runs) is started as
 * `node --import tsx examples/<name>/main.ts --quick`, one at a time (they measure real time,
 * so they do not share the CPU with each other), with a time limit. Their output is printed as
 * it comes, each line prefixed with the example's name.
 *
 *   npm run examples                                  # every example
 *   npm run examples -- bursty-stream                 # only those named
 *   npm run examples -- --time-limit 60               # seconds per example (default 120)
 *
 * `--quick` is accepted and changes nothing: the examples always run in their short mode here.
 *
 * Exit code 1 if any example exits non-zero, is killed, or overruns its time limit.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const examplesDir = path.dirname(fileURLToPath(import.meta.url));
const rootDir = path.resolve(examplesDir, '..');
/** Examples with an npm script of their own, not run here. */
const RUN_ELSEWHERE = new Set(['demo']);
/** After the time limit, SIGTERM; this much later, SIGKILL. */
const KILL_GRACE_MS = 5_000;

interface Options {
  names: string[];
  timeLimitMs: number;
}

interface Outcome {
  name: string;
  ok: boolean;
  seconds: number;
  verdict: string;
}

function parseArgs(argv: readonly string[]): Options {
  const options: Options = { names: [], timeLimitMs: 120_000 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') continue; // accepted for symmetry with the other scripts: examples always run short here
    if (arg === '--time-limit') {
      const seconds = Number(argv[++i]);
      if (!(seconds > 0) || !Number.isFinite(seconds)) throw new RangeError(`--time-limit must be a number of seconds > 0, got ${argv[i]}`);
      options.timeLimitMs = seconds * 1000;
    } else if (arg.startsWith('-'))
      throw new TypeError(`unknown option ${JSON.stringify(arg)} (options: --quick, --time-limit <seconds>, then example names)`);
    else options.names.push(arg);
  }
  return options;
}

/** Every `examples/<name>/main.ts`, by name, except those run elsewhere. */
function discoverExamples(): string[] {
  return readdirSync(examplesDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !RUN_ELSEWHERE.has(entry.name))
    .filter((entry) => existsSync(path.join(examplesDir, entry.name, 'main.ts')))
    .map((entry) => entry.name)
    .sort();
}

/** Prints each line of `stream` with `prefix`, as it arrives. */
function relay(stream: NodeJS.ReadableStream, prefix: string, write: (line: string) => void): Promise<void> {
  return new Promise((resolve) => {
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    lines.on('line', (line) => write(`${prefix}${line}\n`));
    lines.on('close', resolve);
  });
}

function runExample(name: string, timeLimitMs: number): Promise<Outcome> {
  const file = path.join('examples', name, 'main.ts');
  const prefix = `[${name}] `;
  console.log(`${prefix}$ node --import tsx ${file} --quick`);
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', file, '--quick'], { cwd: rootDir, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = Promise.all([
    relay(child.stdout, prefix, (line) => process.stdout.write(line)),
    relay(child.stderr, prefix, (line) => process.stderr.write(line)),
  ]);
  let overran = false;
  let killer: ReturnType<typeof setTimeout> | undefined;
  const limit = setTimeout(() => {
    overran = true;
    child.kill('SIGTERM');
    killer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
  }, timeLimitMs);

  return new Promise<Outcome>((resolve) => {
    let spawnError: Error | undefined;
    child.on('error', (error) => {
      spawnError = error;
    });
    child.on('close', (code, signal) => {
      clearTimeout(limit);
      clearTimeout(killer);
      void output.then(() => {
        const seconds = (performance.now() - started) / 1000;
        const verdict = spawnError
          ? `could not start: ${spawnError.message}`
          : overran
            ? `overran its time limit of ${timeLimitMs / 1000} s and was killed`
            : signal !== null
              ? `killed by ${signal}`
              : code === 0
                ? 'ok'
                : `exit code ${code}`;
        resolve({ name, ok: verdict === 'ok', seconds, verdict });
      });
    });
  });
}

async function main(): Promise<void> {
  let options: Options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`run-all: ${(error as Error).message}`);
    process.exitCode = 2;
    return;
  }
  const found = discoverExamples();
  const unknown = options.names.filter((name) => !found.includes(name));
  if (unknown.length > 0) {
    console.error(`run-all: no example ${unknown.join(', ')}; examples: ${found.join(', ')}`);
    process.exitCode = 2;
    return;
  }
  const names = options.names.length > 0 ? options.names : found;
  if (names.length === 0) {
    console.error('run-all: no examples found (examples/<name>/main.ts)');
    process.exitCode = 1;
    return;
  }
  console.log(
    `running ${names.length} example(s) in short mode (--quick), ${options.timeLimitMs / 1000} s limit each: ${names.join(', ')}\n`,
  );
  const outcomes: Outcome[] = [];
  for (const name of names) {
    outcomes.push(await runExample(name, options.timeLimitMs));
    console.log();
  }
  const width = Math.max(...names.map((name) => name.length));
  console.log('examples:');
  for (const { name, ok, seconds, verdict } of outcomes) {
    console.log(`  ${name.padEnd(width)}  ${ok ? 'ok    ' : 'FAILED'}  ${seconds.toFixed(1).padStart(5)} s${ok ? '' : `  (${verdict})`}`);
  }
  const failed = outcomes.filter((outcome) => !outcome.ok).length;
  console.log(failed === 0 ? `all ${outcomes.length} passed` : `${failed} of ${outcomes.length} FAILED`);
  if (failed > 0) process.exitCode = 1;
}

void main();
