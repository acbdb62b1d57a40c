/**
 * The projects that install the packed package, one per way a user's project resolves it: plain
 * ESM and CommonJS JavaScript, and strict TypeScript under each `moduleResolution` a project may
 * use (node16 from CommonJS, nodenext from ESM, bundler, node10). Each runs a few lines using
 * the core and the Redis entry (the bucket is built on a lazy client: no server is needed) and the
 * OpenTelemetry entry when the package has it, and prints `ok`.
 */
import type { ConsumerProjectSpec } from './consumerProject';

export interface Consumer {
  spec: ConsumerProjectSpec;
  /** Compile with this repository's tsc first (TypeScript projects). */
  typescript: boolean;
  /** The file `node` runs, relative to the project. */
  main: string;
}

/** What every consumer computes, as JSON: the same answer from every resolution. */
const EXPECTED = JSON.stringify({ shaped: [1, 2, 3], perKey: ['a', 'b', 'a'], retryAfter: 2000, redisIsLimiter: true });

function javascriptBody(otel: boolean): string {
  return `
  const bucket = new TokenBucket({ capacity: 2, refillRate: 1000 });
  const shaped = await lastValueFrom(from([1, 2, 3]).pipe(throttleByTokens(bucket), toArray()));
  // The other format's build is a second copy of the core: each recognises the other's limiters by brand.
  const keyedOfOtherCopy = new other.KeyedBuckets({ capacity: 1, refillRate: 1000 });
  const keyed = await lastValueFrom(from(['a', 'b', 'a']).pipe(perKey((key) => key, keyedOfOtherCopy), toArray()));
  const back = await lastValueFrom(from([1, 2]).pipe(other.throttleByTokens(bucket), toArray()));
  if (back.length !== 2) throw new Error('the other copy did not take this copy\\'s TokenBucket');
  const retryAfter = parseRateLimitHeaders({ 'retry-after': '2' })?.retryAfter;
  // The Redis entry shares the core: its bucket is a limiter to the core's brand check.
  const redis = new Redis({ lazyConnect: true });
  const shared = new RedisTokenBucket({ redis, key: 'package-check', capacity: 5, refillRate: 5 });
  new KeyedBuckets(() => shared);
  redis.disconnect();
  ${otel ? "otel.instrumentLimiter(bucket, { name: 'package-check' }).unregister(); // the core's bucket, to the otel entry" : ''}
  const result = JSON.stringify({ shaped, perKey: keyed, retryAfter, redisIsLimiter: isLimiter(shared) });
  if (result !== '${EXPECTED}') throw new Error('unexpected ' + result);
  console.log('ok');
`;
}

function esmJavaScript(otel: boolean): string {
  return `import { createRequire } from 'node:module';
import { Redis } from 'ioredis';
import { from, lastValueFrom, toArray } from 'rxjs';
import { KeyedBuckets, TokenBucket, isLimiter, parseRateLimitHeaders, perKey, throttleByTokens } from 'rxjs-token-bucket';
import { RedisTokenBucket } from 'rxjs-token-bucket/redis';
${otel ? "import * as otel from 'rxjs-token-bucket/otel';" : ''}
const other = createRequire(import.meta.url)('rxjs-token-bucket');
${javascriptBody(otel)}`;
}

function commonJavaScript(otel: boolean): string {
  return `const { Redis } = require('ioredis');
const { from, lastValueFrom, toArray } = require('rxjs');
const { KeyedBuckets, TokenBucket, isLimiter, parseRateLimitHeaders, perKey, throttleByTokens } = require('rxjs-token-bucket');
const { RedisTokenBucket } = require('rxjs-token-bucket/redis');
${otel ? "const otel = require('rxjs-token-bucket/otel');" : ''}
async function main() {
  const other = await import('rxjs-token-bucket');
${javascriptBody(otel)}}
main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
`;
}

