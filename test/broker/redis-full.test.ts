/**
 * A full Redis (`maxmemory` reached, `noeviction`, as docs/scaling.md recommends) refuses new
 * events: the publish that does not fit is told `unavailable` (nothing was published, a resend
 * may try again), nothing acknowledged before is lost, nothing crashes, the connection stays,
 * and once Redis has room again publishing works in the same epoch.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { pino } from 'pino';
import WebSocket from 'ws';
import type { ChannelEvent } from '../../src/broker/broker.js';
import { BrokerUnavailableError, RedisBroker } from '../../src/redis/index.js';
import { createStandalone } from '../../src/standalone/standalone.js';
import { startServer } from '../../src/testing/server-fixture.js';
import { testPrefix } from '../helpers/redis.js';
import { RedisServer, redisServerSkip } from '../helpers/redis-server.js';
import { eventually, within } from '../helpers/wait.js';
import { ProtocolClient } from '../server/protocol/protocol-client.js';

const run = promisify(execFile);
const policy = { size: 10_000, ttl: 600_000 };
/** Bound on publishes: far more than 2 MiB of room holds (the test fails, not hangs, if Redis never fills). */
const MAX_PUBLISHES = 400;

/** A private redis-server with only `room` bytes above what it uses empty, refusing writes when full. */
async function fullableRedis(t: TestContext, room: number): Promise<{ redis: RedisServer; cli: (...args: string[]) => Promise<string> }> {
  const redis = await RedisServer.start();
  t.after(() => redis.kill());
  const cli = async (...args: string[]): Promise<string> => (await run('redis-cli', ['-p', String(redis.port), ...args], { timeout: 10_000 })).stdout;
  const used = Number(/used_memory:(\d+)/.exec(await cli('INFO', 'memory'))?.[1]);
  assert.ok(used > 0, 'used_memory read');
  await cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
  await cli('CONFIG', 'SET', 'maxmemory', String(used + room));
  return { redis, cli };
}

test('RedisBroker: a publish that does not fit is refused as unavailable (not sent); nothing acknowledged is lost; more room, publishing again', { skip: redisServerSkip }, async (t) => {
  const { redis, cli } = await fullableRedis(t, 2 * 1024 * 1024);
  const prefix = testPrefix();
  const [publisher, subscriber] = await Promise.all([RedisBroker.connect({ url: redis.url, prefix }), RedisBroker.connect({ url: redis.url, prefix })]);
  t.after(() => Promise.all([publisher.close(), subscriber.close()]));
  const delivered: ChannelEvent[] = [];
  await subscriber.subscribe('big', (event) => delivered.push(event));

  const blob = 'x'.repeat(100 * 1024);
  const acked: ChannelEvent[] = [];
  let refused: unknown;
  for (let i = 1; i <= MAX_PUBLISHES && refused === undefined; i++) {
    try {
      acked.push(await publisher.publish('big', { i, blob }, policy));
    } catch (error) {
      refused = error;
    }
  }
  assert.ok(refused !== undefined, `Redis refused a publish within ${MAX_PUBLISHES}`);
  assert.ok(acked.length > 0, 'some events fitted first');
  assert.ok(refused instanceof BrokerUnavailableError, `a BrokerUnavailableError, not ${String(refused)}`);
  assert.equal(refused.code, 'ERR_BROKER_UNAVAILABLE');
  assert.equal(refused.sent, false, 'OOM: the script wrote nothing');
  assert.match(refused.message, /maxmemory/);

  // Every acknowledged event is still there, in order, and was delivered.
  const [first] = acked;
  assert.ok(first);
  const recovery = await subscriber.recover('big', { epoch: first.epoch, offset: 0 }, 10_000);
  assert.equal(recovery.recovered, true);
  assert.deepEqual(
    recovery.events.map((event) => event.offset),
    acked.map((event) => event.offset),
  );
  assert.deepEqual(
    acked.map((event) => event.offset),
    acked.map((_, index) => index + 1),
  );
  await eventually(() => delivered.length === acked.length, 'every acknowledged event delivered', 10_000);
  assert.deepEqual(
    delivered.map((event) => event.offset),
    acked.map((event) => event.offset),
  );

  // Still full: refused again, the same way.
  await assert.rejects(publisher.publish('big', { blob }, policy), BrokerUnavailableError);

  await cli('CONFIG', 'SET', 'maxmemory', '0');
  const next = await publisher.publish('big', { after: true }, policy);
  assert.deepEqual({ epoch: next.epoch, offset: next.offset }, { epoch: first.epoch, offset: acked.length + 1 });
  await eventually(() => delivered.length === acked.length + 1, 'the next event delivered', 10_000);
});

