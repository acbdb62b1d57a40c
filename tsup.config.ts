import { defineConfig } from 'tsup';

export default defineConfig({
  // The Redis bucket has its own entry point, so browser bundles of the core never see it.
  entry: { index: 'src/index.ts', 'redis/index': 'src/redis/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  // Peers are never bundled: rxjs (and its internal entry points), ioredis.
  external: [/^rxjs(\/.*)?$/, 'ioredis'],
});
