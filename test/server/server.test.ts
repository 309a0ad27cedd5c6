/**
 * The server as a whole, over real sockets: keepalive on a fake clock (dead peers terminated,
 * live ones kept, application pings only to idle links, no timer leaks), graceful shutdown
 * (1012 with a retry hint to a crowd, drain deadline for stragglers, state transitions), and
 * attach mode on an existing http server that has other upgrade listeners.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, get as httpGet, type Server as HttpServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { WebSocketServer } from 'ws';
import type { Connection } from '../../src/server/connection.js';
import { createServer, type LifelineServer, type ServerState } from '../../src/server/server.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { Opcode, RawSocket } from '../helpers/raw-socket.js';
import { closeReportOf, connect, connectPair, DEADLINE, onceWithin, rawPair, serve, shutdown, type TrackedClient, within } from './support.js';

const APP_PING = '{"type":"ping"}';

function appPings(client: TrackedClient): number {
  return client.received.filter((m) => m.text === APP_PING).length;
}

/** Advances the fake clock by `ms`, expecting the sweep to protocol-ping `client` on the way. */
async function tickThroughPing(clock: FakeClock, client: TrackedClient, ms: number): Promise<void> {
  const pinged = onceWithin(client.ws, 'ping');
  await clock.tickAsync(ms);
  await pinged;
}


describe('keepalive (fake clock)', () => {
  test('a peer that stops answering pings is terminated after pingInterval + pongTimeout and releases everything', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, pingInterval: 1_000, pongTimeout: 500 });
    const timersBefore = clock.pending;
    const { client, conn } = await connectPair(t, fixture, undefined, { autoPong: false });
    let cleanups = 0;
    conn.own(() => cleanups++);
    const report = closeReportOf(fixture.server, conn);
    await tickThroughPing(clock, client, 1_000);
    await clock.tickAsync(499);
    assert.equal(conn.state, 'open', 'alive until pongTimeout has passed');
    assert.ok(fixture.server.connections.has(conn));
    await clock.tickAsync(1);
    const closed = await report;
    assert.equal(closed.terminated, 'heartbeat');
    assert.equal(closed.reason, 'heartbeat timeout');
    assert.equal(closed.wasClean, false);
    assert.equal(closed.code, 1006);
    assert.equal(fixture.server.stats.heartbeatTerminations, 1);
    assert.equal(fixture.server.connections.has(conn), false);
    assert.equal(fixture.server.connections.size, 0);
    assert.equal(cleanups, 1);
    assert.equal(clock.pending, timersBefore, 'only the keepalive slot is left: no per-connection timer leaked');
    assert.equal((await within(client.closed, DEADLINE, 'client close')).code, 1006);
  });

  test('a raw peer that never answers pings is terminated the same way', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, pingInterval: 1_000, pongTimeout: 500, appPings: false });
    const { raw, conn } = await rawPair(t, fixture);
    const report = closeReportOf(fixture.server, conn);
    await clock.tickAsync(1_000);
    const ping = await raw.readFrame();
    assert.equal(ping.opcode, 0x9, 'a protocol ping arrived');
    await clock.tickAsync(500);
    const closed = await report;
    assert.equal(closed.terminated, 'heartbeat');
    await raw.waitClosed();
  });

  test('a peer that answers pings stays connected across several intervals', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, pingInterval: 1_000, pongTimeout: 500 });
    const { client, conn } = await connectPair(t, fixture);
    for (let interval = 0; interval < 5; interval++) {
      await tickThroughPing(clock, client, 1_000);
      // The client's automatic pong is on the wire before the answer to this barrier ping.
      await client.barrier();
      assert.notEqual(conn.rtt, undefined, 'the pong was measured');
    }
    await clock.tickAsync(1_000);
    assert.equal(conn.state, 'open');
    assert.equal(fixture.server.stats.heartbeatTerminations, 0);
    assert.equal(client.ws.readyState, client.ws.OPEN);
  });

  test('an idle connection gets an application ping every interval', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, pingInterval: 1_000, pongTimeout: 500 });
    const { client } = await connectPair(t, fixture);
    for (let interval = 1; interval <= 3; interval++) {
      await tickThroughPing(clock, client, 1_000);
      await client.barrier();
      assert.equal(appPings(client), interval, `after interval ${interval}`);
    }
    assert.equal(client.received.length, 3, 'nothing but the application pings');
  });

  test('a connection that opened mid-interval hears from the server within every ping interval', async (t) => {
    // The client's watchdog (pingInterval + grace) counts on this: a link that was busy, or
    // that opened just after a sweep, still gets its application ping at the next sweep.
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, pingInterval: 1_000, pongTimeout: 500 });
    await clock.tickAsync(1_000); // a sweep with nobody connected
    await clock.tickAsync(10); // the connection opens just after it
    const { client, conn } = await connectPair(t, fixture);
    conn.send({ type: 'data' });
    await tickThroughPing(clock, client, 990); // the next sweep, 990 ms later
    await client.barrier();
    assert.deepEqual(
      client.received.map((m) => m.text),
      ['{"type":"data"}', '{"type":"ping"}'],
      'the sweep pinged even though data went out this interval',
    );
  });

  test('a sweep sends the bytes ws would: an empty unmasked ping, then the application ping', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, pingInterval: 1_000, pongTimeout: 5_000 });
    const { raw } = await rawPair(t, fixture);
    await clock.tickAsync(1_000);
    const ping = await raw.readFrame();
    assert.deepEqual([ping.fin, ping.rsv, ping.opcode, ping.payload.length], [true, 0, Opcode.PING, 0]);
    const text = await raw.readFrame();
    assert.deepEqual([text.fin, text.rsv, text.opcode, text.payload.toString('utf8')], [true, 0, Opcode.TEXT, APP_PING]);
    // Not answered: the next sweep only repeats the application ping (the ping's deadline stands).
    await clock.tickAsync(1_000);
    const again = await raw.readFrame();
    assert.deepEqual([again.opcode, again.payload.toString('utf8')], [Opcode.TEXT, APP_PING]);
    assert.equal(raw.unread, 0);
  });

  test('appPings: false sends protocol pings only', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, pingInterval: 1_000, pongTimeout: 500, appPings: false });
    const { client } = await connectPair(t, fixture);
    await tickThroughPing(clock, client, 1_000);
    await client.barrier();
    assert.equal(client.received.length, 0);
  });
});

