/**
 * What only a networked broker has to promise: several brokers on one Redis act as one (every
 * node hears every event, in one offset order), a subscriber that lost its connection fetches
 * what it missed, and an unreachable or restarted Redis is reported, never papered over.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import { createClient } from '@redis/client';
import type { ChannelEvent, HistoryPolicy } from '../../src/broker/broker.js';
import { BrokerUnavailableError, RedisBroker, type RedisBrokerOptions } from '../../src/redis/index.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { redisSkip, redisUrl, testPrefix } from '../helpers/redis.js';
import { RedisServer, redisServerSkip } from '../helpers/redis-server.js';
import { freePort } from '../helpers/free-port.js';
import { eventually, within } from '../helpers/wait.js';

const policy: HistoryPolicy = { size: 1_000, ttl: 60_000 };

async function broker(t: TestContext, options: RedisBrokerOptions): Promise<RedisBroker> {
  const made = await RedisBroker.connect({ reconnect: { initialDelay: 50, maxDelay: 200 }, ...options });
  t.after(() => made.close());
  return made;
}

/** A Redis server of the test's own, two nodes on it and a plain client for the test's own commands; all ended after the test. */
async function twoNodes(t: TestContext) {
  const redis = await RedisServer.start();
  t.after(() => redis.kill());
  const prefix = testPrefix();
  const listener = await broker(t, { url: redis.url, prefix });
  const sender = await broker(t, { url: redis.url, prefix });
  const admin = createClient({ url: redis.url, RESP: 2 });
  admin.on('error', () => undefined);
  await admin.connect();
  t.after(() => admin.destroy());
  return { listener, sender, admin, prefix, redis };
}

