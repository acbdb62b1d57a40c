/**
 * Every ```ts snippet of the README, type-checked (strict) as a user's project would compile it
 * against the packed package: each snippet its own module in a fresh ESM project (nodenext), with
 * the names a snippet takes as given (`messages$`, `send`, …) declared once in a prelude. Errors
 * are reported at their README line.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ConsumerProjectSpec } from './consumerProject';

export interface Snippet {
  /** README line of the snippet's first line of code (1-based). */
  firstLine: number;
  code: string;
}

const FENCE = /^( *)```ts\n([\s\S]*?)^\1```$/gm;

/** The README's ```ts blocks, dedented (a block inside a list item is indented). */
export function readmeSnippets(readme: string): Snippet[] {
  return [...readme.matchAll(FENCE)].map((match) => {
    const indent = match[1]!.length;
    const firstLine = readme.slice(0, match.index).split('\n').length + 1;
    const code = match[2]!
      .split('\n')
      .map((line) => line.slice(Math.min(indent, line.length - line.trimStart().length)))
      .join('\n');
    return { firstLine, code };
  });
}

/** What the snippets use without defining: the reader's own streams and callbacks. */
const PRELUDE = `// The names the README's snippets take as given.
type Message = { userId: string; text: string };
type ApiRequest = { path: string; lane: 'interactive' | 'batch' };
declare const exports$: import('rxjs').Observable<{ rows: number }>;
declare function sendBatch(batch: { rows: number }): void;
declare const clicks$: import('rxjs').Observable<{ x: number; y: number }>;
declare function sendInteractive(click: { x: number; y: number }): void;
declare const userIds: string[];
declare const prompts: string[];
declare const messages$: import('rxjs').Observable<Message>;
declare function deliver(message: Message): void;
declare const requests$: import('rxjs').Observable<ApiRequest>;
declare function send(request: ApiRequest): void;
declare const jobs$: import('rxjs').Observable<{ id: number }>;
declare function callGitHub(job: { id: number }): void;
declare function expect(actual: unknown): { toEqual(expected: unknown): void };
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'nodenext',
    moduleResolution: 'nodenext',
    lib: ['ES2022', 'DOM'],
    types: ['node'],
    strict: true,
    noEmit: true,
    // The declarations themselves are checked by the consumer projects.
    skipLibCheck: true,
  },
  include: ['src'],
};

const snippetFile = (index: number): string => `src/snippet-${String(index + 1).padStart(2, '0')}.ts`;

export function snippetProject(readmePath: string): { spec: ConsumerProjectSpec; snippets: Snippet[] } {
  const snippets = readmeSnippets(readFileSync(readmePath, 'utf8'));
  const files: Record<string, string> = { 'tsconfig.json': `${JSON.stringify(TSCONFIG, null, 2)}\n`, 'src/prelude.d.ts': PRELUDE };
  // `export {}` keeps a snippet without imports a module of its own, after its code so lines match.
  snippets.forEach((snippet, index) => (files[snippetFile(index)] = `${snippet.code}\nexport {};\n`));
  return { spec: { name: 'readme-snippets', type: 'module', uses: ['ioredis', '@types/node'], files }, snippets };
}

/** tsc's output with each snippet position rewritten as `README.md:<line>:<column>`. */
export function atReadmeLines(tscOutput: string, snippets: readonly Snippet[]): string {
  return tscOutput.replace(/src[/\\]snippet-(\d+)\.ts\((\d+),(\d+)\)/g, (_whole, index: string, line: string, column: string) => {
    const snippet = snippets[Number(index) - 1]!;
    return `README.md:${snippet.firstLine + Number(line) - 1}:${column}`;
  });
}

export const readmeOf = (packageDir: string): string => path.join(packageDir, 'README.md');
