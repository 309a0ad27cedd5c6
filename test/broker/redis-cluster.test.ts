/**
 * The Redis broker against a real Redis Cluster (three primaries, three replicas, started by the
 * test): the shared Broker contract unchanged, channels spread over the shards, and what a
 * cluster adds: a slot moved while publishing, a primary killed and its replica promoted. Every
 * promise is kept or the client is told `recovered: false`.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { ChannelEvent, Recovery } from '../../src/broker/broker.js';
import { LifelineError } from '../../src/core/errors.js';
import { RedisBroker, type RedisBrokerOptions } from '../../src/redis/index.js';
import { RedisCluster, redisClusterSkip } from '../helpers/redis-cluster.js';
import { testPrefix } from '../helpers/redis.js';
import { eventually } from '../helpers/wait.js';
import { brokerContract } from './contract.js';

const policy = { size: 10_000, ttl: 600_000 };

let cluster: RedisCluster | undefined;

function seeds(): string[] {
  if (!cluster) throw new Error('the cluster did not start');
  return cluster.seeds;
}

describe('RedisBroker on a Redis Cluster', { skip: redisClusterSkip }, () => {
  before(async () => {
    cluster = await RedisCluster.start();
  });
  after(() => cluster?.stop());

  async function brokers(t: TestContext, prefix: string, subscriberOptions: RedisBrokerOptions = {}): Promise<[RedisBroker, RedisBroker]> {
    const pair = await Promise.all([RedisBroker.connect({ cluster: seeds(), prefix }), RedisBroker.connect({ ...subscriberOptions, cluster: seeds(), prefix })]);
    t.after(() => Promise.all(pair.map((broker) => broker.close())));
    return pair;
  }

  test('channels spread over the three shards, and each one reaches a subscriber on another node', async (t) => {
    const redis = cluster;
    assert.ok(redis);
    const prefix = testPrefix();
    const [a, b] = await brokers(t, prefix);
    assert.equal(a.sharded, true);
    const channels = Array.from({ length: 30 }, (_, i) => `spread-${i}`);
    const received = new Map<string, unknown>();
    await Promise.all(channels.map((channel) => b.subscribe(channel, (event) => received.set(event.channel, event.data))));
    await Promise.all(channels.map((channel) => a.publish(channel, { channel }, policy)));
    await eventually(() => received.size === channels.length, 'every channel delivered', 10_000);
    for (const channel of channels) assert.deepEqual(received.get(channel), { channel });
    const shards = new Set<number>();
    for (const channel of channels) shards.add(await redis.primaryOf(`${prefix}{c:${channel}}`));
    assert.equal(shards.size, 3, 'the 30 channels live on all three primaries');
  });

  test('a slot moved by redis-cli --cluster reshard while publishing: no offset twice, every acknowledged event delivered once', async (t) => {
    const redis = cluster;
    assert.ok(redis);
    const prefix = testPrefix();
    const [publisher, subscriber] = await brokers(t, prefix);
    // reshard moves the lowest slots of the source first: pick a channel in them.
    const source = await redis.primaryOf(`${prefix}{c:probe}`);
    const [low] = await redis.slotsOf(source);
    assert.ok(low !== undefined);
    const MOVED = 40;
    const channel = await redis.nameInSlots((name) => `${prefix}{c:${name}}`, low, low + MOVED - 1);
    const target = (await redis.primaries()).find((port) => port !== source) ?? 0;
    const delivered: ChannelEvent[] = [];
    await subscriber.subscribe(channel, (event) => delivered.push(event));
    let moved = false;
    const reshard = redis.reshard(source, target, MOVED).then(() => (moved = true));
    const run = await publishWhile(publisher, channel, () => !moved);
    await reshard;
    assert.equal(await redis.primaryOf(`${prefix}{c:${channel}}`), target, 'the channel now lives on the other primary');
    await checkPromises(run, delivered);
  });

  test('a slot moved to a primary the subscriber already listens on: an event published during the move arrives without a later publish', async (t) => {
    const redis = cluster;
    assert.ok(redis);
    const prefix = testPrefix();
    // The check runs every second here (5 s by default); the wait below is far longer.
    const [publisher, subscriber] = await brokers(t, prefix, { quietCheck: 1_000 });
    const source = await redis.primaryOf(`${prefix}{c:probe}`);
    const [slot] = await redis.slotsOf(source);
    assert.ok(slot !== undefined);
    const channel = await redis.nameInSlots((name) => `${prefix}{c:${name}}`, slot, slot);
    const target = (await redis.primaries()).find((port) => port !== source) ?? 0;
    // A subscription on the target first: the subscriber's connection to it is in place, so
    // the client library moves the channel's subscription there without a new connection.
    const [targetSlot] = await redis.slotsOf(target);
    assert.ok(targetSlot !== undefined);
    await subscriber.subscribe(await redis.nameInSlots((name) => `${prefix}{c:${name}}`, targetSlot, targetSlot), () => undefined);
    const delivered: ChannelEvent[] = [];
    await subscriber.subscribe(channel, (event) => delivered.push(event));
    const acked: ChannelEvent[] = [];
    for (let i = 1; i <= 3; i++) acked.push(await publisher.publish(channel, { i }, policy));
    await eventually(() => delivered.length === 3, 'three deliveries before the move', 10_000);
    // Published once the history moved to the target, before the subscription follows: nobody
    // on the target listens yet. Nothing is published after it.
    await redis.moveSlot(slot, source, target, async () => {
      acked.push(await untilAvailable(() => publisher.publish(channel, { i: 4 }, policy)));
    });
    assert.equal(await redis.primaryOf(`${prefix}{c:${channel}}`), target, 'the channel now lives on the other primary');
    await checkPromises({ acked, unavailable: 0 }, delivered);
    assert.equal(delivered.length, 4);
  });

  test('a primary killed while publishing: its replica takes over; no offset twice, every acknowledged event delivered or a new epoch', async (t) => {
    const redis = cluster;
    assert.ok(redis);
    const prefix = testPrefix();
    const [publisher, subscriber] = await brokers(t, prefix);
    const channel = `failover-${randomUUID().slice(0, 6)}`;
    const primary = await redis.primaryOf(`${prefix}{c:${channel}}`);
    const delivered: ChannelEvent[] = [];
    await subscriber.subscribe(channel, (event) => delivered.push(event));
    let promoted = false;
    const failover = (async () => {
      await eventually(async () => (await publisher.recover(channel, undefined, 0)).position.offset >= 20, '20 events before the kill', 10_000);
      await redis.kill(primary);
      await redis.settled();
      promoted = true;
    })();
    const run = await publishWhile(publisher, channel, () => !promoted);
    await failover;
    assert.notEqual(await redis.primaryOf(`${prefix}{c:${channel}}`), primary, 'a replica took over');
    await checkPromises(run, delivered);
    await redis.restore();
  });

  test('failover to a lagging replica: the channel starts a new epoch, old positions are told recovered: false, no offset carries two events', async (t) => {
    const redis = cluster;
    assert.ok(redis);
    const prefix = testPrefix();
    const [publisher, subscriber] = await brokers(t, prefix);
    const channel = `lagging-${randomUUID().slice(0, 6)}`;
    const primary = await redis.primaryOf(`${prefix}{c:${channel}}`);
    const replica = await replicaOf(redis, primary);
    const delivered: ChannelEvent[] = [];
    await subscriber.subscribe(channel, (event) => delivered.push(event));
    const given: ChannelEvent[] = [];
    for (let i = 1; i <= 5; i++) given.push(await publisher.publish(channel, { i }, policy));
    await eventually(() => inSync(redis, primary, replica), 'the replica linked to its primary and in sync', 20_000);
    // The replica stops applying its primary's stream (writes are paused on it): 6 to 10 are
    // acknowledged by the primary alone, which is then killed. The replica takes over without them.
    // The pause lasts until the replica has taken over, however long the failover takes on a
    // busy machine (a pause that ran out first let it apply 6 to 10 before it was promoted).
    await redis.command(replica, 'CLIENT', 'PAUSE', '60000', 'WRITE');
    const unpause = (): Promise<unknown> => redis.command(replica, 'CLIENT', 'UNPAUSE').catch(() => undefined);
    for (let i = 6; i <= 10; i++) given.push(await publisher.publish(channel, { i }, policy));
    const old = given.at(-1);
    assert.ok(old && old.offset === 10);
    assert.ok((await replicationOffset(redis, replica)) < (await replicationOffset(redis, primary)), 'the replica lags');
    await eventually(() => delivered.length === 10, 'ten deliveries before the failover', 10_000);
    await redis.kill(primary);
    t.after(async () => {
      await unpause();
      await redis.restore();
    });
    await redis.settled();
    assert.equal(await redis.primaryOf(`${prefix}{c:${channel}}`), replica, 'the lagging replica took over');
    // Promoted: what it held of its old primary's stream is dropped; now it takes writes.
    await unpause();

    // Publishing goes on (refused as unavailable while each node finds the new primary).
    for (let i = 11; i <= 15; i++) given.push(await untilAvailable(() => publisher.publish(channel, { i }, policy)));
    const fresh = given.slice(10);
    assert.ok(fresh.every((event) => event.epoch !== old.epoch), 'a new epoch, not offsets 6 to 10 again under the old one');
    assert.deepEqual(fresh.map((event) => event.offset), [1, 2, 3, 4, 5]);

    // A client of the old epoch, wherever it stopped (on the replica's data or past it), is told recovered: false.
    const since = (offset: number): Promise<Recovery> => subscriber.recover(channel, { epoch: old.epoch, offset }, 100);
    for (const offset of [3, 5, 8, 10]) {
      const recovery = await untilAvailable(() => since(offset));
      assert.equal(recovery.recovered, false, `since ${offset} of the old epoch`);
    }
    // The subscriber on the other node: every event once, and never two events under one position.
    await checkPromises({ acked: given, unavailable: 0 }, delivered);
    assert.equal(delivered.length, 15);
  });

  brokerContract('RedisBroker (Cluster)', (clock, limits) => RedisBroker.connect({ cluster: seeds(), prefix: testPrefix(), clock, ...limits }));
});

interface Run {
  /** Acknowledged publishes: the position each one was given. */
  readonly acked: ChannelEvent[];
  /** Publishes refused as unavailable (no promise made). */
  unavailable: number;
}

