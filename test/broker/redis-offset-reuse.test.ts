/**
 * Redis back with older data (here: a server reloading an older snapshot, as after a failover
 * to a lagging replica or a restore) must never make a channel issue an offset twice: a node
 * that has seen the channel further along starts a new epoch, so clients holding positions of
 * the old one are told `recovered: false`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { ChannelEvent } from '../../src/broker/broker.js';
import { RedisBroker } from '../../src/redis/index.js';
import { testPrefix } from '../helpers/redis.js';
import { RedisServer, redisServerSkip } from '../helpers/redis-server.js';
import { eventually } from '../helpers/wait.js';

const run = promisify(execFile);
const policy = { size: 100, ttl: 600_000 };

test('data gone back: the next publish and recovery start a new epoch; no offset is issued twice', { skip: redisServerSkip }, async (t) => {
  const redis = await RedisServer.start();
  t.after(() => redis.kill());
  const redisCli = (...args: string[]): Promise<unknown> => run('redis-cli', ['-p', String(redis.port), ...args], { timeout: 10_000 });
  const prefix = testPrefix();
  const [publisher, subscriber] = await Promise.all([RedisBroker.connect({ url: redis.url, prefix }), RedisBroker.connect({ url: redis.url, prefix })]);
  t.after(() => Promise.all([publisher.close(), subscriber.close()]));
  const delivered: ChannelEvent[] = [];
  await subscriber.subscribe('room', (event) => delivered.push(event));

  for (let i = 1; i <= 5; i++) await publisher.publish('room', { i }, policy);
  await redisCli('SAVE');
  let old = '';
  for (let i = 6; i <= 10; i++) old = (await publisher.publish('room', { i }, policy)).epoch;
  await eventually(() => delivered.length === 10, 'ten deliveries', 10_000);
  // Redis now holds the channel as it was at offset 5.
  await redisCli('DEBUG', 'RELOAD', 'NOSAVE');

  const next = await publisher.publish('room', { i: 11 }, policy);
  assert.notEqual(next.epoch, old, 'a new epoch, not offset 6 again under the old one');
  assert.equal(next.offset, 1);
  await eventually(() => delivered.length === 11, 'the new epoch delivered', 10_000);
  const positions = delivered.map((event) => `${event.epoch}/${event.offset}`);
  assert.equal(new Set(positions).size, positions.length, 'no position delivered twice');

  // A client of the old epoch, wherever it stopped, is told recovered: false.
  for (const offset of [4, 7, 10]) {
    const recovery = await subscriber.recover('room', { epoch: old, offset }, 100);
    assert.equal(recovery.recovered, false, `since ${offset} of the old epoch`);
    assert.deepEqual(recovery.position, { epoch: next.epoch, offset: 1 });
  }
});

test('a node that saw the channel further notices on its next recovery, before any publish', { skip: redisServerSkip }, async (t) => {
  const redis = await RedisServer.start();
  t.after(() => redis.kill());
  const prefix = testPrefix();
  const broker = await RedisBroker.connect({ url: redis.url, prefix });
  t.after(() => broker.close());
  for (let i = 1; i <= 3; i++) await broker.publish('room', { i }, policy);
  await run('redis-cli', ['-p', String(redis.port), 'SAVE'], { timeout: 10_000 });
  const seen = await broker.publish('room', { i: 4 }, policy);
  await run('redis-cli', ['-p', String(redis.port), 'DEBUG', 'RELOAD', 'NOSAVE'], { timeout: 10_000 });
  const head = await broker.recover('room', undefined, 0);
  assert.notEqual(head.position.epoch, seen.epoch);
  // A node that never saw the channel now publishes in the new epoch too.
  const other = await RedisBroker.connect({ url: redis.url, prefix });
  t.after(() => other.close());
  assert.equal((await other.publish('room', { i: 5 }, policy)).epoch, head.position.epoch);
});

test('a late event of an epoch the channel left does not set the node back: data gone back is still noticed', { skip: redisServerSkip }, async (t) => {
  const redis = await RedisServer.start();
  t.after(() => redis.kill());
  const redisCli = (...args: string[]): Promise<unknown> => run('redis-cli', ['-p', String(redis.port), ...args], { timeout: 10_000 });
  const prefix = testPrefix();
  const [publisher, node] = await Promise.all([RedisBroker.connect({ url: redis.url, prefix }), RedisBroker.connect({ url: redis.url, prefix })]);
  t.after(() => Promise.all([publisher.close(), node.close()]));
  const delivered: ChannelEvent[] = [];
  await node.subscribe('room', (event) => delivered.push(event));

  const old = (await publisher.publish('room', { i: 1 }, policy)).epoch;
  await eventually(() => delivered.length === 1, 'the first event', 10_000);
  // Redis back empty for the channel: a new epoch from offset 1.
  await redisCli('DEL', `${prefix}{c:room}`, `${prefix}{c:room}:log`);
  let current = '';
  for (let i = 1; i <= 4; i++) current = (await publisher.publish('room', { i }, policy)).epoch;
  assert.notEqual(current, old);
  await redisCli('SAVE');
  for (let i = 5; i <= 6; i++) await publisher.publish('room', { i }, policy);
  await eventually(() => delivered.length === 7, 'the new epoch delivered up to 6', 10_000);
  // A late event of the old epoch, as one heard on another connection after the change. The node
  // answers it by reading the channel's stream (a script): once that ran, the event was heard.
  const scriptCalls = async (): Promise<number> => {
    const { stdout } = (await redisCli('INFO', 'commandstats')) as { stdout: string };
    return Number(/cmdstat_evalsha:calls=(\d+)/.exec(stdout)?.[1] ?? 0);
  };
  const before = await scriptCalls();
  await redisCli('SPUBLISH', `${prefix}{c:room}:ev`, `${old} 2 {"late":true}`);
  await eventually(async () => (await scriptCalls()) > before, 'the node to read the stream', 10_000);
  // Redis back at offset 4 of the current epoch.
  await redisCli('DEBUG', 'RELOAD', 'NOSAVE');

  // The node saw offset 6 of the current epoch: its next publish must not issue 5 again.
  const next = await node.publish('room', { i: 'after' }, policy);
  assert.notEqual(next.epoch, current, `a new epoch, not ${current}/5 again`);
  assert.equal(next.offset, 1);
  assert.equal(delivered.some((event) => event.epoch === old && event.offset === 2), false, 'the late event is not delivered');
});
