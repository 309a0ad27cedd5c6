/**
 * The caps of docs/reliability.md ("Limits") over real sockets: each refuses with its documented
 * error (an `error` reply with code `limit`, or a close code with a reason), and the history
 * budget keeps memory bounded while a client publishes large events to many channels.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import { MemoryBroker } from '../../src/broker/memory-broker.js';
import type { ChannelsConfig } from '../../src/server/protocol/channels.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { PRESENCE_BURST, PRESENCE_PER_SECOND } from '../../src/server/protocol/presence.js';
import { eventually, within } from '../helpers/wait.js';
import { serve } from './support.js';
import { ProtocolClient, type MessageOf } from './protocol/protocol-client.js';
import { buildFrame, Opcode, RawSocket } from '../helpers/raw-socket.js';
import { PROTOCOL } from '../../src/protocol/protocol-name.js';

const channels: ChannelsConfig = { doc: { history: { size: 100, ttl: 600_000 } }, room: { presence: true } };

/** Subscribes to `doc:big` rewinding its whole history (100 events), then leaves it again. */
async function rewindWhole(client: ProtocolClient, id: number): Promise<void> {
  client.send({ type: 'subscribe', id, channel: 'doc:big', rewind: { count: 100 } });
  assert.equal((await client.reply(id)).type, 'subscribed');
  client.send({ type: 'unsubscribe', id: id + 1, channel: 'doc:big' });
  await client.reply(id + 1);
}

/** Sends a whole-history subscribe that must wait out a second of replay debt: not answered 1 ms before it is paid. */
async function subscribeInDebt(client: ProtocolClient, clock: FakeClock, id: number, waiting: string): Promise<void> {
  client.send({ type: 'subscribe', id, channel: 'doc:big', rewind: { count: 100 } });
  await eventually(() => clock.nextDue === clock.now() + 1_000, waiting);
  await clock.tickAsync(999);
  await client.wire();
  assert.equal(client.unread('subscribed').length, 0, 'not before the debt is paid');
}

/** Whether an application pong arrives within `ms` (what else arrives meanwhile is skipped, at most 1,000 frames). */
async function pongWithin(raw: RawSocket, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < 1_000; i++) {
    const left = deadline - Date.now();
    const frame = left > 0 ? await raw.readFrame(left).catch(() => undefined) : undefined;
    if (!frame) return false;
    if (frame.payload.toString() === '{"type":"pong"}') return true;
  }
  return false;
}

function refusal(reply: unknown): { code: string; message: string } {
  const error = reply as MessageOf<'error'>;
  assert.equal(error.type, 'error', `expected an error reply, got ${JSON.stringify(reply)}`);
  return { code: error.code, message: error.message };
}

describe('limits: the history budget', () => {
  test('1 MB events published to 30 channels keep history within the budget; evicted history is answered recovered: false', async (t) => {
    const budget = 4 * 1024 * 1024;
    const broker = new MemoryBroker({ historyBudget: budget });
    t.after(() => broker.close());
    const fixture = await serve(t, { pingInterval: 0, channels, broker, maxPayload: 2 * 1024 * 1024 });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    const megabyte = 'x'.repeat(1024 * 1024);
    const first: { epoch: string; offset: number }[] = [];
    for (let i = 0; i < 30; i++) {
      const ack = await client.publish(i + 1, `doc:${i}`, megabyte);
      assert.equal(ack.type, 'ack', JSON.stringify(ack).slice(0, 200));
      if (ack.type === 'ack') first.push(ack.position);
      assert.ok(broker.history.bytes <= budget, `after ${i + 1} publishes: ${broker.history.bytes} bytes kept`);
    }
    assert.ok(broker.history.evicted >= 26, `${broker.history.evicted} evicted`);
    // The first channel's event is gone: the client is told so instead of getting a hole.
    const before = first[0] as { epoch: string; offset: number };
    const lost = await client.subscribe(100, 'doc:0', { epoch: before.epoch, offset: before.offset - 1 });
    assert.equal(lost.recovered, false);
    // The last one's is still there.
    const last = first[29] as { epoch: string; offset: number };
    const kept = await client.subscribe(101, 'doc:29', { epoch: last.epoch, offset: last.offset - 1 });
    assert.equal(kept.recovered, true);
    await client.take('event', (event) => event.channel === 'doc:29');
  });
});

