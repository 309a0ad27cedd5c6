/**
 * Closing the Redis broker's connections to a Redis Cluster (its own, started by the test) when
 * a node hangs: close() settles without the node's help, and a topology discovery that was in
 * flight then leaves no connection behind once the node answers again.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { seededRng } from '../../src/core/clock.js';
import { RedisConnection } from '../../src/redis/connection.js';
import { clusterLink } from '../../src/redis/redis-link.js';
import { RedisCluster, redisClusterSkip } from '../helpers/redis-cluster.js';
import { freePort } from '../helpers/free-port.js';
import { eventually, within } from '../helpers/wait.js';

let cluster: RedisCluster | undefined;

function started(): RedisCluster {
  if (!cluster) throw new Error('the cluster did not start');
  return cluster;
}

/** Client connections on the running nodes, but for replication links and the asking redis-cli's own. */
async function clientConnections(redis: RedisCluster): Promise<number> {
  let count = 0;
  for (const node of redis.nodes) {
    const list = await redis.command(node.port, 'CLIENT', 'LIST').catch(() => '');
    count += list.split('\n').filter((line) => line.startsWith('id=') && !/ flags=\w*[SM]/.test(line) && !line.includes('cmd=client|list')).length;
  }
  return count;
}

describe('closing the connections to a Redis Cluster with a node hung', { skip: redisClusterSkip }, () => {
  before(async () => {
    cluster = await RedisCluster.start();
  });
  after(() => cluster?.stop());

  test('a command its primary never answers: close() settles after commandTimeout, fails it and leaves no connection', async () => {
    const redis = started();
    const connection = await RedisConnection.open({ cluster: redis.seeds, rng: seededRng(1), commandTimeout: 300 });
    const key = `blocked-${randomUUID().slice(0, 6)}`;
    const primary = await redis.primaryOf(key);
    // A blocking pop on an empty list: written, and not answered while the list stays empty.
    const pending = connection.commands.send(['BLPOP', key, '0'], 60_000).then(
      () => 'answered',
      (error: unknown) => error,
    );
    await eventually(async () => (await redis.command(primary, 'INFO', 'clients')).includes('blocked_clients:1'), 'the command in flight', 10_000);
    // The bound is the test's, far above commandTimeout; before the fix close() never settled.
    await within(connection.close(), 5_000, 'close() with a command unanswered');
    const result = await within(pending, 1_000, 'the pending command settled');
    assert.ok(result instanceof Error, `the pending command failed: ${String(result)}`);
    await eventually(async () => (await clientConnections(redis)) === 0, 'no connection left', 10_000);
  });

  test('a Cluster not up yet when the broker connects (its seed refuses connections) is asked again until it answers, within connectTimeout', async (t) => {
    const redis = started();
    const [primary] = await redis.primaries();
    assert.ok(primary !== undefined);
    // The seed: a port where nothing listens until the test opens a forwarder to a primary there.
    const seed = await freePort();
    const sockets = new Set<Socket>();
    const forwarder = createServer((client) => {
      const upstream = connect({ host: '127.0.0.1', port: primary });
      for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
        sockets.add(from);
        from.pipe(to);
        from.on('error', () => to.destroy()).on('close', () => to.destroy());
      }
    });
    t.after(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => forwarder.close(resolve));
    });
    const link = clusterLink([`127.0.0.1:${seed}`], { backoff: { initialDelay: 50, maxDelay: 200, factor: 2, maxAttempts: Infinity, jitter: 0.5 }, rng: seededRng(1) });
    t.after(() => link.destroy());
    const failed = new Promise<void>((resolve) => link.on('lost', () => resolve()));
    const refused: unknown[] = [];
    const connected = link.connect().catch((error: unknown) => void refused.push(error));
    await within(failed, 10_000, 'the first discovery failed');
    forwarder.listen(seed, '127.0.0.1');
    // What RedisConnection.open bounds by connectTimeout.
    await within(connected, 10_000, 'connect');
    assert.deepEqual(refused, [], 'connected, not refused at the first failure');
    assert.equal(link.isReady, true);
    assert.equal(await link.send(['SET', `k-${randomUUID().slice(0, 6)}`, 'v'], 5_000), 'OK');
  });

  test('a discovery in flight when the connection is destroyed (its node hung): once the node answers, the node clients it creates are closed', async (t) => {
    const redis = started();
    const [seed] = await redis.primaries();
    assert.ok(seed !== undefined);
    const link = clusterLink([`127.0.0.1:${seed}`], { backoff: { initialDelay: 50, maxDelay: 200, factor: 2, maxAttempts: Infinity, jitter: 0.5 }, rng: seededRng(1) });
    const errors: unknown[] = [];
    link.on('lost', (error) => errors.push(error));
    let revived = 0;
    const restored = new Promise<void>((resolve) =>
      link.on('restored', () => {
        revived++;
        resolve();
      }),
    );
    redis.pause(seed);
    t.after(() => redis.resume(seed));
    link.connect().catch(() => undefined);
    // What RedisConnection.open does when connectTimeout passes: the discovery asked the seed
    // for the slot map and waits for its answer.
    link.destroy();
    redis.resume(seed);
    // The answer comes: the discovery creates a client per primary, and one of them is ready.
    await within(restored, 10_000, 'a node client of the late discovery ready');
    assert.ok(revived >= 1);
    await eventually(async () => (await clientConnections(redis)) === 0, 'every node client closed again', 10_000);
    assert.equal(link.isReady, false);
  });
});