describe('graceful shutdown', () => {
  test('close({code: 1012}) with 100 clients: each gets 1012 and a retry hint, then the server is closed', async (t) => {
    const fixture = await serve(t);
    const { server } = fixture;
    const clients: TrackedClient[] = [];
    for (let i = 0; i < 100; i++) clients.push(await connect(t, fixture.wsUrl));
    assert.equal(server.connections.size, 100);
    const states: string[] = [];
    server.on('state', ({ from, to }) => states.push(`${from}->${to}`));
    const reports: { code: number; wasClean: boolean }[] = [];
    server.on('disconnect', (_conn, report) => reports.push(report));
    assert.equal(server.state, 'running' satisfies ServerState);

    const closing = server.close({ code: 1012, drainTimeout: 5_000 });
    assert.equal(server.state, 'draining');
    assert.equal(server.close(), closing, 'a second close() returns the same promise');
    await within(closing, 10_000, 'server.close()');

    assert.equal(reports.length, 100, 'every connection was reported closed before the promise resolved');
    assert.equal(server.connections.size, 0);
    const sockets = await new Promise<number>((resolve, reject) => server.httpServer.getConnections((error, count) => (error ? reject(error) : resolve(count))));
    assert.equal(sockets, 0, 'no TCP socket is left');
    assert.deepEqual(states, ['running->draining', 'draining->closed']);
    assert.equal(server.state, 'closed');
    assert.equal(server.httpServer.listening, false);
    assert.ok(reports.every((r) => r.code === 1012 && r.wasClean));

    const closes = await within(Promise.all(clients.map((c) => c.closed)), DEADLINE, 'every client close');
    for (const close of closes) {
      assert.equal(close.code, 1012);
      assert.match(close.reason, /retry after \d+ ms, spread over \d+ ms/);
    }
    await assert.rejects(RawSocket.open(fixture.port), { code: 'ECONNREFUSED' });
  });

  test('a straggler that never answers the close is terminated at the drain deadline', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, closeTimeout: 60_000 });
    const polite = await connectPair(t, fixture);
    const { raw, conn: straggler } = await rawPair(t, fixture);
    const politeReport = closeReportOf(fixture.server, polite.conn);
    const stragglerReport = closeReportOf(fixture.server, straggler);

    const closing = fixture.server.close({ code: 1001, drainTimeout: 2_000 });
    const frame = await raw.readFrame();
    assert.equal(frame.opcode, 0x8);
    assert.equal(frame.payload.readUInt16BE(0), 1001);
    const politeClosed = await politeReport;
    assert.equal(politeClosed.wasClean, true);
    assert.equal(politeClosed.code, 1001);

    await clock.tickAsync(1_999);
    assert.equal(straggler.state, 'closing');
    assert.equal(fixture.server.state, 'draining');
    await clock.tickAsync(1);
    const closed = await stragglerReport;
    assert.equal(closed.terminated, 'drain-timeout');
    assert.equal(closed.wasClean, false);
    assert.equal(closed.code, 1001, 'reported with the code we sent');
    await within(closing, DEADLINE, 'server.close()');
    assert.equal(fixture.server.state, 'closed');
    await raw.waitClosed();
    assert.equal(clock.pending, 0, 'every timer was released');
  });

  test('close() with 1001 sends no retry hint', async (t) => {
    const fixture = await serve(t);
    const client = await connect(t, fixture.wsUrl);
    await within(fixture.server.close(), DEADLINE, 'server.close()');
    const close = await within(client.closed, DEADLINE, 'client close');
    assert.equal(close.code, 1001);
    assert.doesNotMatch(close.reason, /retry after/);
  });
});

