/**
 * One copy of the core in each format: every entry point (core, redis, otel) imports the shared
 * chunks instead of carrying its own TokenBucket. A copy per entry would make a KeyedBuckets of
 * one entry a stranger to another's registries (the bug this guards against). Reads the built
 * files' top-level class and function declarations (tsup's output is unminified, one declaration
 * per line at column 0): a name declared in two files of one format is a second copy.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

const TOP_LEVEL_DECLARATION = /^(?:var (\w+) = class\b|class (\w+)\b|(?:async )?function\*? ?(\w+)\()/gm;

export interface Duplicate {
  name: string;
  files: string[];
}

/** Names declared at top level in more than one file of the same format (`.js` or `.cjs`). */
export function duplicatedDeclarations(packageDir: string, files: readonly string[]): Duplicate[] {
  const duplicates: Duplicate[] = [];
  for (const extension of ['.js', '.cjs']) {
    const declaredIn = new Map<string, string[]>();
    for (const file of files.filter((name) => name.startsWith('dist/') && name.endsWith(extension))) {
      const text = readFileSync(path.join(packageDir, file), 'utf8');
      const names = new Set([...text.matchAll(TOP_LEVEL_DECLARATION)].map((match) => match[1] ?? match[2] ?? match[3]!));
      for (const name of names) declaredIn.set(name, [...(declaredIn.get(name) ?? []), file]);
    }
    for (const [name, where] of declaredIn) if (where.length > 1) duplicates.push({ name, files: where });
  }
  return duplicates;
}
