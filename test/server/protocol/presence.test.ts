/**
 * Presence (docs/protocol.md §7) over real sockets: join and leave events to the subscribers of
 * a channel with presence on, `presence.get`, members kept alive by the hub's refresh (fake
 * clock), and no false `leave` when a session's connection is taken over by a newer one.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { PresenceMember } from '../../../src/broker/broker.js';
import type { ChannelsConfig } from '../../../src/server/protocol/channels.js';
import { MemoryBroker } from '../../../src/broker/memory-broker.js';
import { FakeClock } from '../../../src/testing/fake-clock.js';
import { memberId } from '../../../src/server/protocol/member-id.js';
import { serve } from '../support.js';
import { within } from '../../helpers/wait.js';
import { ParkWatch } from './brokers.js';
import { ProtocolClient, type Member, type MessageOf, type ProtocolClient as Client } from './protocol-client.js';

const channels: ChannelsConfig = { room: { presence: true }, quiet: {} };

function byClient(members: readonly Member[]): Member[] {
  return [...members].sort((a, b) => a.client.localeCompare(b.client));
}

async function members(client: Client, id: number, channel: string): Promise<Member[]> {
  client.send({ type: 'presence.get', id, channel });
  const reply = await client.reply(id);
  if (reply.type !== 'presence.list') throw new Error(`presence.get refused: ${JSON.stringify(reply)}`);
  assert.equal(reply.channel, channel);
  return byClient(reply.members);
}

/** A watcher on `room:1`, and a member (`first`) whose join it heard. */
async function watchedMember(t: TestContext, url: string): Promise<{ watcher: Client; first: Client; welcome: MessageOf<'welcome'>; member: string }> {
  const { client: watcher } = await ProtocolClient.connect(t, url);
  await watcher.subscribe(1, 'room:1');
  const { client: first, welcome } = await ProtocolClient.connect(t, url);
  const member = memberId(welcome.session);
  await first.subscribe(1, 'room:1');
  await watcher.take('presence', (message) => message.join?.client === member);
  return { watcher, first, welcome, member };
}

/**
 * A watcher on `room:1` and a member that joined it, dropped its link and resumed halfway
 * through the grace period (subscribed again, so silently): what both tests of a resume share.
 */
async function resumedWithinGrace(t: TestContext, grace: number): Promise<{ fixture: Awaited<ReturnType<typeof serve>>; clock: FakeClock; watcher: Client; second: Client; member: string }> {
  const clock = new FakeClock();
  const fixture = await serve(t, { clock, pingInterval: 0, presenceGrace: grace, channels });
  const { watcher, first, welcome, member } = await watchedMember(t, fixture.wsUrl);
  const closed = new Promise<void>((resolve) => fixture.server.once('disconnect', () => resolve()));
  await first.dispose();
  await closed;
  await clock.tickAsync(grace / 2);
  const { client: second } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
  await second.subscribe(2, 'room:1');
  return { fixture, clock, watcher, second, member };
}

function presenceOf(client: Client, channel: string): MessageOf<'presence'>[] {
  return client.log.filter((message): message is MessageOf<'presence'> => message.type === 'presence' && message.channel === channel);
}

