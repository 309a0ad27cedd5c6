import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { WebSocketServer } from 'ws';
import { ReconnectingWebSocket, withRetryHints, type LifelineCloseEvent, type ReconnectingEvent } from '../../src/client/node.js';
import { createServer } from '../../src/server/server.js';
import type { Envelope } from '../../src/core/envelope.js';
import { startServer } from '../../src/testing/server-fixture.js';
import { eventually, until, within } from '../helpers/wait.js';

const quiet = pino({ level: 'silent' });
const fast = { initialDelay: 20, maxDelay: 200 };

/** Answers an upgrade with 101 by hand (and nothing more: what happens next is the test's). */
function acceptUpgrade(request: IncomingMessage, socket: Duplex): void {
  const accept = createHash('sha1').update(`${String(request.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
}

describe('ReconnectingWebSocket on Node against a real Lifeline server', () => {
  test('after a server restart on the same port it reconnects and flushes the queue in order', async () => {
    const first = await startServer({});
    const received: unknown[] = [];
    const client = new ReconnectingWebSocket(first.wsUrl, undefined, fast);
    try {
      await within(client.opened(), 5_000, 'first open');
      const closing = until(client, 'close', () => true);
      await first.server.close({ code: 1012, retryAfter: 10, retrySpread: 10 });
      const closed = (await closing) as LifelineCloseEvent;
      assert.equal(closed.code, 1012);
      assert.equal(closed.willReconnect, true);
      for (let i = 1; i <= 20; i++) assert.equal(client.send(JSON.stringify({ type: 'n', n: i })), 'queued');
      const second = createServer({ port: first.port, host: '127.0.0.1', logger: quiet });
      second.on('message', (_c, m: Envelope) => received.push(m.n));
      await second.listen();
      try {
        await within(client.opened(), 5_000, 'reopen');
        client.send(JSON.stringify({ type: 'n', n: 21 }));
        const deadline = Date.now() + 5_000;
        while (received.length < 21 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        assert.deepEqual(received, Array.from({ length: 21 }, (_, i) => i + 1));
      } finally {
        client.close();
        await second.close({ drainTimeout: 1000 });
      }
    } finally {
      client.dispose();
    }
  });

  test('1012 with a retry hint: the reconnect delay lies within the hinted window', async () => {
    const fixture = await startServer({});
    // Reading hints in close reasons is opt-in.
    const client = new ReconnectingWebSocket(fixture.wsUrl, undefined, { ...fast, retryHints: withRetryHints() });
    try {
      await within(client.opened(), 5_000, 'open');
      const scheduled = until(client, 'reconnecting', () => true);
      for (const connection of fixture.server.connections) connection.close(1012, 'restart; retry after 300 ms, spread over 200 ms');
      const event = (await scheduled) as ReconnectingEvent;
      assert.ok(event.delay >= 300 && event.delay <= 500, `delay ${event.delay}`);
      await within(client.opened(), 5_000, 'reopen after hint');
    } finally {
      client.dispose();
      await fixture.close();
    }
  });

  test('a 401 handshake asks for fresh credentials; the provider gets authRequired and the retry succeeds', async () => {
    const fixture = await startServer({
      authenticate: ({ query }) => (query.get('token') === 'good' ? { ok: true, user: 'ann' } : { ok: false }),
    });
    const calls: boolean[] = [];
    const client = new ReconnectingWebSocket(({ authRequired }) => {
      calls.push(authRequired);
      return `${fixture.wsUrl}?token=${authRequired ? 'good' : 'stale'}`;
    }, undefined, fast);
    try {
      const auth = until(client, 'authRequired', () => true);
      await within(auth, 5_000, 'authRequired');
      await within(client.opened(), 5_000, 'open with fresh token');
      assert.deepEqual(calls, [false, true]);
    } finally {
      client.dispose();
      await fixture.close();
    }
  });

  test('authRequired holds until an attempt opens: after a provider that failed to fetch a token, the next call still asks for one', async () => {
    const fixture = await startServer({
      authenticate: ({ query }) => (query.get('token') === 'good' ? { ok: true, user: 'ann' } : { ok: false }),
    });
    const calls: boolean[] = [];
    let fetches = 0;
    const client = new ReconnectingWebSocket(async ({ authRequired }) => {
      calls.push(authRequired);
      if (!authRequired) return `${fixture.wsUrl}?token=stale`;
      // The token service fails once, then answers.
      if (++fetches === 1) throw new Error('token service down');
      return `${fixture.wsUrl}?token=good`;
    }, undefined, fast);
    const refusals: number[] = [];
    client.addEventListener('authRequired', (e) => refusals.push(e.code));
    try {
      await within(client.opened(), 5_000, 'open with a fresh token');
      assert.deepEqual(calls, [false, true, true], 'no attempt with the stale token after the failed fetch');
      assert.deepEqual(refusals, [401]);
    } finally {
      client.dispose();
      await fixture.close();
    }
  });

  test('a 404 handshake is fatal: no retry', async () => {
    const fixture = await startServer({});
    const client = new ReconnectingWebSocket(`${fixture.url.replace('http', 'ws')}/nowhere`, undefined, fast);
    try {
      const closed = (await until(client, 'close', () => true)) as LifelineCloseEvent;
      assert.equal(closed.action, 'fatal');
      assert.equal(closed.willReconnect, false);
      assert.match(closed.reason, /HTTP 404/);
      assert.equal(client.state, 'closed');
    } finally {
      client.dispose();
      await fixture.close();
    }
  });

  test('a 503 over capacity is retried after its Retry-After', async () => {
    const fixture = await startServer({ maxConnections: 1, retryAfter: 1000 });
    const holder = new ReconnectingWebSocket(fixture.wsUrl, undefined, fast);
    await within(holder.opened(), 5_000, 'holder open');
    const client = new ReconnectingWebSocket(fixture.wsUrl, undefined, fast);
    try {
      const event = (await until(client, 'reconnecting', () => true)) as ReconnectingEvent;
      assert.ok(event.delay >= 1000, `delay ${event.delay} honours Retry-After: 1`);
      holder.close();
      await within(client.opened(), 5_000, 'admitted once a slot is free');
    } finally {
      holder.dispose();
      client.dispose();
      await fixture.close();
    }
  });

  test('the server sees the client close with the code the client chose', async () => {
    const fixture = await startServer({});
    const client = new ReconnectingWebSocket(fixture.wsUrl, undefined, fast);
    try {
      await within(client.opened(), 5_000, 'open');
      const serverClose = once(fixture.server, 'disconnect');
      client.close(4321, 'done here');
      const [, report] = await within(serverClose, 5_000, 'server disconnect event');
      assert.equal(report.code, 4321);
      assert.equal(report.reason, 'done here');
      assert.equal(report.wasClean, true);
    } finally {
      client.dispose();
      await fixture.close();
    }
  });

  test('close(undefined, reason) closes with 1000 and the reason, close(1000, null) with the reason "null", as WHATWG says (ws underneath takes neither as such)', async () => {
    const fixture = await startServer({});
    try {
      for (const [args, expected] of [
        [[undefined, 'bye'], [1000, 'bye']],
        [[1000, null], [1000, 'null']],
      ] as [[number | undefined, string], [number, string]][]) {
        const client = new ReconnectingWebSocket(fixture.wsUrl, undefined, fast);
        try {
          await within(client.opened(), 5_000, 'open');
          const serverClose = once(fixture.server, 'disconnect');
          client.close(...args);
          const [, report] = await within(serverClose, 5_000, 'server disconnect event');
          assert.deepEqual([report.code, report.reason], expected, String(args));
        } finally {
          client.dispose();
        }
      }
    } finally {
      await fixture.close();
    }
  });

  test('reconnect(1000, null) closes the open socket with the reason "null" and connects again (ws threw on null, leaving the client with no socket and nothing scheduled)', async () => {
    const fixture = await startServer({});
    const client = new ReconnectingWebSocket(fixture.wsUrl, undefined, fast);
    try {
      await within(client.opened(), 5_000, 'open');
      const serverClose = once(fixture.server, 'disconnect');
      const reopened = once(fixture.server, 'connection');
      client.reconnect(1000, null as unknown as string);
      const [, report] = await within(serverClose, 5_000, 'server disconnect event');
      assert.deepEqual([report.code, report.reason], [1000, 'null']);
      await within(reopened, 5_000, 'the next connection');
      await within(client.opened(), 5_000, 'open again');
    } finally {
      client.dispose();
      await fixture.close();
    }
  });
});

describe('ReconnectingWebSocket on Node against a server that breaks the protocol', () => {
  test('a malformed frame from the server fails the link at once (error with its cause, close, retry), not after ws waits 30 s for a close answer', async () => {
    let upgrades = 0;
    const held = new Set<Duplex>();
    const wss = new WebSocketServer({ noServer: true });
    const http = createHttpServer();
    http.on('upgrade', (request, socket, head) => {
      socket.on('error', () => undefined);
      if (++upgrades > 1) return wss.handleUpgrade(request, socket, head, () => undefined);
      // The first connection: a valid 101, then a frame with reserved bits and an unknown opcode;
      // the server then never reads or closes (a broken peer).
      const accept = createHash('sha1').update(`${String(request.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      socket.write(Buffer.from([0xff, 0xff, 0xff, 0x00, 0x01]));
      held.add(socket);
    });
    http.listen(0, '127.0.0.1');
    await within(once(http, 'listening'), 5_000, 'listening');
    const { port } = http.address() as AddressInfo;
    const client = new ReconnectingWebSocket(`ws://127.0.0.1:${port}/`, undefined, fast);
    const errors: unknown[] = [];
    client.addEventListener('error', (event) => errors.push(event.error));
    const closes: number[] = [];
    client.addEventListener('close', (event) => closes.push(event.code));
    try {
      await within(until(client, 'open', () => true), 5_000, 'the first open');
      // Well within ws's own 30 s wait for an answer to its close frame.
      await until(client, 'open', () => upgrades === 2, 10_000);
      assert.deepEqual(closes, [1006]);
      const cause = (errors[0] as { cause?: Error } | undefined)?.cause;
      assert.match(cause?.message ?? '', /Invalid WebSocket frame/);
    } finally {
      client.dispose();
      for (const socket of held) socket.destroy();
      for (const socket of wss.clients) socket.terminate();
      wss.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });
});