describe('limits: what publishes are deduplicated by', () => {
  test('maxIdempotencyKeys: a client publishing under a new key each time makes the node hold at most that many records, every publish acknowledged', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels, maxIdempotencyKeys: 50 });
    const broker = fixture.server.broker as MemoryBroker;
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    for (let id = 1; id <= 200; id++) client.send({ type: 'publish', id, channel: `doc:${id % 7}`, data: id, idempotencyKey: `key-${id}` });
    const acks: MessageOf<'ack'>[] = [];
    for (let id = 1; id <= 200; id++) acks.push((await client.reply(id)) as MessageOf<'ack'>);
    assert.deepEqual(new Set(acks.map((ack) => ack.type)), new Set(['ack']));
    assert.equal(broker.size.origins, 50);
    // The newest key still deduplicates: its first position, nothing stored.
    client.send({ type: 'publish', id: 201, channel: 'doc:4', data: 200, idempotencyKey: 'key-200' });
    assert.deepEqual(((await client.reply(201)) as MessageOf<'ack'>).position, acks[199]?.position);
  });
});

describe('limits: idempotency records per user', () => {
  test('maxKeysPerUser: a user publishing under a new key each time pushes out only its own records; another user\'s key still deduplicates', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels, maxIdempotencyKeys: 1000, maxKeysPerUser: 5, authenticate: ({ query }) => ({ ok: true, user: query.get('user') ?? 'nobody' }) });
    const { client: ann } = await ProtocolClient.connect(t, `${fixture.wsUrl}?user=ann`);
    const { client: mallory } = await ProtocolClient.connect(t, `${fixture.wsUrl}?user=mallory`);
    ann.send({ type: 'publish', id: 1, channel: 'doc:a', data: 'once', idempotencyKey: 'ann-1' });
    const first = (await ann.reply(1)) as MessageOf<'ack'>;
    const positions: MessageOf<'ack'>['position'][] = [];
    for (let id = 1; id <= 50; id++) mallory.send({ type: 'publish', id, channel: 'doc:a', data: id, idempotencyKey: `m-${id}` });
    for (let id = 1; id <= 50; id++) positions.push(((await mallory.reply(id)) as MessageOf<'ack'>).position);
    ann.send({ type: 'publish', id: 2, channel: 'doc:a', data: 'once', idempotencyKey: 'ann-1' });
    assert.deepEqual(((await ann.reply(2)) as MessageOf<'ack'>).position, first.position, "ann's record outlived mallory's 50 keys");
    mallory.send({ type: 'publish', id: 51, channel: 'doc:a', data: 50, idempotencyKey: 'm-50' });
    assert.deepEqual(((await mallory.reply(51)) as MessageOf<'ack'>).position, positions[49], 'her newest still deduplicates');
    mallory.send({ type: 'publish', id: 52, channel: 'doc:a', data: 1, idempotencyKey: 'm-1' });
    assert.notDeepEqual(((await mallory.reply(52)) as MessageOf<'ack'>).position, positions[0], 'her oldest was forgotten: published again');
  });
});

describe('limits: idempotency records of anonymous connections', () => {
  test('maxKeysPerUser: anonymous connections, each with a made-up user, share one quota, so a stream of them cannot push out a named user\'s records', async (t) => {
    let made = 0;
    const fixture = await serve<string>(t, {
      pingInterval: 0,
      channels,
      maxIdempotencyKeys: 20,
      maxKeysPerUser: 5,
      authenticate: ({ query }) => (query.get('user') ? { ok: true, user: query.get('user') ?? '' } : { ok: true, user: `anon-${++made}`, anonymous: true }),
    });
    const { client: ann } = await ProtocolClient.connect(t, `${fixture.wsUrl}?user=ann`);
    ann.send({ type: 'publish', id: 1, channel: 'doc:a', data: 'once', idempotencyKey: 'ann-1' });
    const first = (await ann.reply(1)) as MessageOf<'ack'>;
    for (let c = 0; c < 5; c++) {
      const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
      for (let id = 1; id <= 5; id++) client.send({ type: 'publish', id, channel: 'doc:a', data: id, idempotencyKey: `k-${id}` });
      for (let id = 1; id <= 5; id++) assert.equal((await client.reply(id)).type, 'ack');
      client.terminate();
    }
    assert.equal(made, 5, 'five made-up users');
    ann.send({ type: 'publish', id: 2, channel: 'doc:a', data: 'once', idempotencyKey: 'ann-1' });
    assert.deepEqual(((await ann.reply(2)) as MessageOf<'ack'>).position, first.position, "ann's record outlived 25 anonymous keys under a node-wide cap of 20");
  });
});