describe('protocol: presence', () => {
  test('subscribers hear joins and leaves, and presence.get lists the members with their users', async (t) => {
    const fixture = await serve<string>(t, {
      pingInterval: 0,
      presenceGrace: 0,
      channels,
      authenticate: (request) => ({ ok: true, user: request.query.get('user') ?? '' }),
    });
    const { client: ann, welcome: annWelcome } = await ProtocolClient.connect(t, fixture.wsUrl, {}, { query: { user: 'ann' } });
    const { client: bob, welcome: bobWelcome } = await ProtocolClient.connect(t, fixture.wsUrl, {}, { query: { user: 'bob' } });
    const annMember = { client: memberId(annWelcome.session), user: 'ann' };
    const bobMember = { client: memberId(bobWelcome.session), user: 'bob' };
    assert.notEqual(annMember.client, annWelcome.session, 'presence never shows the session id');
    await ann.subscribe(1, 'room:1');
    assert.deepEqual((await ann.take('presence')).join, annMember, 'a subscriber hears its own join');
    await bob.subscribe(1, 'room:1');
    assert.deepEqual(await ann.take('presence'), { type: 'presence', channel: 'room:1', join: bobMember });
    assert.deepEqual(await members(ann, 2, 'room:1'), byClient([annMember, bobMember]));

    bob.send({ type: 'unsubscribe', id: 3, channel: 'room:1' });
    await bob.reply(3);
    assert.deepEqual(await ann.take('presence'), { type: 'presence', channel: 'room:1', leave: bobMember });
    assert.deepEqual(await members(ann, 4, 'room:1'), [annMember]);

    await bob.subscribe(5, 'room:1');
    assert.deepEqual((await ann.take('presence')).join, bobMember);
    await bob.dispose(); // a closed connection leaves too
    assert.deepEqual((await ann.take('presence')).leave, bobMember);
    assert.deepEqual(await members(ann, 6, 'room:1'), [annMember]);
  });

  test('presence is per channel: other channels hear nothing', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels });
    const { client: a } = await ProtocolClient.connect(t, fixture.wsUrl);
    const { client: b } = await ProtocolClient.connect(t, fixture.wsUrl);
    await a.subscribe(1, 'room:1');
    await b.subscribe(1, 'room:2');
    await a.sync();
    await b.sync();
    assert.equal(presenceOf(a, 'room:1').length, 1);
    assert.equal(a.log.filter((message) => message.type === 'presence' && message.channel !== 'room:1').length, 0);
    assert.deepEqual((await members(a, 2, 'room:1')).length, 1);
  });

  test('presence.get needs a subscription to a channel with presence on', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    client.send({ type: 'presence.get', id: 1, channel: 'room:1' });
    const unsubscribed = await client.reply(1);
    assert.equal(unsubscribed.type === 'error' && unsubscribed.code, 'forbidden');
    await client.subscribe(2, 'quiet:1');
    client.send({ type: 'presence.get', id: 3, channel: 'quiet:1' });
    const noPresence = await client.reply(3);
    assert.equal(noPresence.type === 'error' && noPresence.code, 'forbidden');
    await client.sync();
    assert.deepEqual(presenceOf(client, 'quiet:1'), [], 'no presence events without presence on');
  });

  test('members stay listed while connected, with keepalive off too (fake clock)', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, pingInterval: 0, channels });
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    await client.subscribe(1, 'room:1');
    for (let minute = 1; minute <= 3; minute++) {
      await clock.tickAsync(60_000);
      assert.deepEqual(await members(client, 1 + minute, 'room:1'), [{ client: memberId(welcome.session) }], `after ${minute} min`);
    }
  });

  test('a takeover is neither a leave nor a join: the session stays present and nobody hears anything', async (t) => {
    // The old connection does not answer our close (a half-open link), so it goes only after
    // closeTimeout: by then the new connection has subscribed again.
    const fixture = await serve(t, { pingInterval: 0, closeTimeout: 300, channels });
    const { client: watcher } = await ProtocolClient.connect(t, fixture.wsUrl);
    await watcher.subscribe(1, 'room:1');
    const { client: old, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    await old.subscribe(1, 'room:1');
    const member = memberId(welcome.session);
    await watcher.take('presence', (message) => message.join?.client === member);
    old.pause();
    // Listening before the takeover: on a busy machine closeTimeout may pass before the new
    // connection's subscribe is answered.
    const gone = new Promise<void>((resolve) => fixture.server.once('disconnect', () => resolve()));
    const { client: fresh } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    await fresh.subscribe(2, 'room:1');
    await gone; // the old connection was terminated after closeTimeout and its session part parked
    await watcher.sync();
    await fresh.sync();
    assert.deepEqual(
      presenceOf(watcher, 'room:1').filter((message) => message.leave !== undefined || message.join?.client === member).length,
      1,
      'one join (the first connection), no leave and no second join for a session that is still here',
    );
    assert.deepEqual(
      (await members(watcher, 2, 'room:1')).map((entry) => entry.client).sort(),
      [member, memberId(watcher.log.find((m): m is MessageOf<'welcome'> => m.type === 'welcome')?.session ?? '')].sort(),
    );
  });
  test('a resume within presenceGrace is silent to other members; a leave after it is told (fake clock)', async (t) => {
    const grace = 5_000;
    // The link drops; the client resumes and subscribes again before the grace period ends.
    const { fixture, clock, watcher, second, member } = await resumedWithinGrace(t, grace);
    await clock.tickAsync(grace);
    await watcher.sync();
    const heard = (): number => presenceOf(watcher, 'room:1').filter((message) => message.leave?.client === member || message.join?.client === member).length;
    assert.equal(heard(), 1, 'only the first join: no leave and no join for the resume');
    assert.deepEqual((await members(watcher, 2, 'room:1')).map((entry) => entry.client).includes(member), true);

    // Gone for good: the leave is told once the grace period is over, not before.
    const closed = new Promise<void>((resolve) => fixture.server.once('disconnect', () => resolve()));
    await second.dispose();
    await closed;
    await clock.tickAsync(grace - 1);
    await watcher.sync();
    assert.equal(heard(), 1, 'no leave within the grace period');
    await clock.tickAsync(2);
    assert.deepEqual((await watcher.take('presence', (message) => message.leave !== undefined)).leave?.client, member);
    assert.equal((await members(watcher, 3, 'room:1')).some((entry) => entry.client === member), false);
  });

  test('a member that comes back without subscribing again leaves after the grace period (fake clock)', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, pingInterval: 0, presenceGrace: 1_000, channels });
    const { client: watcher } = await ProtocolClient.connect(t, fixture.wsUrl);
    await watcher.subscribe(1, 'room:1');
    const { client: first, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    await first.subscribe(1, 'room:1');
    const member = memberId(welcome.session);
    await watcher.take('presence', (message) => message.join?.client === member);
    const closed = new Promise<void>((resolve) => fixture.server.once('disconnect', () => resolve()));
    await first.dispose();
    await closed;
    const { client: second } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    await second.sync();
    await clock.tickAsync(1_001);
    assert.deepEqual((await watcher.take('presence', (message) => message.leave !== undefined)).leave?.client, member);
  });
});

