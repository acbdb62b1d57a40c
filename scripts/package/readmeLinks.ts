/**
 * The README as the registry shows it: a relative link must name a file the tarball ships (the
 * registry serves nothing else), so a link to a file kept out of `files` is dead there.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

const MARKDOWN_LINK = /\]\(([^)\s]+)\)/g;

/** Relative links of the packed README whose file is not in the tarball. */
export function deadReadmeLinks(packageDir: string, files: readonly string[]): string[] {
  const readme = readFileSync(path.join(packageDir, 'README.md'), 'utf8');
  const shipped = new Set(files);
  return [...readme.matchAll(MARKDOWN_LINK)]
    .map((match) => match[1]!)
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target) && !target.startsWith('#'))
    .map((target) => target.split('#')[0]!)
    .filter((target) => !shipped.has(path.posix.normalize(target)));
}
