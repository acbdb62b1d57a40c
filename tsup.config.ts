import { existsSync } from 'node:fs';
import { defineConfig } from 'tsup';

// Each optional part has its own entry point, so browser bundles of the core never see Redis or
// OpenTelemetry. The OpenTelemetry entry is built once its source exists.
const entry: Record<string, string> = { index: 'src/index.ts', 'redis/index': 'src/redis/index.ts' };
if (existsSync('src/otel/index.ts')) entry['otel/index'] = 'src/otel/index.ts';

export default defineConfig({
  entry,
  format: ['esm', 'cjs'],
  // One copy of the core shared by every entry, in CommonJS too (esbuild's splitting is ESM-only;
  // tsup splits CJS by building ESM chunks and converting them): without it the CJS redis entry
  // carried its own TokenBucket, KeyedBuckets and registries beside the core's.
  splitting: true,
  dts: true,
  clean: true,
  // No source maps: the shipped code is unminified ES2022 with the source's names, so a stack
  // trace already reads as the source; the maps were 59 % of the tarball.
  sourcemap: false,
  target: 'es2022',
  // Peers are never bundled: rxjs (and its entry points), ioredis, @opentelemetry/api.
  external: [/^rxjs(\/.*)?$/, 'ioredis', /^@opentelemetry\//],
});