function offsets(events: readonly ChannelEvent[]): number[] {
  return events.map((event) => event.offset);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

describe('RedisBroker: several nodes on one Redis', { skip: redisSkip }, () => {
  test('two nodes publishing at once share one offset sequence, and each node hears every event in that order', async (t) => {
    const prefix = testPrefix();
    const [a, b] = [await broker(t, { url: redisUrl, prefix }), await broker(t, { url: redisUrl, prefix })];
    const channel = `room-${randomUUID().slice(0, 6)}`;
    const heardA: ChannelEvent[] = [];
    const heardB: ChannelEvent[] = [];
    await a.subscribe(channel, (event) => heardA.push(event));
    await b.subscribe(channel, (event) => heardB.push(event));
    const published = await Promise.all(range(1, 100).map((n) => (n % 2 === 0 ? a : b).publish(channel, { n }, policy)));
    assert.deepEqual(offsets(published).sort((x, y) => x - y), range(1, 100), 'no offset twice, none skipped');
    assert.equal(new Set(published.map((event) => event.epoch)).size, 1, 'one history');
    await eventually(() => heardA.length >= 100 && heardB.length >= 100, '100 events on both nodes');
    assert.deepEqual(offsets(heardA), range(1, 100), 'node A: in offset order, once each');
    assert.deepEqual(offsets(heardB), range(1, 100), 'node B: in offset order, once each');
    const byOffset = new Map(published.map((event) => [event.offset, event.data]));
    assert.ok(heardA.every((event) => JSON.stringify(event.data) === JSON.stringify(byOffset.get(event.offset))), 'each offset carries what was published at it');
    const replay = await b.recover(channel, { epoch: published[0]?.epoch ?? '', offset: 40 }, 1_000);
    assert.deepEqual(offsets(replay.events), range(41, 100), 'history written through A is read through B');
  });

  test('the last listener leaving while a new one joins: the new one hears every later event', async (t) => {
    const prefix = testPrefix();
    const [node, other] = [await broker(t, { url: redisUrl, prefix }), await broker(t, { url: redisUrl, prefix })];
    for (let round = 0; round < 5; round++) {
      const channel = `race-${round}`;
      const unsubscribe = await node.subscribe(channel, () => undefined);
      const heard: number[] = [];
      const leaving = unsubscribe(); // the node's last listener leaves ...
      await node.subscribe(channel, (event) => heard.push(event.offset)); // ... as another one joins
      await leaving;
      for (let i = 0; i < 3; i++) await other.publish(channel, i, policy);
      await eventually(() => heard.length === 3, `round ${round}: three events at the new listener`);
      assert.deepEqual(heard, [1, 2, 3]);
    }
  });

  test('a session saved by one node is resumed on another, with its replies and its direct messages', async (t) => {
    const prefix = testPrefix();
    const [a, b] = [await broker(t, { url: redisUrl, prefix }), await broker(t, { url: redisUrl, prefix })];
    await a.saveSession('s1', { user: 'ann', window: { acked: 0, floor: 0, replies: [] } }, 60_000);
    await a.recordReply('s1', 1, '{"type":"ack","id":1}', 100);
    const heard: unknown[] = [];
    await b.subscribeDirect('s1', (message) => heard.push(message.data));
    await a.sendDirect('s1', { hello: 'ann' }, 60_000);
    await eventually(() => heard.length === 1, 'the direct message on node B');
    const loaded = await b.loadSession('s1');
    assert.deepEqual(loaded, { user: 'ann', window: { acked: 1, floor: 0, replies: [[1, '{"type":"ack","id":1}']] } });
    assert.deepEqual(await b.pendingDirect('s1', 0), [{ seq: 1, data: { hello: 'ann' } }]);
  });
});

describe('RedisBroker: connection loss and Redis restarts', { skip: redisServerSkip }, () => {
  test('a subscriber whose connection was cut fetches the events it missed, in order, once', async (t) => {
    const { listener, sender: publisher, admin } = await twoNodes(t);
    const heard: ChannelEvent[] = [];
    await listener.subscribe('room', (event) => heard.push(event));
    for (const n of range(1, 10)) await publisher.publish('room', n, policy);
    await eventually(() => heard.length === 10, 'the first 10 events');
    await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    // Published while the listener's subscription is down: pub/sub drops them, the stream keeps them.
    for (const n of range(11, 20)) await publisher.publish('room', n, policy);
    await eventually(() => heard.length >= 20, 'the missed events, fetched after the reconnect');
    await publisher.publish('room', 21, policy);
    await eventually(() => heard.length >= 21, 'a live event after the reconnect');
    assert.deepEqual(offsets(heard), range(1, 21));
    assert.deepEqual(heard.map((event) => event.data), range(1, 21));
  });

  test('a direct message or a first event sent while the subscriber connection was cut arrives after the reconnect', async (t) => {
    const { listener, sender, admin } = await twoNodes(t);
    const direct: unknown[] = [];
    const events: unknown[] = [];
    await listener.subscribeDirect('s1', (message) => direct.push([message.seq, message.data]));
    await listener.subscribe('quiet', (event) => events.push([event.offset, event.data]));
    await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    // Nothing was heard on either before the cut: the feeds start from what Redis held.
    await sender.sendDirect('s1', 'during', 60_000);
    await sender.publish('quiet', 'during', policy);
    await eventually(() => direct.length === 1 && events.length === 1, 'both fetched after the reconnect');
    await sender.sendDirect('s1', 'after', 60_000);
    await eventually(() => direct.length === 2, 'a live one after');
    assert.deepEqual(direct, [[1, 'during'], [2, 'after']]);
    assert.deepEqual(events, [[1, 'during']]);
  });

  test('direct messages after a failover that lost the last seqs: the serving node raises the outbox\'s seq to what it heard when its connection comes back', async (t) => {
    const { listener, sender, admin, prefix } = await twoNodes(t);
    await listener.saveSession('s1', { user: 'ann', window: { acked: 0, floor: 0, replies: [] } }, 60_000);
    const direct: unknown[] = [];
    await listener.subscribeDirect('s1', (message) => direct.push([message.seq, message.data]));
    for (const data of ['a', 'b', 'c']) await sender.sendDirect('s1', data, 60_000);
    await eventually(() => direct.length === 3, 'the first three', 5_000);
    // A failover to a replica that had received only seq 1, and the listener's connection to it is new.
    const { outboxMeta, outbox } = new RedisKeys(prefix).session('s1');
    await admin.sendCommand(['HSET', outboxMeta, 'n', '1']);
    await admin.sendCommand(['ZREMRANGEBYSCORE', outbox, '2', '3']);
    await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    await eventually(async () => String(await admin.sendCommand(['HGET', outboxMeta, 'n'])) === '3', 'the seq raised after the reconnect', 5_000);
    assert.deepEqual(await sender.sendDirect('s1', 'new', 60_000), { seq: 4, data: 'new' });
    await eventually(() => direct.length === 4, 'the new message', 5_000);
    assert.deepEqual(direct, [[1, 'a'], [2, 'b'], [3, 'c'], [4, 'new']]);
  });

  test('while Redis is down every call fails at once and the broker is not ready; it reconnects, and a restart without persistence starts a new epoch', async (t) => {
    const redis = await RedisServer.start();
    t.after(() => redis.kill());
    const node = await broker(t, { url: redis.url, prefix: testPrefix() });
    const heard: ChannelEvent[] = [];
    await node.subscribe('room', (event) => heard.push(event));
    const before = [await node.publish('room', 'a', policy), await node.publish('room', 'b', policy)];
    const epoch = before[0]?.epoch ?? '';
    assert.equal(node.isReady(), true);
    // Both heard before the kill: a fan-out message still unread when Redis dies is gone with its history.
    await eventually(() => heard.length === 2, 'a and b heard');
    await redis.kill();
    await eventually(() => !node.isReady(), 'not ready');
    // Rejected, not queued: nothing is accepted now and dropped later.
    // sent is false when the client refused it offline, true when it was written as the socket died: either may happen here.
    const unavailable = { name: 'BrokerUnavailableError', code: 'ERR_BROKER_UNAVAILABLE' };
    await assert.rejects(within(node.publish('room', 'lost', policy), 5_000, 'a publish while Redis is down'), unavailable);
    await assert.rejects(within(node.loadSession('s1'), 5_000, 'a load while Redis is down'), unavailable);
    await redis.restart();
    await eventually(() => node.isReady(), 'ready again');
    const recovery = await node.recover('room', { epoch, offset: 2 }, 100);
    assert.equal(recovery.recovered, false, 'the history is gone: told, not replayed');
    assert.notEqual(recovery.position.epoch, epoch, 'a new epoch names the new history');
    assert.equal(recovery.position.offset, 0);
    const after = await node.publish('room', 'c', policy);
    assert.deepEqual([after.epoch, after.offset], [recovery.position.epoch, 1]);
    await eventually(() => heard.some((event) => event.data === 'c'), 'the subscription resumed on the restarted server');
    assert.deepEqual(
      heard.map((event) => [event.epoch === epoch ? 'old' : 'new', event.offset, event.data]),
      [['old', 1, 'a'], ['old', 2, 'b'], ['new', 1, 'c']],
    );
  });

  test('with Redis down, unsubscribing and close() return at once: a node shutting down never waits for a server that is gone', async (t) => {
    const redis = await RedisServer.start();
    t.after(() => redis.kill());
    const prefix = testPrefix();
    const node = await broker(t, { url: redis.url, prefix });
    const stop = await node.subscribe('room', () => undefined);
    const notices: unknown[] = [];
    const stopNotices = await node.onBroadcast((notice) => notices.push(notice));
    await node.publish('room', 'a', policy);
    await redis.kill();
    await eventually(() => !node.isReady(), 'not ready');
    // The bounds are the test's, far above what these take; before the fix the notices'
    // unsubscribe failed with the socket's error.
    await within(Promise.resolve(stop()), 5_000, 'unsubscribe from a channel with Redis down');
    await within(stopNotices(), 5_000, 'unsubscribe from notices with Redis down');
    // Back: the given-up subscriptions are ended then, and the notice listener hears nothing.
    await redis.restart();
    await eventually(() => node.isReady(), 'ready again');
    const heard: unknown[] = [];
    await node.onBroadcast((notice) => heard.push(notice));
    const other = await broker(t, { url: redis.url, prefix });
    const notice = { kind: 'disconnect-user', user: 'u', reason: 'test' } as const;
    await other.broadcast(notice);
    await eventually(() => heard.length === 1, 'a live listener heard the notice');
    assert.deepEqual(heard, [notice]);
    await redis.kill();
    await within(node.close(), 5_000, 'close() with Redis down');
    await within(node.close(), 5_000, 'a second close()');
    assert.deepEqual(notices, [], 'the notice listener ended');
  });

  test('a command Redis refuses whole for now (a replica: READONLY; likewise LOADING, CLUSTERDOWN, TRYAGAIN) fails as unavailable and not sent: it did not run', async (t) => {
    const { sender, admin } = await twoNodes(t);
    const first = await sender.publish('room', 'a', policy);
    // A replica of a primary it cannot reach keeps its data and refuses every write.
    await admin.sendCommand(['REPLICAOF', '127.0.0.1', String(await freePort())]);
    t.after(() => admin.sendCommand(['REPLICAOF', 'NO', 'ONE']).catch(() => undefined));
    await assert.rejects(sender.publish('room', 'b', policy), (error: unknown) => {
      assert.ok(error instanceof BrokerUnavailableError, `unavailable: ${String(error)}`);
      assert.match(error.message, /READONLY/);
      assert.equal(error.sent, false, 'Redis answered that it did not run it');
      return true;
    });
    await admin.sendCommand(['REPLICAOF', 'NO', 'ONE']);
    const next = await sender.publish('room', 'c', policy);
    assert.deepEqual([next.epoch, next.offset], [first.epoch, 2], 'the refused publish took no offset');
  });

  test('a write Redis refuses for want of replicas (NOREPLICAS) or while a script runs (BUSY) fails as unavailable and not sent', async (t) => {
    const { sender, admin, redis } = await twoNodes(t);
    const first = await sender.publish('room', 'a', policy);
    const refusedWhole = (code: string) => (error: unknown) => {
      assert.ok(error instanceof BrokerUnavailableError, `unavailable: ${String(error)}`);
      assert.match(error.message, new RegExp(code));
      assert.equal(error.sent, false, 'Redis answered that it did not run it');
      return true;
    };
    // min-replicas-to-write with no replica: every write is refused, reads still answered.
    await admin.sendCommand(['CONFIG', 'SET', 'min-replicas-to-write', '1']);
    await assert.rejects(sender.publish('room', 'b', policy), refusedWhole('NOREPLICAS'));
    await admin.sendCommand(['CONFIG', 'SET', 'min-replicas-to-write', '0']);
    // A script that runs past busy-reply-threshold: every other command is answered BUSY.
    await admin.sendCommand(['CONFIG', 'SET', 'busy-reply-threshold', '50']);
    const looping = createClient({ url: redis.url, RESP: 2 });
    looping.on('error', () => undefined);
    await looping.connect();
    t.after(() => looping.destroy());
    const loop = looping.sendCommand(['EVAL', 'while true do end', '0']).catch(() => undefined);
    await eventually(async () => /^BUSY /.test(String(await admin.sendCommand(['PING']).catch((error: Error) => error.message))), 'Redis busy with the script', 10_000);
    await assert.rejects(sender.publish('room', 'c', policy), refusedWhole('BUSY'));
    await admin.sendCommand(['SCRIPT', 'KILL']);
    await loop;
    const next = await sender.publish('room', 'd', policy);
    assert.deepEqual([next.epoch, next.offset], [first.epoch, 2], 'the refused publishes took no offset');
  });

  test('connect to a Redis Cluster whose seeds refuse connections retries until connectTimeout, then fails with the reason', async () => {
    const seed = `127.0.0.1:${await freePort()}`;
    const started = Date.now();
    await assert.rejects(RedisBroker.connect({ cluster: [seed], connectTimeout: 500 }), (error: unknown) => {
      assert.ok(error instanceof BrokerUnavailableError, `a BrokerUnavailableError: ${String(error)}`);
      assert.equal(error.sent, false);
      assert.match(error.message, new RegExp(`Redis Cluster at ${seed} did not answer within 500 ms`));
      return true;
    });
    assert.ok(Date.now() - started >= 450, 'not given up at the first refusal');
  });

  test('connect fails with the reason when nothing answers', async () => {
    const redis = await RedisServer.start();
    const url = redis.url;
    await redis.kill();
    await assert.rejects(RedisBroker.connect({ url, connectTimeout: 1_000 }), (error: unknown) => {
      assert.ok(error instanceof BrokerUnavailableError, 'a BrokerUnavailableError (code ERR_BROKER_UNAVAILABLE)');
      assert.equal(error.sent, false);
      assert.match(error.message, /did not answer within 1000 ms/);
      return true;
    });
  });
});