/** Typed: a mistake in the shipped declarations fails the strict compile, not only the run. */
function typescript(otel: boolean): string {
  return `import { Redis } from 'ioredis';
import { from, lastValueFrom, toArray } from 'rxjs';
import {
  KeyedBuckets,
  TokenBucket,
  isLimiter,
  parseRateLimitHeaders,
  perKey,
  throttleByTokens,
  type RateLimitInfo,
  type TokenLimiter,
} from 'rxjs-token-bucket';
import { RedisTokenBucket, type RedisTokenBucketOptions } from 'rxjs-token-bucket/redis';
${otel ? "import * as otel from 'rxjs-token-bucket/otel';" : ''}

async function main(): Promise<void> {
  const bucket = new TokenBucket({ capacity: 2, refillRate: 1000 });
  const shaped: number[] = await lastValueFrom(from([1, 2, 3]).pipe(throttleByTokens<number>(bucket), toArray()));
  const keyed = new KeyedBuckets<string>({ capacity: 1, refillRate: 1000 });
  const perUser: string[] = await lastValueFrom(from(['a', 'b', 'a']).pipe(perKey((key: string) => key, keyed), toArray()));
  const info: RateLimitInfo | undefined = parseRateLimitHeaders({ 'retry-after': '2' });
  const redis = new Redis({ lazyConnect: true });
  const options: RedisTokenBucketOptions = { redis, key: 'package-check', capacity: 5, refillRate: 5 };
  // The Redis entry's declarations share the core's: its bucket is a TokenLimiter of the core.
  const shared: TokenLimiter = new RedisTokenBucket(options);
  const sharedKeyed = new KeyedBuckets<string>(() => shared);
  redis.disconnect();
  ${otel ? "otel.instrumentLimiter(bucket, { name: 'package-check' }).unregister(); // the core's bucket, to the otel entry" : ''}
  const result = JSON.stringify({ shaped, perKey: perUser, retryAfter: info?.retryAfter, redisIsLimiter: isLimiter(shared) });
  if (result !== '${EXPECTED}' || sharedKeyed.stats().keys !== 0) throw new Error(\`unexpected \${result}\`);
  console.log('ok');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
`;
}

/** `libCheck`: check the shipped declarations too, not only their use (once per flavour, .d.cts and .d.ts: it is slow). */
function tsconfig(module: string, moduleResolution: string, libCheck: boolean): string {
  const compilerOptions = {
    target: 'ES2022',
    module,
    moduleResolution,
    lib: ['ES2022'],
    types: ['node'],
    strict: true,
    skipLibCheck: !libCheck,
    outDir: 'out',
    rootDir: 'src',
  };
  return `${JSON.stringify({ compilerOptions, include: ['src'] }, null, 2)}\n`;
}

export function consumers(otel: boolean): Consumer[] {
  const javascriptUses = ['ioredis'];
  const typescriptUses = ['ioredis', '@types/node'];
  const typed = (name: string, type: 'module' | 'commonjs', module: string, moduleResolution: string, libCheck = false): Consumer => ({
    spec: {
      name,
      type,
      uses: typescriptUses,
      files: { 'tsconfig.json': tsconfig(module, moduleResolution, libCheck), 'src/main.ts': typescript(otel) },
    },
    typescript: true,
    main: 'out/main.js',
  });
  return [
    {
      spec: { name: 'esm', type: 'module', uses: javascriptUses, files: { 'main.mjs': esmJavaScript(otel) } },
      typescript: false,
      main: 'main.mjs',
    },
    {
      spec: { name: 'cjs', type: 'commonjs', uses: javascriptUses, files: { 'main.cjs': commonJavaScript(otel) } },
      typescript: false,
      main: 'main.cjs',
    },
    {
      // Only the core, as a browser-minded or plain Node project has it: no optional peer installed.
      spec: {
        name: 'esm-core-only',
        type: 'module',
        withoutOptionalPeers: true,
        files: {
          'main.mjs': `import { from, lastValueFrom, toArray } from 'rxjs';
import { throttleByTokens } from 'rxjs-token-bucket';
const values = await lastValueFrom(from([1, 2, 3]).pipe(throttleByTokens({ capacity: 1, refillRate: 1000 }), toArray()));
if (values.join() !== '1,2,3') throw new Error('unexpected ' + values.join());
console.log('ok');
`,
        },
      },
      typescript: false,
      main: 'main.mjs',
    },
    typed('ts-node16-cjs', 'commonjs', 'node16', 'node16', true),
    typed('ts-nodenext-esm', 'module', 'nodenext', 'nodenext', true),
    typed('ts-bundler', 'module', 'esnext', 'bundler'),
    typed('ts-node10', 'commonjs', 'commonjs', 'node10'),
  ];
}
