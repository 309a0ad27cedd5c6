/**
 * Two servers sharing one broker are two nodes of a deployment: a client that moves from one to
 * the other (its connection dropped; a load balancer picked the other) resumes its session there,
 * and a message it resends takes effect once even while the first copy is still being handled
 * on the node it left.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { ControlNotice, SessionRecord } from '../../../src/broker/broker.js';
import { MemoryBroker } from '../../../src/broker/memory-broker.js';
import { within } from '../../helpers/wait.js';
import type { ChannelsConfig } from '../../../src/server/protocol/channels.js';
import { FakeClock } from '../../../src/testing/fake-clock.js';
import { serve } from '../support.js';
import { memberId } from '../../../src/server/protocol/member-id.js';
import { ProtocolClient } from './protocol-client.js';
import { collectGarbage } from '../../helpers/gc.js';

const channels: ChannelsConfig = { chat: { history: { size: 100, ttl: 600_000 } } };

function gate(): { readonly opened: Promise<void>; open(): void } {
  let open = (): void => undefined;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/**
 * Nodes a and b on `broker` with presence on `room:*`: a watcher subscribed to `room:x` on b, and
 * a client subscribed there on a (the watcher has heard it join).
 */
async function presentOnA(t: TestContext, broker: MemoryBroker, presenceGrace?: number) {
  const presence: ChannelsConfig = { room: { presence: true } };
  const a = await serve(t, { pingInterval: 0, channels: presence, broker, ...(presenceGrace === undefined ? {} : { presenceGrace }) });
  const b = await serve(t, { pingInterval: 0, channels: presence, broker });
  const { client: watcher } = await ProtocolClient.connect(t, b.wsUrl);
  await watcher.subscribe(1, 'room:x');
  const { client: old, welcome } = await ProtocolClient.connect(t, a.wsUrl);
  await old.subscribe(1, 'room:x');
  await watcher.take('presence', (message) => 'join' in message);
  return { a, b, watcher, old, welcome };
}

