/**
 * Edges around the replay and resend paths: direct messages that outlive their send time,
 * data the app changes after handing it over, and work still queued when a connection closes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock } from '../../../src/testing/fake-clock.js';
import { serve, within } from '../support.js';
import { DEADLINE, ProtocolClient } from './protocol-client.js';

describe('lifeline.v1 edges', () => {
  test('an unacknowledged direct message lives as long as its session, not its send time (fake clock)', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, pingInterval: 0, recoveryWindow: 120_000 });
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    await fixture.server.sendTo(welcome.session, 'invite'); // t = 0
    await client.take('message');
    await clock.tickAsync(35_000); // the link dies unnoticed for a while; no ack ever went out
    client.terminate();
    await client.closed;
    // Let the server notice the close (real I/O) before fake time moves on: it parks the session.
    for (let i = 0; i < 1_000 && fixture.server.realtime.sessions > 0; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(fixture.server.realtime.sessions, 0);
    await clock.tickAsync(95_000); // t = 130 s: past send + window, inside park + window
    const { client: back, welcome: resumed } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    assert.equal(resumed.resumed, true);
    assert.deepEqual(await back.take('message'), { type: 'message', seq: 1, data: 'invite' });
  });

  test('data the app changes after publish or sendTo reaches nobody changed: live, replayed and resent alike', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels: { chat: { history: { size: 10, ttl: 60_000 } } } });
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    await client.subscribe(1, 'chat:a');
    const price = { text: 'price is 10' };
    const invite = { text: 'invite v1' };
    await fixture.server.publish('chat:a', price);
    await fixture.server.sendTo(welcome.session, invite);
    price.text = 'price is 99';
    invite.text = 'invite v2';
    const live = await client.take('event');
    await client.take('message');
    client.terminate();
    await client.closed;
    const { client: back } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    await back.subscribe(2, 'chat:a', { epoch: live.epoch, offset: 0 });
    assert.deepEqual(back.events('chat:a').map((event) => event.data), [{ text: 'price is 10' }]);
    assert.deepEqual((await back.take('message')).data, { text: 'invite v1' });
  });

  test('a subscribe still queued when its connection closes joins nothing afterwards', async (t) => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const fixture = await serve(t, { pingInterval: 0, channels: { chat: {} } });
    fixture.server.handle('slow', () => held);
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    client.send({ type: 'request', id: 1, method: 'slow' });
    client.send({ type: 'subscribe', id: 2, channel: 'chat:late' }); // queued behind the request
    client.terminate();
    await client.closed;
    for (let i = 0; i < 100 && fixture.server.realtime.sessions > 0; i++) await new Promise((resolve) => setImmediate(resolve));
    release();
    // The queued subscribe runs now, on a parked session: it must not leave a subscriber behind.
    await within(
      (async () => {
        for (let i = 0; i < 200; i++) await new Promise((resolve) => setImmediate(resolve));
      })(),
      DEADLINE,
      'the queue drains',
    );
    assert.equal(fixture.server.realtime.channels.get('chat:late') ?? 0, 0);
  });
});
