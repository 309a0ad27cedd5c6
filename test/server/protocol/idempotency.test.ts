/**
 * Idempotency keys (docs/protocol.md §5, docs/guarantees.md) over real sockets: a publish that
 * outlives its session (a reload without a durable outbox) carries the app's key, and the
 * server stores it once per user and key within the idempotency window; server-side publishes too.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IdempotencyConflictError } from '../../../src/core/errors.js';
import { FakeClock } from '../../../src/testing/fake-clock.js';
import { serve } from '../support.js';
import { ProtocolClient } from './protocol-client.js';

const channels = { chat: { history: { size: 100, ttl: 86_400_000 * 2 } } };
const byUser = (request: { readonly query: URLSearchParams }): { ok: true; user: string } => ({ ok: true, user: request.query.get('user') ?? 'ann' });

describe('protocol: idempotency keys', () => {
  test('the same key from a new session gets the first position and stores nothing; another body is idempotency_conflict', async (t) => {
    const fixture = await serve<string>(t, { pingInterval: 0, channels, authenticate: byUser });
    const { client: first } = await ProtocolClient.connect(t, fixture.wsUrl);
    first.send({ type: 'publish', id: 1, channel: 'chat:a', data: { text: 'hi' }, idempotencyKey: 'order-17' });
    const ack = await first.reply(1);
    assert.equal(ack.type, 'ack');
    await first.dispose();
    // A reload: a new session (no resume), the same key.
    const { client: second, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    assert.equal(welcome.resumed, false);
    second.send({ type: 'publish', id: 1, channel: 'chat:a', data: { text: 'hi' }, idempotencyKey: 'order-17' });
    assert.deepEqual(await second.reply(1), ack);
    second.send({ type: 'publish', id: 2, channel: 'chat:a', data: { text: 'changed' }, idempotencyKey: 'order-17' });
    const conflict = await second.reply(2);
    assert.equal(conflict.type === 'error' && conflict.code, 'idempotency_conflict');
    // Another user's same key is another message.
    const { client: bob } = await ProtocolClient.connect(t, fixture.wsUrl, {}, { query: { user: 'bob' } });
    bob.send({ type: 'publish', id: 1, channel: 'chat:a', data: { text: 'hi' }, idempotencyKey: 'order-17' });
    const bobAck = await bob.reply(1);
    assert.ok(bobAck.type === 'ack' && ack.type === 'ack' && bobAck.position.offset === ack.position.offset + 1);
    const head = await fixture.server.publish('chat:a', 'marker');
    assert.equal(head.offset, 3, 'two events stored before the marker');
  });

  test('a malformed key is bad_message and nothing is published', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    for (const [id, key] of [[1, ''], [2, 'has space'], [3, 'k'.repeat(256)], [4, 17]] as const) {
      client.send({ type: 'publish', id, channel: 'chat:a', data: 1, idempotencyKey: key });
      const refused = await client.reply(id);
      assert.equal(refused.type === 'error' && refused.code, 'bad_message', JSON.stringify(key));
    }
    assert.equal((await fixture.server.publish('chat:a', 'marker')).offset, 1);
  });

  test('server.publish with idempotencyKey: once per key within idempotencyWindow; a different body rejects (fake clock)', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, pingInterval: 0, channels, idempotencyWindow: 60_000 });
    const first = await fixture.server.publish('chat:a', { n: 1 }, { idempotencyKey: 'job-1' });
    assert.deepEqual(await fixture.server.publish('chat:a', { n: 1 }, { idempotencyKey: 'job-1' }), first);
    await assert.rejects(fixture.server.publish('chat:a', { n: 2 }, { idempotencyKey: 'job-1' }), IdempotencyConflictError);
    await assert.rejects(fixture.server.publish('chat:a', { n: 2 }, { idempotencyKey: 'bad key' }), TypeError);
    clock.tick(60_001);
    assert.equal((await fixture.server.publish('chat:a', { n: 1 }, { idempotencyKey: 'job-1' })).offset, 2, 'forgotten after the window');
  });
});
