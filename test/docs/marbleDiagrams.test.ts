/// <reference types="vite/client" />
/**
 * Every marble diagram in a doc comment of `src/**` or in README.md is executed: each runs
 * through the setup registered for its header in `test/docs/setups/*.ts`, inside
 * `TestScheduler.run`, as `expectObservable(cold(source).pipe(setup.operator())).toBe(result, setup.values, setup.error)`.
 * A diagram without a setup fails (every new diagram needs one), and so does a setup that
 * matches no diagram (a diagram was edited or removed). README.md's `TestScheduler` example
 * runs as written too.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import ts from 'typescript';
import { throttleByTokens } from '../../src/operators/throttleByTokens';
import { RateLimitExceededError } from '../../src/shared/errors';
import type { DiagramSetup } from './diagramSetup';
import { diagramsOf, docCommentBlocks, findDiagrams, markdownBlocks, runDiagram } from './marbleDiagrams';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A setup may also check, after its run, what the diagram's commentary says (e.g. the calls to `onDrop`). */
type RegisteredSetup = DiagramSetup & { readonly afterRun?: () => void; readonly file: string };

const isSetup = (value: unknown): value is DiagramSetup =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as DiagramSetup).header === 'string' &&
  typeof (value as DiagramSetup).operator === 'function';

/** Every setup exported by `./setups/*.ts` (default or named exports, one setup or an array of them). */
function registeredSetups(): RegisteredSetup[] {
  const modules = import.meta.glob<Record<string, unknown>>('./setups/*.ts', { eager: true });
  const setups: RegisteredSetup[] = [];
  for (const [file, exports] of Object.entries(modules)) {
    for (const exported of Object.values(exports)) {
      for (const candidate of Array.isArray(exported) ? exported : [exported]) {
        if (isSetup(candidate)) setups.push({ ...candidate, file: `test/docs/${file.slice(2)}` });
      }
    }
  }
  return setups;
}

const diagrams = findDiagrams(ROOT);
const setups = registeredSetups();

describe('every marble diagram of the docs (README.md, doc comments in src/) runs as written', () => {
  for (const diagram of diagrams) {
    it(`${diagram.where}: ${diagram.header || '(no header)'}`, () => {
      const setup = setups.find((candidate) => candidate.header === diagram.header);
      if (!setup) {
        throw new Error(
          `${diagram.where}: the diagram "${diagram.header}" has no setup. Add a DiagramSetup whose header is exactly that line ` +
            '(the line above its "source:") to test/docs/setups/*.ts.',
        );
      }
      runDiagram(diagram, setup);
      setup.afterRun?.();
    });
  }

  for (const setup of setups) {
    it(`the setup "${setup.header}" (${setup.file}) matches a diagram`, () => {
      const matches = diagrams.filter((diagram) => diagram.header === setup.header);
      if (matches.length === 0) {
        throw new Error(
          `${setup.file}: no diagram in README.md or src/**/*.ts has the header "${setup.header}". ` +
            'Was the diagram edited or removed? Update or delete the setup.',
        );
      }
    });
  }

  it('no two setups claim the same header', () => {
    const headers = setups.map((setup) => setup.header);
    expect(headers.filter((header, index) => headers.indexOf(header) !== index)).toEqual([]);
  });

  it('finds the diagrams of README.md and of throttleByTokens and perKey', () => {
    const where = (file: string) => diagrams.filter((diagram) => diagram.where.startsWith(`${file}:`)).map((diagram) => diagram.header);
    expect(where('README.md')).toEqual([
      'delay (default): shape the stream, every value waits its turn',
      'drop: pass a value only if its tokens are there now',
      'error: like drop, but fail instead of discarding',
      'priority: x is 1, the others 0; capacity 1, refill 1 token / 10 ms',
    ]);
    expect(where('src/operators/throttleByTokens.ts')).toEqual(['capacity 3, refill 1 token / 10 ms, cost 1']);
    expect(where('src/operators/perKey.ts')).toHaveLength(1);
  });

  it("the error diagram's error is compared in full: another retryAfter, cost, reason or class fails it", () => {
    const header = 'error: like drop, but fail instead of discarding';
    const diagram = diagrams.find((candidate) => candidate.header === header)!;
    const setup = setups.find((candidate) => candidate.header === header)!;
    expect(setup.error).toEqual(new RateLimitExceededError(10, 1, 'no-tokens'));
    const wrong: unknown[] = [
      new RateLimitExceededError(9, 1, 'no-tokens'),
      new RateLimitExceededError(10, 2, 'no-tokens'),
      new RateLimitExceededError(10, 1, 'max-queue'),
      Object.assign(new Error((setup.error as Error).message), { retryAfter: 10, cost: 1, reason: 'no-tokens' }),
      { retryAfter: 10, cost: 1, reason: 'no-tokens' },
    ];
    for (const error of wrong) expect(() => runDiagram(diagram, { ...setup, error }), String(error)).toThrow(/does not match/);
  });
});

