/**
 * Sessions and direct messages (docs/protocol.md §1, §6) over real sockets: resume with the
 * request-id window (`acked`), someone else's or an expired session starts afresh, a takeover
 * keeps the session alive past the recovery window, and direct messages are numbered, resent
 * after a reconnect until acknowledged, and never overtake the welcome or each other.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ControlNotice, DirectMessage, SessionRecord, Unsubscribe } from '../../../src/broker/broker.js';
import { MemoryBroker } from '../../../src/broker/memory-broker.js';
import { FakeClock } from '../../../src/testing/fake-clock.js';
import { eventually, within } from '../../helpers/wait.js';
import { serve } from '../support.js';
import { ForwardingBroker, ParkWatch } from './brokers.js';
import { ProtocolClient, type MessageOf, type ProtocolClient as Client } from './protocol-client.js';

function directs(client: Client): MessageOf<'message'>[] {
  return client.log.filter((message): message is MessageOf<'message'> => message.type === 'message');
}

/**
 * A broker whose takeover notices are heard late: held until `release()` (the pub/sub slower than
 * the hellos), then told in the order sent. It reports each finished `loadSession`.
 */
class LateNotices extends ForwardingBroker {
  readonly #held: ControlNotice[] = [];
  #loaded: () => void = () => undefined;

  constructor(override readonly inner: MemoryBroker) {
    super(inner);
  }

  override async loadSession(id: string, claim?: boolean): Promise<SessionRecord | undefined> {
    const record = await super.loadSession(id, claim);
    this.#loaded();
    return record;
  }

