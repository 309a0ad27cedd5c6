/**
 * App code on the protocol path: authorization hooks that throw, and results a handler changes
 * after returning them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { serve } from '../support.js';
import { ProtocolClient } from './protocol-client.js';

const channels = { chat: {} };

describe('lifeline.v1: hooks and handlers are app code', () => {
  test('a throwing canSubscribe answers failed and the connection stays', async (t) => {
    const fixture = await serve(t, {
      pingInterval: 0,
      channels,
      canSubscribe: () => {
        throw new Error('acl service down');
      },
    });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    client.send({ type: 'subscribe', id: 1, channel: 'chat:a' });
    const refused = await client.reply(1);
    assert.equal(refused.type, 'error');
    assert.equal((refused as { code: string }).code, 'failed');
    assert.doesNotMatch(JSON.stringify(refused), /acl service/);
    client.send({ type: 'request', id: 2, method: 'nothing' });
    assert.equal(((await client.reply(2)) as { code: string }).code, 'no_method', 'still served');
  });

  test('a throwing canPublish publishes nothing, answers failed, and a resend of the id is tried again', async (t) => {
    let calls = 0;
    const fixture = await serve(t, {
      pingInterval: 0,
      channels,
      canPublish: () => {
        calls++;
        if (calls === 1) throw new Error('acl service down');
        return true;
      },
    });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    client.send({ type: 'publish', id: 1, channel: 'chat:a', data: 'x' });
    assert.equal(((await client.reply(1)) as { code: string }).code, 'failed');
    client.send({ type: 'publish', id: 1, channel: 'chat:a', data: 'x' });
    const ack = (await client.reply(1)) as { type: string; position: { offset: number } };
    assert.equal(ack.type, 'ack');
    assert.equal(ack.position.offset, 1, 'the failed attempt published nothing');
  });

  test('a repeat replays the reply as it was sent, even if the handler changed its result afterwards', async (t) => {
    const fixture = await serve(t, { pingInterval: 0 });
    const kept = { n: 1 }; // the handler keeps its result object and changes it later
    fixture.server.handle('counter', () => kept);
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    client.send({ type: 'request', id: 1, method: 'counter' });
    assert.deepEqual((await client.reply(1)) as unknown, { type: 'result', id: 1, data: { n: 1 } });
    kept.n = 99;
    client.send({ type: 'request', id: 1, method: 'counter' });
    assert.deepEqual((await client.reply(1)) as unknown, { type: 'result', id: 1, data: { n: 1 } });
  });
});
