/**
 * A Redis that stops answering for longer than `commandTimeout` (SIGSTOP: its connections stay
 * open) and then answers again, or is reached again over new connections: the broker reports
 * itself not ready while it hangs, and comes back without waiting for some caller's command.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { createClient } from '@redis/client';
import type { ChannelEvent, HistoryPolicy } from '../../src/broker/broker.js';
import { BrokerUnavailableError, RedisBroker, type RedisBrokerOptions } from '../../src/redis/index.js';
import { testPrefix } from '../helpers/redis.js';
import { RedisServer, redisServerSkip } from '../helpers/redis-server.js';
import { eventually, within } from '../helpers/wait.js';

const policy: HistoryPolicy = { size: 100, ttl: 60_000 };

async function broker(t: TestContext, options: RedisBrokerOptions): Promise<RedisBroker> {
  const made = await RedisBroker.connect({ reconnect: { initialDelay: 50, maxDelay: 200 }, ...options });
  t.after(() => made.close());
  return made;
}

/** A private redis-server (resumed and killed after the test, stopped or not) and a plain client for the test's own commands. */
async function privateRedis(t: TestContext) {
  const redis = await RedisServer.start();
  t.after(() => redis.kill());
  const admin = createClient({ url: redis.url, RESP: 2 });
  admin.on('error', () => undefined);
  await admin.connect();
  t.after(() => admin.destroy());
  return { redis, admin };
}

/** A call that fails as unavailable because Redis did not answer within commandTimeout: the broker now takes Redis as hung. */
async function stall(node: RedisBroker): Promise<void> {
  await assert.rejects(within(node.presence('anything'), 5_000, 'a call to a stopped Redis'), (error: unknown) => error instanceof BrokerUnavailableError && /no answer within/.test(error.message));
  assert.equal(node.isReady(), false, 'not ready while Redis hangs');
}

describe('RedisBroker: Redis hangs, then answers again', { skip: redisServerSkip }, () => {
  test('a node that nothing calls is ready again once Redis answers (it asks Redis itself), not only after some caller\'s command', async (t) => {
    const { redis } = await privateRedis(t);
    const node = await broker(t, { url: redis.url, prefix: testPrefix(), commandTimeout: 300 });
    redis.pause();
    try {
      await stall(node);
    } finally {
      redis.resume();
    }
    // Nothing is called on the node from here on: a server whose readiness says no gets no traffic.
    await eventually(() => node.isReady(), 'ready again with no call made', 10_000);
  });

  test('close() called twice while Redis hangs: the second call waits for the same close', async (t) => {
    const { redis } = await privateRedis(t);
    const node = await broker(t, { url: redis.url, prefix: testPrefix(), commandTimeout: 300 });
    redis.pause();
    try {
      let firstDone = false;
      const first = node.close().then(() => (firstDone = true));
      await within(node.close(), 5_000, 'the second close()');
      assert.equal(firstDone, true, 'the second close() resolved while the first still waited for Redis');
      await first;
    } finally {
      redis.resume();
    }
  });

  test('a reconnect while the node takes Redis as hung still resubscribes and fetches what was published meanwhile', async (t) => {
    const { redis, admin } = await privateRedis(t);
    const prefix = testPrefix();
    // No quiet check: only the reconnect can tell the listener that it missed something.
    // Its reconnect waits 500 ms at least: 'b' below is published before it.
    const listener = await broker(t, { url: redis.url, prefix, commandTimeout: 300, quietCheck: 0, reconnect: { initialDelay: 1_000, maxDelay: 1_000 } });
    const sender = await broker(t, { url: redis.url, prefix });
    const heard: ChannelEvent[] = [];
    await listener.subscribe('room', (event) => heard.push(event));
    await sender.publish('room', 'a', policy);
    await eventually(() => heard.length === 1, 'a heard');
    redis.pause();
    try {
      await stall(listener);
    } finally {
      redis.resume();
    }
    // The listener's subscriber connection is cut, and 'b' published while it is down.
    await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    assert.equal((await sender.publish('room', 'b', policy)).offset, 2);
    await eventually(() => heard.length === 2, 'b, published while the subscriber connection was down, fetched after the reconnect', 10_000);
    assert.deepEqual(
      heard.map((event) => [event.offset, event.data]),
      [
        [1, 'a'],
        [2, 'b'],
      ],
    );
  });
});