describe('presence: one leave per member', () => {
  test('a session that resumes within the grace period, subscribes again and unsubscribes is announced leaving once (the first connection\'s grace period ends with it)', async (t) => {
    const grace = 5_000;
    const { clock, watcher, second, member } = await resumedWithinGrace(t, grace);
    second.send({ type: 'unsubscribe', id: 3, channel: 'room:1' });
    await second.reply(3);
    await watcher.sync();
    await clock.tickAsync(grace);
    await watcher.sync();
    const changes = watcher.log.filter((m): m is MessageOf<'presence'> => m.type === 'presence' && (m.leave?.client === member || m.join?.client === member)).map((m) => (m.join ? 'join' : 'leave'));
    assert.deepEqual(changes, ['join', 'leave']);
  });
});

describe('presence: a grace period longer than the member ttl', () => {
  // Keepalive off: members are refreshed every 10 s and their ttl is 30 s; the grace outlasts it.
  const grace = 120_000;

  test('a resume within it is silent and the member stays listed meanwhile; gone for good, its leave is told once, when the grace ends (fake clock)', async (t) => {
    const { fixture, clock, watcher, second, member } = await resumedWithinGrace(t, grace);
    await watcher.sync();
    const changes = (): string[] => presenceOf(watcher, 'room:1').filter((m) => m.leave?.client === member || m.join?.client === member).map((m) => (m.join ? 'join' : 'leave'));
    assert.deepEqual(changes(), ['join'], 'no leave and no second join for a resume within the grace period');
    assert.equal((await members(watcher, 2, 'room:1')).some((entry) => entry.client === member), true);

    const closed = new Promise<void>((resolve) => fixture.server.once('disconnect', () => resolve()));
    await second.dispose();
    await closed;
    await clock.tickAsync(grace - 1);
    await watcher.sync();
    assert.deepEqual(changes(), ['join'], 'no leave within the grace period');
    assert.equal((await members(watcher, 3, 'room:1')).some((entry) => entry.client === member), true, 'listed while its leave waits');
    await clock.tickAsync(2);
    await watcher.take('presence', (message) => message.leave?.client === member);
    await clock.tickAsync(60_000); // refreshes that would find an expired entry to tell again
    await watcher.sync();
    assert.deepEqual(changes(), ['join', 'leave']);
  });
});

