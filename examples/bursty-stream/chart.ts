/**
 * The scrolling chart: one plain line per tick, so it reads the same on a terminal and in a
 * CI log (colour only on a terminal, and never any cursor movement).
 */

export interface TickRow {
  /** End of the tick, ms after the start. */
  endMs: number;
  /** Tokens in the bucket at the end of the tick. */
  available: number;
  /** Costs of the events that arrived, and of those emitted, during the tick, in order. */
  arrived: readonly number[];
  emitted: readonly number[];
  /** Values waiting at the end of the tick, and their total cost. */
  queued: number;
  queuedCost: number;
}

const BAR_WIDTH = 20;
const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
const MARKS_WIDTH = 14;
const QUEUE_BAR_MAX = 30;

export class Chart {
  private readonly paint: (code: number, text: string) => string;

  constructor(
    private readonly capacity: number,
    colour: boolean,
  ) {
    this.paint = colour ? (code, text) => (text === '' ? '' : `\x1b[${code}m${text}\x1b[0m`) : (_code, text) => text;
  }

  header(): string[] {
    return [
      `  each digit is one event and its cost; the bar is the tokens left at the end of each 100 ms`,
      '',
      `   time  ${`tokens 0…${this.capacity}`.padEnd(BAR_WIDTH)}   left  ${'arrived'.padEnd(MARKS_WIDTH)}  ${'emitted'.padEnd(MARKS_WIDTH)}  waiting`,
    ];
  }

  row(row: TickRow): string {
    const time = `${(row.endMs / 1000).toFixed(1)}s`.padStart(7);
    const left = row.available.toFixed(1).padStart(5);
    const arrived = this.marks(row.arrived, 33);
    const emitted = this.marks(row.emitted, 32);
    const waiting =
      row.queued === 0
        ? ''
        : `${String(row.queued).padStart(2)} (${String(Math.round(row.queuedCost)).padStart(2)} tokens) ` +
          this.paint(35, '▮'.repeat(Math.min(QUEUE_BAR_MAX, Math.round(row.queuedCost))) + (row.queuedCost > QUEUE_BAR_MAX ? '…' : ''));
    return `${time}  ${this.tokenBar(row.available)}  ${left}  ${arrived}  ${emitted}  ${waiting}`.trimEnd();
  }

  /** A bar of `available` tokens on a scale of `capacity`, in eighths of a cell. */
  private tokenBar(available: number): string {
    const eighths = Math.round((Math.max(0, Math.min(this.capacity, available)) / this.capacity) * BAR_WIDTH * 8);
    const filled = '█'.repeat(eighths >> 3) + EIGHTHS[eighths & 7];
    return this.paint(36, filled) + ' '.repeat(BAR_WIDTH - filled.length);
  }

  private marks(costs: readonly number[], colour: number): string {
    let text = costs.join('');
    if (text.length > MARKS_WIDTH) text = `${text.slice(0, MARKS_WIDTH - 1)}…`;
    return this.paint(colour, text) + ' '.repeat(MARKS_WIDTH - text.length);
  }
}
