/**
 * The bench child process, started by run.ts (and by `runIsolated`) as
 * `node --expose-gc --import tsx bench/child.ts …`. Two modes:
 *
 * - `child.ts <suite> <context JSON>`: runs bench/suites/<suite>.ts and sends its section.
 * - `child.ts --call <module> <export> <args JSON>`: calls one exported async function of a
 *   bench module (path relative to bench/) and sends its result: one measurement alone in a
 *   fresh process, for peers whose waiting work cannot be withdrawn afterwards.
 *
 * Results go to the parent over IPC; the process exits as soon as they are sent, without
 * waiting for timers a peer may have left behind.
 */
import { installTimerProbe } from './timerProbe';

// Before any suite or peer library is loaded, so every timer they create is counted.
installTimerProbe();

const send = (message: unknown): void => {
  process.send!(message, () => process.exit(0));
};

const args = process.argv.slice(2);
if (process.send === undefined) {
  console.error('bench/child.ts is started by bench/run.ts (it needs an IPC channel)');
  process.exit(2);
}

if (args[0] === '--call') {
  const [, modulePath, exportName, argsJson] = args;
  const module = (await import(`./${modulePath}`)) as Record<string, unknown>;
  const fn = module[exportName!];
  if (typeof fn !== 'function') throw new TypeError(`bench/${modulePath} has no exported function ${exportName}`);
  const result: unknown = await (fn as (...callArgs: unknown[]) => unknown)(...(JSON.parse(argsJson!) as unknown[]));
  send({ type: 'result', result });
} else {
  const [suiteName, contextJson] = args;
  const { default: suite } = (await import(`./suites/${suiteName}.ts`)) as { default: import('./harness').BenchSuite };
  if (typeof suite !== 'function') throw new TypeError(`bench/suites/${suiteName}.ts has no default export BenchSuite`);
  const section = await suite(JSON.parse(contextJson!));
  send({ type: 'section', section });
}
