import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { Opcode, RawSocket } from '../helpers/raw-socket.js';
import { closeReportOf, connect, connectPair, DEADLINE, onceWithin, serve, within } from './support.js';

describe('robustness: app code and peers cannot wedge or crash the server', () => {
  /**
   * With one slot, a peer whose hook hangs leaves by `leave`; the server must end its socket
   * and a new client must get the slot (it would be refused 503 if the slot were still held).
   */
  async function leaveDuringHook(t: TestContext, leave: (raw: RawSocket) => void): Promise<void> {
    let releaseHook: () => void = () => undefined;
    const hookDone = new Promise<void>((resolve) => (releaseHook = resolve));
    t.after(() => releaseHook());
    let calls = 0;
    const fixture = await serve(t, {
      maxConnections: 1,
      authenticate: async () => {
        calls++;
        if (calls === 1) await hookDone; // the first peer's hook hangs until the test ends
        return { ok: true, user: 'u' };
      },
    });
    const leaver = await RawSocket.request(fixture.port);
    t.after(() => leaver.destroy());
    for (let i = 0; i < 100 && calls === 0; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(calls, 1, 'the hook runs');
    leave(leaver);
    await within(leaver.closed, DEADLINE, 'the leaver is gone');
    const client = await connect(t, fixture.wsUrl);
    assert.equal(client.ws.readyState, client.ws.OPEN);
  }

  test('a peer that leaves while the authenticate hook runs frees its capacity slot at once', async (t) => {
    await leaveDuringHook(t, (raw) => raw.socket.resetAndDestroy());
  });

  test('a peer that closes its connection normally (FIN) while the authenticate hook runs frees its slot at once too', async (t) => {
    await leaveDuringHook(t, (raw) => raw.socket.end()); // what a client that gives up does: FIN, no reset
  });

  test('a throwing connection listener closes that connection with 1011; the server lives on', async (t) => {
    const fixture = await serve(t);
    const errors: string[] = [];
    fixture.server.on('error', (error) => errors.push(error.message));
    let first = true;
    fixture.server.on('connection', () => {
      if (first) {
        first = false;
        throw new Error('listener bug');
      }
    });
    const victim = await connect(t, fixture.wsUrl);
    const close = await within(victim.closed, DEADLINE, 'the victim is closed');
    assert.equal(close.code, 1011);
    assert.equal(close.reason, 'internal error');
    assert.deepEqual(errors, ['listener bug']);
    const next = await connect(t, fixture.wsUrl);
    assert.equal(next.ws.readyState, next.ws.OPEN);
  });

  test('an async connection listener that rejects is handled the same way', async (t) => {
    const fixture = await serve(t);
    fixture.server.on('connection', async () => {
      throw new Error('async listener bug');
    });
    const victim = await connect(t, fixture.wsUrl);
    assert.equal((await within(victim.closed, DEADLINE, 'close')).code, 1011);
  });

  test('throwing close and rejected listeners are reported as errors, not thrown', async (t) => {
    const fixture = await serve(t, { maxConnections: 1 });
    const errors: string[] = [];
    fixture.server.on('error', (error) => errors.push(error.message));
    fixture.server.on('disconnect', () => {
      throw new Error('disconnect listener bug');
    });
    fixture.server.on('rejected', () => {
      throw new Error('rejected listener bug');
    });
    const { client } = await connectPair(t, fixture);
    const refused = await RawSocket.request(fixture.port);
    const response = await refused.readResponse();
    assert.equal(response.status, 503);
    // Not events.once(): it would reject on the 'error' event this test expects.
    const closed = new Promise<void>((resolve) => fixture.server.on('disconnect', () => resolve()));
    client.ws.close(1000);
    await within(closed, DEADLINE, 'the close event');
    assert.deepEqual(errors.sort(), ['disconnect listener bug', 'rejected listener bug']);
  });

  test('once() listeners fire once', async (t) => {
    const fixture = await serve(t);
    let connections = 0;
    fixture.server.once('connection', () => connections++);
    await connect(t, fixture.wsUrl);
    await connect(t, fixture.wsUrl);
    assert.equal(connections, 1);
  });

  test('close() with a code that may not be sent rejects and leaves the server running; a corrected call works', async (t) => {
    const fixture = await serve(t);
    await assert.rejects(fixture.server.close({ code: 1006 }), { code: 'ERR_INVALID_CLOSE' });
    assert.equal(fixture.server.state, 'running');
    const client = await connect(t, fixture.wsUrl);
    await within(fixture.server.close({ code: 1001 }), DEADLINE, 'the corrected shutdown');
    assert.equal((await within(client.closed, DEADLINE, 'client closed')).code, 1001);
  });

  test('a long non-ASCII restart reason is cut in bytes, the retry hint kept whole', async (t) => {
    const fixture = await serve(t);
    const client = await connect(t, fixture.wsUrl);
    const reason = 'Wartungsarbeiten für die Datenbankmigration: größere Änderungen am Schema, bitte später erneut verbinden, danke schön';
    await within(fixture.server.close({ code: 1012, reason, retryAfter: 500, retrySpread: 1000 }), DEADLINE, 'shutdown');
    const close = await within(client.closed, DEADLINE, 'client closed');
    assert.equal(close.code, 1012);
    assert.ok(Buffer.byteLength(close.reason) <= 123, `${Buffer.byteLength(close.reason)} bytes`);
    assert.match(close.reason, /^Wartungsarbeiten.*; retry after 500 ms, spread over 1000 ms$/);
    assert.doesNotMatch(close.reason, /\uFFFD/);
  });

  test('a compressed frame that does not inflate is reported with 1007, the code ws sent', async (t) => {
    const fixture = await serve(t, { perMessageDeflate: true });
    const accepted = onceWithin(fixture.server, 'connection');
    const { raw } = await RawSocket.upgrade(fixture.port, { headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate' } });
    t.after(() => raw.destroy());
    const [conn] = (await accepted) as [Parameters<typeof closeReportOf>[1]];
    const reported = closeReportOf(fixture.server, conn);
    // BFINAL=1, BTYPE=11: a reserved block type, so zlib itself fails (Z_DATA_ERROR).
    raw.sendFrame(Opcode.TEXT, Buffer.from([0xff, 0xff, 0xff]), { rsv: 0x4 });
    raw.destroy(); // never answer the close frame: the report must still say 1007
    const report = await reported;
    assert.equal(report.code, 1007);
  });
});