/**
 * Publishes `{ i }` one after another while `going()` holds, then 30 more acknowledged ones
 * (bounded: 3 000 attempts, 60 s). A refused publish must say "unavailable" and is retried later.
 */
async function publishWhile(broker: RedisBroker, channel: string, going: () => boolean): Promise<Run> {
  const run: Run = { acked: [], unavailable: 0 };
  const deadline = Date.now() + 60_000;
  let after = 0;
  for (let i = 1; i <= 3_000 && Date.now() < deadline && after < 30; i++) {
    if (!going()) after++;
    try {
      run.acked.push(await broker.publish(channel, { i }, policy));
    } catch (error) {
      assert.ok(error instanceof LifelineError && error.code === 'ERR_BROKER_UNAVAILABLE', `a refused publish says unavailable: ${String(error)}`);
      run.unavailable++;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  assert.equal(after, 30, 'publishing went on after the change');
  return run;
}

/** No position given twice; within an epoch offsets climb by one; every acknowledged event of the last epoch is delivered once. */
async function checkPromises(run: Run, delivered: readonly ChannelEvent[]): Promise<void> {
  const key = (event: ChannelEvent): string => `${event.epoch}/${event.offset}`;
  const given = new Map<string, unknown>();
  for (const event of run.acked) {
    assert.equal(given.has(key(event)), false, `position ${key(event)} given twice`);
    given.set(key(event), event.data);
  }
  const last = run.acked.at(-1);
  assert.ok(last);
  await eventually(() => delivered.some((event) => key(event) === key(last)), `delivery of ${key(last)}`, 10_000);
  const seen = new Set<string>();
  for (const [i, event] of delivered.entries()) {
    assert.equal(seen.has(key(event)), false, `${key(event)} delivered twice`);
    seen.add(key(event));
    if (given.has(key(event))) assert.deepEqual(event.data, given.get(key(event)), `${key(event)} carries what was acknowledged`);
    const previous = delivered[i - 1];
    if (previous && previous.epoch === event.epoch) assert.equal(event.offset, previous.offset + 1, `no hole or reorder at ${key(event)}`);
  }
  for (const event of run.acked) if (event.epoch === last.epoch) assert.ok(seen.has(key(event)), `acknowledged ${key(event)} delivered`);
}

/** The port of the replica of the primary on `port`. */
async function replicaOf(redis: RedisCluster, port: number): Promise<number> {
  const lines = (await redis.command(port, 'CLUSTER', 'NODES')).split('\n').map((line) => line.split(' '));
  const id = lines.find((fields) => fields[1]?.includes(`:${port}@`))?.[0];
  const replica = lines.find((fields) => fields[2]?.includes('slave') && fields[3] === id);
  const found = Number(/:(\d+)@/.exec(replica?.[1] ?? '')?.[1]);
  assert.ok(Number.isInteger(found), `a replica of ${port}`);
  return found;
}

/**
 * Whether `replica` is linked to `primary` and has applied all it sent. The link is checked too:
 * a node a previous test restarted reports an offset from its old history until it has synced,
 * which can read as "in sync" (and later as not lagging) while it is not replicating yet.
 */
async function inSync(redis: RedisCluster, primary: number, replica: number): Promise<boolean> {
  const info = await redis.command(replica, 'INFO', 'replication');
  const linked = /master_link_status:up/.test(info) && new RegExp(`master_port:${primary}\\b`).test(info);
  return linked && (await replicationOffset(redis, replica)) >= (await replicationOffset(redis, primary));
}

/** How far a node's replication stream went (a primary's: what it sent; a replica's: what it applied). */
async function replicationOffset(redis: RedisCluster, port: number): Promise<number> {
  const info = await redis.command(port, 'INFO', 'replication');
  return Number(/master_repl_offset:(\d+)/.exec(info)?.[1] ?? -1);
}

/** Calls `call` until it does not say "unavailable" (a node still finding the new primary): bounded, 200 attempts 50 ms apart. */
async function untilAvailable<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      assert.ok(error instanceof LifelineError && error.code === 'ERR_BROKER_UNAVAILABLE', `a refusal says unavailable: ${String(error)}`);
      if (attempt >= 200) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
