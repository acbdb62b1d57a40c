/**
 * The package as the registry would hold it: `npm pack` into a temporary directory, then the
 * tarball unpacked, so every later check reads exactly the files that would be published.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { mustRun } from './run';

export interface PackedPackage {
  /** The .tgz file. */
  tarball: string;
  /** The unpacked tarball (its `package/` directory). */
  dir: string;
  /** Every file, relative to `dir`, with `/` separators. */
  files: string[];
  tarballBytes: number;
  unpackedBytes: number;
}

/** `npm pack` (running `prepack`, the build, unless `build` is false) and unpacks the result. */
export function packPackage(rootDir: string, workDir: string, build: boolean): PackedPackage {
  const args = ['pack', '--json', '--pack-destination', workDir, ...(build ? [] : ['--ignore-scripts'])];
  const output = mustRun('npm', args, rootDir);
  // npm prints the build's output before the JSON report when prepack runs.
  const report = JSON.parse(output.slice(output.search(/^\[$/m))) as { filename: string }[];
  const tarball = path.join(workDir, report[0]!.filename);
  mustRun('tar', ['-xzf', tarball, '-C', workDir], workDir);
  const dir = path.join(workDir, 'package');
  const files = listFiles(dir);
  const unpackedBytes = files.reduce((sum, file) => sum + statSync(path.join(dir, file)).size, 0);
  return { tarball, dir, files, tarballBytes: statSync(tarball).size, unpackedBytes };
}

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(path.join(dir, prefix), { withFileTypes: true }).flatMap((entry) => {
    const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    return entry.isDirectory() ? listFiles(dir, relative) : [relative];
  });
}