  /** Resolves at the next finished `loadSession`. */
  nextLoad(): Promise<void> {
    return new Promise((resolve) => (this.#loaded = resolve));
  }

  async broadcast(notice: ControlNotice): Promise<void> {
    this.#held.push(notice);
  }

  onBroadcast(listener: (notice: ControlNotice) => void): Promise<Unsubscribe> {
    return this.inner.onBroadcast(listener);
  }

  get held(): number {
    return this.#held.length;
  }

  async release(): Promise<void> {
    for (const notice of this.#held.splice(0)) await this.inner.broadcast(notice);
  }
}

/** As a broker written before takeovers were ordered: it claims no generation and stores none. */
class Unordered extends LateNotices {
  override async loadSession(id: string): Promise<SessionRecord | undefined> {
    const record = await super.loadSession(id);
    if (record === undefined) return undefined;
    const { generation: _dropped, ...unordered } = record;
    return unordered;
  }
}

describe('protocol: resume', () => {
  test('a new connection with hello{session} is resumed, with acked = the highest id processed', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels: { chat: {} } });
    fixture.server.handle('echo', (params) => params);
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    await client.publish(1, 'chat:a', 'x');
    await client.request(2, 'echo', 'y');
    await client.publish(3, 'chat:a', 'z');
    await client.dispose();
    const { welcome: again } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    assert.equal(again.session, welcome.session);
    assert.equal(again.resumed, true);
    assert.equal(again.acked, 3);
  });

  test("someone else's session id starts a new session (resumed false, a new id)", async (t) => {
    const fixture = await serve<string>(t, {
      pingInterval: 0,
      authenticate: (request) => ({ ok: true, user: request.query.get('user') ?? '' }),
    });
    fixture.server.handle('whoami', (_params, context) => context.user);
    const { client: ann, welcome } = await ProtocolClient.connect(t, fixture.wsUrl, {}, { query: { user: 'ann' } });
    assert.deepEqual(await ann.request(1, 'whoami'), { type: 'result', id: 1, data: 'ann' });
    const { client: mallory, welcome: stolen } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret }, { query: { user: 'mallory' } });
    assert.equal(stolen.resumed, false);
    assert.notEqual(stolen.session, welcome.session);
    assert.equal(stolen.acked, 0);
    // Mallory's id 1 is new in her own session: she does not get Ann's stored reply.
    assert.deepEqual(await mallory.request(1, 'whoami'), { type: 'result', id: 1, data: 'mallory' });
    // And Ann's connection was left alone.
    assert.deepEqual(await ann.request(2, 'whoami'), { type: 'result', id: 2, data: 'ann' });
  });

  test('an unknown session id starts a new session', async (t) => {
    const fixture = await serve(t, { pingInterval: 0 });
    const { welcome } = await ProtocolClient.connect(t, fixture.wsUrl, { session: 's-never-issued' });
    assert.equal(welcome.resumed, false);
    assert.notEqual(welcome.session, 's-never-issued');
  });

  test('a session expires recoveryWindow after its connection ended (fake clock)', async (t) => {
    const clock = new FakeClock();
    const watch = new ParkWatch(new MemoryBroker({ clock }));
    const fixture = await serve(t, { clock, pingInterval: 0, recoveryWindow: 10_000, broker: watch });
    t.after(() => watch.inner.close());
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    assert.equal(watch.parkings(welcome.session), 0, 'a session connected is not parked (its hello saved it)');
    await client.dispose();
    await watch.parked(welcome.session, 1);
    await clock.tickAsync(9_000);
    const { client: inTime, welcome: resumed } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    assert.equal(resumed.resumed, true, 'within the recovery window');
    await inTime.dispose();
    await watch.parked(welcome.session, 2);
    await clock.tickAsync(10_001);
    const { welcome: late } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    assert.equal(late.resumed, false);
    assert.notEqual(late.session, welcome.session);
  });

  test('a resume while the old connection is still open takes over: the old one is closed with 4001', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels: { chat: {} } });
    const { client: old, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    await old.subscribe(1, 'chat:a');
    const { client: fresh, welcome: again } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    assert.equal(again.resumed, true);
    const closed = await old.closed;
    assert.equal(closed.code, 4001);
    await fresh.subscribe(2, 'chat:a');
    await fixture.server.publish('chat:a', 'hi');
    assert.equal((await fresh.take('event')).data, 'hi');
    assert.equal(fixture.server.realtime.sessions, 1);
  });

  for (const generations of [true, false]) {
    test(`a takeover notice heard after a newer resume does not close the newer connection${generations ? '' : ' (a broker that hands out no generations)'}`, async (t) => {
      const broker = generations ? new LateNotices(new MemoryBroker()) : new Unordered(new MemoryBroker());
      t.after(() => broker.close());
      const fixture = await serve(t, { pingInterval: 0, broker });
      const { welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
      const resume = { session: welcome.session, secret: welcome.secret };
      const { client: second } = await ProtocolClient.connect(t, fixture.wsUrl, resume);
      const { client: third, welcome: last } = await ProtocolClient.connect(t, fixture.wsUrl, resume);
      assert.equal(last.resumed, true);
      assert.equal((await second.closed).code, 4001, 'the older connection is taken over');
      await eventually(() => broker.held === 2, 'both takeovers announced');
      // The notice of the second connection's takeover arrives now, after the third resumed.
      // Judged by its generation as it is heard; without one, once the record is read.
      const checked = generations ? Promise.resolve() : broker.nextLoad();
      await broker.release();
      await within(Promise.race([checked, third.closed]), 5_000, 'the notice judged');
      await third.sync();
      await third.wire();
      assert.equal(third.ws.readyState, third.ws.OPEN, 'the newest connection stays');
      assert.equal(fixture.server.realtime.sessions, 1);
    });
  }

  test('a resume whose connection closes while the session is looked up takes nothing over', async (t) => {
    let hold = false;
    let looking = (): void => undefined;
    const lookedUp = new Promise<void>((resolve) => (looking = resolve));
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    t.after(() => release());
    const broker = new ForwardingBroker(new MemoryBroker(), async (method) => {
      if (method !== 'loadSession' || !hold) return;
      looking();
      await released;
    });
    t.after(() => broker.close());
    const fixture = await serve(t, { pingInterval: 0, broker });
    const { client: live, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    hold = true;
    const stale = await ProtocolClient.open(fixture.wsUrl);
    t.after(() => stale.dispose());
    stale.send({ type: 'hello', v: 1, session: welcome.session, secret: welcome.secret });
    await within(lookedUp, 5_000, 'the lookup of the session');
    hold = false;
    stale.terminate();
    await eventually(() => fixture.server.connections.size === 1, 'the stale connection gone');
    release();
    await live.sync();
    await live.wire();
    assert.equal(live.ws.readyState, live.ws.OPEN, 'the live connection is not taken over by one that is gone');
    assert.equal(fixture.server.realtime.sessions, 1);
    assert.equal(await fixture.server.sendTo(welcome.session, 'still here'), true);
    assert.equal((await live.take('message')).data, 'still here');
  });

  test('after a takeover the session outlives the recovery window while its new connection is live (fake clock)', async (t) => {
    const clock = new FakeClock();
    const watch = new ParkWatch(new MemoryBroker({ clock }));
    const fixture = await serve(t, { clock, pingInterval: 0, recoveryWindow: 1_000, broker: watch });
    t.after(() => watch.inner.close());
    const { client: first, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    // The client thinks its link died and reconnects; the server still holds the old connection.
    const { welcome: second } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    assert.equal(second.resumed, true);
    await first.closed; // 4001: the old connection is gone
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    await clock.tickAsync(5_000); // the new connection has been live for longer than the recovery window
    // Again a half-open link, again a reconnect: the session is the same one.
    const { welcome: third } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    assert.equal(third.resumed, true, 'a live session does not expire');
    assert.equal(third.session, welcome.session);
    assert.equal(await fixture.server.sendTo(welcome.session, 'still there'), true);
  });
});

describe('protocol: direct messages', () => {
  test('server.sendTo numbers messages 1, 2, 3 per session; an unknown session is refused', async (t) => {
    const fixture = await serve(t, { pingInterval: 0 });
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    const { client: other, welcome: otherWelcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    for (const kind of ['a', 'b', 'c']) assert.equal(await fixture.server.sendTo(welcome.session, { kind }), true);
    assert.equal(await fixture.server.sendTo(otherWelcome.session, 'yours'), true);
    for (const seq of [1, 2, 3]) await client.take('message', (message) => message.seq === seq);
    assert.deepEqual(
      directs(client).map((message) => [message.seq, message.data]),
      [[1, { kind: 'a' }], [2, { kind: 'b' }], [3, { kind: 'c' }]],
    );
    assert.deepEqual(await other.take('message'), { type: 'message', seq: 1, data: 'yours' });
    assert.equal(await fixture.server.sendTo('s-nobody', 'lost'), false);
  });

  test('server.sendToUser reaches every session of that user, connected or parked, and no one else', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, authenticate: ({ query }) => ({ ok: true, user: query.get('user') ?? 'nobody' }) });
    const { client: phone } = await ProtocolClient.connect(t, `${fixture.wsUrl}?user=ann`);
    const { client: laptop, welcome: laptopWelcome } = await ProtocolClient.connect(t, `${fixture.wsUrl}?user=ann`);
    const { client: other } = await ProtocolClient.connect(t, `${fixture.wsUrl}?user=bob`);
    laptop.terminate(); // parked: within its recovery window it still counts
    await laptop.closed;
    assert.equal(await fixture.server.sendToUser('ann', { note: 'hi' }), 2);
    assert.deepEqual(await phone.take('message'), { type: 'message', seq: 1, data: { note: 'hi' } });
    const { client: back } = await ProtocolClient.connect(t, `${fixture.wsUrl}?user=ann`, { session: laptopWelcome.session, secret: laptopWelcome.secret });
    assert.deepEqual(await back.take('message'), { type: 'message', seq: 1, data: { note: 'hi' } });
    await other.sync();
    assert.deepEqual(directs(other), [], 'another user hears nothing');
  });

  test('unacknowledged messages are resent after a reconnect; acknowledged ones are not', async (t) => {
    const fixture = await serve(t, { pingInterval: 0 });
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    for (const n of [1, 2, 3]) await fixture.server.sendTo(welcome.session, { n });
    await client.take('message', (message) => message.seq === 3);
    client.terminate(); // no ack at all
    await client.closed;

    const { client: second } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    for (const seq of [1, 2, 3]) await second.take('message', (message) => message.seq === seq);
    assert.deepEqual(directs(second).map((message) => message.seq), [1, 2, 3], 'all three again, in order');
    assert.equal(second.log[0]?.type, 'welcome', 'after the welcome');
    second.send({ type: 'ack', seq: 2 });
    await second.sync();
    await second.dispose();

    const { client: third } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    await third.take('message', (message) => message.seq === 3);
    third.send({ type: 'ack', seq: 3 });
    await third.sync();
    assert.deepEqual(directs(third).map((message) => message.seq), [3], 'only the unacknowledged one');
    await fixture.server.sendTo(welcome.session, { n: 4 });
    assert.deepEqual(await third.take('message'), { type: 'message', seq: 4, data: { n: 4 } });
    third.send({ type: 'ack', seq: 4 });
    await third.sync();
    await third.dispose();

    const { client: fourth } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    await fourth.sync();
    await fourth.wire();
    assert.deepEqual(directs(fourth), [], 'everything was acknowledged');
  });

  test('maxPendingDirect: a client that never acknowledges is sent no more than the cap; what was stored is resent, an ack makes room', async (t) => {
    const warnings: string[] = [];
    const ignore = (): void => undefined;
    const logger = { debug: ignore, info: ignore, error: ignore, warn: (fields: object, message: string) => void warnings.push(`${message} ${String((fields as { limit?: unknown }).limit)}`) };
    const fixture = await serve(t, { pingInterval: 0, maxPendingDirect: 3, logger, authenticate: ({ query }) => ({ ok: true, user: query.get('user') ?? 'nobody' }) });
    const { client, welcome } = await ProtocolClient.connect(t, `${fixture.wsUrl}?user=ann`);
    const { client: phone } = await ProtocolClient.connect(t, `${fixture.wsUrl}?user=ann`);
    const taken: boolean[] = [];
    for (const n of [1, 2, 3, 4]) taken.push(await fixture.server.sendTo(welcome.session, { n }));
    assert.deepEqual(taken, [true, true, true, false], 'the fourth unacknowledged message is refused');
    assert.deepEqual(warnings, ['direct messages refused: a session holds maxPendingDirect unacknowledged messages 3'], 'logged once');
    assert.equal(await fixture.server.sendToUser('ann', { all: true }), 1, 'only the session with room counts');
    await phone.take('message', (message) => message.seq === 1);
    await client.take('message', (message) => message.seq === 3);
    await client.sync();
    assert.deepEqual(directs(client).map((message) => message.data), [{ n: 1 }, { n: 2 }, { n: 3 }], 'the refused ones never reach the client');

    client.terminate();
    await client.closed;
    const { client: back } = await ProtocolClient.connect(t, `${fixture.wsUrl}?user=ann`, { session: welcome.session, secret: welcome.secret });
    await back.take('message', (message) => message.seq === 3);
    assert.deepEqual(directs(back).map((message) => message.seq), [1, 2, 3], 'every stored message is resent after a resume');
    back.send({ type: 'ack', seq: 2 });
    await back.sync();
    assert.equal(await fixture.server.sendTo(welcome.session, { n: 5 }), true, 'an ack made room');
    assert.deepEqual(await back.take('message', (message) => message.seq === 4), { type: 'message', seq: 4, data: { n: 5 } }, 'numbered on from the last stored one');
  });

  test('maxPendingDirect: an ack is taken at once, not behind a slow request, so the outbox it empties has room while the request runs', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, maxPendingDirect: 2 });
    let release = (): void => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    t.after(() => release());
    let running = false;
    fixture.server.handle('slow', async () => {
      running = true;
      await gate;
      return 'done';
    });
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    client.send({ type: 'request', id: 1, method: 'slow', params: null });
    await eventually(() => running, 'the slow request to be running');
    assert.deepEqual([await fixture.server.sendTo(welcome.session, 1), await fixture.server.sendTo(welcome.session, 2), await fixture.server.sendTo(welcome.session, 3)], [true, true, false]);
    await client.take('message', (message) => message.seq === 2);
    client.send({ type: 'ack', seq: 2 });
    const broker = fixture.server.broker as MemoryBroker;
    await eventually(async () => (await broker.pendingDirect(welcome.session, 0)).length === 0, 'the ack to be taken while the request runs');
    assert.equal(await fixture.server.sendTo(welcome.session, 4), true, 'room again');
    release();
    assert.deepEqual(await client.reply(1), { type: 'result', id: 1, data: 'done' });
  });

  test('server.sendTo refuses data JSON cannot carry (TypeError) and the session stays usable', async (t) => {
    const fixture = await serve(t, { pingInterval: 0 });
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    await assert.rejects(fixture.server.sendTo(welcome.session, { n: 10n }), TypeError);
    await fixture.server.sendTo(welcome.session, 'fine');
    assert.deepEqual(await client.take('message'), { type: 'message', seq: 1, data: 'fine' });
    await client.dispose();
    const { client: back, welcome: again } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    assert.equal(again.resumed, true);
    assert.deepEqual(await back.take('message'), { type: 'message', seq: 1, data: 'fine' });
    await back.sync();
    assert.equal(back.ws.readyState, back.ws.OPEN);
  });

  test('an ack past the last seq sent acknowledges only what was sent: one pipelined behind a resume drops nothing undelivered', async (t) => {
    const broker = new ParkWatch(new MemoryBroker()); // a networked broker's hello: the pending messages are read after the welcome
    t.after(() => broker.close());
    const fixture = await serve(t, { pingInterval: 0, broker });
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    await client.dispose();
    await broker.parked(welcome.session);
    assert.equal(await fixture.server.sendTo(welcome.session, 'a'), true);
    assert.equal(await fixture.server.sendTo(welcome.session, 'b'), true);

    const back = await ProtocolClient.open(fixture.wsUrl);
    t.after(() => back.dispose());
    back.send({ type: 'hello', v: 1, session: welcome.session, secret: welcome.secret });
    back.send({ type: 'ack', seq: 1_000 }); // never sent: a misbehaving peer
    assert.equal((await back.take('welcome')).resumed, true);
    for (const seq of [1, 2]) await back.take('message', (message) => message.seq === seq);
    await eventually(async () => (await broker.pendingDirect(welcome.session, 0)).length === 0, 'what it was sent acknowledged');

    // Live: an ack past the last seq sent leaves the next message stored until it is acknowledged.
    back.send({ type: 'ack', seq: 1_000 });
    await back.sync();
    assert.equal(await fixture.server.sendTo(welcome.session, 'c'), true);
    assert.deepEqual(await back.take('message'), { type: 'message', seq: 3, data: 'c' });
    assert.deepEqual((await broker.pendingDirect(welcome.session, 0)).map((message) => message.seq), [3], 'kept until acknowledged');
    back.send({ type: 'ack', seq: 3 });
    await eventually(async () => (await broker.pendingDirect(welcome.session, 0)).length === 0, 'the ack of 3 taken');
  });

  test('a message sent while the session is disconnected is delivered on resume', async (t) => {
    const watch = new ParkWatch(new MemoryBroker());
    const fixture = await serve(t, { pingInterval: 0, broker: watch });
    t.after(() => watch.inner.close());
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    await client.dispose();
    await watch.parked(welcome.session);
    assert.equal(await fixture.server.sendTo(welcome.session, 'while away'), true, 'a parked session can be sent to');
    const { client: back } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    assert.deepEqual(await back.take('message'), { type: 'message', seq: 1, data: 'while away' });
  });

  test('a MemoryBroker subclass that overrides subscribeDirect: its override is what carries direct messages', async (t) => {
    // As with publish, recordReply and claimRequest (Broker.immediate): an override adds a check,
    // a log or a filter, and must not be bypassed by the in-process shortcut.
    const heard: unknown[] = [];
    class Logging extends MemoryBroker {
      override async subscribeDirect(session: string, onMessage: (message: DirectMessage) => void): Promise<Unsubscribe> {
        return super.subscribeDirect(session, (message) => {
          heard.push(message.data);
          onMessage(message);
        });
      }
    }
    const broker = new Logging();
    t.after(() => broker.close());
    const fixture = await serve(t, { pingInterval: 0, broker });
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    await fixture.server.sendTo(welcome.session, 'hi');
    assert.deepEqual(await client.take('message'), { type: 'message', seq: 1, data: 'hi' });
    assert.deepEqual(heard, ['hi'], 'the override heard it');
  });

  test('direct messages racing a resume: the welcome first, then every pending seq once, in order', async (t) => {
    // A networked broker may deliver a new message the moment the session's subscription is
    // active, before the node has sent its welcome or replayed the pending ones.
    class RacyBroker extends ForwardingBroker {
      armed = false;
      override async subscribeDirect(session: string, onMessage: (message: DirectMessage) => void): Promise<Unsubscribe> {
        const stop = await super.subscribeDirect(session, onMessage);
        if (this.armed) {
          this.armed = false;
          await this.inner.sendDirect(session, 'raced', 60_000);
        }
        return stop;
      }
    }
    const watch = new ParkWatch(new MemoryBroker());
    const broker = new RacyBroker(watch);
    const fixture = await serve(t, { pingInterval: 0, broker });
    t.after(() => watch.inner.close());
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    await client.dispose();
    await watch.parked(welcome.session);
    await fixture.server.sendTo(welcome.session, 'one');
    await fixture.server.sendTo(welcome.session, 'two');
    broker.armed = true;
    const { client: back } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    await back.take('message', (message) => message.seq === 3);
    await back.wire();
    assert.equal(back.log[0]?.type, 'welcome', 'nothing before the welcome');
    assert.deepEqual(
      directs(back).map((message) => [message.seq, message.data]),
      [[1, 'one'], [2, 'two'], [3, 'raced']],
    );
  });
});
