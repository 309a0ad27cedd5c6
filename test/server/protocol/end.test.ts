/**
 * `end` (docs/protocol.md §3, logging out): the session leaves at once (presence `leave` told
 * without the grace period), the broker forgets it (no resume, no pending direct messages, not
 * in its user's sessions), the connection closes 1000 "session ended", nothing sent after it is
 * processed, and a connection of it lingering on another node is closed too. Against the
 * in-memory broker and a real Redis.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import type { Broker, ControlNotice, SessionRecord, Unsubscribe } from '../../../src/broker/broker.js';
import { MemoryBroker } from '../../../src/broker/memory-broker.js';
import { RedisBroker } from '../../../src/redis/index.js';
import type { ChannelsConfig } from '../../../src/server/protocol/channels.js';
import { memberId } from '../../../src/server/protocol/member-id.js';
import { redisSkip, redisUrl, testPrefix } from '../../helpers/redis.js';
import { within } from '../../helpers/wait.js';
import { serve } from '../support.js';
import { ForwardingBroker } from './brokers.js';
import { ProtocolClient } from './protocol-client.js';

const channels: ChannelsConfig = { room: { presence: true }, chat: { history: { size: 10, ttl: 60_000 } } };
/** Far longer than any deadline here: a leave heard at all was told at once. */
const GRACE = 60_000;

const brokers: readonly { readonly name: string; readonly skip: string | false; make(): Promise<Broker> }[] = [
  { name: 'MemoryBroker', skip: false, make: async () => new MemoryBroker() },
  { name: 'RedisBroker', skip: redisSkip, make: () => RedisBroker.connect({ url: redisUrl, prefix: testPrefix() }) },
];

async function made(t: TestContext, make: () => Promise<Broker>): Promise<Broker> {
  const broker = await make();
  t.after(() => broker.close());
  return broker;
}

const named = { authenticate: (request: { readonly query: URLSearchParams }) => ({ ok: true as const, user: request.query.get('user') ?? 'nobody' }) };

