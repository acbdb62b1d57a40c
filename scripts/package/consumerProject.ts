/**
 * A fresh project that has installed the packed package, without the registry: the unpacked
 * tarball is copied to its node_modules, and only what the packed package.json declares
 * (dependencies and peers), plus what the project itself names, is linked from this
 * repository's node_modules. A file the package needs but does not declare fails to resolve.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface ConsumerProjectSpec {
  /** Its own directory name under the work directory. */
  name: string;
  type: 'module' | 'commonjs';
  /** Files to write, relative to the project. */
  files: Record<string, string>;
  /** Packages the project itself uses beside the package (linked from this repository). */
  uses?: readonly string[];
  /** Leave the optional peers out, as a project using only the core would. */
  withoutOptionalPeers?: boolean;
}

interface PackedManifest {
  name: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

/** Creates the project; returns its directory. */
export function createConsumerProject(spec: ConsumerProjectSpec, packageDir: string, rootDir: string, workDir: string): string {
  const dir = path.join(workDir, spec.name);
  const manifest = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as PackedManifest;
  mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  writeFileSync(
    path.join(dir, 'package.json'),
    `${JSON.stringify({ name: spec.name, private: true, type: spec.type, dependencies: { [manifest.name]: 'file:packed' } }, null, 2)}\n`,
  );
  cpSync(packageDir, path.join(dir, 'node_modules', manifest.name), { recursive: true });
  const peers = Object.keys(manifest.peerDependencies ?? {}).filter(
    (peer) => !(spec.withoutOptionalPeers === true && manifest.peerDependenciesMeta?.[peer]?.optional === true),
  );
  const linked = new Set([...Object.keys(manifest.dependencies ?? {}), ...peers, ...(spec.uses ?? [])]);
  for (const name of linked) linkPackage(name, dir, rootDir);
  for (const [file, text] of Object.entries(spec.files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

function linkPackage(name: string, projectDir: string, rootDir: string): void {
  const source = path.join(rootDir, 'node_modules', name);
  if (!existsSync(source)) throw new Error(`${name} is not installed in ${rootDir}/node_modules: run npm ci`);
  const target = path.join(projectDir, 'node_modules', name);
  mkdirSync(path.dirname(target), { recursive: true });
  symlinkSync(source, target, 'dir');
}