describe('the diagram parser', () => {
  it('reads several diagrams of one block: header, marbles without commentary, time axes skipped', () => {
    const readme = [
      'prose',
      '```',
      'first header',
      'source:  (ab)|',
      'result:  a-(b|)      commentary',
      '         0 2',
      '',
      'second header',
      'source:  a|   more commentary',
      'result:  #',
      '```',
    ].join('\n');
    expect(markdownBlocks(readme).flatMap((block) => diagramsOf(block, 'X.md'))).toEqual([
      { where: 'X.md:4', header: 'first header', source: '(ab)|', result: 'a-(b|)' },
      { where: 'X.md:9', header: 'second header', source: 'a|', result: '#' },
    ]);
  });

  it("reads doc comments' ` * ```` blocks, stripping the ` * `, and skips blocks without source and result", () => {
    const file = [
      '/**',
      ' * ```',
      ' * header',
      ' * source:  ab|',
      ' * result:  a-b|',
      ' *          0 2',
      ' * ```',
      ' * ```ts',
      " * const source = 'not a diagram';",
      ' * ```',
      ' */',
    ].join('\n');
    expect(docCommentBlocks(file).flatMap((block) => diagramsOf(block, 'x.ts'))).toEqual([
      { where: 'x.ts:4', header: 'header', source: 'ab|', result: 'a-b|' },
    ]);
  });
});

describe('a diagram that does not match the operator', () => {
  it('fails, naming the diagram and showing the result the operator gives', () => {
    const setup = setups.find((candidate) => candidate.header === 'capacity 3, refill 1 token / 10 ms, cost 1')!;
    const wrong = { where: 'X.md:1', header: setup.header, source: '(abcdef)|', result: '(abc)----d---------e---------(f|)' };
    expect(() => runDiagram(wrong, setup)).toThrow(
      'X.md:1: the diagram "capacity 3, refill 1 token / 10 ms, cost 1" does not match what the operator does.\n' +
        'source:  (abcdef)|\nresult:  (abc)----d---------e---------(f|)     (the diagram)\n' +
        'result:  (abc)-----d---------e---------(f|)     (the operator)\n',
    );
  });
});

describe('README.md\'s example "Testing your own code with `TestScheduler`" runs as written', () => {
  it('passes, asserting through the expect it is given', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.split(/^## /m).find((part) => part.startsWith('Testing your own code with `TestScheduler`'));
    const snippet = section && /^```ts\n([\s\S]*?)^```/m.exec(section)?.[1];
    if (!snippet) throw new Error('README.md: no ```ts block under "## Testing your own code with `TestScheduler`"');
    const imports = snippet.split('\n').filter((line) => /^\s*import\s/.test(line));
    const imported = imports.flatMap(
      (line) =>
        /\{([^}]*)\}/
          .exec(line)?.[1]
          ?.split(',')
          .map((name) => name.trim()) ?? [],
    );
    expect(imported.sort(), 'the example may import only what it is given here').toEqual(['TestScheduler', 'throttleByTokens']);
    const body = snippet
      .split('\n')
      .filter((line) => !/^\s*import\s/.test(line))
      .join('\n');
    // Types, if the example ever has any, are stripped; the code runs as written.
    const code = ts.transpileModule(body, { compilerOptions: { target: ts.ScriptTarget.ES2022 } }).outputText;
    let assertions = 0;
    const countingExpect = (actual: unknown) => {
      assertions++;
      return expect(actual);
    };
    new Function('TestScheduler', 'throttleByTokens', 'expect', code)(TestScheduler, throttleByTokens, countingExpect);
    expect(assertions, 'the example compared nothing').toBeGreaterThan(0);
  });
});
