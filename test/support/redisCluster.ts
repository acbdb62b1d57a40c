/**
 * A real Redis Cluster of three masters on loopback for tests: three `redis-server
 * --cluster-enabled yes` on free ports, joined by `redis-cli --cluster create`, every slot
 * assigned; torn down afterwards. `moveSlot` reshards one slot to another master while
 * clients run (IMPORTING/MIGRATING, MIGRATE of its keys, SETSLOT NODE everywhere), so they
 * meet ASK and MOVED redirections as in a live resharding.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { RedisServer } from './redisServer';

const run = promisify(execFile);

export interface ClusterNode {
  readonly server: RedisServer;
  readonly id: string;
  /** An admin connection to this node alone. */
  readonly admin: Redis;
}

export class RedisTestCluster {
  private readonly clients: Cluster[] = [];

  private constructor(readonly nodes: readonly ClusterNode[]) {}

  /** Starts three masters and joins them; resolves once every node reports `cluster_state:ok`. */
  static async start(binary: string, cli = 'redis-cli'): Promise<RedisTestCluster> {
    const args = ['--cluster-enabled', 'yes', '--cluster-node-timeout', '2000', '--cluster-require-full-coverage', 'no'];
    const servers = await Promise.all([0, 1, 2].map(() => RedisServer.start(binary, { args })));
    try {
      await run(cli, ['--cluster', 'create', ...servers.map((server) => `${server.host}:${server.port}`), '--cluster-yes'], {
        timeout: 15_000,
      });
      const nodes = await Promise.all(
        servers.map(async (server) => {
          const admin = new Redis(server.port, server.host, { lazyConnect: false });
          const id = String(await admin.call('CLUSTER', 'MYID'));
          return { server, id, admin };
        }),
      );
      const cluster = new RedisTestCluster(nodes);
      await cluster.waitUntilOk();
      return cluster;
    } catch (error) {
      await Promise.all(servers.map((server) => server.stop()));
      throw error;
    }
  }

  /** A cluster client (closed by `stop`). */
  client(): Cluster {
    const { host, port } = this.nodes[0]!.server;
    const client = new Cluster([{ host, port }], { clusterRetryStrategy: () => 50 });
    client.on('error', () => {});
    this.clients.push(client);
    return client;
  }

  /** The slot of a key, as the cluster computes it. */
  async slotOf(key: string): Promise<number> {
    return Number(await this.nodes[0]!.admin.call('CLUSTER', 'KEYSLOT', key));
  }

  /** The master holding a slot. */
  async ownerOf(slot: number): Promise<ClusterNode> {
    const ranges = (await this.nodes[0]!.admin.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, string]][];
    const range = ranges.find(([from, to]) => slot >= from && slot <= to);
    const node = this.nodes.find((candidate) => candidate.id === range?.[2][2]);
    if (node === undefined) throw new Error(`no master holds slot ${slot}`);
    return node;
  }

  /** Moves a slot, with its keys, from the master holding it to `target`. */
  async moveSlot(slot: number, target: ClusterNode): Promise<void> {
    const source = await this.ownerOf(slot);
    if (source === target) return;
    await target.admin.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.id);
    await source.admin.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id);
    for (;;) {
      const keys = (await source.admin.call('CLUSTER', 'GETKEYSINSLOT', slot, 100)) as string[];
      if (keys.length === 0) break;
      await source.admin.call('MIGRATE', target.server.host, target.server.port, '', 0, 5000, 'KEYS', ...keys);
    }
    // The target first, so it serves the slot before the source starts redirecting with MOVED.
    await target.admin.call('CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
    await source.admin.call('CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
    for (const node of this.nodes)
      if (node !== source && node !== target) await node.admin.call('CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
  }

  async stop(): Promise<void> {
    for (const client of this.clients.splice(0)) client.disconnect();
    for (const node of this.nodes) node.admin.disconnect();
    await Promise.all(this.nodes.map((node) => node.server.stop()));
  }

  private async waitUntilOk(): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const infos = await Promise.all(this.nodes.map((node) => node.admin.call('CLUSTER', 'INFO') as Promise<string>));
      if (infos.every((info) => info.includes('cluster_state:ok'))) return;
      if (Date.now() > deadline) throw new Error(`the test cluster did not reach cluster_state:ok within 10 s:\n${infos.join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
