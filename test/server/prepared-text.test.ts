/**
 * The fan-out fast path: a channel event framed once (src/server/prepared-text.ts) and written
 * as it is to every subscriber's socket arrives intact at real `ws` clients, at every length
 * encoding (7-bit, 16-bit, 64-bit) and in multi-byte UTF-8; a connection that negotiated
 * compression gets the same events framed by ws. Also: the internal presence channels are not
 * counted as channels.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { prepareText } from '../../src/server/prepared-text.js';
import { serve } from './support.js';
import { ProtocolClient } from './protocol/protocol-client.js';
import { within } from '../helpers/wait.js';

describe('prepared text frames', () => {
  test('header bytes follow RFC 6455 for each length encoding', () => {
    const short = prepareText('a'.repeat(125));
    assert.deepEqual([...short.frame.subarray(0, 2)], [0x81, 125]);
    assert.equal(short.frame.length, 127);
    const medium = prepareText('é'.repeat(100)); // 200 bytes of UTF-8
    assert.deepEqual([...medium.frame.subarray(0, 4)], [0x81, 126, 0, 200]);
    assert.equal(medium.bytes, 200);
    const long = prepareText('x'.repeat(70_000));
    assert.deepEqual([...long.frame.subarray(0, 10)], [0x81, 127, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70]);
    assert.equal(long.frame.length, 70_010);
  });

  test('events of every size reach plain and compressed subscribers intact, in order', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels: { news: { history: { size: 10, ttl: 60_000 } } }, perMessageDeflate: { threshold: 0 } });
    const subscriber = async (deflate: boolean): Promise<{ readonly ws: WebSocket; readonly events: { offset: number; data: unknown }[] }> => {
      const ws = new WebSocket(fixture.wsUrl, 'lifeline.v1', { perMessageDeflate: deflate });
      t.after(() => ws.terminate());
      const events: { offset: number; data: unknown }[] = [];
      let onSubscribed = (): void => undefined;
      const subscribed = new Promise<void>((resolve) => (onSubscribed = resolve));
      ws.on('message', (data) => {
        const message = JSON.parse(String(data)) as { type: string; offset?: number; data?: unknown };
        if (message.type === 'event') events.push({ offset: message.offset ?? 0, data: message.data });
        if (message.type === 'subscribed') onSubscribed();
      });
      await within(new Promise((resolve) => ws.once('open', resolve)), 5_000, 'open');
      ws.send(JSON.stringify({ type: 'hello', v: 1 }));
      ws.send(JSON.stringify({ type: 'subscribe', id: 1, channel: 'news:a' }));
      await within(subscribed, 5_000, 'subscribed');
      return { ws, events };
    };
    const plain = await subscriber(false);
    const compressed = await subscriber(true);
    assert.equal(plain.ws.extensions, '', 'no extension: the prepared frame is written as it is');
    assert.match(compressed.ws.extensions, /permessage-deflate/, 'compression: ws frames it');
    const payloads = ['', 'é'.repeat(60), 'ü€𝄞'.repeat(20_000), 'x'.repeat(70_000), 'end'];
    for (const payload of payloads) await fixture.server.publish('news:a', { payload });
    const expected = payloads.map((payload, i) => ({ offset: i + 1, data: { payload } }));
    for (const { events } of [plain, compressed]) {
      const deadline = Date.now() + 5_000;
      while (events.length < payloads.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.deepEqual(events, expected);
    }
  });

  test('the internal presence channels are not counted as channels', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels: { room: { presence: true } } });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    await client.subscribe(1, 'room:a');
    assert.deepEqual([...fixture.server.realtime.channels], [['room:a', 1]]);
  });
});
