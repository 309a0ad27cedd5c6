/**
 * What arrives on an open connection, over real sockets: protocol and input errors get their
 * RFC 6455 close codes (the server's close report names the code it sent), malformed
 * application messages get an `error` reply and the link stays open (within a limit),
 * application pings are answered, and a failing handler closes with 1011 without leaking.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import type { CloseReport, Connection } from '../../src/server/connection.js';
import type { Envelope } from '../../src/core/envelope.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { buildFrame, Opcode, parseClose, RawSocket } from '../helpers/raw-socket.js';
import { eventually } from '../helpers/wait.js';
import { closeReportOf, connectPair, DEADLINE, onceWithin, rawPair, serve, type TrackedClient, within } from './support.js';


/** Waits for the raw peer to receive the server's close frame; returns its code and reason. */
async function rawCloseCode(raw: RawSocket): Promise<{ code: number | undefined; reason: string }> {
  const frame = await raw.readFrame();
  assert.equal(frame.opcode, Opcode.CLOSE, 'the server sent a close frame');
  return parseClose(frame);
}

/** The client's close and the server's report for the same connection. */
async function bothSides(client: TrackedClient, report: Promise<CloseReport>): Promise<{ code: number; reason: string; report: CloseReport }> {
  const close = await within(client.closed, DEADLINE, 'client close');
  return { ...close, report: await report };
}

describe('input errors close with RFC 6455 codes', () => {
  test('a message over maxPayload closes with 1009', async (t) => {
    const fixture = await serve(t, { maxPayload: 1024 });
    const { client, conn } = await connectPair(t, fixture);
    const report = closeReportOf(fixture.server, conn);
    client.ws.send(JSON.stringify({ type: 'big', data: 'x'.repeat(2048) }));
    const { code, report: closed } = await bothSides(client, report);
    assert.equal(code, 1009);
    assert.equal(closed.code, 1009);
    assert.equal(closed.terminated, undefined);
  });

  test('a message of exactly maxPayload bytes is accepted', async (t) => {
    const fixture = await serve(t, { maxPayload: 1024 });
    const { client, conn } = await connectPair(t, fixture);
    const text = JSON.stringify({ type: 'fit', data: '' });
    const exact = JSON.stringify({ type: 'fit', data: 'x'.repeat(1024 - text.length) });
    assert.equal(Buffer.byteLength(exact), 1024);
    const got = onceWithin(fixture.server, 'message');
    client.ws.send(exact);
    const [, message] = (await got) as [Connection, Envelope];
    assert.equal(message.type, 'fit');
    assert.equal(conn.state, 'open');
  });

  test('a text frame with invalid UTF-8 closes with 1007', async (t) => {
    const fixture = await serve(t);
    const { raw, conn } = await rawPair(t, fixture);
    const report = closeReportOf(fixture.server, conn);
    raw.sendFrame(Opcode.TEXT, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    assert.equal((await rawCloseCode(raw)).code, 1007);
    assert.equal((await report).code, 1007);
    await raw.waitClosed();
  });

  test('an unmasked client frame closes with 1002', async (t) => {
    const fixture = await serve(t);
    const { raw, conn } = await rawPair(t, fixture);
    const report = closeReportOf(fixture.server, conn);
    raw.sendFrame(Opcode.TEXT, '{"type":"hi"}', { masked: false });
    assert.equal((await rawCloseCode(raw)).code, 1002);
    assert.equal((await report).code, 1002);
    await raw.waitClosed();
  });

  test("a message in more fragments than ws allows closes with 1008, and the report names 1008 too", async (t) => {
    const fixture = await serve(t);
    const { raw, conn } = await rawPair(t, fixture);
    const report = closeReportOf(fixture.server, conn);
    raw.sendFrame(Opcode.TEXT, '', { fin: false });
    // ws refuses a message of more than 16 384 fragments.
    for (let i = 0; i < 16_400; i++) raw.sendFrame(Opcode.CONTINUATION, '', { fin: false });
    assert.equal((await rawCloseCode(raw)).code, 1008);
    assert.equal((await report).code, 1008);
    await raw.waitClosed();
  });

  test('a frame with the reserved opcode 0x3 closes with 1002', async (t) => {
    const fixture = await serve(t);
    const { raw, conn } = await rawPair(t, fixture);
    const report = closeReportOf(fixture.server, conn);
    raw.sendFrame(0x3, 'x');
    assert.equal((await rawCloseCode(raw)).code, 1002);
    assert.equal((await report).code, 1002);
    await raw.waitClosed();
  });

  test("a binary message with binary: 'reject' closes with 1003", async (t) => {
    const fixture = await serve(t, { binary: 'reject' });
    const { client, conn } = await connectPair(t, fixture);
    let binaries = 0;
    fixture.server.on('binary', () => binaries++);
    const report = closeReportOf(fixture.server, conn);
    client.ws.send(Buffer.from([1, 2, 3]));
    const { code, reason, report: closed } = await bothSides(client, report);
    assert.equal(code, 1003);
    assert.equal(reason, 'binary messages are not accepted');
    assert.equal(closed.code, 1003);
    assert.equal(binaries, 0);
  });

  test("a binary message with binary: 'allow' reaches the binary event", async (t) => {
    const fixture = await serve(t);
    const { client, conn } = await connectPair(t, fixture);
    const got = onceWithin(fixture.server, 'binary');
    client.ws.send(Buffer.from([9, 8, 7]));
    const [from, data] = (await got) as [Connection, Buffer];
    assert.equal(from, conn);
    assert.deepEqual([...data], [9, 8, 7]);
  });

  test('more messages per second than maxMessageRate closes with 1008', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, maxMessageRate: 3, pingInterval: 0 });
    const { client, conn } = await connectPair(t, fixture);
    let delivered = 0;
    fixture.server.on('message', () => delivered++);
    const report = closeReportOf(fixture.server, conn);
    for (let i = 0; i < 4; i++) client.ws.send(JSON.stringify({ type: 'spam', i }));
    const { code, reason, report: closed } = await bothSides(client, report);
    assert.equal(code, 1008);
    assert.equal(reason, 'message rate exceeded');
    assert.equal(closed.code, 1008);
    assert.equal(delivered, 3, 'the burst within the rate was delivered');
  });

  test('messages within maxMessageRate over time keep the connection open', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, maxMessageRate: 2, pingInterval: 0 });
    const { client, conn } = await connectPair(t, fixture);
    for (let second = 0; second < 3; second++) {
      for (let i = 0; i < 2; i++) client.ws.send(JSON.stringify({ type: 'ping', id: second * 10 + i }));
      for (let i = 0; i < 2; i++) assert.deepEqual(await client.nextJson(), { type: 'pong', id: second * 10 + i });
      await clock.tickAsync(1_000);
    }
    assert.equal(conn.state, 'open');
  });
});

