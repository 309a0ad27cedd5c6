import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { describe, test } from 'node:test';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { RawSocket } from '../helpers/raw-socket.js';
import { within } from '../helpers/wait.js';
import { connect, DEADLINE, serve } from './support.js';

describe('lifecycle edges', () => {
  test("a socket refused in 'close' mode that never answers is terminated after closeTimeout on the server's clock", async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, closeTimeout: 2_000, handshakeRejection: 'close', authenticate: () => ({ ok: false }) });
    const { raw } = await RawSocket.upgrade(fixture.port);
    const frame = await raw.readFrame(); // the 4401 close frame; we never answer it
    assert.equal(frame.opcode, 0x8);
    await clock.tickAsync(1_999);
    assert.equal(raw.socket.destroyed, false);
    await clock.tickAsync(1);
    await within(raw.closed, DEADLINE, 'termination of the refused socket');
  });

  test("server.close() ends refused sockets still waiting for their peer's close frame", async (t) => {
    const fixture = await serve(t, { handshakeRejection: 'close', authenticate: () => ({ ok: false }) });
    const { raw } = await RawSocket.upgrade(fixture.port);
    await raw.readFrame();
    await within(fixture.server.close({ drainTimeout: 0 }), DEADLINE, 'shutdown');
    await within(raw.closed, DEADLINE, 'the refused socket is gone');
  });

  test('drainTimeout 0 terminates at once, even on a fake clock that nobody advances', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock });
    const { raw } = await RawSocket.upgrade(fixture.port); // never answers the close frame
    await within(fixture.server.close({ drainTimeout: 0 }), DEADLINE, 'shutdown without ticking');
    await within(raw.closed, DEADLINE, 'straggler terminated');
    assert.equal(fixture.server.state, 'closed');
  });

  test('a connection still authenticating is pinged, so keepalive never expires a live peer', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, {
      clock,
      pingInterval: 1_000,
      pongTimeout: 500,
      handshakeTimeout: 3_500,
      authenticateOn: 'first-message',
      authenticate: () => ({ ok: true, user: 'u' }),
    });
    const client = await connect(t, fixture.wsUrl); // ws answers protocol pings by itself
    const [conn] = fixture.server.connections;
    assert.ok(conn && conn.state === 'authenticating');
    for (let sweep = 1; sweep <= 3; sweep++) {
      await clock.tickAsync(1_000); // a sweep pings it
      // The pong crosses real loopback: wait for it (bounded) before the fake deadline passes.
      for (let i = 0; i < 1_000 && conn.awaitingPong; i++) await new Promise((resolve) => setImmediate(resolve));
      assert.equal(conn.awaitingPong, false, `pong to sweep ${sweep}`);
    }
    assert.equal(fixture.server.stats.heartbeatTerminations, 0);
    assert.equal(fixture.server.connections.size, 1);
    await clock.tickAsync(500); // t=3.5 s: handshakeTimeout, and still no credentials
    const close = await within(client.closed, DEADLINE, 'close for missing credentials');
    assert.equal(close.code, 4401);
  });

  test("a plain GET on the endpoint path is a malformed handshake (400), not the app's page", async (t) => {
    let appSawIt = false;
    const fixture = await serve(t, {
      onRequest: (_request, response) => {
        appSawIt = true;
        response.end('app');
      },
    });
    const status = await new Promise<number>((resolve, reject) => {
      httpRequest(`${fixture.url}/ws`, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    assert.equal(status, 400);
    assert.equal(appSawIt, false);
  });

  test("an upgrade to h2c (curl --http2 on http://) off the endpoint is served by onRequest as plain HTTP/1.1, body and keep-alive included; on the endpoint it stays 400", async (t) => {
    const fixture = await serve(t, {
      onRequest: (request, response) => {
        let body = '';
        request.setEncoding('utf8');
        request.on('data', (chunk: string) => (body += chunk));
        request.on('end', () => response.end(`${request.method} ${request.url} [${body}] upgrade=${request.headers.upgrade ?? 'none'}`));
      },
    });
    const h2c = 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n';
    const raw = await RawSocket.open(fixture.port);
    t.after(() => raw.destroy());
    raw.write(`POST /publish HTTP/1.1\r\nHost: x\r\n${h2c}Content-Length: 5\r\n\r\nhello`);
    const first = await raw.readResponse();
    assert.deepEqual([first.status, first.body], [200, 'POST /publish [hello] upgrade=none']);
    raw.write(`GET /healthz HTTP/1.1\r\nHost: x\r\n${h2c}\r\n`); // the same connection, kept alive
    const second = await raw.readResponse();
    assert.deepEqual([second.status, second.body], [200, 'GET /healthz [] upgrade=none']);
    const endpoint = await RawSocket.open(fixture.port);
    t.after(() => endpoint.destroy());
    endpoint.write(`GET /ws HTTP/1.1\r\nHost: x\r\n${h2c}\r\n`);
    assert.equal((await endpoint.readResponse()).status, 400);
  });
});
