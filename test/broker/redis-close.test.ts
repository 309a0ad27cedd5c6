/**
 * `RedisBroker.close()` against a Redis that stops answering without closing (a hung server,
 * or a node lost without a reset): the graceful close waits for the answers to commands in
 * flight, and those never come. close() must still settle, drop both connections and fail
 * what was pending, with no help from Redis.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
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

test('close() with commands in flight that Redis never answers settles after commandTimeout, drops both connections and fails them as unavailable', { skip: redisSkip }, async (t) => {
  const target = new URL(redisUrl);
  const proxy = await SilentProxy.start(target.hostname, Number(target.port || 6379));
  t.after(() => proxy.stop());
  const via = new URL(redisUrl);
  via.hostname = '127.0.0.1';
  via.port = String(proxy.port);
  // No close() in an after hook: the test is about close() itself settling.
  const broker = await RedisBroker.connect({ url: via.toString(), prefix: testPrefix(), commandTimeout: 300 });
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
  // The publish was given up on at commandTimeout, before the connections were dropped; the
  // subscribe (no timeout of its own) fails when they are, and says why.
  const reasons = { publish: /no answer within 300 ms/, subscribe: /the broker was closed before Redis answered/ };
  for (const [what, result] of [['publish', await published], ['subscribe', await subscribed]] as const) {
    assert.ok(result instanceof BrokerUnavailableError, `the pending ${what} failed as unavailable: ${String(result)}`);
    assert.equal(result.sent, true, `the pending ${what} was sent: its outcome is unknown`);
    assert.match(result.message, reasons[what]);
  }
  await within(broker.close(), 1_000, 'a second close()');
});