test('server: a client publishing into a full Redis gets unavailable, keeps its connection and every acked event', { skip: redisServerSkip }, async (t) => {
  const { redis, cli } = await fullableRedis(t, 2 * 1024 * 1024);
  const broker = await RedisBroker.connect({ url: redis.url, prefix: testPrefix() });
  t.after(() => broker.close());
  const fixture = await startServer({ broker, channels: { big: { history: policy }, other: { history: policy }, room: { presence: true } } });
  t.after(fixture.close);
  const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
  const { client: reader } = await ProtocolClient.connect(t, fixture.wsUrl);
  await reader.subscribe(1, 'big');
  const epochs = new Set<string>();

  const blob = 'x'.repeat(50 * 1024);
  let acked = 0;
  let refusal: unknown;
  for (let id = 1; id <= MAX_PUBLISHES && refusal === undefined; id++) {
    const reply = await client.publish(id, 'big', { id, blob });
    if (reply.type === 'ack') {
      assert.equal(reply.position.offset, ++acked);
      epochs.add(reply.position.epoch);
    } else refusal = reply;
  }
  assert.ok(acked > 0, 'some events fitted first');
  assert.equal(epochs.size, 1, 'one epoch throughout');
  assert.ok(refusal !== undefined, `Redis refused a publish within ${MAX_PUBLISHES}`);
  assert.deepEqual(refusal, { type: 'error', id: acked + 1, code: 'unavailable', message: 'the message could not be published; nothing was published' });

  // The connection stays and answers; the reader got every acked event, in order.
  await client.subscribe(2, 'other');
  await eventually(() => reader.events('big').length === acked, 'every acked event delivered', 10_000);
  assert.deepEqual(
    reader.events('big').map((event) => event.offset),
    Array.from({ length: acked }, (_, index) => index + 1),
  );

  // A presence join needs a write too: refused the same way, not an internal error.
  client.send({ type: 'subscribe', id: 9_000, channel: 'room' });
  const join = await client.reply(9_000);
  assert.ok(join.type === 'subscribed' || (join.type === 'error' && join.code === 'unavailable'), `subscribed or unavailable, not ${JSON.stringify(join)}`);

  // A new session: welcomed, or (when it cannot be stored) asked to come back later with 1013; never 1011.
  const late = await ProtocolClient.open(fixture.wsUrl);
  t.after(() => late.ws.terminate());
  late.send({ type: 'hello', v: 1 });
  const hello = await within(Promise.race([late.take('welcome').then(() => 'welcome'), late.closed.then((close) => String(close.code))]), 10_000, 'the late hello answered');
  assert.ok(hello === 'welcome' || hello === '1013', `welcome or 1013, not ${hello}`);

  // More room: the same id, resent, is published now (it was not recorded as answered).
  await cli('CONFIG', 'SET', 'maxmemory', '0');
  const resent = await client.publish(acked + 1, 'big', { id: acked + 1, blob });
  assert.equal(resent.type, 'ack');
  assert.equal(resent.type === 'ack' && resent.position.offset, acked + 1);
  assert.equal(client.log.some((message) => message.type === 'error' && message.code !== 'unavailable'), false, 'no other error');
  assert.equal(client.ws.readyState, WebSocket.OPEN, 'never closed (no 1011)');
});

test('HTTP API: a publish into a full Redis gets 503 with Retry-After, nothing published; acked events kept; more room, 200 again', { skip: redisServerSkip }, async (t) => {
  const { redis, cli } = await fullableRedis(t, 2 * 1024 * 1024);
  const broker = await RedisBroker.connect({ url: redis.url, prefix: testPrefix() });
  t.after(() => broker.close());
  const key = 'redis-full-test-key-0123456789';
  const standalone = createStandalone({ port: 0, allowAnonymous: true, apiKey: key, pingInterval: 0 }, { log: pino({ level: 'silent' }), broker });
  t.after(async () => {
    await standalone.server.close({ drainTimeout: 0 });
    await standalone.close();
  });
  const base = (await standalone.server.listen()).url;
  const publish = async (data: unknown): Promise<{ status: number; retryAfter: string | null; body: { position?: { offset: number }; error?: { code: string; message: string } } }> => {
    const response = await within(
      fetch(`${base}/api/v1/channels/chat:big/publish`, { method: 'POST', body: JSON.stringify({ data }), headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' } }),
      10_000,
      'an HTTP publish answered',
    );
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as { position?: { offset: number } } };
  };

  const blob = 'x'.repeat(50 * 1024);
  let acked = 0;
  let refusal: Awaited<ReturnType<typeof publish>> | undefined;
  for (let i = 1; i <= MAX_PUBLISHES && refusal === undefined; i++) {
    const answer = await publish({ i, blob });
    if (answer.status === 200) assert.equal(answer.body.position?.offset, ++acked);
    else refusal = answer;
  }
  assert.ok(acked > 0, 'some events fitted first');
  assert.ok(refusal !== undefined, `Redis refused a publish within ${MAX_PUBLISHES}`);
  assert.equal(refusal.status, 503);
  assert.equal(refusal.retryAfter, '1');
  assert.equal(refusal.body.error?.code, 'unavailable');
  assert.match(refusal.body.error?.message ?? '', /nothing was published/);

  // Nothing of the refused publish was written; every acked event is still in the history.
  const history = await within(fetch(`${base}/api/v1/channels/chat:big/history?limit=1000`, { headers: { Authorization: `Bearer ${key}` } }), 10_000, 'history');
  assert.equal(history.status, 200);
  const { events } = (await history.json()) as { events: { offset: number }[] };
  assert.deepEqual(
    events.map((event) => event.offset).sort((a, b) => a - b),
    Array.from({ length: acked }, (_, index) => index + 1),
  );

  await cli('CONFIG', 'SET', 'maxmemory', '0');
  const next = await publish({ after: true });
  assert.equal(next.status, 200);
  assert.equal(next.body.position?.offset, acked + 1);
});