describe('limits: messages waiting in a session', () => {
  test('maxQueuedMessages: behind a slow request the server stops reading the connection instead of holding what keeps coming; every request is then answered', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels, maxQueuedMessages: 8 });
    let release = (): void => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let runs = 0;
    fixture.server.handle('slow', async (params) => {
      runs++;
      await gate;
      return typeof params === 'string' ? params.length : 0;
    });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    const read = fixture.server.stats.messagesIn;
    // 24 MiB: more than the kernel's buffers of both ends hold, so a server that kept reading
    // would have all of it in its heap.
    const count = 384;
    const params = 'x'.repeat(64 * 1024);
    for (let id = 1; id <= count; id++) client.send({ type: 'request', id, method: 'slow', params });
    await eventually(() => runs === 1, 'the first request runs');
    // A pong comes back only once the server has read everything sent before the ping: it may
    // (the server reads it all: a hole), or it must not, while the first request holds the queue.
    await client.wire(2_000).catch(() => undefined);
    const held = fixture.server.stats.messagesIn - read;
    // One running, 8 queued, and what the read that crossed the cap brought (64 KiB: a message or two).
    assert.ok(held <= 1 + 8 + 2, `${held} of ${count} requests read while the first was running`);
    release();
    for (let id = 1; id <= count; id++) assert.deepEqual(await client.reply(id), { type: 'result', id, data: params.length });
    assert.equal(runs, count);
  });
});

describe('limits: messages waiting in a resumed session', () => {
  test('maxQueuedMessages holds when what was pipelined behind a resuming hello fills the queue: the hello answered does not start reading again', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels, maxQueuedMessages: 8 });
    let release = (): void => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    fixture.server.handle('slow', async () => {
      await gate;
      return 'done';
    });
    fixture.server.handle('echo', (params) => params);
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    client.terminate();
    await client.closed;
    // A resume (its hello waits on the broker's session record), a slow request and ten more in
    // one write: the ten fill the session's queue as soon as the hello is answered.
    const { raw } = await RawSocket.upgrade(fixture.port, { headers: { 'Sec-WebSocket-Protocol': 'lifeline.v1' } });
    t.after(() => raw.destroy());
    const text = (message: unknown): Buffer => buildFrame(Opcode.TEXT, JSON.stringify(message));
    const echoes = Array.from({ length: 10 }, (_, i) => text({ type: 'request', id: 10 + i, method: 'echo', params: i }));
    raw.write(Buffer.concat([text({ type: 'hello', v: 1, session: welcome.session, secret: welcome.secret }), text({ type: 'request', id: 1, method: 'slow' }), ...echoes]));
    const answer = JSON.parse((await raw.readFrame()).payload.toString()) as { type: string; resumed?: boolean };
    assert.deepEqual([answer.type, answer.resumed], ['welcome', true]);
    const read = fixture.server.stats.messagesIn;
    // 24 MiB more: past the kernel's buffers, so a server reading on would hold it in its heap.
    const params = 'x'.repeat(64 * 1024);
    for (let id = 100; id < 484; id++) raw.write(text({ type: 'request', id, method: 'echo', params }));
    // An application ping behind them is answered only if the server reads everything before it.
    raw.write(text({ type: 'ping' }));
    assert.equal(await pongWithin(raw, 2_000), false, 'the server kept reading while the queue was full');
    const held = fixture.server.stats.messagesIn - read;
    assert.ok(held <= 2, `${held} of 385 messages read while the queue was full`);
    release();
  });
});

describe('limits: replays from history', () => {
  test('maxReplayRate: a loop of subscribes rewinding a whole history is paced; every replay is whole (fake clock)', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, pingInterval: 0, channels, maxReplayRate: 100 });
    for (let n = 0; n < 100; n++) await fixture.server.publish('doc:big', n);
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    // The burst (100 events) pays for the first; the second runs into debt (100 more) at once.
    await rewindWhole(client, 1);
    await rewindWhole(client, 3);
    assert.equal(client.events('doc:big').length, 200);
    // The third waits a second for that debt, whatever the client sends meanwhile.
    await subscribeInDebt(client, clock, 5, 'the subscribe to wait for its replay budget');
    assert.equal(client.events('doc:big').length, 200);
    await clock.tickAsync(1);
    assert.equal((await client.reply(5)).type, 'subscribed');
    assert.equal(client.events('doc:big').length, 300, 'the whole history, once paid for');
  });
});

