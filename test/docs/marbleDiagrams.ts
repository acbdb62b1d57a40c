/**
 * Finds the marble diagrams of the docs: fenced code blocks of README.md (```), and of doc
 * comments (` * ```` … ` * ````, the leading ` * ` stripped), that hold a line starting with
 * `source:` and one starting with `result:`. A block may hold several diagrams; each is
 *
 * ```
 * header line (the nearest non-empty line above `source:` that is not a source, result or axis line)
 * source:  <marble>   commentary…
 * result:  <marble>   commentary…
 *          0         10          (a time axis: only digits and spaces, ignored)
 * ```
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { TestScheduler } from 'rxjs/testing';
import { expect } from 'vitest';
import type { DiagramSetup } from './diagramSetup';

export interface Diagram {
  /** Where the `source:` line is: `path:line` (1-based), relative to the repository. */
  readonly where: string;
  readonly header: string;
  /** The marble after `source:` (its first whitespace-free token). */
  readonly source: string;
  /** The marble after `result:`. */
  readonly result: string;
}

interface Line {
  readonly text: string;
  /** 1-based line number in the file. */
  readonly number: number;
}

const isSource = (text: string): boolean => text.trimStart().startsWith('source:');
const isResult = (text: string): boolean => text.trimStart().startsWith('result:');
const isAxis = (text: string): boolean => /^[\d ]+$/.test(text) && /\d/.test(text);
const marbleAfter = (text: string, label: string): string => text.trimStart().slice(label.length).trim().split(/\s+/)[0] ?? '';

/** The fenced blocks of a Markdown file (``` lines). */
export function markdownBlocks(text: string): Line[][] {
  const blocks: Line[][] = [];
  let block: Line[] | undefined;
  text.split('\n').forEach((raw, index) => {
    if (/^\s*```/.test(raw)) {
      if (block) {
        blocks.push(block);
        block = undefined;
      } else block = [];
    } else block?.push({ text: raw.trimEnd(), number: index + 1 });
  });
  return blocks;
}

/** The fenced blocks of the doc comments of a TypeScript file (` * ```` lines), the ` * ` prefix stripped. */
export function docCommentBlocks(text: string): Line[][] {
  const blocks: Line[][] = [];
  let block: Line[] | undefined;
  text.split('\n').forEach((raw, index) => {
    const commentLine = /^\s*\*(?: (.*)|)$/.exec(raw);
    if (!commentLine) {
      if (block) blocks.push(block); // an unterminated block ends with the comment
      block = undefined;
      return;
    }
    const content = (commentLine[1] ?? '').trimEnd();
    if (/^```/.test(content)) {
      if (block) {
        blocks.push(block);
        block = undefined;
      } else block = [];
    } else block?.push({ text: content, number: index + 1 });
  });
  return blocks;
}

/** The diagrams of one block (none if it lacks a `source:` or a `result:` line). */
export function diagramsOf(block: readonly Line[], file: string): Diagram[] {
  if (!block.some((line) => isSource(line.text)) || !block.some((line) => isResult(line.text))) return [];
  const diagrams: Diagram[] = [];
  block.forEach((line, index) => {
    if (!isSource(line.text)) return;
    const above = block
      .slice(0, index)
      .reverse()
      .find(({ text }) => text.trim() !== '' && !isSource(text) && !isResult(text) && !isAxis(text));
    const below = block.slice(index + 1).find(({ text }) => isSource(text) || isResult(text));
    diagrams.push({
      where: `${file}:${line.number}`,
      header: above?.text.trim() ?? '',
      source: marbleAfter(line.text, 'source:'),
      // A source line without its result line gets an empty result: its run fails, naming it.
      result: below && isResult(below.text) ? marbleAfter(below.text, 'result:') : '',
    });
  });
  return diagrams;
}

/** Every diagram of README.md and of the doc comments of `src/**\/*.ts`, in file order. */
export function findDiagrams(root: string): Diagram[] {
  const diagrams: Diagram[] = [];
  for (const block of markdownBlocks(readFileSync(join(root, 'README.md'), 'utf8'))) diagrams.push(...diagramsOf(block, 'README.md'));
  const sources = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .sort();
  for (const file of sources) {
    const path = join(root, 'src', file);
    for (const block of docCommentBlocks(readFileSync(path, 'utf8'))) diagrams.push(...diagramsOf(block, relative(root, path)));
  }
  return diagrams;
}

/** A recorded notification list as a marble (for failure messages), or undefined if it cannot be one. */
export function toMarble(frames: unknown, values: Record<string, unknown> | undefined): string | undefined {
  if (!Array.isArray(frames)) return undefined;
  const letterOf = (value: unknown): string | undefined => {
    const entry = Object.entries(values ?? {}).find(([, v]) => Object.is(v, value) || JSON.stringify(v) === JSON.stringify(value));
    if (entry) return entry[0];
    return typeof value === 'string' && value.length === 1 ? value : undefined;
  };
  const groups = new Map<number, string[]>();
  for (const { frame, notification } of frames as Array<{ frame: number; notification: { kind: string; value?: unknown } }>) {
    const symbol = notification.kind === 'N' ? letterOf(notification.value) : notification.kind === 'E' ? '#' : '|';
    if (symbol === undefined) return undefined;
    groups.set(frame, [...(groups.get(frame) ?? []), symbol]);
  }
  let marble = '';
  let position = 0;
  for (const [frame, symbols] of [...groups].sort(([a], [b]) => a - b)) {
    if (frame < position || !Number.isInteger(frame)) return undefined;
    marble += '-'.repeat(frame - position) + (symbols.length > 1 ? `(${symbols.join('')})` : symbols[0]);
    position = frame + (symbols.length > 1 ? symbols.length + 2 : 1);
  }
  return marble;
}

/** Runs one diagram through its setup; on a mismatch, the error names the diagram and what the operator did. */
export function runDiagram(diagram: Diagram, setup: DiagramSetup): void {
  let actual: unknown;
  const scheduler = new TestScheduler((recorded, expected) => {
    actual = recorded;
    expect(recorded).toEqual(expected);
  });
  try {
    scheduler.run(({ cold, expectObservable }) => {
      expectObservable(cold(diagram.source).pipe(setup.operator())).toBe(diagram.result, setup.values, setup.error);
    });
  } catch (error) {
    const did = toMarble(actual, setup.values);
    throw new Error(
      `${diagram.where}: the diagram "${diagram.header}" does not match what the operator does.\n` +
        `source:  ${diagram.source}\nresult:  ${diagram.result}     (the diagram)\n` +
        (did === undefined ? '' : `result:  ${did}     (the operator)\n`) +
        (error instanceof Error ? error.message : String(error)),
      { cause: error },
    );
  }
}
