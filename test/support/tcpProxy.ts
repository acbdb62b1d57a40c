/**
 * A loopback TCP proxy for fault tests, between a client and a server it forwards to. It can
 * add latency (each direction keeps its byte order), drop (close every connection and every
 * new one at once, as a crashed peer or a firewall reset), or blackhole (keep the
 * connections and forward nothing until `pass`, then deliver what was held, as TCP does
 * after a dead link heals; bytes are never lost from a live connection, or a client would
 * match replies to the wrong commands).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export type ProxyMode = 'pass' | 'drop' | 'blackhole';

export class TcpProxy {
  private mode: ProxyMode = 'pass';
  private latency = 0;
  private readonly pairs = new Set<[Socket, Socket]>();
  /** Releases what each direction held while blackholed. */
  private readonly releases = new Set<() => void>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly target: { readonly host: string; readonly port: number },
  ) {
    server.on('connection', (client) => this.accept(client));
  }

  /** Listens on a free loopback port, forwarding to `targetPort` on `targetHost`. */
  static start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    const server = createServer();
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        const port = typeof address === 'object' && address !== null ? address.port : 0;
        resolve(new TcpProxy(server, port, { host: targetHost, port: targetPort }));
      });
    });
  }

  /** Ms added to every chunk, in both directions, from now on. */
  setLatency(ms: number): void {
    this.latency = ms;
  }

  /** Forwards again (latency stays as set). */
  pass(): void {
    this.mode = 'pass';
    for (const release of this.releases) release();
  }

  /** Closes every connection, and each new one as it comes, until `pass`. */
  drop(): void {
    this.mode = 'drop';
    for (const [client, upstream] of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
  }

  /** Keeps every connection open and forwards nothing until `pass` (which delivers what was held). */
  blackhole(): void {
    this.mode = 'blackhole';
  }

  async stop(): Promise<void> {
    for (const [client, upstream] of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.mode === 'drop') {
      client.destroy();
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    const close = (): void => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of pair) {
      socket.on('error', close);
      socket.on('close', close);
    }
    this.forward(client, upstream);
    this.forward(upstream, client);
  }

  /** Copies `from` to `to`, each chunk after the latency of the moment, in order (one queue and timer per direction). */
  private forward(from: Socket, to: Socket): void {
    const queue: { due: number; chunk: Buffer }[] = [];
    const held: Buffer[] = [];
    let timer: NodeJS.Timeout | null = null;
    const flush = (): void => {
      timer = null;
      while (queue.length > 0 && queue[0]!.due <= Date.now()) {
        const { chunk } = queue.shift()!;
        if (!to.destroyed) to.write(chunk);
      }
      if (queue.length > 0) timer = setTimeout(flush, queue[0]!.due - Date.now());
    };
    const send = (chunk: Buffer): void => {
      if (this.latency <= 0 && queue.length === 0) {
        if (!to.destroyed) to.write(chunk);
        return;
      }
      const due = Math.max(Date.now() + this.latency, queue.at(-1)?.due ?? 0);
      queue.push({ due, chunk });
      if (timer === null) timer = setTimeout(flush, due - Date.now());
    };
    const release = (): void => {
      for (const chunk of held.splice(0)) send(chunk);
    };
    this.releases.add(release);
    from.on('data', (chunk: Buffer) => {
      if (this.mode === 'blackhole' || held.length > 0) held.push(chunk);
      else if (this.mode === 'pass') send(chunk);
    });
    from.on('close', () => {
      this.releases.delete(release);
      if (timer !== null) clearTimeout(timer);
    });
  }
}