describe('ReconnectingWebSocket on Node: close() while the server is closing', () => {
  for (const [code, reason] of [
    [4001, 'bye'],
    [1001, 'going away'],
  ] as const) {
    test(`close() after the server's close frame (${code}) arrived, before the close event, reports the server's close`, async () => {
      const held = new Set<Duplex>();
      const http = createHttpServer();
      let answered!: () => void;
      const clientAnswered = new Promise<void>((resolve) => (answered = resolve));
      http.on('upgrade', (request, socket) => {
        socket.on('error', () => undefined);
        held.add(socket);
        acceptUpgrade(request, socket);
        const payload = Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]);
        socket.write(Buffer.concat([Buffer.from([0x88, payload.length]), payload]));
        // The client's answering close frame: it has read the server's, its socket is CLOSING. The
        // TCP connection stays up until the test ends it, so the close event has not come yet.
        socket.on('data', (chunk: Buffer) => chunk[0] === 0x88 && answered());
      });
      http.listen(0, '127.0.0.1');
      await within(once(http, 'listening'), 5_000, 'listening');
      const { port } = http.address() as AddressInfo;
      const client = new ReconnectingWebSocket(`ws://127.0.0.1:${port}/`, undefined, fast);
      const closes: string[] = [];
      client.addEventListener('close', (event) => closes.push(`${event.code} ${event.reason} ${event.wasClean} ${event.willReconnect}`));
      try {
        await within(clientAnswered, 5_000, "the client's answer to the close frame");
        assert.deepEqual(closes, [], 'no close event yet');
        const closed = until(client, 'close', () => true);
        client.close();
        for (const socket of held) socket.end();
        await within(closed, 5_000, 'the close event');
        assert.deepEqual(closes, [`${code} ${reason} true false`]);
        assert.equal(client.readyState, 3);
      } finally {
        client.dispose();
        for (const socket of held) socket.destroy();
        await new Promise<void>((resolve) => http.close(() => resolve()));
      }
    });
  }
});

