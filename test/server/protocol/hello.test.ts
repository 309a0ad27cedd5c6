/**
 * The channel protocol's entry and its input errors (docs/protocol.md §1, §9), over real
 * sockets: hello first, one hello only, unknown types, schema violations that name the field
 * (and echo the id), and the 1008 limit on invalid messages.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import type { Socket } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { MemoryBroker } from '../../../src/broker/memory-broker.js';
import { LifelineError } from '../../../src/core/errors.js';
import { FakeClock } from '../../../src/testing/fake-clock.js';
import { eventually } from '../../helpers/wait.js';
import { serve } from '../support.js';
import { ForwardingBroker } from './brokers.js';
import { ProtocolClient, type MessageOf } from './protocol-client.js';

/** A broker whose session saves wait for `release()`: a hello stays pending until then. */
function heldAtSave(t: TestContext): { readonly broker: ForwardingBroker; readonly release: () => void } {
  let release = (): void => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  const inner = new MemoryBroker();
  t.after(() => inner.close());
  return { broker: new ForwardingBroker(inner, (method) => (method === 'saveSession' ? held : Promise.resolve())), release };
}

describe('protocol: hello and welcome', () => {
  test('a client offering lifeline.v1 gets it, and hello is answered with a new session', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, recoveryWindow: 30_000 });
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    assert.equal(client.protocol, 'lifeline.v1');
    assert.equal(welcome.v, 1);
    assert.match(welcome.session, /^s-/);
    assert.equal(welcome.resumed, false);
    assert.equal(welcome.recoveryWindow, 30_000);
    assert.equal(welcome.acked, 0);
    assert.equal(fixture.server.realtime.sessions, 1);
  });

  test('anything before hello gets hello_required and the connection stays open', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels: { chat: {} } });
    const client = await ProtocolClient.open(fixture.wsUrl);
    t.after(() => client.dispose());
    client.send({ type: 'subscribe', id: 1, channel: 'chat:a' });
    const error = await client.take('error');
    assert.equal(error.code, 'hello_required');
    assert.equal(error.id, undefined);
    const welcome = await client.hello();
    assert.equal(welcome.resumed, false, 'the connection stayed usable');
    const subscribed = await client.subscribe(2, 'chat:a');
    assert.equal(subscribed.recovered, true);
  });

  test('a second hello gets bad_state', async (t) => {
    const fixture = await serve(t, { pingInterval: 0 });
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    client.send({ type: 'hello', v: 1, session: welcome.session, secret: welcome.secret });
    const error = await client.take('error');
    assert.equal(error.code, 'bad_state');
    assert.equal(client.unread('welcome').length, 0);
  });

  test('a hello pipelined behind the first one is refused after the welcome, in order', async (t) => {
    const fixture = await serve(t, { pingInterval: 0 });
    const client = await ProtocolClient.open(fixture.wsUrl);
    t.after(() => client.dispose());
    client.send({ type: 'hello', v: 1 });
    client.send({ type: 'hello', v: 1 });
    await client.take('welcome');
    assert.equal((await client.take('error')).code, 'bad_state');
    assert.deepEqual(
      client.log.filter((m) => m.type !== 'ping').map((m) => m.type),
      ['welcome', 'error'],
    );
  });

  test('the welcome and the replies to what was pipelined behind the hello leave in one write', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels: { chat: {} } });
    // The server's writes to its side of the link, counted from the hello on.
    let writes = 0;
    let counting = false;
    fixture.server.httpServer.on('connection', (socket: Socket) => {
      const writable = socket as unknown as { _write: (...args: unknown[]) => void; _writev: (...args: unknown[]) => void };
      for (const method of ['_write', '_writev'] as const) {
        const original = writable[method].bind(socket);
        writable[method] = (...args: unknown[]) => {
          if (counting) writes++;
          original(...args);
        };
      }
    });
    const client = await ProtocolClient.open(fixture.wsUrl);
    t.after(() => client.dispose());
    // The hello and two subscribes in one TCP segment, as a client that writes them in one turn sends them.
    const socket = (client.ws as unknown as { _socket: Socket })._socket;
    counting = true;
    socket.cork();
    client.send({ type: 'hello', v: 1 });
    client.send({ type: 'subscribe', id: 1, channel: 'chat:a' });
    client.send({ type: 'subscribe', id: 2, channel: 'chat:b' });
    socket.uncork();
    await client.take('welcome');
    assert.equal((await client.take('subscribed')).channel, 'chat:a');
    assert.equal((await client.take('subscribed')).channel, 'chat:b');
    assert.equal(writes, 1, 'welcome, subscribed, subscribed: one write');
  });

  test('a catch-up pipelined behind the hello is written as it goes, not held against the outbound budget', async (t) => {
    // 198 kB of history replayed to a server whose outbound budget is 64 kB: written as they
    // go, the events pass to the kernel; held until the end of the turn, they would exceed it.
    const fixture = await serve(t, { pingInterval: 0, outboundBudget: 64 * 1024, channels: { chat: { history: { size: 200, ttl: 60_000 } } } });
    const body = 'x'.repeat(2048);
    let head = { epoch: '', offset: 0 };
    for (let n = 1; n <= 100; n++) head = await fixture.server.publish('chat:a', { n, body });
    const client = await ProtocolClient.open(fixture.wsUrl);
    t.after(() => client.dispose());
    const socket = (client.ws as unknown as { _socket: Socket })._socket;
    socket.cork();
    client.send({ type: 'hello', v: 1 });
    client.send({ type: 'subscribe', id: 1, channel: 'chat:a', since: { epoch: head.epoch, offset: 1 } });
    socket.uncork();
    await client.take('welcome');
    const subscribed = await client.take('subscribed');
    assert.equal(subscribed.recovered, true, JSON.stringify(subscribed));
    assert.equal(client.events('chat:a').length, 99);
  });

  test('direct messages waiting for a resumed session are written as they go, not held against the outbound budget', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, outboundBudget: 64 * 1024 });
    const { client: first, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    first.dispose();
    await first.closed;
    while (fixture.server.realtime.sessions > 0) await new Promise((resolve) => setImmediate(resolve));
    // 198 kB waiting for the session while no connection serves it.
    const body = 'x'.repeat(2048);
    for (let n = 1; n <= 99; n++) assert.equal(await fixture.server.sendTo(welcome.session, { n, body }), true);
    const { client, welcome: resumed } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    assert.equal(resumed.resumed, true);
    await client.take('message', (message) => message.seq === 99);
    assert.equal(client.log.filter((message) => message.type === 'message').length, 99);
  });

  test('a malformed or unknown message pipelined behind the hello is refused after the welcome, in the order sent', async (t) => {
    // The hello waits on its session save, so everything behind it is read while it is pending.
    const { broker, release } = heldAtSave(t);
    const fixture = await serve(t, { pingInterval: 0, broker, channels: { chat: {} } });
    const client = await ProtocolClient.open(fixture.wsUrl);
    t.after(() => client.dispose());
    client.send({ type: 'hello', v: 1 });
    client.send({ type: 'subscribe', id: 1, channel: 'chat:a' });
    client.send({ type: 'subscribe', id: 2, channel: 'not a channel name' });
    client.send({ type: 'nonsense', id: 3 });
    client.send({ type: 'subscribe', id: 4, channel: 'chat:b' });
    await eventually(() => fixture.server.stats.messagesIn === 5, 'the server to read all five messages');
    release();
    await client.take('welcome');
    await client.take('subscribed', (m) => m.id === 4);
    assert.deepEqual(
      client.log.filter((m) => m.type !== 'ping').map((m) => [m.type, 'id' in m ? m.id : undefined, 'code' in m ? m.code : undefined]),
      [
        ['welcome', undefined, undefined],
        ['subscribed', 1, undefined],
        ['error', 2, 'bad_message'],
        ['error', undefined, 'unknown_type'],
        ['subscribed', 4, undefined],
      ],
    );
  });

  test('after the welcome too, a refusal waits for the replies of the messages sent before it', async (t) => {
    const fixture = await serve(t, { pingInterval: 0 });
    let open = (): void => undefined;
    const opened = new Promise<void>((resolve) => (open = resolve));
    let started = false;
    fixture.server.handle('slow', async () => {
      started = true;
      await opened;
      return 'done';
    });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    client.send({ type: 'request', id: 1, method: 'slow' });
    client.send({ type: 'subscribe', id: 2, channel: 'not a channel name' });
    client.send({ type: 'nonsense', id: 3 });
    client.send({ type: 'hello', v: 1 });
    await eventually(() => started && fixture.server.stats.messagesIn === 5, 'the slow request to start and the rest to be read');
    open();
    await client.take('error', (m) => m.code === 'bad_state');
    assert.deepEqual(
      client.log.filter((m) => m.type !== 'ping' && m.type !== 'welcome').map((m) => [m.type, 'id' in m ? m.id : undefined, 'code' in m ? m.code : undefined]),
      [
        ['result', 1, undefined],
        ['error', 2, 'bad_message'],
        ['error', undefined, 'unknown_type'],
        ['error', undefined, 'bad_state'],
      ],
    );
  });

  test('messages pipelined behind a slow hello wait in the socket, not in server memory, then are all handled in order', async (t) => {
    // The hello is held at its session save; the client pipelines 32 MB of publishes behind it.
    const { broker, release } = heldAtSave(t);
    const http = createHttpServer();
    const sockets: Socket[] = [];
    http.on('connection', (socket: Socket) => sockets.push(socket));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => http.close(() => resolve()));
    });
    const fixture = await serve(t, { server: http, pingInterval: 0, broker, maxMessageRate: 1_000_000, channels: { chat: {} } });
    const client = await ProtocolClient.open(fixture.wsUrl);
    t.after(() => client.dispose());
    client.send({ type: 'hello', v: 1 });
    const count = 8_000;
    const data = 'x'.repeat(4096);
    for (let id = 1; id <= count; id++) client.send({ type: 'publish', id, channel: 'chat:a', data });
    // Until the hello is answered the server reads no further than one chunk: the rest waits in
    // the kernel's buffers and the client's. A server that read on would take in all 32 MB.
    const read = (): number => sockets.reduce((sum, socket) => sum + socket.bytesRead, 0);
    let last = -1;
    let steady = 0;
    for (let polls = 0; polls < 500 && steady < 10; polls++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      steady = read() === last ? steady + 1 : 0;
      last = read();
    }
    assert.ok(last < 1024 * 1024, `the server read ${last} B of the 32 MB pipelined behind a pending hello`);
    release();
    await client.take('welcome');
    await client.sync(60_000);
    const acked = client.log.filter((message) => message.type === 'ack' || message.type === 'error');
    assert.deepEqual(
      acked.map((reply) => [reply.type, 'id' in reply ? reply.id : undefined]),
      Array.from({ length: count }, (_, i) => ['ack', i + 1]),
      'every publish acknowledged once, in order',
    );
  });

  test('an unknown type gets hello_required before hello (anything but hello does) and unknown_type after', async (t) => {
    const fixture = await serve(t, { pingInterval: 0 });
    const client = await ProtocolClient.open(fixture.wsUrl);
    t.after(() => client.dispose());
    client.send({ type: 'teleport', id: 3 });
    assert.equal((await client.take('error')).code, 'hello_required');
    await client.hello();
    client.send({ type: 'teleport', id: 4 });
    const error = await client.take('error');
    assert.equal(error.code, 'unknown_type');
    assert.match(error.message, /teleport/);
  });

  test('envelope errors keep their own codes on a lifeline.v1 connection', async (t) => {
    const fixture = await serve(t, { pingInterval: 0 });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    client.sendText('{nope');
    assert.equal((await client.take('error')).code, 'bad_json');
    client.sendText('[1]');
    assert.equal((await client.take('error')).code, 'not_object');
    client.sendText('{"id":1}');
    assert.equal((await client.take('error')).code, 'bad_type');
  });
});

