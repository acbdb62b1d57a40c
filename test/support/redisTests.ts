/**
 * `describeWithRedis`: a describe block with a real Redis. It starts a redis-server on a
 * free loopback port (or uses `REDIS_URL`), hands out clients, and closes everything
 * afterwards. Without any Redis it warns loudly and the block is skipped under a name that
 * says why; with `CI=true` a missing Redis fails instead.
 */
import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll, describe } from 'vitest';
import { findRedis, findRedisBinary, RedisServer } from './redisServer';

export interface RedisTestContext {
  /** The server's URL (`redis://127.0.0.1:<port>`, or REDIS_URL). */
  readonly url: string;
  /** The redis-server this block started, if it started one (never with REDIS_URL unless `ownServer`). */
  readonly server: RedisServer | undefined;
  /** A new client, closed after the block; fast reconnects, so restart tests stay short. */
  client(options?: RedisOptions): Redis;
  /** A key no other test uses (tests may share a REDIS_URL server). */
  uniqueKey(name: string): string;
}

export interface DescribeWithRedisOptions {
  /** The block kills and restarts the server, so it needs a redis-server of its own (REDIS_URL will not do). */
  readonly ownServer?: boolean;
  /** Extra redis-server arguments (only for a server this block starts). */
  readonly serverArgs?: readonly string[];
}

let keyCounter = 0;
/** Tells this test file's keys apart from other files' (workers may share a pid) and from earlier runs. */
const runId = randomUUID().slice(0, 8);

export function describeWithRedis(name: string, body: (redis: RedisTestContext) => void, options: DescribeWithRedisOptions = {}): void {
  const source = findRedis();
  const binary = options.ownServer === true || options.serverArgs !== undefined ? findRedisBinary() : undefined;
  const usable = options.ownServer === true || options.serverArgs !== undefined ? binary !== undefined : source.kind !== 'none';
  if (!usable) {
    const reason =
      options.ownServer === true || options.serverArgs !== undefined
        ? 'it starts (and stops) a redis-server of its own, REDIS_URL will not do, and no redis-server was found'
        : (source as { reason: string }).reason;
    if (process.env['CI'] === 'true') {
      throw new Error(`Redis tests "${name}" cannot run: ${reason}. CI must install the Debian package redis-server.`);
    }
    console.warn(`\n!!!! REDIS TESTS SKIPPED: "${name}": ${reason}.\n!!!! Install redis-server or set REDIS_URL to run them.\n`);
    describe.skipIf(true)(`${name} [SKIPPED: ${reason}]`, () => body(unusableContext));
    return;
  }

  let server: RedisServer | undefined;
  let url = source.kind === 'url' ? source.url : '';
  const clients: Redis[] = [];
  const context: RedisTestContext = {
    get url() {
      return url;
    },
    get server() {
      return server;
    },
    client(clientOptions: RedisOptions = {}) {
      const client = new Redis(url, { retryStrategy: () => 50, ...clientOptions });
      client.on('error', () => {}); // connection errors are expected in the restart tests
      clients.push(client);
      return client;
    },
    uniqueKey(keyName: string) {
      return `test:${runId}:${++keyCounter}:${keyName}`;
    },
  };

  describe(name, () => {
    beforeAll(async () => {
      const serverBinary = binary ?? (source.kind === 'binary' ? source.binary : undefined);
      if (serverBinary !== undefined && (source.kind !== 'url' || binary !== undefined)) {
        server = await RedisServer.start(serverBinary, { args: options.serverArgs ?? [] });
        url = server.url;
      }
    });
    afterAll(async () => {
      for (const client of clients.splice(0)) client.disconnect();
      await server?.stop();
    });
    body(context);
  });
}

const unusableContext: RedisTestContext = {
  url: '',
  server: undefined,
  client() {
    throw new Error('no Redis');
  },
  uniqueKey: (name) => name,
};