describe('limits: replays across reconnects', () => {
  test('maxReplayRate: the debt stays with the session, so a loop of reconnects that each rewind a whole history is paced (fake clock)', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, pingInterval: 0, channels, maxReplayRate: 100 });
    for (let n = 0; n < 100; n++) await fixture.server.publish('doc:big', n);
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    // The burst pays for the first rewind; the second runs into debt (100 events) at once.
    await rewindWhole(client, 1);
    await rewindWhole(client, 3);
    client.terminate();
    await client.closed;
    const { client: back, welcome: again } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    assert.equal(again.resumed, true);
    await subscribeInDebt(back, clock, 5, 'the resumed session to wait for the debt its last connection ran up');
    await clock.tickAsync(1);
    assert.equal((await back.reply(5)).type, 'subscribed');
    assert.equal(back.events('doc:big').length, 100, 'the whole history, once paid for');
  });
});

describe('limits: replays across sessions of one user', () => {
  test("maxReplayRate: a user's sessions share one budget, so opening a new session instead of resuming brings no fresh burst; another user's is its own (fake clock)", async (t) => {
    const clock = new FakeClock();
    const fixture = await serve<string>(t, { clock, pingInterval: 0, channels, maxReplayRate: 100, authenticate: ({ query }) => ({ ok: true, user: query.get('user') ?? '' }) });
    for (let n = 0; n < 100; n++) await fixture.server.publish('doc:big', n);
    const { client } = await ProtocolClient.connect(t, `${fixture.wsUrl}?user=mallory`);
    await rewindWhole(client, 1);
    await rewindWhole(client, 3);
    client.terminate();
    await client.closed;
    // A new session of the same user (no session id, no secret): the debt is the user's.
    const { client: fresh, welcome } = await ProtocolClient.connect(t, `${fixture.wsUrl}?user=mallory`);
    assert.equal(welcome.resumed, false);
    await subscribeInDebt(fresh, clock, 5, "the new session to wait for its user's debt");
    // Meanwhile another user rewinds the whole history at once: its budget is its own.
    const { client: ann } = await ProtocolClient.connect(t, `${fixture.wsUrl}?user=ann`);
    await rewindWhole(ann, 1);
    assert.equal(ann.events('doc:big').length, 100);
    await clock.tickAsync(1);
    assert.equal((await fresh.reply(5)).type, 'subscribed');
    assert.equal(fresh.events('doc:big').length, 100, 'the whole history, once paid for');
  });
});

describe('limits: presence lists', () => {
  test('maxReplayRate: a loop of presence.get on a full channel is paced like replays; every list is whole (fake clock)', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, pingInterval: 0, channels, maxReplayRate: 2 });
    const members = [];
    for (let i = 0; i < 3; i++) {
      const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
      await client.subscribe(1, 'room:full');
      members.push(client);
    }
    const [asker] = members;
    assert.ok(asker);
    const list = async (id: number): Promise<number> => {
      const reply = await asker.reply(id);
      assert.equal(reply.type, 'presence.list');
      return (reply as MessageOf<'presence.list'>).members.length;
    };
    // The burst (2) pays for part of the first list (3 members); the next waits for the rest.
    asker.send({ type: 'presence.get', id: 2, channel: 'room:full' });
    assert.equal(await list(2), 3);
    asker.send({ type: 'presence.get', id: 3, channel: 'room:full' });
    await eventually(() => clock.nextDue === clock.now() + 500, 'the presence.get to wait for its budget');
    await clock.tickAsync(499);
    await asker.wire();
    assert.equal(asker.unread('presence.list').length, 0, 'not before the debt is paid');
    await clock.tickAsync(1);
    assert.equal(await list(3), 3, 'the whole list, once paid for');
  });
});