describe('presence: a connection that ends while its subscribe is under way', () => {
  /**
   * A broker whose `method` waits, when armed, until the test opens it (then fails, with
   * `fails`); `reached` resolves when it is waiting, `called(name)` at the next call of `name`.
   */
  function heldAt(method: string, clock: FakeClock, fails = false): { broker: ParkWatch; arm(): void; reached: Promise<void>; open(): void; called(name: string): Promise<void> } {
    let armed = false;
    let reach = (): void => undefined;
    let open = (): void => undefined;
    const reached = new Promise<void>((resolve) => (reach = resolve));
    const opened = new Promise<void>((resolve) => (open = resolve));
    const watched = new Map<string, () => void>();
    const broker = new ParkWatch(new MemoryBroker({ clock }), async (called) => {
      watched.get(called)?.();
      watched.delete(called);
      if (called !== method || !armed) return;
      armed = false;
      reach();
      await opened;
      if (fails) throw new Error('broker unavailable');
    });
    const called = (name: string): Promise<void> => new Promise<void>((resolve) => watched.set(name, resolve));
    return { broker, arm: () => void (armed = true), reached, open, called };
  }

  const changesOf = (watcher: Client, member: string): string[] =>
    presenceOf(watcher, 'room:1')
      .filter((message) => message.join?.client === member || message.leave?.client === member)
      .map((message) => (message.join ? 'join' : 'leave'));

  /** A watcher on `room:1`, and a member whose link drops while its subscribe waits at the broker's `method`; held there, its session parked. */
  async function endedMidSubscribe(t: TestContext, method: string): Promise<{ clock: FakeClock; watcher: Client; welcome: MessageOf<'welcome'>; member: string; url: string; open(): void; called(name: string): Promise<void> }> {
    const clock = new FakeClock();
    const held = heldAt(method, clock);
    t.after(() => held.broker.inner.close());
    const fixture = await serve(t, { clock, pingInterval: 0, presenceGrace: 1_000, channels, broker: held.broker });
    const { client: watcher } = await ProtocolClient.connect(t, fixture.wsUrl);
    await watcher.subscribe(1, 'room:1');
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    held.arm();
    client.send({ type: 'subscribe', id: 1, channel: 'room:1' });
    await held.reached;
    client.terminate();
    await held.broker.parked(welcome.session);
    return { clock, watcher, welcome, member: memberId(welcome.session), url: fixture.wsUrl, open: held.open, called: held.called };
  }

  /** A watcher on `room:1` and a member that joined it and whose link dropped (its session parked), on a broker held at `presenceJoin` when armed. */
  async function droppedMember(t: TestContext, fails = false) {
    const clock = new FakeClock();
    const held = heldAt('presenceJoin', clock, fails);
    t.after(() => held.broker.inner.close());
    const fixture = await serve(t, { clock, pingInterval: 0, presenceGrace: 1_000, channels, broker: held.broker });
    const { watcher, first, welcome, member } = await watchedMember(t, fixture.wsUrl);
    first.terminate();
    await held.broker.parked(welcome.session);
    return { clock, held, fixture, watcher, welcome, member };
  }

  /** A dropped member resumes halfway through the grace period; its subscribe is held at the presence join until past the grace's end. */
  async function resumedHeldPastGrace(t: TestContext, fails = false) {
    const dropped = await droppedMember(t, fails);
    const { clock, held, fixture, watcher, welcome } = dropped;
    await clock.tickAsync(500);
    const { client: second } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    held.arm();
    second.send({ type: 'subscribe', id: 1, channel: 'room:1' });
    await held.reached;
    await clock.tickAsync(1_000); // the first connection's grace period would end here
    await watcher.sync();
    return { ...dropped, second };
  }

  test('closed during the catch-up: it never joined, so nobody hears it leave, at once or after the grace period (fake clock)', async (t) => {
    const { clock, watcher, member, open } = await endedMidSubscribe(t, 'recover');
    open();
    await clock.tickAsync(1_001);
    assert.equal((await members(watcher, 2, 'room:1')).some((entry) => entry.client === member), false, 'never a member');
    assert.deepEqual(changesOf(watcher, member), [], 'no join, no leave');
  });

  test('closed while entering presence, before its subscribed: it never joined, nobody hears it; a resume joins once (fake clock)', async (t) => {
    const { clock, watcher, welcome, member, url, open, called } = await endedMidSubscribe(t, 'presenceJoin');
    const withdrawn = called('presenceLeave');
    open();
    await within(withdrawn, 5_000, 'the entry withdrawn');
    assert.equal((await members(watcher, 2, 'room:1')).some((entry) => entry.client === member), false, 'never a member');
    await clock.tickAsync(500);
    const { client: second } = await ProtocolClient.connect(t, url, { session: welcome.session, secret: welcome.secret });
    await second.subscribe(2, 'room:1');
    await watcher.take('presence', (message) => message.join?.client === member);
    await clock.tickAsync(1_001);
    assert.equal((await members(watcher, 3, 'room:1')).some((entry) => entry.client === member), true, 'a member since the resume');
    assert.deepEqual(changesOf(watcher, member), ['join'], 'one join, no leave');
  });

  test('a member resuming within the grace that closes again while entering presence leaves once, when the grace ends (fake clock)', async (t) => {
    const { clock, held, fixture, watcher, welcome, member } = await droppedMember(t);
    const { client: second } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    held.arm();
    second.send({ type: 'subscribe', id: 1, channel: 'room:1' });
    await held.reached;
    second.terminate();
    await held.broker.parked(welcome.session, 2);
    held.open();
    await clock.tickAsync(500);
    assert.equal((await members(watcher, 2, 'room:1')).some((entry) => entry.client === member), true, 'listed while its leave waits');
    assert.deepEqual(changesOf(watcher, member), ['join'], 'no leave within the grace period');
    await clock.tickAsync(1_001);
    await watcher.take('presence', (message) => message.leave?.client === member);
    await watcher.sync();
    assert.deepEqual(changesOf(watcher, member), ['join', 'leave']);
  });

  test('a refresh while the subscribe is still at the broker tells nothing: closed before its subscribed, it never joined (fake clock)', async (t) => {
    const clock = new FakeClock();
    const held = heldAt('presenceJoin', clock);
    t.after(() => held.broker.inner.close());
    // Keepalive off: members are refreshed every 10 s once there is one (the watcher).
    const fixture = await serve(t, { clock, pingInterval: 0, presenceGrace: 1_000, channels, broker: held.broker });
    const { client: watcher } = await ProtocolClient.connect(t, fixture.wsUrl);
    await watcher.subscribe(1, 'room:1');
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    const member = memberId(welcome.session);
    held.arm();
    client.send({ type: 'subscribe', id: 1, channel: 'room:1' });
    await held.reached;
    await clock.tickAsync(10_000); // a refresh of every member while this one enters presence
    await watcher.sync();
    client.terminate();
    await held.broker.parked(welcome.session);
    held.open();
    await clock.tickAsync(1_001);
    await watcher.sync();
    assert.equal((await members(watcher, 2, 'room:1')).some((entry) => entry.client === member), false, 'never a member');
    assert.deepEqual(changesOf(watcher, member), [], 'no join, no leave');
  });

  test('a resume whose presence join is still at the broker when the grace period would end is silent: no leave, no second join (fake clock)', async (t) => {
    const { clock, held, fixture, watcher, member, second } = await resumedHeldPastGrace(t);
    held.open();
    assert.equal((await second.reply(1)).type, 'subscribed');
    await watcher.sync();
    assert.deepEqual(changesOf(watcher, member), ['join'], 'a resume within the grace period: nobody hears anything');
    assert.equal((await members(watcher, 2, 'room:1')).some((entry) => entry.client === member), true, 'listed throughout');

    // Gone for good: one leave, when the grace period of the second connection ends.
    const closed = new Promise<void>((resolve) => fixture.server.once('disconnect', () => resolve()));
    await second.dispose();
    await closed;
    await clock.tickAsync(1_001);
    await watcher.take('presence', (message) => message.leave?.client === member);
    await watcher.sync();
    assert.deepEqual(changesOf(watcher, member), ['join', 'leave']);
  });

  test('a resume whose presence join took at the broker but whose answer was lost is refused, and the member is heard leave, not left listed in silence (fake clock)', async (t) => {
    /** A broker whose next `presenceJoin`, once armed, is made and then fails (its answer lost on the way). */
    class LostAnswer extends ParkWatch {
      armed = false;
      override async presenceJoin(channel: string, member: PresenceMember, ttl: number): Promise<boolean> {
        const fresh = await super.presenceJoin(channel, member, ttl);
        if (!this.armed) return fresh;
        this.armed = false;
        throw new Error('connection lost before the answer');
      }
    }
    const clock = new FakeClock();
    const broker = new LostAnswer(new MemoryBroker({ clock }));
    t.after(() => broker.inner.close());
    const fixture = await serve(t, { clock, pingInterval: 0, presenceGrace: 1_000, channels, broker });
    const { watcher, first, welcome, member } = await watchedMember(t, fixture.wsUrl);
    first.terminate();
    await broker.parked(welcome.session);
    await clock.tickAsync(500);
    const { client: second } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    broker.armed = true;
    second.send({ type: 'subscribe', id: 1, channel: 'room:1' });
    const refused = await second.reply(1);
    assert.equal(refused.type === 'error' && refused.code, 'unavailable');
    await clock.tickAsync(1_001); // past the first connection's grace period
    await watcher.sync();
    const listed = (await members(watcher, 2, 'room:1')).some((entry) => entry.client === member);
    assert.equal(listed, false, 'not listed: its subscribe was refused and its first connection is gone');
    assert.deepEqual(changesOf(watcher, member), ['join', 'leave']);
  });

  test('a resume whose presence join fails after the grace period would have ended is refused, and the member is heard leave then (fake clock)', async (t) => {
    const { clock, held, watcher, member, second } = await resumedHeldPastGrace(t, true);
    assert.deepEqual(changesOf(watcher, member), ['join'], 'its leave waits for the join');
    held.open();
    const refused = await second.reply(1);
    assert.equal(refused.type === 'error' && refused.code, 'unavailable');
    await watcher.take('presence', (message) => message.leave?.client === member);
    assert.equal((await members(watcher, 2, 'room:1')).some((entry) => entry.client === member), false, 'not listed');
    await clock.tickAsync(1_001);
    await watcher.sync();
    assert.deepEqual(changesOf(watcher, member), ['join', 'leave']);
  });
});
