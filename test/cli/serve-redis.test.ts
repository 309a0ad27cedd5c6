// `lifeline serve --redis`: two server processes over one Redis act as one (an event published
// through one node's HTTP API reaches a subscriber on the other), /readyz follows Redis, and an
// unreachable Redis at start is a clear failure.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { redisSkip, redisUrl, testPrefix } from '../helpers/redis.js';
import { RedisCluster, redisClusterSkip } from '../helpers/redis-cluster.js';
import { RedisServer, redisServerSkip } from '../helpers/redis-server.js';
import { eventually } from '../helpers/wait.js';
import { ProtocolClient, type MessageOf } from '../server/protocol/protocol-client.js';
import { runCli, startServe, stopAll } from './harness.js';
import { API_KEY, call } from './serve-support.js';

after(stopAll);

async function readiness(url: string): Promise<number> {
  return (await call(`${url}/readyz`)).status;
}


describe('lifeline serve --redis', { skip: redisSkip }, () => {
  test('two nodes on one Redis: a publish through one node reaches a subscriber on the other', async (t) => {
    const prefix = testPrefix();
    const args = ['--port', '0', '--allow-anonymous', '--api-key', API_KEY, '--redis', redisUrl, '--redis-prefix', prefix, '--ping-interval', '0'];
    const [a, b] = await Promise.all([startServe(args), startServe(args)]);
    assert.equal(await readiness(a.url), 200);
    const { client } = await ProtocolClient.connect(t, a.wsUrl());
    await client.subscribe(1, 'chat:lobby');
    const published = await call(`${b.url}/api/v1/channels/chat%3Alobby/publish`, { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` }, json: { data: { text: 'across nodes' } } });
    assert.equal(published.status, 200);
    const event = await client.take('event');
    assert.deepEqual(event.data, { text: 'across nodes' });
    assert.deepEqual({ epoch: event.epoch, offset: event.offset }, published.body.position);
  });

  test('--max-keys-per-user applies over Redis: a client publishing under a new key each time forgets its own oldest', async (t) => {
    const node = await startServe(['--port', '0', '--allow-anonymous', '--redis', redisUrl, '--redis-prefix', testPrefix(), '--ping-interval', '0', '--max-keys-per-user', '3']);
    const { client } = await ProtocolClient.connect(t, node.wsUrl());
    const publish = async (id: number, key: string): Promise<unknown> => {
      client.send({ type: 'publish', id, channel: 'chat:keys', data: key, idempotencyKey: key });
      const reply = (await client.reply(id)) as MessageOf<'ack'>;
      assert.equal(reply.type, 'ack');
      return reply.position;
    };
    const first = await publish(1, 'k-1');
    const second = await publish(2, 'k-2');
    for (let i = 3; i <= 4; i++) await publish(i, `k-${i}`);
    assert.deepEqual(await publish(5, 'k-2'), second, 'the three newest records deduplicate');
    assert.notDeepEqual(await publish(6, 'k-1'), first, 'the fourth key pushed out the first: published again');
  });

  test('LIFELINE_REDIS with an unreachable server: exits 1 saying Redis cannot be used', async () => {
    const redis = await RedisServer.start();
    await redis.kill();
    const run = await runCli(['serve', '--port', '0', '--allow-anonymous'], { LIFELINE_REDIS: redis.url });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /cannot use Redis: Redis at redis:\/\/127\.0\.0\.1:\d+\/? did not answer within 5000 ms/);
  });

  test('a Redis prefix with a brace is a usage error (it would be every key\'s hash tag)', async () => {
    const run = await runCli(['serve', '--port', '0', '--allow-anonymous', '--redis', redisUrl, '--redis-prefix', 'app{1}:']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--redis-prefix must be 1-64 visible ASCII characters, without "\{" or "\}"/);
  });

  test('a bad Redis URL is a usage error that does not echo the URL (it may carry a password)', async () => {
    const run = await runCli(['serve', '--port', '0', '--allow-anonymous', '--redis', 'http://user:secret@example']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--redis must be a redis:\/\/ or rediss:\/\/ URL/);
    assert.doesNotMatch(run.stderr, /secret/);
  });
});

describe('lifeline serve --redis: /readyz follows Redis', { skip: redisServerSkip }, () => {
  test('503 while Redis is down, 200 again once it is back', async () => {
    const redis = await RedisServer.start();
    after(() => redis.kill());
    const node = await startServe(['--port', '0', '--allow-anonymous', '--redis', redis.url]);
    assert.equal(await readiness(node.url), 200);
    await redis.kill();
    await eventually(async () => (await readiness(node.url)) === 503, '/readyz 503');
    const body = (await call(`${node.url}/readyz`)).body;
    assert.equal(body.status, 'not_ready');
    await redis.restart();
    await eventually(async () => (await readiness(node.url)) === 200, '/readyz 200 again');
  });
});

describe('lifeline serve --redis-cluster', { skip: redisClusterSkip }, () => {
  test('two nodes on a Redis Cluster (one by flag, one by LIFELINE_REDIS_CLUSTER) act as one', async (t) => {
    const cluster = await RedisCluster.start();
    t.after(() => cluster.stop());
    const prefix = testPrefix();
    const args = ['--port', '0', '--allow-anonymous', '--api-key', API_KEY, '--redis-prefix', prefix, '--ping-interval', '0'];
    const [a, b] = await Promise.all([startServe([...args, '--redis-cluster', cluster.seeds.slice(0, 2).join(',')]), startServe(args, { LIFELINE_REDIS_CLUSTER: cluster.seeds.slice(3).join(',') })]);
    assert.equal(await readiness(a.url), 200);
    assert.equal(await readiness(b.url), 200);
    const { client } = await ProtocolClient.connect(t, a.wsUrl());
    for (const [i, name] of ['one', 'two', 'three'].entries()) await client.subscribe(i + 1, `chat:${name}`);
    for (const name of ['one', 'two', 'three']) {
      const published = await call(`${b.url}/api/v1/channels/chat%3A${name}/publish`, { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` }, json: { data: { name } } });
      assert.equal(published.status, 200);
      const event = await client.take('event');
      assert.deepEqual(event.data, { name });
      assert.deepEqual({ epoch: event.epoch, offset: event.offset }, published.body.position);
    }
  });

  test('a bad node list, or --redis with --redis-cluster, is a usage error', async () => {
    const bad = await runCli(['serve', '--port', '0', '--allow-anonymous', '--redis-cluster', 'localhost']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--redis-cluster must list Redis Cluster nodes as host:port/);
    const both = await runCli(['serve', '--port', '0', '--allow-anonymous', '--redis', 'redis://127.0.0.1:1', '--redis-cluster', '127.0.0.1:2']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /not both/);
  });
});