describe('limits: the outbound budget', () => {
  test('a client that reads everything is not a slow consumer: the events of its pipelined publishes, written together, may pass the budget', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels, outboundBudget: 16 * 1024 });
    const { raw } = await RawSocket.upgrade(fixture.port, { headers: { 'Sec-WebSocket-Protocol': PROTOCOL } });
    t.after(() => raw.destroy());
    const next = async (type: string): Promise<Record<string, unknown>> => {
      for (let i = 0; i < 100; i++) {
        const frame = await raw.readFrame();
        if (frame.opcode === Opcode.CLOSE) throw new Error(`closed: ${frame.payload.readUInt16BE(0)} ${frame.payload.subarray(2).toString()}`);
        const message = JSON.parse(frame.payload.toString()) as Record<string, unknown>;
        if (message.type === type) return message;
      }
      throw new Error(`no ${type} within 100 frames`);
    };
    raw.sendText(JSON.stringify({ type: 'hello', v: 1 }));
    await next('welcome');
    raw.sendText(JSON.stringify({ type: 'subscribe', id: 1, channel: 'doc:a' }));
    await next('subscribed');
    // Eight publishes of 6 KiB in one write: their acks and events are replies of one turn,
    // written together (48 KiB, three times the budget) to a client that reads them at once.
    const data = 'x'.repeat(6 * 1024);
    raw.write(Buffer.concat(Array.from({ length: 8 }, (_, i) => buildFrame(Opcode.TEXT, JSON.stringify({ type: 'publish', id: 10 + i, channel: 'doc:a', data })))));
    for (let i = 0; i < 8; i++) assert.equal((await next('event')).offset, i + 1);
    assert.equal(fixture.server.stats.slowConsumerCloses, 0);
  });
});

describe('limits: caps refuse with their documented error', () => {
  test('maxSubscriptions: one subscription too many is refused with code limit; resubscribing is not a new one', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels, maxSubscriptions: 3 });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    for (let i = 1; i <= 3; i++) await client.subscribe(i, `doc:${i}`);
    client.send({ type: 'subscribe', id: 4, channel: 'doc:4' });
    const refused = refusal(await client.reply(4));
    assert.equal(refused.code, 'limit');
    assert.match(refused.message, /at most 3 channels/);
    await client.subscribe(5, 'doc:1');
    client.send({ type: 'unsubscribe', id: 6, channel: 'doc:2' });
    await client.reply(6);
    await client.subscribe(7, 'doc:4');
  });

  test('maxChannels: a subscribe to one more channel on the node is refused; a channel already held is fine', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels, maxChannels: 2 });
    const { client: a } = await ProtocolClient.connect(t, fixture.wsUrl);
    const { client: b } = await ProtocolClient.connect(t, fixture.wsUrl);
    await a.subscribe(1, 'doc:a');
    await a.subscribe(2, 'doc:b');
    b.send({ type: 'subscribe', id: 1, channel: 'doc:c' });
    assert.equal(refusal(await b.reply(1)).code, 'limit');
    await b.subscribe(2, 'doc:a');
  });

  test('maxPresenceMembers: a third member of a presence channel is refused', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels, maxPresenceMembers: 2 });
    const clients = await Promise.all([0, 1, 2].map(async () => (await ProtocolClient.connect(t, fixture.wsUrl)).client));
    await clients[0]?.subscribe(1, 'room:1');
    await clients[1]?.subscribe(1, 'room:1');
    clients[2]?.send({ type: 'subscribe', id: 1, channel: 'room:1' });
    const refused = refusal(await clients[2]?.reply(1));
    assert.equal(refused.code, 'limit');
    assert.match(refused.message, /presence members/);
  });

  test('maxPresenceMembers: a member whose session resumes while its old connection lingers is no new member; its subscribe is taken', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels, maxPresenceMembers: 2 });
    const { client: other } = await ProtocolClient.connect(t, fixture.wsUrl);
    await other.subscribe(1, 'room:1');
    const { client: first, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    await first.subscribe(1, 'room:1');
    // The resume takes over (the old connection is closed with 4001, and its subscription ends
    // when that close is done); the subscribe pipelined behind the hello comes first.
    const second = await ProtocolClient.open(fixture.wsUrl);
    t.after(() => second.dispose());
    second.send({ type: 'hello', v: 1, session: welcome.session, secret: welcome.secret });
    second.send({ type: 'subscribe', id: 2, channel: 'room:1' });
    assert.equal((await second.reply(2)).type, 'subscribed');
    assert.equal((await first.closed).code, 4001);
    const { client: third } = await ProtocolClient.connect(t, fixture.wsUrl);
    third.send({ type: 'subscribe', id: 1, channel: 'room:1' });
    assert.equal(refusal(await third.reply(1)).code, 'limit', 'a new member is still refused');
  });

  test('maxSessionsPerUser: a hello over it is closed with 1008; resuming one of them is not a new session', async (t) => {
    const fixture = await serve<string>(t, { pingInterval: 0, channels, maxSessionsPerUser: 2, authenticate: (request) => ({ ok: true, user: request.query.get('user') ?? '' }) });
    const ann = { query: { user: 'ann' } };
    const { welcome: first } = await ProtocolClient.connect(t, fixture.wsUrl, {}, ann);
    await ProtocolClient.connect(t, fixture.wsUrl, {}, ann);
    const third = await ProtocolClient.open(fixture.wsUrl, ann);
    t.after(() => third.dispose());
    third.send({ type: 'hello', v: 1 });
    assert.deepEqual(await within(third.closed, 5_000, 'the third session closed'), { code: 1008, reason: 'too many sessions for this user' });
    // Another user is not affected, and the first session may move to a new connection.
    await ProtocolClient.connect(t, fixture.wsUrl, {}, { query: { user: 'bob' } });
    const { welcome: resumed } = await ProtocolClient.connect(t, fixture.wsUrl, { session: first.session, secret: first.secret }, ann);
    assert.equal(resumed.session, first.session);
  });

  test('helloTimeout: a lifeline.v1 connection that never says hello is closed with 4408', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels, helloTimeout: 200 });
    const silent = await ProtocolClient.open(fixture.wsUrl);
    t.after(() => silent.dispose());
    assert.deepEqual(await within(silent.closed, 5_000, 'the silent connection closed'), { code: 4408, reason: 'no hello within helloTimeout' });
    await eventually(() => fixture.server.connections.size === 0, 'the connection gone from the server', 5_000);
  });

  test('the default message rate: a flood from one connection is closed with 1008 and a reason', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    for (let i = 0; i < 5_000 && client.ws.readyState === client.ws.OPEN; i++) client.send({ type: 'ping' });
    assert.deepEqual(await within(client.closed, 10_000, 'the flooding connection closed'), { code: 1008, reason: 'message rate exceeded' });
  });
});

