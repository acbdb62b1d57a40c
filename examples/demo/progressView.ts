/**
 * The runs while they go: on a terminal a live block (a bar, then one line per style),
 * redrawn a few times a second; in a log a block of plain lines every few seconds.
 * "ok" is what the API admitted, counted as the results table counts it.
 */
import type { Progress, Run } from './runStyle';
import type { Screen } from './screen';

const BAR_WIDTH = 20;
/** The "ok/s now" is over the last second of samples. */
const RATE_WINDOW_MS = 1000;

interface Sample {
  readonly atMs: number;
  readonly ok: number;
}

export class ProgressView {
  private readonly samples = new Map<Run, Sample[]>();
  private nextPlainMs: number;

  constructor(
    private readonly screen: Screen,
    private readonly runs: readonly Run[],
    private readonly seconds: number,
    /** In a log, a block every this many ms. */
    private readonly plainEveryMs: number,
  ) {
    this.nextPlainMs = plainEveryMs;
    for (const run of runs) this.samples.set(run, []);
  }

  /** Takes a sample of every run and shows it (live), or shows it when a block is due (log). */
  update(): void {
    const progress = this.runs.map((run) => this.sample(run));
    const elapsedMs = Math.max(...progress.map((p) => p.elapsedMs));
    if (this.screen.tty) {
      this.screen.redraw(this.lines(progress, elapsedMs));
    } else if (elapsedMs >= this.nextPlainMs && elapsedMs < this.seconds * 1000) {
      this.nextPlainMs += this.plainEveryMs;
      this.screen.print(...this.lines(progress, elapsedMs));
    }
  }

  private sample(run: Run): Progress & { okPerSecond: number } {
    const progress = run.progress();
    const samples = this.samples.get(run)!;
    samples.push({ atMs: progress.elapsedMs, ok: progress.ok });
    while (samples.length > 2 && samples[1]!.atMs <= progress.elapsedMs - RATE_WINDOW_MS) samples.shift();
    const oldest = samples[0]!;
    const spanMs = progress.elapsedMs - oldest.atMs;
    return { ...progress, okPerSecond: spanMs > 0 ? ((progress.ok - oldest.ok) * 1000) / spanMs : 0 };
  }

  private lines(progress: readonly (Progress & { okPerSecond: number })[], elapsedMs: number): string[] {
    const done = Math.min(BAR_WIDTH, Math.round((elapsedMs / (this.seconds * 1000)) * BAR_WIDTH));
    const limit = progress[0]?.limit ?? 0;
    const time = `${(elapsedMs / 1000).toFixed(1).padStart(5)} s of ${this.seconds} s`;
    const head = this.screen.tty
      ? `  ${time}  ${'█'.repeat(done)}${'░'.repeat(BAR_WIDTH - done)}  API limit now ${limit}/s`
      : `  ${time}, API limit now ${limit}/s:`;
    return [
      head,
      `  ${'style'.padEnd(17)}${'ok'.padStart(6)}${'ok/s now'.padStart(10)}${'429s'.padStart(7)}${'client rate'.padStart(14)}`,
      ...progress.map(
        (p, i) =>
          `  ${this.runs[i]!.style.padEnd(17)}${String(p.ok).padStart(6)}${p.okPerSecond.toFixed(1).padStart(10)}` +
          `${String(p.throttled).padStart(7)}${`${p.clientRate.toFixed(1)}/s`.padStart(14)}`,
      ),
    ];
  }
}
