/**
 * What a browser bundle pays: each subject bundled alone by esbuild (minified, ESM, browser
 * platform, ES2022, rxjs external — every app using this library already has it), then gzipped.
 * The peers are bundled the same way from their package entries, with their own dependencies.
 * Sizes are exact, so `--quick` changes nothing and one run suffices.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { significant, type BenchRow, type BenchSuite } from '../harness';

const rootDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface SizeSubject {
  readonly name: string;
  /** The entry module's source, resolved from the repository root. */
  readonly entry: string;
}

const CORE_ALL = 'rxjs-token-bucket (every export)';
const CORE_THROTTLE = 'rxjs-token-bucket (TokenBucket + throttleByTokens)';
const BOTTLENECK = 'bottleneck';
const P_QUEUE = 'p-queue';
const LIMITER = 'limiter';

const subjects: SizeSubject[] = [
  { name: CORE_ALL, entry: "export * from './src/index';" },
  { name: CORE_THROTTLE, entry: "export { TokenBucket, throttleByTokens } from './src/index';" },
  { name: 'rxjs-token-bucket (KeyedBuckets + perKey)', entry: "export { KeyedBuckets, perKey } from './src/index';" },
  { name: 'rxjs-token-bucket (adaptiveThrottle)', entry: "export { adaptiveThrottle } from './src/index';" },
  { name: BOTTLENECK, entry: "export { default } from 'bottleneck';" },
  { name: P_QUEUE, entry: "export { default } from 'p-queue';" },
  { name: LIMITER, entry: "export * from 'limiter';" },
];

interface Size {
  minified: number;
  gzipped: number;
}

async function bundleSize(subject: SizeSubject): Promise<Size> {
  const result = await build({
    stdin: { contents: subject.entry, resolveDir: rootDir, loader: 'ts', sourcefile: 'entry.ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    external: ['rxjs', 'rxjs/*'],
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]!.contents;
  return { minified: code.byteLength, gzipped: gzipSync(code, { level: 9 }).byteLength };
}

const kB = (bytes: number): number => significant(bytes / 1000);

const suite: BenchSuite = async () => {
  const sizes = new Map<string, Size>();
  for (const subject of subjects) sizes.set(subject.name, await bundleSize(subject));
  const gzipped = (name: string): number => sizes.get(name)!.gzipped;
  const rows: BenchRow[] = subjects.map(({ name }) => ({
    subject: name,
    metrics: { 'min kB': kB(sizes.get(name)!.minified), 'min+gz kB': kB(gzipped(name)) },
  }));
  return {
    id: 'size',
    title: 'Browser bundle size (esbuild, minified, rxjs external; gzip -9)',
    rows,
    ratios: [
      { label: 'every export ÷ bottleneck (min+gz)', value: significant(gzipped(CORE_ALL) / gzipped(BOTTLENECK)) },
      { label: 'TokenBucket + throttleByTokens ÷ bottleneck (min+gz)', value: significant(gzipped(CORE_THROTTLE) / gzipped(BOTTLENECK)) },
      { label: 'TokenBucket + throttleByTokens ÷ p-queue (min+gz)', value: significant(gzipped(CORE_THROTTLE) / gzipped(P_QUEUE)) },
      { label: 'TokenBucket + throttleByTokens ÷ limiter (min+gz)', value: significant(gzipped(CORE_THROTTLE) / gzipped(LIMITER)) },
    ],
    notes: [
      'Each subject is bundled alone from the repository (src/ for this library, node_modules for the peers), esbuild ' +
        '`--bundle --minify --format=esm --platform=browser --target=es2022 --external:rxjs`; rxjs itself is not counted.',
      'The rows of parts of this library import only what they name, so they show what tree shaking leaves (`sideEffects: false`).',
      'Dependencies are included: structured-headers for this library (the IETF header parser), eventemitter3 and p-timeout for p-queue.',
    ],
  };
};

export default suite;
