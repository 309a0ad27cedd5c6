/**
 * The Redis broker against a real Redis server: the shared Broker contract, unchanged, and what
 * only a networked broker has to promise (several brokers as several nodes, history surviving a
 * node, connection loss).
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { createClient } from '@redis/client';
import { pino } from 'pino';
import { BrokerUnavailableError, RedisBroker, type RedisBrokerOptions } from '../../src/redis/index.js';
import { RedisKeys } from '../../src/redis/keys.js';
import * as channelScripts from '../../src/redis/scripts/channel.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { redisSkip, redisUrl, testPrefix } from '../helpers/redis.js';
import { within } from '../helpers/wait.js';
import { brokerContract } from './contract.js';

type LogLine = { msg?: string; failures?: number; ignored?: number };

/**
 * A broker on a fresh prefix with a fake clock and a logger at `warn` whose lines land in
 * `lines`, and a plain client for the test's own commands; both closed after the test.
 */
async function setup(t: TestContext, options: Omit<RedisBrokerOptions, 'url' | 'prefix' | 'clock' | 'logger'>) {
  const prefix = testPrefix();
  const lines: LogLine[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  const clock = new FakeClock();
  const broker = await RedisBroker.connect({ url: redisUrl, prefix, clock, logger, ...options });
  t.after(() => broker.close());
  const admin = createClient({ url: redisUrl, RESP: 2 });
  admin.on('error', () => undefined);
  await admin.connect();
  t.after(() => admin.destroy());
  return { broker, admin, lines, clock, keys: new RedisKeys(prefix) };
}

describe('RedisBroker', { skip: redisSkip }, () => {
  brokerContract('RedisBroker', (clock, limits) => RedisBroker.connect({ url: redisUrl, prefix: testPrefix(), clock, ...limits }));

  test('the per-user key quota never fails a publish: when its count fails, the event is published, acknowledged once, and the failure logged at most every 10 s', async (t) => {
    const { broker, admin, lines, clock, keys } = await setup(t, { maxKeysPerUser: 2 });
    // The user's index is not a sorted set (a foreign key, say): every count fails with WRONGTYPE.
    await admin.sendCommand(['SET', keys.heldKeys('u:"ann"'), 'not a sorted set']);
    const policy = { size: 100, ttl: 600_000 };
    const keyed = (i: number) => ({ key: `u:"ann"\n${i}`, digest: `d-${i}`, ttl: 86_400_000, holder: 'u:"ann"' });
    const offsets: number[] = [];
    for (let i = 1; i <= 3; i++) offsets.push((await broker.publish('doc', i, policy, keyed(i))).offset);
    assert.deepEqual(offsets, [1, 2, 3], 'each publish went through');
    assert.equal((await broker.publish('doc', 1, policy, keyed(1))).offset, 1, 'and still deduplicates');
    const warned = () => lines.filter((line) => line.msg?.startsWith('idempotency-key quota not applied'));
    assert.deepEqual(warned().map((line) => line.failures), [1], 'one line for four failures within 10 s');
    clock.tick(10_000);
    await broker.publish('doc', 5, policy, keyed(5));
    assert.deepEqual(warned().map((line) => line.failures), [1, 4], 'the next line counts the failures since the last');
  });

  test('a malformed message under the prefix (another version, a foreign publisher) is ignored and logged at most every 10 s: later events, direct messages and notices still arrive and the broker stays ready', async (t) => {
    // quietCheck 0: nothing but pub/sub itself can bring a later message.
    const { broker, admin, lines, keys } = await setup(t, { quietCheck: 0 });
    const publish = broker.sharded ? 'SPUBLISH' : 'PUBLISH';
    const policy = { size: 100, ttl: 600_000 };

    let onEvent: (offset: number) => void = () => undefined;
    let onDirect: (seq: number) => void = () => undefined;
    let onNotice: (reason: string) => void = () => undefined;
    await broker.subscribe('room', (event) => onEvent(event.offset));
    await broker.subscribeDirect('S', (message) => onDirect(message.seq));
    await broker.onBroadcast((notice) => onNotice('reason' in notice ? notice.reason : ''));

    await admin.sendCommand([publish, keys.channel('room').events, 'x 1 not-json']);
    await admin.sendCommand([publish, keys.session('S').direct, '1 {']);
    await admin.sendCommand(['PUBLISH', keys.control, '{']);

    const event = new Promise<number>((resolve) => (onEvent = resolve));
    const direct = new Promise<number>((resolve) => (onDirect = resolve));
    const notice = new Promise<string>((resolve) => (onNotice = resolve));
    await broker.publish('room', 'good', policy);
    await broker.sendDirect('S', 'good', 60_000);
    await broker.broadcast({ kind: 'disconnect-user', user: 'u', reason: 'good' });
    assert.equal(await within(event, 2_000, 'the good event'), 1);
    assert.equal(await within(direct, 2_000, 'the good direct message'), 1);
    assert.equal(await within(notice, 2_000, 'the good notice'), 'good');
    assert.equal(broker.isReady(), true);
    const warned = lines.filter((line) => line.msg?.startsWith('ignored malformed'));
    assert.deepEqual(warned.map((line) => line.ignored), [1], 'one line for both within 10 s');
  });
  test('on one Redis server an idle node sends no quiet-check reads: only a Cluster moves a subscription without a new connection', async (t) => {
    const { broker, admin, clock, keys } = await setup(t, { quietCheck: 1_000 });
    await broker.subscribe('room', () => undefined);
    await broker.subscribeDirect('S', () => undefined);
    const monitor = admin.duplicate();
    monitor.on('error', () => undefined);
    await monitor.connect();
    t.after(() => monitor.destroy());
    const seen: string[] = [];
    let onMarker: () => void = () => undefined;
    const marker = new Promise<void>((resolve) => (onMarker = resolve));
    const ours = [keys.channel('room').meta, keys.session('S').outboxMeta, keys.channel('marker').meta];
    await monitor.monitor((line) => {
      if (!ours.some((key) => line.includes(key))) return;
      seen.push(line);
      if (line.includes(keys.channel('marker').meta)) onMarker();
    });
    // Ten quiet periods and more: a cluster node would have read both heads several times.
    for (let i = 0; i < 12; i++) await clock.tickAsync(1_000);
    // On the same connection after anything the ticks sent: once MONITOR shows it, it showed them.
    await broker.recover('marker', undefined, 0);
    await within(marker, 5_000, 'the marker command in MONITOR');
    const heads = seen.filter((line) => /"H(M)?GET"/i.test(line) && !line.includes(keys.channel('marker').meta));
    assert.deepEqual(heads, [], 'no head read while idle');
  });

  test('a channel with more presence members than Lua can unpack at once (8 000, several nodes\' worth) is listed whole', async (t) => {
    const { broker } = await setup(t, {});
    const count = 8_500;
    // Sent at once: the client pipelines them.
    await Promise.all(Array.from({ length: count }, (_, i) => broker.presenceJoin('crowd', { client: `c${i}`, user: i }, 60_000)));
    const members = await broker.presence('crowd');
    assert.equal(members.length, count);
    assert.deepEqual(new Set(members.map((member) => member.client)), new Set(Array.from({ length: count }, (_, i) => `c${i}`)));
  });

  test('a call after close() fails as unavailable and not sent: it never left the node', async () => {
    const broker = await RedisBroker.connect({ url: redisUrl, prefix: testPrefix() });
    await broker.close();
    await assert.rejects(broker.publish('room', 'late', { size: 10, ttl: 60_000 }), (error: unknown) => {
      assert.ok(error instanceof BrokerUnavailableError, `unavailable: ${String(error)}`);
      assert.equal(error.sent, false);
      return true;
    });
  });

  test('the publish script refuses a size or ttl Redis cannot take before writing anything: the head does not move', async (t) => {
    const { broker, admin, keys } = await setup(t, {});
    const policy = { size: 10, ttl: 60_000 };
    const first = await broker.publish('room', 1, policy);
    const { meta, log, events } = keys.channel('room');
    for (const [size, ttl] of [['inf', '60000'], ['2.5', '60000'], ['-1', '60000'], ['10', '1e20']]) {
      const args = ['1', '1000', size ?? '', ttl ?? '', 'fresh', '3600000', 'PUBLISH', events, '', '', '', first.epoch, '1', '0'];
      await assert.rejects(admin.sendCommand(['EVAL', channelScripts.PUBLISH, '2', meta, log, ...args]), /history size and ttl must be whole numbers/);
    }
    assert.deepEqual((await broker.recover('room', undefined, 0)).position, { epoch: first.epoch, offset: 1 }, 'no offset burnt');
    assert.equal((await broker.publish('room', 2, policy)).offset, 2);
  });
  test('a repeated keyed publish answering a position of an older epoch does not roll back what the node knows: a head gone back later still starts a new epoch', async (t) => {
    const { broker, admin, keys } = await setup(t, {});
    const policy = { size: 100, ttl: 600_000 };
    const origin = { key: 'K', digest: 'd1', ttl: 86_400_000 };
    const first = await broker.publish('ch', 'keyed', policy, origin);
    const { meta, log } = keys.channel('ch');
    // The channel idled out (idleChannelTtl) while its key record (24 h) lives on.
    await admin.sendCommand(['DEL', meta, log]);
    let epoch = '';
    for (let i = 1; i <= 5; i++) epoch = (await broker.publish('ch', i, policy)).epoch;
    assert.notEqual(epoch, first.epoch);
    const repeat = await broker.publish('ch', 'keyed', policy, origin);
    assert.deepEqual([repeat.epoch, repeat.offset], [first.epoch, 1], 'the repeat answers the stored position');
    // A failover to a replica that lacks offsets 4 and 5.
    await admin.sendCommand(['HSET', meta, 'h', '3']);
    const next = await broker.publish('ch', 'after', policy);
    assert.notDeepEqual([next.epoch, next.offset], [epoch, 4], 'offset 4 is not issued twice');
    assert.notEqual(next.epoch, epoch, 'a new epoch');
    assert.equal(next.offset, 1);
  });
  test('direct messages after a failover that lost the last seqs: the serving node\'s session refresh raises the outbox\'s seq to what it heard, so the next message gets a new seq and arrives', async (t) => {
    const { broker, admin, keys } = await setup(t, {});
    await broker.saveSession('S1', { user: 'ann', window: { acked: 0, floor: 0, replies: [] } }, 60_000);
    const heard: [number, unknown][] = [];
    let onDirect: () => void = () => undefined;
    await broker.subscribeDirect('S1', (message) => {
      heard.push([message.seq, message.data]);
      onDirect();
    });
    const three = new Promise<void>((resolve) => (onDirect = () => heard.length === 3 && resolve()));
    for (const data of ['a', 'b', 'c']) await broker.sendDirect('S1', data, 60_000);
    await within(three, 2_000, 'the first three');
    // A failover to a replica that had received only seq 1.
    const { outboxMeta, outbox } = keys.session('S1');
    await admin.sendCommand(['HSET', outboxMeta, 'n', '1']);
    await admin.sendCommand(['ZREMRANGEBYSCORE', outbox, '2', '3']);
    assert.deepEqual(await broker.refreshSessions(['S1'], 60_000), []);
    const fourth = new Promise<void>((resolve) => (onDirect = () => heard.length === 4 && resolve()));
    assert.deepEqual(await broker.sendDirect('S1', 'new', 60_000), { seq: 4, data: 'new' }, 'not seq 2 again');
    await within(fourth, 2_000, 'the new message');
    assert.deepEqual(heard.at(-1), [4, 'new']);
    await broker.ackDirect('S1', 3);
    assert.deepEqual(await broker.pendingDirect('S1', 3), [{ seq: 4, data: 'new' }], 'the ack of what the client saw keeps it');
  });
});

test('a key prefix with a brace is refused before connecting: it would be every key\'s hash tag (one slot, or CROSSSLOT on a Cluster)', async () => {
  for (const prefix of ['app{1}:', 'a{', '}']) {
    await assert.rejects(RedisBroker.connect({ url: 'redis://127.0.0.1:1', prefix, connectTimeout: 100 }), (error: Error & { code?: string }) => error.code === 'ERR_INVALID_OPTION' && /must not contain "\{" or "\}"/.test(error.message), prefix);
  }
});