describe("ReconnectingWebSocket on Node: between the server's close frame and the close event", () => {
  test('readyState is CLOSING (as WHATWG); a send is queued (bufferedAmount counts it) and goes out on the next connection', async () => {
    const http = createHttpServer();
    const wss = new WebSocketServer({ noServer: true });
    const held = new Set<Duplex>();
    const received: string[] = [];
    let answered!: () => void;
    const clientAnswered = new Promise<void>((resolve) => (answered = resolve));
    let upgrades = 0;
    http.on('upgrade', (request, socket, head) => {
      socket.on('error', () => undefined);
      if (++upgrades > 1) return wss.handleUpgrade(request, socket, head, (ws) => ws.on('message', (data) => received.push(String(data))));
      // The first connection: a close frame (1012, reconnectable), the TCP connection held until the test ends it.
      held.add(socket);
      acceptUpgrade(request, socket);
      socket.write(Buffer.concat([Buffer.from([0x88, 9, 1012 >> 8, 1012 & 0xff]), Buffer.from('restart')]));
      socket.on('data', (chunk: Buffer) => chunk[0] === 0x88 && answered());
    });
    http.listen(0, '127.0.0.1');
    await within(once(http, 'listening'), 5_000, 'listening');
    const { port } = http.address() as AddressInfo;
    const client = new ReconnectingWebSocket(`ws://127.0.0.1:${port}/`, undefined, fast);
    try {
      await within(clientAnswered, 5_000, "the client's answer to the close frame");
      assert.equal(client.readyState, 2);
      assert.equal(client.send('late'), 'queued');
      assert.equal(client.bufferedAmount, 4);
      const closed = until(client, 'close', () => true);
      for (const socket of held) socket.end();
      const event = (await within(closed, 5_000, 'the close event')) as LifelineCloseEvent;
      assert.deepEqual([event.code, event.reason, event.willReconnect], [1012, 'restart', true]);
      await within(client.opened(), 5_000, 'the next connection');
      await eventually(() => received.length > 0, 'the queued message', 5_000);
      assert.deepEqual(received, ['late']);
    } finally {
      client.dispose();
      for (const socket of held) socket.destroy();
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });
});

describe('ReconnectingWebSocket on Node: a closing handshake the server never finishes', () => {
  test('a server that sends its close frame and never ends the TCP connection is let go after closeTimeout, and the client reconnects (ws alone waited 30 s)', async () => {
    const http = createHttpServer();
    const held = new Set<Duplex>();
    let upgrades = 0;
    http.on('upgrade', (request, socket) => {
      socket.on('error', () => undefined);
      held.add(socket);
      acceptUpgrade(request, socket);
      // The first connection is closed with a close frame and held open; the second stays.
      if (++upgrades === 1) socket.write(Buffer.concat([Buffer.from([0x88, 9, 1012 >> 8, 1012 & 0xff]), Buffer.from('restart')]));
      socket.resume();
    });
    http.listen(0, '127.0.0.1');
    await within(once(http, 'listening'), 5_000, 'listening');
    const { port } = http.address() as AddressInfo;
    const client = new ReconnectingWebSocket(`ws://127.0.0.1:${port}/`, undefined, { ...fast, closeTimeout: 300 });
    try {
      const event = (await until(client, 'close', () => true, 5_000)) as LifelineCloseEvent;
      assert.deepEqual([event.code, event.reason, event.willReconnect], [1012, 'restart', true]);
      await within(client.opened(), 5_000, 'the next connection');
      assert.equal(upgrades, 2);
    } finally {
      client.dispose();
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });

  test('a server that never answers the close frame is let go after closeTimeout: 1006 "close timeout", the TCP connection ended (ws alone waited 30 s)', async () => {
    const http = createHttpServer();
    let ended!: () => void;
    const tcpEnded = new Promise<void>((resolve) => (ended = resolve));
    const held = new Set<Duplex>();
    http.on('upgrade', (request, socket) => {
      socket.on('error', () => undefined);
      held.add(socket);
      acceptUpgrade(request, socket);
      // Reads the close frame and never answers it, as a dead link does not.
      socket.resume();
      socket.once('end', () => ended());
    });
    http.listen(0, '127.0.0.1');
    await within(once(http, 'listening'), 5_000, 'listening');
    const { port } = http.address() as AddressInfo;
    const client = new ReconnectingWebSocket(`ws://127.0.0.1:${port}/`, undefined, { ...fast, closeTimeout: 300 });
    try {
      await within(client.opened(), 5_000, 'open');
      const closed = until(client, 'close', () => true, 5_000);
      client.close(1000, 'bye');
      assert.equal(client.readyState, 2);
      const event = (await closed) as LifelineCloseEvent;
      assert.deepEqual([event.code, event.reason, event.wasClean, event.willReconnect], [1006, 'close timeout', false, false]);
      assert.equal(client.readyState, 3);
      await within(tcpEnded, 5_000, 'the client ending its TCP connection');
    } finally {
      client.dispose();
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });
});