for (const { name, skip, make } of brokers) {
  describe(`protocol: end, a client logging out (${name})`, { skip }, () => {
    test('other members hear the leave at once, the connection closes 1000, and the session cannot be resumed', async (t) => {
      const broker = await made(t, make);
      const fixture = await serve(t, { pingInterval: 0, presenceGrace: GRACE, channels, broker });
      const { client: watcher } = await ProtocolClient.connect(t, fixture.wsUrl);
      await watcher.subscribe(1, 'room:1');
      const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
      const member = memberId(welcome.session);
      await client.subscribe(1, 'room:1');
      await watcher.take('presence', (message) => message.join?.client === member);

      client.send({ type: 'end' });
      assert.deepEqual(await within(client.closed, 5_000, 'close'), { code: 1000, reason: 'session ended' });
      await watcher.take('presence', (message) => message.leave?.client === member, 5_000);
      watcher.send({ type: 'presence.get', id: 2, channel: 'room:1' });
      const list = await watcher.reply(2);
      assert.ok(list.type === 'presence.list' && !list.members.some((entry) => entry.client === member), 'no longer listed');

      assert.equal(await broker.loadSession(welcome.session), undefined, 'the broker forgot it');
      const { welcome: again } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
      assert.equal(again.resumed, false, 'a resume gets a new session');
      assert.notEqual(again.session, welcome.session);
    });

    test('its pending direct messages are gone and its user no longer lists it', async (t) => {
      const broker = await made(t, make);
      const user = `u-${randomUUID()}`;
      const fixture = await serve(t, { pingInterval: 0, channels, broker, ...named });
      const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl, {}, { query: { user } });
      assert.equal(await fixture.server.sendTo(welcome.session, 'one'), true);
      assert.equal(await fixture.server.sendTo(welcome.session, 'two'), true);
      await client.take('message', (message) => message.seq === 2);
      assert.equal((await broker.pendingDirect(welcome.session, 0)).length, 2, 'unacknowledged, kept');
      assert.deepEqual(await broker.sessionsOf(user), [welcome.session]);

      client.send({ type: 'end' });
      assert.equal((await within(client.closed, 5_000, 'close')).code, 1000);
      assert.deepEqual(await broker.pendingDirect(welcome.session, 0), [], 'nothing pending');
      assert.deepEqual(await broker.sessionsOf(user), [], 'not among its user\'s sessions');
      assert.equal(await fixture.server.sendTo(welcome.session, 'three'), false, 'nothing can be sent to it');
      assert.equal(await fixture.server.sendToUser(user, 'four'), 0);
    });

    test('nothing sent after end is processed; what came before it is answered first', async (t) => {
      const broker = await made(t, make);
      const fixture = await serve(t, { pingInterval: 0, channels, broker });
      const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
      const before = await client.subscribe(1, 'chat:a');
      client.send({ type: 'publish', id: 2, channel: 'chat:a', data: 'before' });
      client.send({ type: 'end' });
      client.send({ type: 'publish', id: 3, channel: 'chat:a', data: 'after' });
      client.send({ type: 'end' });
      client.send({ type: 'hello', v: 1 });
      assert.equal((await within(client.closed, 5_000, 'close')).code, 1000);
      assert.equal((await client.reply(2)).type, 'ack', 'the publish before end was answered');
      assert.equal(client.log.some((message) => 'id' in message && message.id === 3), false, 'the one after was not');
      assert.equal(client.log.some((message) => message.type === 'error'), false, 'nor refused');
      const recovery = await broker.recover('chat:a', before.position, 10);
      assert.deepEqual(
        recovery.events.map((event) => event.data),
        ['before'],
      );
    });

    test('an end pipelined behind the hello ends the session it opened; an end before any hello is refused', async (t) => {
      const broker = await made(t, make);
      const fixture = await serve(t, { pingInterval: 0, channels, broker });
      const piped = await ProtocolClient.open(fixture.wsUrl);
      t.after(() => piped.dispose());
      piped.send({ type: 'hello', v: 1 });
      piped.send({ type: 'end' });
      const welcome = await piped.take('welcome');
      assert.deepEqual(await within(piped.closed, 5_000, 'close'), { code: 1000, reason: 'session ended' });
      assert.equal(await broker.loadSession(welcome.session), undefined);

      const early = await ProtocolClient.open(fixture.wsUrl);
      t.after(() => early.dispose());
      early.send({ type: 'end' });
      assert.equal((await early.take('error')).code, 'hello_required');
      // The server serves on: a fresh connection is welcomed.
      const { welcome: fresh } = await ProtocolClient.connect(t, fixture.wsUrl);
      assert.equal(fresh.resumed, false);
    });

    test('an end with extra fields or sent on a taken-over connection never crashes the server', async (t) => {
      const broker = await made(t, make);
      const fixture = await serve(t, { pingInterval: 0, channels, broker });
      const { client: odd } = await ProtocolClient.connect(t, fixture.wsUrl);
      odd.send({ type: 'end', id: 'x', data: { nested: [1, 2] } });
      assert.equal((await within(odd.closed, 5_000, 'close')).code, 1000, 'unknown fields are ignored, as for any message');

      const { client: old, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
      const { client: current, welcome: resumed } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
      assert.equal(resumed.resumed, true);
      old.send({ type: 'end' });
      assert.equal((await within(old.closed, 5_000, 'close')).code, 4001, 'the old connection was taken over');
      assert.ok(await broker.loadSession(welcome.session), 'the session is the newer connection\'s: not ended by the old one');
      assert.equal((await current.publish(1, 'chat:a', 'still here')).type, 'ack');
    });

    test('an end queued behind a slow request whose connection is taken over meanwhile: the old connection still leaves', async (t) => {
      const broker = await made(t, make);
      let release = (): void => undefined;
      const held = new Promise<void>((resolve) => (release = resolve));
      let reached = (): void => undefined;
      const running = new Promise<void>((resolve) => (reached = resolve));
      const fixture = await serve(t, { pingInterval: 0, channels, broker });
      fixture.server.handle('slow', () => (reached(), held));
      const { client: old, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
      await old.subscribe(1, 'chat:old');
      old.send({ type: 'request', id: 2, method: 'slow' });
      old.send({ type: 'end' });
      await within(running, 5_000, 'the slow request runs');
      const { client: current, welcome: resumed } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
      assert.equal(resumed.resumed, true);
      assert.equal((await within(old.closed, 5_000, 'close')).code, 4001, 'taken over');
      release();
      // The newer connection's messages wait for the old one's (its end included).
      assert.equal((await current.publish(3, 'chat:new', 'after')).type, 'ack');
      assert.equal(fixture.server.realtime.channels.get('chat:old') ?? 0, 0, 'the old connection\'s subscription ended');
      assert.equal(fixture.server.realtime.sessions, 1, 'the newer connection serves the session');
      assert.ok(await broker.loadSession(welcome.session), 'not ended: the end came on a connection taken over');
    });
  });
}

/** Takeover notices lost: a session's old connection lingers on its node after a resume elsewhere. */
function losingTakeovers(broker: Broker): Broker {
  const broadcast = broker.broadcast?.bind(broker);
  broker.broadcast = (notice: ControlNotice) => (notice.kind === 'takeover' || !broadcast ? Promise.resolve() : broadcast(notice));
  return broker;
}

for (const { name, skip, make } of brokers) {
  describe(`protocol: end with a connection of the session lingering on another node (${name})`, { skip }, () => {
    test('that connection is closed 1000 too, its leave told at once, and the record is not written back', async (t) => {
      const broker = losingTakeovers(await made(t, make));
      const presence: ChannelsConfig = { room: { presence: true } };
      const a = await serve(t, { pingInterval: 0, presenceGrace: GRACE, channels: presence, broker });
      const b = await serve(t, { pingInterval: 0, presenceGrace: GRACE, channels: presence, broker });
      const { client: watcher } = await ProtocolClient.connect(t, b.wsUrl);
      await watcher.subscribe(1, 'room:x');
      const { client: old, welcome } = await ProtocolClient.connect(t, a.wsUrl);
      await old.subscribe(1, 'room:x');
      const member = memberId(welcome.session);
      await watcher.take('presence', (message) => message.join?.client === member);
      const { client: moved, welcome: resumed } = await ProtocolClient.connect(t, b.wsUrl, { session: welcome.session, secret: welcome.secret });
      assert.equal(resumed.resumed, true);

      moved.send({ type: 'end' });
      assert.deepEqual(await within(moved.closed, 5_000, 'close'), { code: 1000, reason: 'session ended' });
      assert.deepEqual(await within(old.closed, 5_000, 'lingering close'), { code: 1000, reason: 'session ended' });
      await watcher.take('presence', (message) => message.leave?.client === member, 5_000);
      // Node a's shutdown waits for what it parks: an ended session is never written back.
      await a.server.close();
      assert.equal(await broker.loadSession(welcome.session), undefined);
    });
  });
}

describe('protocol: a resume racing an end', () => {
  test('a shutdown waits for an end queued behind a slow request: the session is deleted, not left live', async (t) => {
    const broker = new MemoryBroker();
    t.after(() => broker.close());
    let reached = (): void => undefined;
    const running = new Promise<void>((resolve) => (reached = resolve));
    // Never answers: the request times out (requestTimeout), then the end runs.
    const fixture = await serve(t, { pingInterval: 0, channels, broker, requestTimeout: 300 });
    fixture.server.handle('slow', () => (reached(), new Promise<never>(() => undefined)));
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    client.send({ type: 'request', id: 1, method: 'slow' });
    client.send({ type: 'end' });
    await within(running, 5_000, 'the slow request runs');
    await within(fixture.server.close({ drainTimeout: 5_000 }), 10_000, 'shutdown');
    assert.equal(await broker.loadSession(welcome.session), undefined, 'the ended session was deleted before the shutdown ended');
  });
  test('a resume on another node that looked the session up before its end was deleted gets a new session', async (t) => {
    const inner = new MemoryBroker();
    t.after(() => inner.close());
    let holding = false;
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let looked = (): void => undefined;
    const lookedUp = new Promise<void>((resolve) => (looked = resolve));
    /** Node b's broker: a lookup reads the record at once, and its answer is held back. */
    class LateAnswers extends ForwardingBroker {
      override async loadSession(id: string, claim?: boolean): Promise<SessionRecord | undefined> {
        const record = await this.inner.loadSession(id, claim);
        if (holding) {
          looked();
          await held;
        }
        return record;
      }
      onBroadcast(listener: (notice: ControlNotice) => void): Promise<Unsubscribe> {
        return inner.onBroadcast(listener);
      }
      broadcast(notice: ControlNotice): Promise<void> {
        return inner.broadcast(notice);
      }
    }
    const a = await serve(t, { pingInterval: 0, channels, broker: inner });
    const b = await serve(t, { pingInterval: 0, channels, broker: new LateAnswers(inner) });
    const { client, welcome } = await ProtocolClient.connect(t, a.wsUrl);
    holding = true;
    const resuming = ProtocolClient.connect(t, b.wsUrl, { session: welcome.session, secret: welcome.secret });
    await within(lookedUp, 5_000, 'node b read the record');
    client.send({ type: 'end' });
    assert.deepEqual(await within(client.closed, 5_000, 'close'), { code: 1000, reason: 'session ended' });
    assert.equal(await inner.loadSession(welcome.session), undefined, 'node a deleted it');
    release();
    const { welcome: again } = await within(resuming, 5_000, 'the resume answered');
    assert.equal(again.resumed, false, 'an ended session is not brought back by a lookup made before its end');
    assert.notEqual(again.session, welcome.session);
  });

  test('a resume while the broker is still deleting the ended session gets a new session', async (t) => {
    const inner = new MemoryBroker();
    t.after(() => inner.close());
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let deleting = (): void => undefined;
    const reached = new Promise<void>((resolve) => (deleting = resolve));
    const broker = new ForwardingBroker(inner, async (method) => {
      if (method !== 'deleteSession') return;
      deleting();
      await held;
    });
    const fixture = await serve(t, { pingInterval: 0, channels, broker });
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    client.send({ type: 'end' });
    await within(reached, 5_000, 'the end reached deleteSession');
    assert.ok(await inner.loadSession(welcome.session), 'the record is still there');
    const { welcome: again } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    assert.equal(again.resumed, false, 'an ended session is not resumed, even before the broker forgot it');
    release();
    assert.equal((await within(client.closed, 5_000, 'close')).code, 1000);
    assert.equal(await inner.loadSession(welcome.session), undefined);
  });
});
