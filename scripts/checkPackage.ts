/**
 * `npm run check:package`: the package as a user installs it. Packs the tarball (building it
 * through `prepack`) into a temporary directory and checks it there, without the registry:
 *
 * - `publint --strict` and `attw` (every resolution profile: node10, node16 from CJS and ESM,
 *   bundler) on the tarball;
 * - one copy of the core per format, shared by every entry point;
 * - the README's relative links all name shipped files;
 * - fresh projects (ESM, CJS, core only, TypeScript strict under node16, nodenext, bundler and
 *   node10) install it and run a few lines of each entry;
 * - every ```ts snippet of the README type-checks (strict) against it;
 * - and reports its size.
 *
 *   npm run check:package                  # build, pack, check
 *   npm run check:package -- --no-build    # pack the dist/ already built
 *   npm run check:package -- --keep        # keep the temporary projects (their path is printed)
 *
 * Exit code 1 if any check fails; each failure prints the output of what failed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createConsumerProject } from './package/consumerProject';
import { consumers } from './package/consumers';
import { deadReadmeLinks } from './package/readmeLinks';
import { atReadmeLines, readmeOf, snippetProject } from './package/readmeSnippets';
import { runCommand } from './package/run';
import { duplicatedDeclarations } from './package/singleCopy';
import { packPackage, type PackedPackage } from './package/tarball';

const rootDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name: string): string => path.join(rootDir, 'node_modules', '.bin', name);
const tsc = path.join(rootDir, 'node_modules', 'typescript', 'bin', 'tsc');

interface Outcome {
  name: string;
  ok: boolean;
  detail?: string;
}

const outcomes: Outcome[] = [];

function check(name: string, run: () => string | undefined): void {
  let outcome: Outcome;
  const started = performance.now();
  try {
    const failure = run();
    outcome = failure === undefined ? { name, ok: true } : { name, ok: false, detail: failure };
  } catch (error) {
    outcome = { name, ok: false, detail: error instanceof Error ? error.message : String(error) };
  }
  outcomes.push(outcome);
  const seconds = ((performance.now() - started) / 1000).toFixed(1).padStart(5);
  console.log(`  ${outcome.ok ? 'ok    ' : 'FAILED'}  ${seconds} s  ${name}`);
  if (outcome.detail !== undefined) console.log(outcome.detail.replace(/^/gm, '          | '));
}

/** A command's failure as its output, or nothing when it passed. */
function commandFailure(command: string, args: readonly string[], cwd: string): string | undefined {
  const { ok, output } = runCommand(command, args, cwd);
  return ok ? undefined : output.trim();
}

function checkPacked(packed: PackedPackage, workDir: string): void {
  check('publint --strict (the tarball)', () => commandFailure(bin('publint'), ['run', '--strict', packed.tarball], workDir));
  check('attw, every profile: node10, node16 from CJS and from ESM, bundler (the tarball)', () =>
    commandFailure(bin('attw'), [packed.tarball, '--profile', 'strict', '--format', 'table-flipped'], workDir),
  );
  check('one copy of the core per format, shared by every entry', () => {
    const duplicates = duplicatedDeclarations(packed.dir, packed.files);
    return duplicates.length === 0 ? undefined : duplicates.map(({ name, files }) => `${name} declared in ${files.join(', ')}`).join('\n');
  });
  check('README links name shipped files', () => {
    const dead = deadReadmeLinks(packed.dir, packed.files);
    return dead.length === 0 ? undefined : `not in the tarball: ${dead.join(', ')} (add to "files" or link by absolute URL)`;
  });
  check('no source maps shipped', () => {
    const maps = packed.files.filter((file) => file.endsWith('.map'));
    return maps.length === 0 ? undefined : `shipped: ${maps.join(', ')}`;
  });
}

function checkConsumers(packed: PackedPackage, workDir: string): void {
  // Every entry ships: a tarball without the otel entry fails here rather than being checked without it.
  check('ships every entry (., ./redis, ./otel)', () => {
    const missing = ['dist/index.js', 'dist/redis/index.js', 'dist/otel/index.js'].filter((file) => !packed.files.includes(file));
    return missing.length === 0 ? undefined : `missing: ${missing.join(', ')}`;
  });
  for (const consumer of consumers(true)) {
    const kind = consumer.typescript ? `TypeScript strict, ${consumer.spec.name.replace(/^ts-/, '')}` : consumer.spec.name;
    check(`installs and runs: ${kind}`, () => {
      const dir = createConsumerProject(consumer.spec, packed.dir, rootDir, workDir);
      if (consumer.typescript) {
        const failure = commandFailure(process.execPath, [tsc, '-p', dir], dir);
        if (failure !== undefined) return `tsc:\n${failure}`;
      }
      const { ok, output } = runCommand(process.execPath, [consumer.main], dir);
      return ok && output.trim() === 'ok' ? undefined : `node ${consumer.main}:\n${output.trim()}`;
    });
  }
}

function checkReadmeSnippets(packed: PackedPackage, workDir: string): void {
  const { spec, snippets } = snippetProject(readmeOf(packed.dir));
  check(`README: all ${snippets.length} \`\`\`ts snippets type-check (strict, nodenext) against the package`, () => {
    if (snippets.length === 0) return 'no ```ts snippet found in README.md';
    const dir = createConsumerProject(spec, packed.dir, rootDir, workDir);
    const failure = commandFailure(process.execPath, [tsc, '-p', dir], dir);
    return failure === undefined ? undefined : atReadmeLines(failure, snippets);
  });
}

function main(): void {
  const { values } = parseArgs({ options: { 'no-build': { type: 'boolean' }, keep: { type: 'boolean' } }, strict: true });
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'rxjs-token-bucket-package-'));
  try {
    const packed = packPackage(rootDir, workDir, values['no-build'] !== true);
    const kB = (bytes: number): string => `${(bytes / 1000).toFixed(1)} kB`;
    console.log(
      `package check: ${path.basename(packed.tarball)}, ${kB(packed.tarballBytes)} packed, ${kB(packed.unpackedBytes)} unpacked, ` +
        `${packed.files.length} files`,
    );
    checkPacked(packed, workDir);
    checkConsumers(packed, workDir);
    checkReadmeSnippets(packed, workDir);
  } catch (error) {
    outcomes.push({ name: 'pack', ok: false });
    console.log(`  FAILED  pack\n${String(error instanceof Error ? error.message : error).replace(/^/gm, '          | ')}`);
  } finally {
    if (values.keep === true) console.log(`kept: ${workDir}`);
    else rmSync(workDir, { recursive: true, force: true });
  }
  const failed = outcomes.filter((outcome) => !outcome.ok).length;
  console.log(failed === 0 ? `all ${outcomes.length} package checks passed` : `${failed} of ${outcomes.length} package checks FAILED`);
  if (failed > 0) process.exitCode = 1;
}

main();
