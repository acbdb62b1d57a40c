/** The demo's command line: parsed strictly (an unknown option or a typo is refused, not run). */
import { parseArgs } from 'node:util';
import type { LimitScenario } from './limitPlan';
import { HEADER_STYLES, type HeaderStyle } from './server';

/** Scenario (b) of issue 11 as written: 20/s, then 8/s at 30 s, then 30/s at 60 s. */
export const DEFAULT_SECONDS = 90;
export const QUICK_SECONDS = 15;

export interface DemoOptions {
  styles: readonly HeaderStyle[];
  seconds: number;
  scenario: LimitScenario;
  safetyFactor: number;
}

export const USAGE = `Usage: npm run demo -- [options]

An HTTP API on loopback enforces a limit its client is not told; the client
(adaptiveThrottle over fetch) starts from a wrong guess and learns it, once per
header style, all styles side by side, each against its own server.

Options:
  --quick               a short run (${QUICK_SECONDS} s), as CI runs it
  --seconds <n>         run length in seconds (default ${DEFAULT_SECONDS})
  --style <name>        one style only: ${HEADER_STYLES.join(', ')}
  --fixed               keep the limit fixed (default: it steps 20 → 8 → 30/s
                        at a third and two thirds of the run)
  --safety-factor <x>   adaptiveThrottle's safetyFactor, in (0, 1] (default 1)
  -h, --help            print this and exit`;

/** A mistake on the command line: the demo prints it with the usage and exits 2. */
export class UsageError extends Error {}

export type ParsedCommand = { help: true } | ({ help: false } & DemoOptions);

export function parseDemoArgs(argv: readonly string[]): ParsedCommand {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        quick: { type: 'boolean' },
        seconds: { type: 'string' },
        style: { type: 'string' },
        fixed: { type: 'boolean' },
        'safety-factor': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help === true) return { help: true };
  const style = values.style;
  if (style !== undefined && !HEADER_STYLES.includes(style as HeaderStyle)) {
    throw new UsageError(`--style ${JSON.stringify(style)} is not a style; write one of ${HEADER_STYLES.join(', ')}`);
  }
  if (values.quick === true && values.seconds !== undefined) throw new UsageError('--quick and --seconds both set the length; give one');
  const seconds = values.seconds === undefined ? (values.quick === true ? QUICK_SECONDS : DEFAULT_SECONDS) : Number(values.seconds);
  if (!Number.isFinite(seconds) || seconds < 2 || seconds > 3600) {
    throw new UsageError(`--seconds ${JSON.stringify(values.seconds)} is not a run length; write a number of seconds from 2 to 3600`);
  }
  const safetyFactor = values['safety-factor'] === undefined ? 1 : Number(values['safety-factor']);
  if (!(safetyFactor > 0 && safetyFactor <= 1)) {
    throw new UsageError(`--safety-factor ${JSON.stringify(values['safety-factor'])} is out of range; write a number in (0, 1], e.g. 0.9`);
  }
  return {
    help: false,
    styles: style === undefined ? HEADER_STYLES : [style as HeaderStyle],
    seconds,
    scenario: values.fixed === true ? 'fixed' : 'steps',
    safetyFactor,
  };
}