describe('limits: presence announcements are paced per member', () => {
  test('a member that subscribes and unsubscribes in a loop makes the others hear a bounded number of changes, ending in the true state', async (t) => {
    const fixture = await serve<string>(t, { pingInterval: 0, channels, authenticate: (request) => ({ ok: true, user: request.query.get('user') ?? '' }) });
    const { client: ann } = await ProtocolClient.connect(t, fixture.wsUrl, {}, { query: { user: 'ann' } });
    const { client: eve, welcome: eveWelcome } = await ProtocolClient.connect(t, fixture.wsUrl, {}, { query: { user: 'eve' } });
    await ann.subscribe(1, 'room:1');
    const started = Date.now();
    const rounds = 100;
    for (let i = 0; i < rounds; i++) {
      await eve.subscribe(2 * i + 1, 'room:1');
      eve.send({ type: 'unsubscribe', id: 2 * i + 2, channel: 'room:1' });
      await eve.reply(2 * i + 2);
    }
    const aboutEve = (): MessageOf<'presence'>[] =>
      ann.log.filter((message): message is MessageOf<'presence'> => message.type === 'presence' && (message.join ?? message.leave)?.client === eveWelcome.member);
    // Eve's last change (she left) reaches Ann, however it was paced.
    await eventually(() => aboutEve().at(-1)?.leave !== undefined, "Eve's final leave", 10_000);
    const seconds = (Date.now() - started) / 1000;
    const heard = aboutEve().length;
    assert.ok(heard <= PRESENCE_BURST + Math.ceil(seconds * PRESENCE_PER_SECOND) + 2, `${heard} announcements in ${seconds.toFixed(1)} s for ${2 * rounds} changes`);
    assert.ok(heard < 2 * rounds);
  });
});

describe('limits: HTTP deadlines', () => {
  test('a request that trickles its body is answered 408 and dropped after httpRequestTimeout', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, handshakeTimeout: 300, httpRequestTimeout: 500, onRequest: (request, response) => request.resume().on('end', () => response.end('ok')) });
    const socket = connect(fixture.port, '127.0.0.1');
    t.after(() => socket.destroy());
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write('POST /page HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n');
    const started = Date.now();
    const drip = setInterval(() => socket.writable && socket.write('x'), 100);
    t.after(() => clearInterval(drip));
    await within(closed, 10_000, 'the trickling request dropped');
    clearInterval(drip);
    assert.match(answer, /^HTTP\/1\.1 408/);
    assert.ok(Date.now() - started < 8_000, `dropped after ${Date.now() - started} ms`);
  });
});

describe('limits: opting out', () => {
  test('maxMessageRate: Infinity lifts the message-rate limit', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels, maxMessageRate: Infinity });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    for (let i = 0; i < 3_000; i++) client.send({ type: 'ping' });
    await client.sync();
    assert.equal(fixture.server.connections.size, 1);
  });
});
