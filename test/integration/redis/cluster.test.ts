/**
 * A real Redis Cluster of three masters, started by the test: two shared keys whose hash
 * tags live on different masters, two workers on each (every worker an ioredis `Cluster`
 * client of its own), and one key's slot resharded to the third master mid-run, so the
 * workers meet ASK and MOVED redirections (and NOSCRIPT on the new node). Each key's limit
 * holds over every sliding window, no call fails, and each value is emitted once, in order.
 * Skipped (loudly) without redis-server and redis-cli; under CI=true it fails instead.
 */
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisTokenBucket } from '../../../src/redis/RedisTokenBucket';
import { onceEachInOrder, runWorkers } from '../../support/faultHarness';
import { RedisTestCluster } from '../../support/redisCluster';
import { findRedisBinary } from '../../support/redisServer';
import { sleep } from '../../support/realTime';
import { worstWindow } from '../../support/slidingWindow';

const CAPACITY = 5;
const RATE = 50; // per s
const COUNT = 30;
const EVERY = 25; // two workers at 40/s each: 80/s offered against 50/s per key
const TOLERANCE = 100;

const binary = findRedisBinary();
const cliFound = spawnSync('redis-cli', ['--version'], { encoding: 'utf8' }).status === 0;
const missing = binary === undefined ? 'no redis-server found' : cliFound ? '' : 'no redis-cli found';
if (missing !== '' && process.env['CI'] === 'true') {
  throw new Error(`the Redis Cluster test cannot run: ${missing}. CI must install the Debian package redis-server (it brings redis-cli).`);
}
if (missing !== '') console.warn(`\n!!!! REDIS CLUSTER TEST SKIPPED: ${missing}. Install redis-server to run it.\n`);

describe.skipIf(missing !== '')(`a 3-master Redis Cluster${missing === '' ? '' : ` [SKIPPED: ${missing}]`}`, () => {
  let cluster: RedisTestCluster;
  beforeAll(async () => {
    cluster = await RedisTestCluster.start(binary!);
  }, 20_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('keys on different masters, one slot resharded mid-run: each limit holds, nothing fails, each value once', async () => {
    const run = randomUUID().slice(0, 8);
    // Two hash tags on different masters, and the third master as the reshard target.
    const tags: string[] = [];
    const owners: string[] = [];
    for (let i = 0; tags.length < 2; i++) {
      const tag = `cl:${run}:${i}`;
      const owner = await cluster.ownerOf(await cluster.slotOf(tag));
      if (!owners.includes(owner.id)) {
        tags.push(tag);
        owners.push(owner.id);
      }
    }
    const target = cluster.nodes.find((node) => !owners.includes(node.id))!;
    const movedSlot = await cluster.slotOf(tags[0]!);
    // Workers 0 and 1 share the first key, 2 and 3 the second.
    const buckets = [0, 0, 1, 1].map(
      (which) => new RedisTokenBucket({ redis: cluster.client(), key: tags[which]!, capacity: CAPACITY, refillRate: RATE, timeout: 1000 }),
    );
    const result = await runWorkers({
      buckets,
      count: COUNT,
      every: EVERY,
      fault: async () => {
        await sleep(300);
        await cluster.moveSlot(movedSlot, target);
      },
    });
    expect(onceEachInOrder(result, COUNT)).toBe('');
    expect(result.outcomes.map((outcome) => outcome.values.length)).toEqual([COUNT, COUNT, COUNT, COUNT]);
    expect(result.grants.every((grant) => grant.source === 'store')).toBe(true);
    expect(buckets.map((bucket) => bucket.stats().storeErrors)).toEqual([0, 0, 0, 0]);
    for (const which of [0, 1]) {
      const grants = result.grants.filter((grant) => Math.floor(grant.worker / 2) === which);
      for (const window of [1000, 250]) {
        const worst = worstWindow(grants, { capacity: CAPACITY, rate: RATE / 1000, window, tolerance: TOLERANCE });
        expect(worst.cost, `key ${which}, worst ${window} ms window`).toBeLessThanOrEqual(worst.bound);
      }
    }
    // The state went with its slot: the target master holds it now, the old one does not.
    expect((await cluster.ownerOf(movedSlot)).id).toBe(target.id);
    expect(await target.admin.exists(buckets[0]!.key)).toBe(1);
    // The workers really were redirected: the old master answered MOVED or ASK (Redis 7 counts error replies).
    const source = cluster.nodes.find((node) => node.id === owners[0])!;
    const errors = await source.admin.info('errorstats');
    expect(errors).toMatch(/errorstat_(MOVED|ASK):count=[1-9]/);
  }, 20_000);
});
