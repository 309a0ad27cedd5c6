/**
 * One accepted connection over real sockets: identity, `send` (never throws, says why not),
 * `own` cleanups (exactly once, whatever ends the connection), the close API's validation, the
 * close timeout for a peer that never answers, and the outbound budget (slow consumer, 4002).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Connection } from '../../src/server/connection.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { InvalidCloseError } from '../../src/core/errors.js';
import { Opcode } from '../helpers/raw-socket.js';
import { closeReportOf, connectPair, DEADLINE, rawPair, serve, within } from './support.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;


describe('Connection: identity and send', () => {
  test('each connection has a unique id, the remote address and the negotiated protocol', async (t) => {
    const fixture = await serve(t, { protocols: ['chat.v1'] });
    const first = await connectPair(t, fixture, 'chat.v1');
    const second = await connectPair(t, fixture);
    assert.match(first.conn.id, UUID);
    assert.match(second.conn.id, UUID);
    assert.notEqual(first.conn.id, second.conn.id);
    assert.equal(first.conn.remoteAddress, '127.0.0.1');
    assert.equal(first.conn.protocol, 'chat.v1');
    assert.equal(second.conn.protocol, '');
    assert.equal(first.conn.state, 'open');
    assert.deepEqual(new Set([...fixture.server.connections].map((c) => c.id)), new Set([first.conn.id, second.conn.id]));
  });

  test('send delivers envelopes, pre-serialized JSON and binary, in order, and returns {ok:true}', async (t) => {
    const fixture = await serve(t);
    const { client, conn } = await connectPair(t, fixture);
    assert.deepEqual(conn.send({ type: 'hello', n: 1, nested: { ok: true } }), { ok: true });
    assert.deepEqual(conn.send('{"type":"pre","x":"é"}'), { ok: true });
    assert.deepEqual(conn.send(new Uint8Array([0, 1, 2, 255])), { ok: true });
    assert.deepEqual(conn.send(Buffer.from('bytes')), { ok: true });
    assert.deepEqual(await client.nextJson(), { type: 'hello', n: 1, nested: { ok: true } });
    const pre = await client.next();
    assert.equal(pre.isBinary, false);
    assert.equal(pre.text, '{"type":"pre","x":"é"}');
    const binary = await client.next();
    assert.equal(binary.isBinary, true);
    assert.deepEqual([...binary.data], [0, 1, 2, 255]);
    const buffer = await client.next();
    assert.equal(buffer.isBinary, true);
    assert.equal(buffer.data.toString(), 'bytes');
  });

  test("send after close returns 'closing', then 'closed', and never throws", async (t) => {
    const fixture = await serve(t);
    const { client, conn } = await connectPair(t, fixture);
    const report = closeReportOf(fixture.server, conn);
    conn.close(1000, 'done');
    assert.equal(conn.state, 'closing');
    assert.deepEqual(conn.send({ type: 'late' }), { ok: false, reason: 'closing' });
    assert.deepEqual(conn.send('{"type":"late"}'), { ok: false, reason: 'closing' });
    assert.equal((await report).code, 1000);
    assert.equal(conn.state, 'closed');
    assert.deepEqual(conn.send({ type: 'later' }), { ok: false, reason: 'closed' });
    assert.deepEqual(conn.send(new Uint8Array([1])), { ok: false, reason: 'closed' });
    assert.doesNotThrow(() => conn.close(1000));
    assert.doesNotThrow(() => conn.terminate());
    const close = await within(client.closed, DEADLINE, 'client close');
    assert.equal(close.code, 1000);
    assert.equal(close.reason, 'done');
    assert.equal(client.received.length, 0, 'nothing was sent after close');
  });

  test("after the peer's close frame, send says 'closing' instead of claiming to have sent", async (t) => {
    const fixture = await serve(t);
    const { raw, conn } = await rawPair(t, fixture);
    const report = closeReportOf(fixture.server, conn);
    raw.sendClose(1000, 'bye');
    const echo = await raw.readFrame();
    assert.equal(echo.opcode, Opcode.CLOSE, 'the server answered the close');
    assert.deepEqual(conn.send({ type: 'too-late' }), { ok: false, reason: 'closing' });
    raw.destroy();
    const closed = await report;
    assert.equal(closed.code, 1000);
    assert.equal(closed.wasClean, true);
  });
});

describe('Connection: own() cleanups run exactly once', () => {
  test('on a normal close started by the client', async (t) => {
    const fixture = await serve(t);
    const { client, conn } = await connectPair(t, fixture);
    let runs = 0;
    conn.own(() => runs++);
    const report = closeReportOf(fixture.server, conn);
    client.ws.close(1000, 'bye');
    const closed = await report;
    assert.equal(closed.code, 1000);
    assert.equal(closed.reason, 'bye');
    assert.equal(closed.wasClean, true);
    assert.equal(closed.terminated, undefined);
    assert.equal(runs, 1);
    conn.close(1000);
    conn.terminate();
    assert.equal(runs, 1, 'closing again does not run it again');
  });

  test('on terminate()', async (t) => {
    const fixture = await serve(t);
    const { client, conn } = await connectPair(t, fixture);
    const runs: string[] = [];
    conn.own(() => runs.push('a'));
    conn.own(() => runs.push('b'));
    const report = closeReportOf(fixture.server, conn);
    conn.terminate();
    conn.terminate();
    const closed = await report;
    assert.equal(closed.terminated, 'terminate');
    assert.equal(closed.wasClean, false);
    assert.equal(closed.code, 1006);
    assert.deepEqual(runs, ['a', 'b']);
    assert.equal((await within(client.closed, DEADLINE, 'client close')).code, 1006);
    assert.equal(fixture.server.connections.has(conn), false);
  });

  test('registered after the close, it runs at once, once', async (t) => {
    const fixture = await serve(t);
    const { conn } = await connectPair(t, fixture);
    const report = closeReportOf(fixture.server, conn);
    conn.close();
    await report;
    let runs = 0;
    conn.own(() => runs++);
    assert.equal(runs, 1);
  });

  test('a cleanup that throws does not stop the others', async (t) => {
    const fixture = await serve(t);
    const { conn } = await connectPair(t, fixture);
    let after = 0;
    conn.own(() => {
      throw new Error('cleanup failed');
    });
    conn.own(() => after++);
    const report = closeReportOf(fixture.server, conn);
    conn.terminate();
    await report;
    assert.equal(after, 1);
  });
});

describe('Connection: close()', () => {
  for (const code of [1005, 1006, 1015, 1004]) {
    test(`close(${code}) throws InvalidCloseError and the connection stays open`, async (t) => {
      const fixture = await serve(t);
      const { client, conn } = await connectPair(t, fixture);
      assert.throws(
        () => conn.close(code),
        (error: unknown) => error instanceof InvalidCloseError && error.code === 'ERR_INVALID_CLOSE' && error.closeCode === code,
      );
      assert.equal(conn.state, 'open');
      assert.deepEqual(conn.send({ type: 'still-open' }), { ok: true });
      assert.deepEqual(await client.nextJson(), { type: 'still-open' });
    });
  }

  test('a 124-byte reason throws InvalidCloseError', async (t) => {
    const fixture = await serve(t);
    const { conn } = await connectPair(t, fixture);
    assert.throws(() => conn.close(1000, 'x'.repeat(124)), (error: unknown) => error instanceof InvalidCloseError && error.code === 'ERR_INVALID_CLOSE');
    assert.throws(() => conn.close(1000, 'é'.repeat(62)), InvalidCloseError, '124 bytes of two-byte characters');
    assert.equal(conn.state, 'open');
  });

  test('a 123-byte reason of multi-byte UTF-8 is sent intact', async (t) => {
    const fixture = await serve(t);
    const { client, conn } = await connectPair(t, fixture);
    const reason = '€'.repeat(41); // 3 bytes each: exactly 123 bytes
    assert.equal(Buffer.byteLength(reason), 123);
    const report = closeReportOf(fixture.server, conn);
    conn.close(4000, reason);
    const close = await within(client.closed, DEADLINE, 'client close');
    assert.equal(close.code, 4000);
    assert.equal(close.reason, reason);
    const closed = await report;
    assert.equal(closed.code, 4000);
    assert.equal(closed.wasClean, true);
  });

  test('a peer that never answers the close frame is terminated after closeTimeout; the report has our code', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, closeTimeout: 4_000, pingInterval: 0 });
    const { raw, conn } = await rawPair(t, fixture);
    let runs = 0;
    conn.own(() => runs++);
    const report = closeReportOf(fixture.server, conn);
    conn.close(4001, 'bye');
    const frame = await raw.readFrame();
    assert.equal(frame.opcode, Opcode.CLOSE);
    assert.equal(frame.payload.readUInt16BE(0), 4001);
    assert.equal(frame.payload.subarray(2).toString(), 'bye');
    await clock.tickAsync(3_999);
    assert.equal(conn.state, 'closing', 'still waiting before closeTimeout');
    await clock.tickAsync(1);
    const closed = await report;
    assert.equal(closed.wasClean, false);
    assert.equal(closed.code, 4001);
    assert.equal(closed.terminated, 'close-timeout');
    assert.equal(runs, 1);
    await raw.waitClosed();
    assert.equal(clock.pending, 0, 'no timer left behind');
  });

  test('a peer that starts the close and then never finishes its TCP is dropped after closeTimeout, not 30 s', async (t) => {
    const fixture = await serve(t, { closeTimeout: 300, pingInterval: 0 });
    const { raw, conn } = await rawPair(t, fixture);
    const report = closeReportOf(fixture.server, conn);
    raw.sendClose(1000, 'done');
    // It reads nothing more: the server's answer and its end of the TCP connection wait unread.
    raw.pause();
    const closed = await within(report, DEADLINE, 'the half-closed connection dropped');
    assert.equal(closed.code, 1000);
    assert.equal(fixture.server.connections.size, 0);
  });

  test('a peer that answers the close frame closes cleanly before closeTimeout', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, closeTimeout: 4_000, pingInterval: 0 });
    const { raw, conn } = await rawPair(t, fixture);
    const report = closeReportOf(fixture.server, conn);
    conn.close(1001, 'going');
    const frame = await raw.readFrame();
    assert.equal(frame.opcode, Opcode.CLOSE);
    raw.sendClose(1001, 'going');
    const closed = await report;
    assert.equal(closed.wasClean, true);
    assert.equal(closed.code, 1001);
    assert.equal(closed.terminated, undefined);
    await raw.waitClosed();
    assert.equal(clock.pending, 0, 'the close timer was cleared');
  });
});

describe('Connection: outbound budget (slow consumer)', () => {
  /** Sends 16 KiB messages to a peer that does not read, until send refuses (bounded). */
  function flood(conn: Connection<unknown>): { result: ReturnType<Connection['send']>; sent: number } {
    const chunk = JSON.stringify({ type: 'fill', data: 'x'.repeat(16 * 1024) });
    for (let sent = 0; sent < 4_096; sent++) {
      const result = conn.send(chunk);
      if (!result.ok) return { result, sent };
    }
    throw new Error('the budget was never exceeded within 64 MiB');
  }

  test('a peer that stops reading is closed with 4002 and send says slow-consumer', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, outboundBudget: 64 * 1024, closeTimeout: 5_000, pingInterval: 0 });
    const { raw, conn } = await rawPair(t, fixture);
    raw.pause();
    const report = closeReportOf(fixture.server, conn);
    const { result, sent } = flood(conn as Connection<unknown>);
    assert.deepEqual(result, { ok: false, reason: 'slow-consumer' });
    assert.ok(sent > 4, `several messages went out first (${sent})`);
    assert.equal(conn.state, 'closing');
    assert.equal(fixture.server.stats.slowConsumerCloses, 1);
    assert.deepEqual(conn.send({ type: 'more' }), { ok: false, reason: 'closing' });
    // The peer reads again: it finds the close frame (4002) behind the backlog and answers it.
    raw.resume();
    const { close, before } = await raw.readUntilClose(DEADLINE, 10_000);
    assert.equal(close.code, 4002);
    assert.equal(close.reason, 'slow consumer: outbound budget exceeded');
    assert.equal(before.length, sent, 'every message accepted before the refusal was delivered');
    raw.sendClose(4002);
    const closed = await report;
    assert.equal(closed.code, 4002);
    assert.equal(closed.wasClean, true);
    assert.equal(fixture.server.stats.slowConsumerCloses, 1);
  });

  test('bytes held back by a cork are not the peer\'s lag: a reading peer is not closed when they pass the budget', async (t) => {
    const fixture = await serve(t, { outboundBudget: 16 * 1024, pingInterval: 0 });
    const { raw, conn } = await rawPair(t, fixture);
    const chunk = JSON.stringify({ type: 'fill', data: 'x'.repeat(6 * 1024) });
    // A turn's replies (or a fan-out batch) are corked together: 48 KiB held, three times the budget.
    conn.cork();
    for (let i = 0; i < 8; i++) assert.deepEqual(conn.send(chunk), { ok: true }, `message ${i} sent`);
    conn.uncork();
    assert.equal(conn.state, 'open');
    assert.equal(fixture.server.stats.slowConsumerCloses, 0);
    for (let i = 0; i < 8; i++) assert.equal((await raw.readFrame()).payload.toString(), chunk);
  });

  test('a peer that never reads again is terminated after closeTimeout and still reported as 4002', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, outboundBudget: 64 * 1024, closeTimeout: 5_000, pingInterval: 0 });
    const { raw, conn } = await rawPair(t, fixture);
    raw.pause();
    let runs = 0;
    conn.own(() => runs++);
    const report = closeReportOf(fixture.server, conn);
    const { result } = flood(conn as Connection<unknown>);
    assert.deepEqual(result, { ok: false, reason: 'slow-consumer' });
    await clock.tickAsync(5_000);
    const closed = await report;
    assert.equal(closed.code, 4002);
    assert.equal(closed.wasClean, false);
    assert.equal(closed.terminated, 'close-timeout');
    assert.equal(fixture.server.stats.slowConsumerCloses, 1);
    assert.equal(fixture.server.stats.closes.get(4002), 1);
    assert.equal(fixture.server.connections.size, 0);
    assert.equal(runs, 1);
  });
});