/**
 * Sends bursts of 1,000 pings with 125-byte payloads from a peer that does not read, each once
 * the last has left the peer's socket, until `done()`: at most 1,000 bursts and 20 s.
 */
async function pingUntil(raw: RawSocket, done: () => boolean): Promise<void> {
  const burst = Buffer.concat(Array.from({ length: 1_000 }, () => buildFrame(Opcode.PING, 'x'.repeat(125))));
  const deadline = Date.now() + 20_000;
  for (let i = 0; i < 1_000 && !done() && Date.now() < deadline; i++) {
    if (!raw.socket.write(burst)) await once(raw.socket, 'drain');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('protocol pings are answered within the limits', () => {
  test('each ping under the rate gets a pong that echoes its payload, in order', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, maxMessageRate: 50, pingInterval: 0 });
    const { raw, conn } = await rawPair(t, fixture);
    for (let i = 0; i < 50; i++) raw.sendFrame(Opcode.PING, `p${i}`);
    for (let i = 0; i < 50; i++) {
      const frame = await raw.readFrame();
      assert.equal(frame.opcode, Opcode.PONG);
      assert.equal(frame.payload.toString(), `p${i}`);
    }
    assert.equal(conn.state, 'open');
  });

  test('a ping flood is closed with 1008 "message rate exceeded", not dropped without a close code', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, maxMessageRate: 100, pingInterval: 0 });
    const { raw, conn } = await rawPair(t, fixture);
    const report = closeReportOf(fixture.server, conn);
    // In one write: the server reads it in a few large chunks (ws's own answer to that was to drop the TCP connection).
    raw.write(Buffer.concat(Array.from({ length: 1_000 }, () => buildFrame(Opcode.PING, 'x'.repeat(100)))));
    const { close, before } = await raw.readUntilClose(DEADLINE);
    assert.deepEqual({ code: close.code, reason: close.reason }, { code: 1008, reason: 'message rate exceeded' });
    assert.equal(before.filter((frame) => frame.opcode === Opcode.PONG).length, 100, 'the burst within the rate was answered');
    raw.sendClose(1008);
    const closed = await report;
    assert.equal(closed.code, 1008);
    assert.equal(closed.wasClean, true);
  });

  test('a peer that pings without reading is a slow consumer: closed with 4002 once its pongs pass the outbound budget', async (t) => {
    const fixture = await serve(t, { outboundBudget: 16 * 1024, maxMessageRate: Infinity, pingInterval: 0, closeTimeout: 1_000 });
    const { raw, conn } = await rawPair(t, fixture);
    raw.pause();
    const report = closeReportOf(fixture.server, conn);
    // 125-byte pongs fill the loopback's buffers, then the budget.
    await pingUntil(raw, () => conn.state !== 'open');
    const closed = await within(report, DEADLINE, 'the slow consumer closed');
    assert.equal(closed.code, 4002);
    assert.equal(fixture.server.stats.slowConsumerCloses, 1);
  });

  test('a ping is answered while the connection waits for its first-message credentials', async (t) => {
    const fixture = await serve(t, { authenticateOn: 'first-message', authenticate: () => ({ ok: true, user: 'ada' }), pingInterval: 0 });
    const { raw } = await RawSocket.upgrade(fixture.port);
    t.after(() => raw.destroy());
    await eventually(() => fixture.server.connections.size === 1, 'the connection accepted');
    assert.equal([...fixture.server.connections][0]?.state, 'authenticating');
    raw.sendFrame(Opcode.PING, 'early');
    const frame = await raw.readFrame();
    assert.equal(frame.opcode, Opcode.PONG);
    assert.equal(frame.payload.toString(), 'early');
  });
});

