/**
 * Where the demo writes: every line cut to the terminal's width (80 columns when it is not
 * known), and on a terminal a live block redrawn in place (cursor up over the lines drawn,
 * erase to the end of the screen, draw again) rather than `\r` over a line that may wrap.
 */
const ESC = '\u001b[';
const DEFAULT_COLUMNS = 80;

export class Screen {
  /** Lines of the live block now on the screen. */
  private liveLines = 0;

  constructor(private readonly out: NodeJS.WriteStream = process.stdout) {}

  /** A terminal: live redraws. Otherwise (a pipe, a CI log): plain lines only. */
  get tty(): boolean {
    return this.out.isTTY === true;
  }

  /** Columns a line may take: the terminal's (read afresh, it may be resized), else 80. */
  get width(): number {
    const columns = this.out.columns;
    return typeof columns === 'number' && columns > 0 ? columns : DEFAULT_COLUMNS;
  }

  /** Prints lines below whatever is there (below the live block, which stays). */
  print(...lines: string[]): void {
    this.liveLines = 0;
    this.out.write(lines.map((line) => `${this.fit(line)}\n`).join(''));
  }

  /** Prints `text` as a paragraph, its words wrapped to the width, every line after `indent`. */
  paragraph(text: string, indent = ''): void {
    const room = Math.max(20, this.width - 1 - indent.length);
    const lines: string[] = [];
    let line = '';
    for (const word of words(text)) {
      if (line !== '' && Array.from(`${line} ${word}`).length > room) {
        lines.push(indent + line);
        line = word;
      } else line = line === '' ? word : `${line} ${word}`;
    }
    if (line !== '') lines.push(indent + line);
    this.print(...lines);
  }

  /** Replaces the live block with `lines` (on a terminal only; elsewhere, nothing). */
  redraw(lines: readonly string[]): void {
    if (!this.tty) return;
    // Up over the old block and erase it, so a shorter or narrower block leaves nothing behind.
    const back = this.liveLines > 0 ? `\r${ESC}${this.liveLines}A${ESC}0J` : '';
    this.out.write(back + lines.map((line) => `${this.fit(line)}\n`).join(''));
    this.liveLines = lines.length;
  }

  /** `line` cut to one column less than the width, so no terminal wraps it (a full-width line may). */
  fit(line: string): string {
    const chars = Array.from(line.trimEnd());
    const room = Math.max(1, this.width - 1);
    return chars.length <= room ? chars.join('') : `${chars.slice(0, room - 1).join('')}…`;
  }
}

/** The words of `text`, a unit kept with its number ("85 %", "5 s") and a sign with what follows ("≥ 85 %"). */
function words(text: string): string[] {
  const result: string[] = [];
  for (const word of text.split(/ +/).filter((w) => w !== '')) {
    const last = result[result.length - 1];
    if (last !== undefined && (/^(%|s)[,.;:)]*$/.test(word) || /[≥≤×]$/.test(last))) result[result.length - 1] = `${last} ${word}`;
    else result.push(word);
  }
  return result;
}