describe('listen()', () => {
  test('after a bind that failed (EADDRINUSE), listen() binds again once the port is free', async (t) => {
    const blocker = createHttpServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    const server = createServer({ port, logger: false });
    t.after(() => shutdown(server));
    await assert.rejects(server.listen(), { code: 'EADDRINUSE' });
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    const info = await within(server.listen(), DEADLINE, 'the second listen()');
    assert.equal(info.port, port);
    await connect(t, `ws://127.0.0.1:${port}/ws`);
  });
});

describe('attach mode', () => {
  const quiet = pino({ level: 'silent' });

  /** Listens on 127.0.0.1:0; after the test, every socket it accepted (upgraded ones too) is destroyed. */
  async function listenHttp(t: TestContext, server: HttpServer): Promise<number> {
    const sockets = new Set<Socket>();
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await within(closed, DEADLINE, 'the http server to close');
    });
    return (server.address() as AddressInfo).port;
  }

  function httpText(url: string): Promise<{ status: number; body: string }> {
    return within(
      new Promise((resolve, reject) => {
        httpGet(url, (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        }).on('error', reject);
      }),
      DEADLINE,
      `GET ${url}`,
    );
  }

  function attach<User>(t: TestContext, options: Parameters<typeof createServer<User>>[0]): LifelineServer<User> {
    const server = createServer<User>({ logger: quiet, ...options });
    t.after(() => shutdown(server));
    return server;
  }

  test("serves its path on an existing http server and leaves another listener's path alone", async (t) => {
    const http = createHttpServer((_request, response) => response.end('app page'));
    const other = new WebSocketServer({ noServer: true });
    http.on('upgrade', (request, socket, head) => {
      if (request.url !== '/other') return;
      other.handleUpgrade(request, socket, head, (ws) => ws.send('from other'));
    });
    const port = await listenHttp(t, http);
    const server = attach(t, { server: http, path: '/live' });
    let rejected = 0;
    server.on('rejected', () => rejected++);

    const accepted = onceWithin(server, 'connection');
    const live = await connect(t, `ws://127.0.0.1:${port}/live`);
    await accepted;
    assert.equal(server.connections.size, 1);
    const foreign = await connect(t, `ws://127.0.0.1:${port}/other`);
    assert.equal((await foreign.next()).text, 'from other');
    assert.equal(server.connections.size, 1, 'the foreign connection is not ours');
    assert.equal(rejected, 0, 'and was not refused by us');
    assert.deepEqual(await httpText(`http://127.0.0.1:${port}/`), { status: 200, body: 'app page' });

    await within(server.close(), DEADLINE, 'server.close()');
    assert.equal((await within(live.closed, DEADLINE, 'live close')).code, 1001);
    assert.equal(http.listening, true, "closing Lifeline leaves the app's http server running");
    const again = await connect(t, `ws://127.0.0.1:${port}/other`);
    assert.equal((await again.next()).text, 'from other');
  });

  test("as the only upgrade listener, it leaves an upgrade to another protocol (h2c) off its path to the app's request handler", async (t) => {
    const http = createHttpServer((request, response) => response.end(`app page ${request.url}`));
    const port = await listenHttp(t, http);
    attach(t, { server: http, path: '/live' });
    const raw = await RawSocket.open(port);
    t.after(() => raw.destroy());
    raw.write('GET /elsewhere HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n');
    const response = await raw.readResponse();
    assert.deepEqual([response.status, response.body], [200, 'app page /elsewhere']);
  });

  test("an h2c request it serves as HTTP/1.1 is one 'connection' for the app's server, not two", async (t) => {
    const http = createHttpServer((request, response) => response.end(`app page ${request.url}`));
    const sockets: unknown[] = [];
    http.on('connection', (socket) => sockets.push(socket));
    const port = await listenHttp(t, http);
    attach(t, { server: http, path: '/live' });
    const raw = await RawSocket.open(port);
    t.after(() => raw.destroy());
    const h2c = 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n';
    raw.write(`GET /first HTTP/1.1\r\nHost: x\r\n${h2c}\r\n`);
    assert.deepEqual((await raw.readResponse()).body, 'app page /first');
    raw.write(`GET /second HTTP/1.1\r\nHost: x\r\n${h2c}\r\n`); // kept alive: the same socket
    assert.deepEqual((await raw.readResponse()).body, 'app page /second');
    assert.equal(sockets.length, 1, "the app's 'connection' listener ran once for the one socket");
  });

  test('as the only upgrade listener, it refuses unknown paths with 404', async (t) => {
    const http = createHttpServer((_request, response) => response.end('app page'));
    const port = await listenHttp(t, http);
    attach(t, { server: http, path: '/live' });
    const raw = await RawSocket.request(port, { path: '/elsewhere' });
    t.after(() => raw.destroy());
    const response = await raw.readResponse();
    assert.equal(response.status, 404);
    assert.equal(response.body, 'no WebSocket endpoint at this path\n');
  });

  test('keepalive runs when attached, without calling listen()', async (t) => {
    const clock = new FakeClock();
    const http = createHttpServer();
    const port = await listenHttp(t, http);
    const server = attach(t, { server: http, path: '/live', clock, pingInterval: 1_000, pongTimeout: 500 });
    const accepted = onceWithin(server, 'connection');
    const client = await connect(t, `ws://127.0.0.1:${port}/live`, undefined, { autoPong: false });
    const [conn] = (await accepted) as [Connection];
    const report = closeReportOf(server, conn);
    await tickThroughPing(clock, client, 1_000);
    await clock.tickAsync(500);
    assert.equal((await report).terminated, 'heartbeat');
  });
});

describe('broadcast', () => {
  test('one text to every open connection, compressed or not; a closing connection is not counted', async (t) => {
    const fixture = await serve(t, { perMessageDeflate: true });
    const plain = await connect(t, fixture.wsUrl, undefined, { perMessageDeflate: false });
    const compressed = await connect(t, fixture.wsUrl, undefined, { perMessageDeflate: true });
    const { conn: leaving } = await connectPair(t, fixture, undefined, { perMessageDeflate: false });
    assert.equal(compressed.ws.extensions.includes('permessage-deflate'), true, 'the second one negotiated compression');
    leaving.close(1000, 'bye');
    const text = JSON.stringify({ type: 'notice', text: 'é'.repeat(300) });
    assert.equal(fixture.server.broadcast(text), 2);
    for (const client of [plain, compressed]) assert.equal((await client.next()).text, text);
  });
});