describe('message handlers that fail close with 1011', () => {
  test('a message listener that throws closes with 1011 "internal error" and does not leak', async (t) => {
    const fixture = await serve(t);
    const { client, conn } = await connectPair(t, fixture);
    const errors: Error[] = [];
    fixture.server.on('error', (error) => errors.push(error));
    fixture.server.on('message', () => {
      throw new Error('secret: connection string postgres://u:p@db');
    });
    const report = closeReportOf(fixture.server, conn);
    client.ws.send('{"type":"work"}');
    const { code, reason, report: closed } = await bothSides(client, report);
    assert.equal(code, 1011);
    assert.equal(reason, 'internal error');
    assert.equal(closed.code, 1011);
    assert.equal(closed.reason, 'internal error');
    assert.equal(errors.length, 1);
    assert.match(errors[0]?.message ?? '', /secret/, 'the server side sees the error');
  });

  test('a message listener that returns a rejected promise closes with 1011 "internal error"', async (t) => {
    const fixture = await serve(t);
    const { client, conn } = await connectPair(t, fixture);
    fixture.server.on('message', async () => {
      await Promise.resolve();
      throw new Error('secret from async handler');
    });
    const report = closeReportOf(fixture.server, conn);
    client.ws.send('{"type":"work"}');
    const { code, reason, report: closed } = await bothSides(client, report);
    assert.equal(code, 1011);
    assert.equal(reason, 'internal error');
    assert.doesNotMatch(reason, /secret/);
    assert.equal(closed.code, 1011);
  });

  test('a binary listener that throws closes with 1011', async (t) => {
    const fixture = await serve(t);
    const { client, conn } = await connectPair(t, fixture);
    fixture.server.on('binary', () => {
      throw new Error('boom');
    });
    const report = closeReportOf(fixture.server, conn);
    client.ws.send(Buffer.from([1]));
    const { code, report: closed } = await bothSides(client, report);
    assert.equal(code, 1011);
    assert.equal(closed.code, 1011);
  });
});

