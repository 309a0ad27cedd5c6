/**
 * `RedisBroker.close()` against a Redis that stops answering without closing (a hung server,
 * or a node lost without a reset): the graceful close waits for the answers to commands in
 * flight, and those never come. close() must still settle, drop both connections and fail
 * what was pending, with no help from Redis.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { ChannelEvent } from '../../src/broker/broker.js';
import { BrokerUnavailableError, RedisBroker } from '../../src/redis/index.js';
import { redisSkip, redisUrl, testPrefix } from '../helpers/redis.js';
import { SilentProxy } from '../helpers/silent-proxy.js';
import { eventually, within } from '../helpers/wait.js';

const policy = { size: 100, ttl: 60_000 };

/** What a promise came to, without letting its rejection go unhandled. */
function outcome(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => 'settled',
    (error: unknown) => error,
  );
}

/** A broker (commandTimeout 300 ms) reaching Redis through a proxy the test can silence; the proxy stops after the test. */
async function behindProxy(t: TestContext): Promise<{ readonly proxy: SilentProxy; readonly broker: RedisBroker }> {
  const target = new URL(redisUrl);
  const proxy = await SilentProxy.start(target.hostname, Number(target.port || 6379));
  t.after(() => proxy.stop());
  const via = new URL(redisUrl);
  via.hostname = '127.0.0.1';
  via.port = String(proxy.port);
  return { proxy, broker: await RedisBroker.connect({ url: via.toString(), prefix: testPrefix(), commandTimeout: 300 }) };
}

test('close() with commands in flight that Redis never answers settles after commandTimeout, drops both connections and fails them as unavailable', { skip: redisSkip }, async (t) => {
  // No close() in an after hook: the test is about close() itself settling.
  const { proxy, broker } = await behindProxy(t);
  const heard: ChannelEvent[] = [];
  await broker.subscribe('room', (event) => heard.push(event));
  await broker.publish('room', 'a', policy);
  await eventually(() => heard.length === 1, 'the first event delivered through the proxy', 5_000);
  assert.equal(proxy.open, 2, 'the command and the subscriber connection');

  proxy.silence();
  // One command on each connection, both written and never answered.
  const published = outcome(broker.publish('room', 'b', policy));
  const subscribed = outcome(broker.subscribe('other', () => undefined));
  await eventually(() => proxy.droppedFrom === 2, 'a request on each connection swallowed', 5_000);

  // The bound is the test's, far above commandTimeout; before the fix close() never settled.
  await within(broker.close(), 5_000, 'close() with Redis silent');
  await within(proxy.allClosed(), 5_000, 'both connections closed by the broker');
  assert.equal(proxy.open, 0);
  // Both were given up on at commandTimeout (they were sent before close() began to wait as long).
  for (const [what, result] of [['publish', await published], ['subscribe', await subscribed]] as const) {
    assert.ok(result instanceof BrokerUnavailableError, `the pending ${what} failed as unavailable: ${String(result)}`);
    assert.equal(result.sent, true, `the pending ${what} was sent: its outcome is unknown`);
    assert.match(result.message, /no answer within 300 ms/);
  }
  await within(broker.close(), 1_000, 'a second close()');
});

test('a subscribe or unsubscribe Redis never confirms fails after commandTimeout as unavailable instead of waiting for ever; the channel can be asked for again', { skip: redisSkip }, async (t) => {
  const { proxy, broker } = await behindProxy(t);
  t.after(() => broker.close());
  const leave = await broker.subscribe('kept', () => undefined);

  proxy.silence();
  const subscribed = outcome(broker.subscribe('room', () => undefined));
  const left = outcome(leave());
  // The bound is the test's, far above commandTimeout; before the fix neither ever settled.
  const [subscribeResult, leaveResult] = await within(Promise.all([subscribed, left]), 5_000, 'subscribe and unsubscribe with Redis silent');
  assert.ok(subscribeResult instanceof BrokerUnavailableError, `the subscribe failed as unavailable: ${String(subscribeResult)}`);
  assert.equal(subscribeResult.sent, true);
  assert.match(subscribeResult.message, /no answer within 300 ms/);
  assert.ok(leaveResult instanceof BrokerUnavailableError, `the unsubscribe failed as unavailable: ${String(leaveResult)}`);
  assert.match(leaveResult.message, /no answer within 300 ms/);
  // The failed subscribe left no feed behind: asking again is a new subscribe (which fails the same way, not at once).
  const again = await within(outcome(broker.subscribe('room', () => undefined)), 5_000, 'a second subscribe');
  assert.ok(again instanceof BrokerUnavailableError);
  assert.match(again.message, /no answer within 300 ms/);
});