describe('protocol: schema violations', () => {
  const cases: readonly { readonly name: string; readonly message: Record<string, unknown> & { type: string }; readonly field: RegExp; readonly id?: number }[] = [
    { name: 'a channel name outside the alphabet', message: { type: 'subscribe', id: 4, channel: 'has space' }, field: /subscribe: channel:/, id: 4 },
    { name: 'a missing channel', message: { type: 'publish', id: 5, data: 1 }, field: /publish: channel:/, id: 5 },
    { name: 'a publish without data', message: { type: 'publish', id: 6, channel: 'chat:a' }, field: /publish: data:/, id: 6 },
    { name: 'a negative offset in since', message: { type: 'subscribe', id: 7, channel: 'chat:a', since: { epoch: 'e', offset: -1 } }, field: /subscribe: since\.offset:/, id: 7 },
    { name: 'a fractional id (not echoed)', message: { type: 'request', id: 1.5, method: 'm' }, field: /request: id:/ },
    { name: 'a zero id (not echoed)', message: { type: 'unsubscribe', id: 0, channel: 'chat:a' }, field: /unsubscribe: id:/ },
    { name: 'an empty method', message: { type: 'request', id: 8, method: '' }, field: /request: method:/, id: 8 },
    { name: 'a non-numeric ack', message: { type: 'ack', seq: 'five' }, field: /ack: seq:/ },
    { name: 'a channel name over 200 characters', message: { type: 'presence.get', id: 9, channel: 'a'.repeat(201) }, field: /presence\.get: channel:/, id: 9 },
  ];

  for (const { name, message, field, id } of cases) {
    test(`${name} gets bad_message naming the field${id === undefined ? '' : ' with the id echoed'}`, async (t) => {
      const fixture = await serve(t, { pingInterval: 0, channels: { chat: {} } });
      const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
      client.send(message);
      const error: MessageOf<'error'> = await client.take('error');
      assert.equal(error.code, 'bad_message');
      assert.match(error.message, field);
      assert.equal(error.id, id);
      // Still open and usable.
      await client.sync();
    });
  }

  test('a hello with the wrong version gets bad_message (field v) and no session', async (t) => {
    const fixture = await serve(t, { pingInterval: 0 });
    const client = await ProtocolClient.open(fixture.wsUrl);
    t.after(() => client.dispose());
    client.send({ type: 'hello', v: 2 });
    const error = await client.take('error');
    assert.equal(error.code, 'bad_message');
    assert.match(error.message, /hello: v:/);
    assert.equal(fixture.server.realtime.sessions, 0);
    assert.equal((await client.hello()).resumed, false);
  });

  test('an in-process broker whose session save fails at once: the client is told to come back later (1013), no session stays', async (t) => {
    const broker = new MemoryBroker();
    t.after(() => broker.close());
    const immediate = broker.immediate;
    assert.ok(immediate?.saveSession, 'the in-memory broker saves a session at once');
    let failing = true;
    Object.defineProperty(broker, 'immediate', {
      value: {
        ...immediate,
        saveSession(...args: Parameters<NonNullable<typeof immediate.saveSession>>) {
          if (failing) throw new LifelineError('ERR_BROKER_UNAVAILABLE', 'the store is down');
          immediate.saveSession?.(...args);
        },
      },
    });
    const fixture = await serve(t, { pingInterval: 0, broker, channels: { chat: {} } });
    const client = await ProtocolClient.open(fixture.wsUrl);
    t.after(() => client.dispose());
    client.send({ type: 'hello', v: 1 });
    client.send({ type: 'subscribe', id: 1, channel: 'chat:a' });
    const closed = await client.closed;
    assert.equal(closed.code, 1013);
    assert.equal(fixture.server.realtime.sessions, 0);
    assert.equal(fixture.server.realtime.channels.size, 0, 'nothing pipelined behind the hello was handled');
    failing = false;
    const { welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    assert.equal(welcome.resumed, false);
    assert.equal(fixture.server.realtime.sessions, 1);
  });

  test('more than maxInvalidMessages in a minute closes with 1008', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, pingInterval: 0, maxInvalidMessages: 3 });
    const client = await ProtocolClient.open(fixture.wsUrl);
    t.after(() => client.dispose());
    client.send({ type: 'subscribe', id: 1, channel: 'x' }); // hello_required
    const welcome = client.hello();
    await welcome;
    client.send({ type: 'nope' }); // unknown_type
    client.send({ type: 'request', id: 0, method: 'm' }); // bad_message
    const errors = [await client.take('error'), await client.take('error'), await client.take('error')];
    assert.deepEqual(errors.map((e) => e.code), ['hello_required', 'unknown_type', 'bad_message']);
    client.send({ type: 'hello', v: 1 }); // bad_state: the fourth
    const closed = await client.closed;
    assert.equal(closed.code, 1008);
    assert.equal(closed.reason, 'too many invalid messages');
  });
});