describe('application messages', () => {
  test('a valid envelope reaches the message listeners with its connection', async (t) => {
    const fixture = await serve(t);
    const { client, conn } = await connectPair(t, fixture);
    const got = onceWithin(fixture.server, 'message');
    client.ws.send(JSON.stringify({ type: 'chat', text: 'hi' }));
    const [from, message] = (await got) as [Connection, Envelope];
    assert.equal(from, conn);
    assert.deepEqual(message, { type: 'chat', text: 'hi' });
    assert.equal(fixture.server.stats.messagesIn, 1);
  });

  test('malformed JSON gets an error reply (bad_json) and the connection stays open', async (t) => {
    const fixture = await serve(t);
    const { client, conn } = await connectPair(t, fixture);
    client.ws.send('{not json');
    const reply = await client.nextJson();
    assert.equal(reply['type'], 'error');
    assert.equal(reply['code'], 'bad_json');
    assert.equal(typeof reply['message'], 'string');
    const got = onceWithin(fixture.server, 'message');
    client.ws.send('{"type":"after"}');
    await got;
    assert.equal(conn.state, 'open');
    assert.equal(fixture.server.stats.invalidMessages, 1);
  });

  test('a JSON value that is not an object gets an error reply (not_object)', async (t) => {
    const fixture = await serve(t);
    const { client, conn } = await connectPair(t, fixture);
    for (const text of ['[1,2]', '"text"', '42', 'null']) {
      client.ws.send(text);
      const reply = await client.nextJson();
      assert.equal(reply['type'], 'error', text);
      assert.equal(reply['code'], 'not_object', text);
    }
    assert.equal(conn.state, 'open');
  });

  test('an object without a type string gets an error reply (bad_type)', async (t) => {
    const fixture = await serve(t);
    const { client, conn } = await connectPair(t, fixture);
    for (const text of ['{}', '{"type":3}', '{"type":""}', JSON.stringify({ type: 'x'.repeat(65) })]) {
      client.ws.send(text);
      const reply = await client.nextJson();
      assert.equal(reply['code'], 'bad_type', text);
    }
    assert.equal(conn.state, 'open');
  });

  test('more invalid messages than maxInvalidMessages closes with 1008', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, maxInvalidMessages: 3, pingInterval: 0 });
    const { client, conn } = await connectPair(t, fixture);
    const report = closeReportOf(fixture.server, conn);
    for (let i = 0; i < 4; i++) client.ws.send('nope');
    for (let i = 0; i < 3; i++) assert.equal((await client.nextJson())['type'], 'error', `reply ${i + 1}`);
    const { code, reason, report: closed } = await bothSides(client, report);
    assert.equal(code, 1008);
    assert.equal(reason, 'too many invalid messages');
    assert.equal(closed.code, 1008);
    assert.equal(client.received.length, 3, 'no reply to the one over the limit');
  });

  test('an application ping {"type":"ping","id":3} is answered with {"type":"pong","id":3}', async (t) => {
    const fixture = await serve(t);
    const { client } = await connectPair(t, fixture);
    let dispatched = 0;
    fixture.server.on('message', () => dispatched++);
    client.ws.send('{"type":"ping","id":3}');
    const reply = await client.next();
    assert.equal(reply.text, '{"type":"pong","id":3}');
    client.ws.send('{"type":"ping","id":"abc"}');
    assert.deepEqual(await client.nextJson(), { type: 'pong', id: 'abc' });
    client.ws.send('{"type":"ping"}');
    assert.equal((await client.next()).text, '{"type":"pong"}');
    assert.equal(dispatched, 0, 'pings are answered by the server, not dispatched');
  });

  test('an application pong is absorbed, not dispatched', async (t) => {
    const fixture = await serve(t);
    const { client } = await connectPair(t, fixture);
    let dispatched = 0;
    fixture.server.on('message', () => dispatched++);
    const got = onceWithin(fixture.server, 'message');
    client.ws.send('{"type":"pong"}');
    client.ws.send('{"type":"marker"}');
    const [, message] = (await got) as [Connection, Envelope];
    assert.equal(message.type, 'marker');
    assert.equal(dispatched, 1);
  });
});
