/**
 * `npm run demo` as a user sees it: under a real pseudo-terminal of 80 columns (tmux) no
 * line wraps, the live block is redrawn in place and the finished tables are shown; `--help`
 * and a typo are answered at once; piped into a log it prints plain lines, no cursor movement.
 */
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { limitPhases, type LimitPhase } from '../../examples/demo/limitPlan';
import { settlingAfterEachChange } from '../../examples/demo/settling';
import { Timeline } from '../../examples/demo/timeline';
import { sleep } from '../support/realTime';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEMO = ['--import', 'tsx', 'examples/demo/main.ts'];
const COLUMNS = 80;
const STYLES = ['github', 'ietf', 'retry-after-only', 'none'];
/** Our own tmux server (its own socket), so no one else's sessions are touched. */
const SOCKET = `rxjs-token-bucket-demo-${process.pid}`;

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
if (!hasTmux && process.env.CI === 'true') throw new Error('tmux is needed for the demo test under CI (apt-get install tmux)');

function tmux(...args: string[]): string {
  const result = spawnSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** Every line, trailing blanks cut, longer than `columns` characters (code points). */
function tooWide(text: string, columns: number): string[] {
  return text.split('\n').filter((line) => Array.from(line.trimEnd()).length > columns);
}

function runDemo(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...DEMO, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    // Past the bound it is running a demo it should not have started: kill it, the test fails on the code.
    const bound = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(bound);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('npm run demo', () => {
  afterAll(() => {
    if (hasTmux) spawnSync('tmux', ['-L', SOCKET, 'kill-server']);
  });

  it.skipIf(!hasTmux)(
    '--quick in an 80-column terminal: no line wraps, the live view redraws in place, the tables are shown',
    async () => {
      const command = `${process.execPath} ${DEMO.join(' ')} --quick; echo "demo exit code $?"; sleep 60`;
      tmux('new-session', '-d', '-s', 'demo', '-x', String(COLUMNS), '-y', '50', '-c', ROOT, command);
      expect(tmux('display-message', '-p', '-t', 'demo', '#{pane_width}').trim()).toBe(String(COLUMNS));
      // -J joins wrapped lines back into one, so a line that wrapped shows wider than the pane.
      const capture = (): string => tmux('capture-pane', '-p', '-J', '-S', '-', '-t', 'demo');
      let screen = capture();
      for (let waited = 0; !screen.includes('demo exit code') && waited < 40_000; waited += 500) {
        await sleep(500);
        screen = capture();
      }
      expect(screen).toContain('demo exit code 0');
      expect(tooWide(screen, COLUMNS)).toEqual([]);
      // The live block was redrawn in place: its header is on the screen once, not once per redraw.
      expect(screen.match(/ s of 15 s /g)).toHaveLength(1);
      expect(screen).toContain('results after 15 s');
      expect(screen).toContain('settled after');
      expect(screen).toContain('requests/s (a full block');
      for (const style of STYLES) expect(screen).toMatch(new RegExp(`^  ${style} +\\d+ +\\d+\\.\\d +\\d+\\.\\d +\\d+ +[\\d.]+ %`, 'm'));
      expect(screen).toMatch(/all targets met\.|targets missed by: /);
    },
    60_000,
  );

  it('--help prints the options and exits 0', async () => {
    const { code, stdout } = await runDemo(['--help'], 10_000);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: npm run demo/);
    for (const option of ['--quick', '--seconds', '--style', '--fixed', '--safety-factor', '--help']) expect(stdout).toContain(option);
    expect(tooWide(stdout, COLUMNS)).toEqual([]);
  });

  it('refuses a typo with exit code 2 instead of starting the run', async () => {
    const { code, stdout, stderr } = await runDemo(['--qiuck'], 10_000);
    expect(code).toBe(2);
    expect(stderr).toContain("'--qiuck'");
    expect(stderr).toContain('--help');
    expect(stdout).toBe('');
  });

  it('piped into a log: plain lines (progress, then results), no cursor movement, none too wide', async () => {
    const { code, stdout } = await runDemo(['--seconds', '3', '--style', 'ietf'], 20_000);
    expect(code).toBe(0);
    expect(stdout).not.toContain('\u001b');
    expect(stdout).not.toContain('\r');
    expect(stdout).toMatch(/^ +\d+\.\d s of 3 s, API limit now \d+\/s:$/m);
    expect(stdout.indexOf(' s of 3 s')).toBeLessThan(stdout.indexOf('results after 3 s'));
    expect(stdout).toMatch(/^ {2}ietf +\d+ +\d+\.\d/m);
    expect(tooWide(stdout, COLUMNS)).toEqual([]);
  });
});

describe("the demo's settling times", () => {
  /** A timeline of half-second slots with the given counts. */
  function timelineOf(ok: number[], throttled: number[] = []): Timeline {
    const timeline = new Timeline(ok.length / 2);
    ok.forEach((count, slot) => (timeline.ok[slot] = count));
    throttled.forEach((count, slot) => (timeline.throttled[slot] = count));
    return timeline;
  }
  const fixed20: LimitPhase[] = [{ fromMs: 0, rate: 20, capacity: 40 }];

  it('settles from the first instant after which every 2 s window for 5 s admits >= 85 % of the aim and refuses <= 10 %', () => {
    // The burst, 40/s with 429s, then 20/s. The windows from slots 0 and 1 refuse 8 of 68 and 8 of 58 (12 %, 14 %):
    // not settled. From slot 2 on (3 of 43, 7 %; then none) every window admits 40 of 34 needed: settled at 1 s.
    const ok = [20, 20, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10];
    const throttled = [0, 5, 3];
    expect(settlingAfterEachChange(timelineOf(ok, throttled), fixed20, 1)).toEqual([{ phase: fixed20[0], seconds: 1, throttled: 5 }]);
    // A dip at slot 10 (the windows from slots 7 to 10 admit 32 of 34): 4 s held before it, 2.5 s after; not 5 s.
    ok[10] = 2;
    expect(settlingAfterEachChange(timelineOf(ok, throttled), fixed20, 1)).toEqual([
      { phase: fixed20[0], seconds: undefined, throttled: 8 },
    ]);
  });

  it('aims at limit × safetyFactor and measures each change from its own start', () => {
    const phases = [fixed20[0]!, { fromMs: 6000, rate: 8, capacity: 16 }];
    // 16/s for six seconds, then the drop to 8/s: one second still at 16/s with 429s, then 8/s.
    const ok = [...Array<number>(12).fill(8), 5, 5, ...Array<number>(14).fill(4)];
    const throttled = [...Array<number>(12).fill(0), 4, 4];
    expect(settlingAfterEachChange(timelineOf(ok, throttled), phases, 0.8)).toEqual([
      { phase: phases[0], seconds: 0, throttled: 0 },
      { phase: phases[1], seconds: 1, throttled: 8 },
    ]);
    // 16/s is 80 % of 20/s: short of 85 % of the limit, settled only with safetyFactor 0.8 or less.
    expect(settlingAfterEachChange(timelineOf(ok, throttled), phases, 1)[0]).toEqual({
      phase: phases[0],
      seconds: undefined,
      throttled: 0,
    });
  });

  it('the default scenario steps 20 → 8 → 30/s at a third and two thirds of the run', () => {
    expect(limitPhases('steps', 60)).toEqual([
      { fromMs: 0, rate: 20, capacity: 40 },
      { fromMs: 20_000, rate: 8, capacity: 16 },
      { fromMs: 40_000, rate: 30, capacity: 60 },
    ]);
  });
});
