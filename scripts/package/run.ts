/**
 * Running a command of the package check: its output is kept, and shown only when it fails (or
 * when asked), so a passing check prints one line per step.
 */
import { spawnSync } from 'node:child_process';

export interface CommandResult {
  ok: boolean;
  /** Its stdout alone. */
  stdout: string;
  /** Its stdout and stderr, for a report. */
  output: string;
}

export function runCommand(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env): CommandResult {
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? `\n${result.error.message}` : ''}`;
  return { ok: result.status === 0, stdout: result.stdout ?? '', output };
}

/** Runs it and returns its stdout; throws, with its output, when it fails. */
export function mustRun(command: string, args: readonly string[], cwd: string): string {
  const { ok, stdout, output } = runCommand(command, args, cwd);
  if (!ok) throw new Error(`${command} ${args.join(' ')} (in ${cwd}) failed:\n${output}`);
  return stdout;
}