describe('protocol: a session moving between nodes', () => {
  test('a request resent to another node while the first copy still runs there is answered with that run\'s result, run once', async (t) => {
    const broker = new MemoryBroker();
    t.after(() => broker.close());
    const runs: string[] = [];
    const release = gate();
    const started = gate();
    const handler = (node: string) => async (params: unknown) => {
      runs.push(node);
      started.open();
      await release.opened;
      return { node, params };
    };
    const a = await serve(t, { pingInterval: 0, channels, broker, requestTimeout: 5_000 });
    const b = await serve(t, { pingInterval: 0, channels, broker, requestTimeout: 5_000 });
    a.server.handle('slow', handler('a'));
    b.server.handle('slow', handler('b'));
    const { client: first, welcome } = await ProtocolClient.connect(t, a.wsUrl);
    first.send({ type: 'request', id: 1, method: 'slow', params: { x: 1 } });
    await started.opened;
    first.terminate(); // the link dies; node a keeps running the request
    const { client: moved, welcome: again } = await ProtocolClient.connect(t, b.wsUrl, { session: welcome.session, secret: welcome.secret });
    assert.equal(again.resumed, true, 'the session resumed on node b');
    moved.send({ type: 'request', id: 1, method: 'slow', params: { x: 1 } });
    release.open();
    assert.deepEqual(await moved.reply(1), { type: 'result', id: 1, data: { node: 'a', params: { x: 1 } } });
    assert.deepEqual(runs, ['a'], 'the handler ran once, on the node that got it first');
  });

  test('a resent publish whose first copy was published but not yet acknowledged makes no second event', async (t) => {
    const broker = new MemoryBroker();
    t.after(() => broker.close());
    const a = await serve(t, { pingInterval: 0, channels, broker });
    const b = await serve(t, { pingInterval: 0, channels, broker });
    const { client: watcher } = await ProtocolClient.connect(t, b.wsUrl);
    await watcher.subscribe(1, 'chat:a');
    const { client, welcome } = await ProtocolClient.connect(t, a.wsUrl);
    // As if node a published id 1 and died before recording its reply: the event exists, the
    // session's window does not know it.
    const first = await broker.publish('chat:a', 'once', channels.chat?.history ?? { size: 1, ttl: 1 }, { session: welcome.session, id: 1, ttl: 60_000 });
    client.terminate();
    const { client: moved } = await ProtocolClient.connect(t, b.wsUrl, { session: welcome.session, secret: welcome.secret });
    const ack = await moved.publish(1, 'chat:a', 'once');
    assert.deepEqual(ack, { type: 'ack', id: 1, position: { epoch: first.epoch, offset: first.offset } });
    await watcher.take('event');
    await moved.publish(2, 'chat:a', 'next');
    await watcher.take('event', (event) => event.data === 'next');
    assert.deepEqual(watcher.events('chat:a').map((event) => [event.offset, event.data]), [[1, 'once'], [2, 'next']]);
  });

  test('resumed on another node while the old connection lingers: when it ends, the session stays present and nobody hears it leave', async (t) => {
    const broker = new MemoryBroker();
    t.after(() => broker.close());
    const { a, b, watcher, old, welcome } = await presentOnA(t, broker);
    // The client moved to node b while node a has not noticed its old link is gone.
    const { client: moved } = await ProtocolClient.connect(t, b.wsUrl, { session: welcome.session, secret: welcome.secret });
    await moved.subscribe(1, 'room:x');
    old.terminate();
    await a.server.close({ drainTimeout: 1_000 }).catch(() => undefined); // node a has parked everything
    watcher.send({ type: 'presence.get', id: 2, channel: 'room:x' });
    const list = await watcher.reply(2);
    assert.ok(list.type === 'presence.list' && list.members.some((member) => member.client === memberId(welcome.session)), 'still present through node b');
    await moved.publish(2, 'room:x', 'still here'); // anything further the watcher hears comes after this
    await watcher.take('event', (event) => event.data === 'still here');
    assert.ok(!watcher.log.some((message) => message.type === 'presence' && 'leave' in message), 'no leave was announced');
  });

  test('resumed on another node: the takeover is announced once the record names the new connection, so the old node\'s park sees the move and nobody hears the member leave', async (t) => {
    // A networked broker's save takes a round trip; while it is held, the old node must not yet
    // be told (it would park the session as its own and announce a leave).
    class SlowSaves extends MemoryBroker {
      readonly notices: string[] = [];
      #parked = gate();
      override async broadcast(notice: ControlNotice): Promise<void> {
        if (notice.kind === 'takeover') this.notices.push(`takeover ${notice.connection}`);
        return super.broadcast(notice);
      }
      override async saveSession(id: string, record: SessionRecord, ttl: number): Promise<boolean> {
        if (record.owner === undefined) this.#parked.open();
        // A hello's save of a session already announced as taken over waits until the old node parked it.
        else if (this.notices.includes(`takeover ${record.owner}`)) await within(this.#parked.opened, 5_000, 'the old node parked the session');
        this.notices.push(record.owner === undefined ? 'park' : `saved ${record.owner}`);
        return super.saveSession(id, record, ttl);
      }
    }
    const broker = new SlowSaves();
    t.after(() => broker.close());
    const { b, watcher, old, welcome } = await presentOnA(t, broker, 0);
    const { client: moved } = await ProtocolClient.connect(t, b.wsUrl, { session: welcome.session, secret: welcome.secret });
    assert.equal((await within(old.closed, 5_000, 'old connection closed')).code, 4001);
    await moved.subscribe(1, 'room:x');
    const takeover = broker.notices.findIndex((notice) => notice.startsWith('takeover '));
    const owner = broker.notices[takeover]?.slice('takeover '.length);
    assert.ok(takeover > broker.notices.indexOf(`saved ${owner}`), `announced after the record names its new connection: ${broker.notices.join(', ')}`);
    await moved.publish(2, 'room:x', 'still here'); // anything further the watcher hears comes after this
    await watcher.take('event', (event) => event.data === 'still here');
    assert.ok(!watcher.log.some((message) => message.type === 'presence' && 'leave' in message), 'no leave was announced');
  });

  test('a resend waiting for a node that died mid-request is told timeout (effect unknown) once the claim runs out', async (t) => {
    const broker = new MemoryBroker();
    t.after(() => broker.close());
    const b = await serve(t, { pingInterval: 0, channels, broker, requestTimeout: 300 });
    let ran = 0;
    b.server.handle('slow', () => ++ran);
    const { client, welcome } = await ProtocolClient.connect(t, b.wsUrl);
    // A node that claimed id 1 and died: nobody will record its reply.
    assert.equal(await broker.claimRequest(welcome.session, 1, 300), true);
    client.send({ type: 'request', id: 1, method: 'slow' });
    const reply = await client.reply(1, 10_000);
    assert.equal(reply.type === 'error' && reply.code, 'timeout');
    assert.equal(ran, 0, 'not run a second time');
  });
});

describe('presence: what a node keeps of members that moved away', () => {
  test('a member that joined on one node and resumed on another leaves nothing of it on the first once its announcements are idle (fake clock)', async (t) => {
    const clock = new FakeClock();
    const broker = new MemoryBroker({ clock });
    t.after(() => broker.close());
    const presence: ChannelsConfig = { room: { presence: true } };
    // Node a's users, watched: what node a holds of a member is held through its user.
    const users: WeakRef<object>[] = [];
    const a = await serve<object>(t, {
      clock,
      pingInterval: 0,
      presenceGrace: 1_000,
      channels: presence,
      broker,
      authenticate: () => {
        const user = { name: 'ann' };
        users.push(new WeakRef(user));
        return { ok: true, user };
      },
    });
    const b = await serve<object>(t, { clock, pingInterval: 0, presenceGrace: 1_000, channels: presence, broker, authenticate: () => ({ ok: true, user: { name: 'ann' } }) });
    const { client: watcher } = await ProtocolClient.connect(t, b.wsUrl);
    await watcher.subscribe(1, 'room:x');
    const moving = 5;
    for (let n = 0; n < moving; n++) {
      const { client: first, welcome } = await ProtocolClient.connect(t, a.wsUrl);
      await first.subscribe(1, 'room:x');
      await watcher.take('presence', (message) => message.join?.client === memberId(welcome.session));
      const parked = new Promise<void>((resolve) => a.server.once('disconnect', () => resolve()));
      first.terminate();
      await parked;
      // Back through node b within the grace period: silent, and node a's leave finds it taken.
      const { client: moved, welcome: again } = await ProtocolClient.connect(t, b.wsUrl, { session: welcome.session, secret: welcome.secret });
      assert.equal(again.resumed, true);
      await moved.subscribe(1, 'room:x');
    }
    // Past every grace period and a few refreshes of node a (its pacing buckets full again).
    for (let tick = 0; tick < 6; tick++) await clock.tickAsync(10_000);
    await watcher.sync();
    assert.ok(!watcher.log.some((message) => message.type === 'presence' && 'leave' in message), 'nobody left');
    await collectGarbage();
    assert.equal(users.length, moving);
    assert.equal(users.filter((user) => user.deref() !== undefined).length, 0, "node a holds none of the members that moved away");
  });
});
