/**
 * A real `redis-server` for tests and benchmarks: started on a free loopback port with no
 * persistence (`--save "" --appendonly no`), stopped afterwards. Can be killed and started
 * again on the same port, to test what happens when Redis goes away mid-run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Where a Redis for tests comes from. */
export type RedisSource =
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'binary'; readonly binary: string }
  | { readonly kind: 'none'; readonly reason: string };

/** `REDIS_URL` if set, else a `redis-server` binary (see `findRedisBinary`), else none. */
export function findRedis(): RedisSource {
  const url = process.env['REDIS_URL'];
  if (url !== undefined && url !== '') return { kind: 'url', url };
  const binary = findRedisBinary();
  if (binary !== undefined) return { kind: 'binary', binary };
  return { kind: 'none', reason: 'no redis-server found (REDIS_SERVER, the PATH, /usr/bin) and REDIS_URL is not set' };
}

/** The path of a runnable `redis-server` (`REDIS_SERVER` if set, else the PATH, /usr/bin, /usr/local/bin), or undefined. */
export function findRedisBinary(): string | undefined {
  const chosen = process.env['REDIS_SERVER'];
  const candidates =
    chosen !== undefined && chosen !== '' ? [chosen] : ['redis-server', '/usr/bin/redis-server', '/usr/local/bin/redis-server'];
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ['--version'], { encoding: 'utf8', timeout: 5000 });
    if (probe.status === 0 && probe.stdout.includes('Redis server')) return candidate;
  }
  return undefined;
}

/** A free TCP port on 127.0.0.1 (the OS picks it; it is released again before returning). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const running = new Set<ChildProcess>();
// A test process that dies must not leave servers behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface RedisServerOptions {
  /** Extra arguments for redis-server, e.g. `['--cluster-enabled', 'yes']`. */
  readonly args?: readonly string[];
}

/** One redis-server child process on a fixed loopback port. */
export class RedisServer {
  readonly host = '127.0.0.1';
  private child: ChildProcess | null = null;
  private readonly dir = mkdtempSync(path.join(os.tmpdir(), 'rtb-redis-'));

  private constructor(
    readonly binary: string,
    readonly port: number,
    private readonly args: readonly string[],
  ) {}

  /** Starts a server on a free port (trying again on another port if one was taken meanwhile). */
  static async start(binary: string, options: RedisServerOptions = {}): Promise<RedisServer> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const server = new RedisServer(binary, await freePort(), options.args ?? []);
      try {
        await server.restart();
        return server;
      } catch (error) {
        lastError = error;
        server.removeDir();
      }
    }
    throw lastError;
  }

  get url(): string {
    return `redis://${this.host}:${this.port}`;
  }

  get isRunning(): boolean {
    return this.child !== null;
  }

  /** Starts the server (again) on its port; resolves once it accepts connections. */
  restart(): Promise<void> {
    if (this.child !== null) return Promise.resolve();
    const args = [
      '--port',
      String(this.port),
      '--bind',
      this.host,
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      this.dir,
      '--daemonize',
      'no',
      '--loglevel',
      'notice',
      ...this.args,
    ];
    const child = spawn(this.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    running.add(child);
    return new Promise((resolve, reject) => {
      let output = '';
      const timer = setTimeout(() => fail(new Error(`redis-server on port ${this.port} did not start within 10 s:\n${output}`)), 10_000);
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          child.stdout?.off('data', onData);
          child.stdout?.resume(); // keep draining, so the server never blocks on a full pipe
          resolve();
        }
      };
      const fail = (error: Error): void => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(error);
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('error', fail);
      child.once('exit', (code, signal) => {
        running.delete(child);
        if (this.child === child) this.child = null;
        fail(new Error(`redis-server on port ${this.port} exited (${code ?? signal}) before it was ready:\n${output}`));
      });
    });
  }

  /** Kills the server at once (SIGKILL: no goodbye to clients, as in a crash); resolves when it is gone. */
  kill(): Promise<void> {
    return this.end('SIGKILL');
  }

  /** Stops the server and removes its directory. */
  async stop(): Promise<void> {
    await this.end('SIGTERM');
    this.removeDir();
  }

  private end(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (child === null) return Promise.resolve();
    this.child = null;
    return new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        resolve();
        return;
      }
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }

  private removeDir(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The pid of the redis-server behind a client, from `INFO server` (for SIGSTOP/SIGCONT in fault tests). */
export async function redisServerPid(client: { info(section: 'server'): Promise<string> }): Promise<number> {
  const match = /process_id:(\d+)/.exec(await client.info('server'));
  if (match === null) throw new Error('INFO server names no process_id');
  return Number(match[1]);
}

/**
 * Freezes a redis-server (SIGSTOP: connections stay open, nothing is answered, as in a long
 * GC-like stall or a VM pause) for `ms`, then lets it go on (SIGCONT), which it always does,
 * even if the caller's wait throws, so no stopped server outlives a test.
 */
export async function freezeRedis(pid: number, ms: number): Promise<void> {
  process.kill(pid, 'SIGSTOP');
  try {
    await new Promise((resolve) => setTimeout(resolve, ms));
  } finally {
    process.kill(pid, 'SIGCONT');
  }
}
