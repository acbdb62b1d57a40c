/**
 * The browser page's build: `npx vite examples/browser` serves it, `npx vite build
 * examples/browser` writes examples/browser/dist. The page imports the package by its name,
 * as an application would; here the name points at the source, so no build of the package is
 * needed (an application installing it gets the `exports` of the built package instead).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: './',
  resolve: {
    alias: [{ find: /^rxjs-token-bucket$/, replacement: fileURLToPath(new URL('../../src/index.ts', import.meta.url)) }],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
  },
  server: { host: '127.0.0.1' },
});
