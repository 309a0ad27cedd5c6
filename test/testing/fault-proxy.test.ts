/**
 * The fault proxy over real sockets on 127.0.0.1, port 0 everywhere: a `ws` echo server (or a
 * Lifeline server) as the target, `ws` clients through the proxy. Timing tests assert lower
 * bounds only; every wait has a deadline.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { after, describe, test } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { ReconnectingWebSocket, withHeartbeat, type LifelineCloseEvent } from '../../src/client/node.js';
import type { CloseReport } from '../../src/server/connection.js';
import { InvalidOptionError } from '../../src/core/errors.js';
import { startFaultProxy, type FaultLink, type FaultMode, type FaultProxy } from '../../src/testing/fault-proxy.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { startServer } from '../../src/testing/server-fixture.js';
import { eventually, within } from '../helpers/wait.js';

const DEADLINE = 5_000;

interface EchoServer {
  readonly port: number;
  readonly url: string;
  /** Server-side sockets, in connection order. */
  readonly peers: WebSocket[];
  /** Every message the server received, in order (text as text, binary as its length). */
  readonly received: string[];
  close(): Promise<void>;
}

/** A `ws` server echoing every message back as it came. */
async function startEcho(): Promise<EchoServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await within(once(wss, 'listening'), DEADLINE, 'echo server listening');
  const peers: WebSocket[] = [];
  const received: string[] = [];
  wss.on('connection', (ws) => {
    peers.push(ws);
    ws.on('error', () => undefined);
    ws.on('message', (data: Buffer, isBinary) => {
      received.push(isBinary ? `binary:${data.length}` : data.toString());
      ws.send(data, { binary: isBinary });
    });
  });
  const address = wss.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
    url: `ws://127.0.0.1:${port}/`,
    peers,
    received,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await within(new Promise<void>((resolve) => wss.close(() => resolve())), DEADLINE, 'echo server close');
    },
  };
}

interface RawTarget {
  readonly port: number;
  /** Destroys every accepted socket, then closes the server. */
  close(): Promise<void>;
}

/** A plain TCP server on a free port; `onSocket` sees each accepted socket. */
async function startRawTarget(onSocket: (socket: Socket) => void): Promise<RawTarget> {
  const sockets: Socket[] = [];
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    onSocket(socket);
  });
  server.listen(0, '127.0.0.1');
  await within(once(server, 'listening'), DEADLINE, 'raw target listening');
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await within(new Promise<void>((resolve) => server.close(() => resolve())), DEADLINE, 'raw target close');
    },
  };
}

/** A raw TCP client of the proxy, connected. */
async function rawClient(proxy: FaultProxy): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port: proxy.port, allowHalfOpen: true });
  socket.on('error', () => undefined);
  await within(once(socket, 'connect'), DEADLINE, 'raw connect');
  return socket;
}

/** A `ws` client that records everything it receives from the start. */
class Peer {
  readonly messages: string[] = [];
  close: { code: number; reason: string } | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('error', () => undefined);
    ws.on('message', (data: Buffer, isBinary) => this.messages.push(isBinary ? `binary:${data.length}` : data.toString()));
    ws.on('close', (code, reason) => (this.close = { code, reason: reason.toString() }));
  }

  static async open(url: string): Promise<Peer> {
    const peer = new Peer(new WebSocket(url));
    await within(once(peer.ws, 'open'), DEADLINE, `open ${url}`);
    return peer;
  }

  async waitMessages(count: number, ms = DEADLINE): Promise<string[]> {
    await eventually(() => this.messages.length >= count, `${count} messages (have ${this.messages.length})`, ms);
    return this.messages;
  }

  async waitClose(ms = DEADLINE): Promise<{ code: number; reason: string }> {
    await eventually(() => this.close !== undefined, 'the client close', ms);
    return this.close as { code: number; reason: string };
  }
}

/** Runs `body` with an echo server, a proxy in front of it, and everything closed afterwards. */
async function withEcho(body: (echo: EchoServer, proxy: FaultProxy, peers: Peer[]) => Promise<void>): Promise<void> {
  const echo = await startEcho();
  const proxy = await startFaultProxy({ target: { port: echo.port } });
  const peers: Peer[] = [];
  try {
    await body(echo, proxy, peers);
  } finally {
    for (const peer of peers) peer.ws.terminate();
    await within(proxy.close(), DEADLINE, 'proxy close');
    await echo.close();
  }
}

async function openVia(proxy: FaultProxy, peers: Peer[]): Promise<Peer> {
  const peer = await Peer.open(proxy.wsUrl('/'));
  peers.push(peer);
  return peer;
}

/** The link a newly opened client got: the one not in `known`. */
function newLink(proxy: FaultProxy, known: readonly FaultLink[]): FaultLink {
  const link = proxy.connections.find((candidate) => !known.includes(candidate));
  assert.ok(link, 'a new link');
  return link;
}

describe('startFaultProxy', () => {
  after(async () => {
    // Every proxy, server and client closed: no TCP handle may keep the process alive.
    const tcp = (): string[] => process.getActiveResourcesInfo().filter((name) => name.startsWith('TCP'));
    await eventually(() => tcp().length === 0, `no TCP handles left (have ${tcp().join(', ')})`, 2_000);
  });

  test('pass: a message round trip works and the bytes are counted both ways', async () => {
    await withEcho(async (echo, proxy, peers) => {
      assert.equal(proxy.wsUrl('/ws'), `ws://127.0.0.1:${proxy.port}/ws`);
      assert.equal(proxy.via(echo.url), `ws://127.0.0.1:${proxy.port}/`);
      const peer = await openVia(proxy, peers);
      peer.ws.send('hello');
      assert.deepEqual(await peer.waitMessages(1), ['hello']);
      const stats = proxy.stats;
      assert.equal(stats.linksOpened, 1);
      // At least the HTTP upgrade and one frame each way.
      assert.ok(stats.bytesToTarget > 'hello'.length, `to target ${stats.bytesToTarget}`);
      assert.ok(stats.bytesToClient > 'hello'.length, `to client ${stats.bytesToClient}`);
      assert.equal(stats.bytesSwallowed, 0);
      const [link] = proxy.connections;
      assert.equal(proxy.connections.length, 1);
      assert.equal(link?.bytesToTarget, stats.bytesToTarget);
      assert.equal(link?.bytesToClient, stats.bytesToClient);
    });
  });

  test('delay: a round trip takes two delays, and 50 messages keep their order', async () => {
    await withEcho(async (_echo, proxy, peers) => {
      const peer = await openVia(proxy, peers);
      proxy.set({ delay: 100 });
      assert.deepEqual(proxy.mode, { delay: 100 });
      const start = performance.now();
      peer.ws.send('ping');
      await peer.waitMessages(1);
      const elapsed = performance.now() - start;
      assert.ok(elapsed >= 195, `round trip took ${elapsed.toFixed(1)} ms, expected >= ~200`);
      const sent = Array.from({ length: 50 }, (_, i) => `m${i}`);
      for (const text of sent) peer.ws.send(text);
      assert.deepEqual((await peer.waitMessages(51)).slice(1), sent);
    });
  });

  test('blackhole: nothing arrives, nobody sees a close until the heartbeat and keepalive give up; pass brings the client back', async () => {
    const fixture = await startServer({ pingInterval: 100, pongTimeout: 100 });
    const proxy = await startFaultProxy({ target: { port: fixture.port } });
    const received: unknown[] = [];
    const serverCloses: CloseReport[] = [];
    fixture.server.on('message', (conn, msg) => {
      received.push(msg.n);
      conn.send({ type: 'echo', n: msg.n });
    });
    fixture.server.on('disconnect', (_conn, report) => serverCloses.push(report));
    const client = new ReconnectingWebSocket(proxy.via(fixture.wsUrl), undefined, {
      heartbeat: withHeartbeat({ watchdog: 300, pingInterval: 0 }),
      initialDelay: 20,
      maxDelay: 100,
      connectTimeout: 1_000,
    });
    const echoes: unknown[] = [];
    const closes: LifelineCloseEvent[] = [];
    client.addEventListener('message', (event) => echoes.push((JSON.parse(String((event as MessageEvent).data)) as { n?: unknown }).n));
    client.addEventListener('close', (event) => closes.push(event as LifelineCloseEvent));
    try {
      await within(client.opened(), DEADLINE, 'first open');
      client.send(JSON.stringify({ type: 'n', n: 1 }));
      await eventually(() => echoes.includes(1), 'the first echo');

      proxy.set('blackhole');
      assert.equal(client.send(JSON.stringify({ type: 'n', n: 2 })), 'sent');
      await eventually(() => closes.length > 0, 'the client to declare the link dead');
      // The first close the client saw is its own watchdog's: no FIN or RST got through.
      assert.equal(closes[0]?.code, 1006);
      assert.equal(closes[0]?.reason, 'heartbeat timeout');
      await eventually(() => serverCloses.length > 0, 'the server keepalive to terminate');
      assert.equal(serverCloses[0]?.terminated, 'heartbeat');
      assert.deepEqual(received, [1], 'the message sent into the blackhole never arrived');
      assert.ok(proxy.stats.bytesSwallowed > 0);

      proxy.set('pass');
      await within(client.opened(), DEADLINE, 'reopen after pass');
      client.send(JSON.stringify({ type: 'n', n: 3 }));
      await eventually(() => echoes.includes(3), 'an echo after the link came back');
      assert.deepEqual(received, [1, 3]);
    } finally {
      client.dispose();
      await within(proxy.close(), DEADLINE, 'proxy close');
      await fixture.close();
    }
  });

  test('reset: the client sees 1006 at once and the server sees the connection drop', async () => {
    await withEcho(async (echo, proxy, peers) => {
      const peer = await openVia(proxy, peers);
      await eventually(() => echo.peers.length === 1, 'the server-side socket');
      const serverSide = echo.peers[0] as WebSocket;
      const serverClosed = once(serverSide, 'close');
      proxy.reset();
      const close = await peer.waitClose(2_000);
      assert.equal(close.code, 1006);
      const [code] = (await within(serverClosed, 2_000, 'server-side close')) as [number];
      assert.equal(code, 1006);
      await eventually(() => proxy.connections.length === 0, 'the link to be gone');
    });
  });

  test('a per-link reset leaves the other links alone', async () => {
    await withEcho(async (_echo, proxy, peers) => {
      const first = await openVia(proxy, peers);
      const firstLink = newLink(proxy, []);
      const second = await openVia(proxy, peers);
      firstLink.reset();
      assert.equal((await first.waitClose(2_000)).code, 1006);
      second.ws.send('still here');
      assert.deepEqual(await second.waitMessages(1), ['still here']);
    });
  });

  test('slice: a 10 kB message and 100 small ones arrive intact and in order, one byte per write', async () => {
    await withEcho(async (_echo, proxy, peers) => {
      const peer = await openVia(proxy, peers);
      proxy.set({ slice: 1 });
      const big = Array.from({ length: 10_000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
      const small = Array.from({ length: 100 }, (_, i) => `s${i}`);
      peer.ws.send(big);
      for (const text of small) peer.ws.send(text);
      const messages = await peer.waitMessages(101, 8_000);
      assert.equal(messages[0], big);
      assert.deepEqual(messages.slice(1), small);
    });
  });

  test('slice: the target reads the stream in many pieces', async () => {
    const reads: number[] = [];
    const target = await startRawTarget((socket) => socket.on('data', (chunk: Buffer) => reads.push(chunk.length)));
    const proxy = await startFaultProxy({ target: { port: target.port } });
    proxy.set({ slice: 10 });
    const socket = await rawClient(proxy);
    try {
      socket.write(Buffer.alloc(1_000, 7));
      await eventually(() => reads.reduce((sum, n) => sum + n, 0) === 1_000, 'all 1000 bytes');
      assert.ok(reads.length > 1, `read in ${reads.length} piece(s)`);
    } finally {
      socket.destroy();
      await within(proxy.close(), DEADLINE, 'proxy close');
      await target.close();
    }
  });

  test('bandwidth: 64 kB through a 64 kB/s link takes about a second', async () => {
    await withEcho(async (echo, proxy, peers) => {
      const peer = await openVia(proxy, peers);
      proxy.set({ bandwidth: 64_000 });
      const start = performance.now();
      peer.ws.send(Buffer.alloc(64_000, 1));
      await eventually(() => echo.received.length === 1, 'the 64 kB message at the server');
      const elapsed = performance.now() - start;
      assert.equal(echo.received[0], 'binary:64000');
      assert.ok(elapsed >= 800, `took ${elapsed.toFixed(0)} ms, expected >= ~1000`);
      proxy.set('pass'); // the echo comes back unthrottled
      await peer.waitMessages(1);
    });
  });

  test('per link: blackholing one link leaves the other working', async () => {
    await withEcho(async (echo, proxy, peers) => {
      const quiet = await openVia(proxy, peers);
      const quietLink = newLink(proxy, []);
      const busy = await openVia(proxy, peers);
      const busyLink = newLink(proxy, [quietLink]);
      assert.notEqual(quietLink.id, busyLink.id);
      quietLink.set('blackhole');
      assert.equal(quietLink.mode, 'blackhole');
      assert.equal(busyLink.mode, 'pass');
      const toTarget = quietLink.bytesToTarget;
      quiet.ws.send('lost');
      // The proxy read the frame and swallowed it: deterministic proof it will never arrive.
      await eventually(() => quietLink.bytesSwallowed > 0, 'the blackhole to swallow the frame');
      assert.equal(quietLink.bytesToTarget, toTarget);
      busy.ws.send('through');
      assert.deepEqual(await busy.waitMessages(1), ['through']);
      assert.deepEqual(echo.received, ['through']);
      assert.deepEqual(quiet.messages, []);
      assert.equal(quiet.close, undefined, 'the blackholed client sees no close');
      assert.equal(quiet.ws.readyState, WebSocket.OPEN);
    });
  });

  test('leaving a blackhole that swallowed bytes resets the link; one that stayed quiet just resumes', async () => {
    await withEcho(async (_echo, proxy, peers) => {
      const quiet = await openVia(proxy, peers);
      const quietLink = newLink(proxy, []);
      const talker = await openVia(proxy, peers);
      const talkerLink = newLink(proxy, [quietLink]);
      proxy.set('blackhole');
      talker.ws.send('into the void');
      await eventually(() => talkerLink.bytesSwallowed > 0, 'the blackhole to swallow the frame');
      proxy.set('pass');
      assert.equal((await talker.waitClose(2_000)).code, 1006);
      quiet.ws.send('after');
      assert.deepEqual(await quiet.waitMessages(1), ['after']);
    });
  });

  test('backpressure: in pass mode the proxy stops reading while the target does not', async () => {
    const target = await startRawTarget((socket) => socket.pause()); // never reads
    const proxy = await startFaultProxy({ target: { port: target.port } });
    const client = await rawClient(proxy);
    const total = 64 * 1024 * 1024;
    try {
      client.write(Buffer.alloc(total));
      // Wait until forwarding stalls: the count stops moving for ten polls in a row.
      let last = -1;
      let still = 0;
      await eventually(() => {
        const now = proxy.stats.bytesToTarget;
        still = now === last ? still + 1 : 0;
        last = now;
        return still >= 10;
      }, 'forwarding to stall');
      assert.ok(last < total, `forwarded ${last} of ${total} bytes to a target that reads nothing`);
      assert.ok(client.writableLength > 0, 'the client itself is held back');
      assert.equal(proxy.connections[0]?.queuedBytes, 0, 'pass mode queues nothing');
    } finally {
      client.destroy();
      await within(proxy.close(), DEADLINE, 'proxy close');
      await target.close();
    }
  });

  test('delay runs on the injected clock: held until the fake clock reaches it', async () => {
    const clock = new FakeClock();
    let received = '';
    const target = await startRawTarget((socket) => socket.on('data', (chunk: Buffer) => (received += chunk.toString())));
    const proxy = await startFaultProxy({ target: { port: target.port }, clock });
    proxy.set({ delay: 1_000 });
    const client = await rawClient(proxy);
    try {
      client.write('abc');
      await eventually(() => proxy.connections[0]?.queuedBytes === 3, 'the proxy to hold 3 bytes');
      await clock.tickAsync(999);
      assert.equal(proxy.connections[0]?.queuedBytes, 3);
      assert.equal(received, '');
      await clock.tickAsync(1);
      await eventually(() => received === 'abc', 'the bytes at the target');
    } finally {
      client.destroy();
      await within(proxy.close(), DEADLINE, 'proxy close');
      await target.close();
    }
  });

  test('half-close: a FIN follows the bytes before it, each way, even when delayed', async () => {
    const atTargetEnd: string[] = [];
    const target = await startRawTarget((socket) => {
      let request = '';
      socket.on('data', (chunk: Buffer) => (request += chunk.toString()));
      socket.on('end', () => {
        atTargetEnd.push(request);
        socket.end(`re:${request}`);
      });
    });
    const proxy = await startFaultProxy({ target: { port: target.port } });
    proxy.set({ delay: 30 });
    const client = await rawClient(proxy);
    try {
      let response = '';
      client.on('data', (chunk: Buffer) => (response += chunk.toString()));
      const ended = within(once(client, 'end'), DEADLINE, 'the FIN back at the client');
      client.end('request');
      await ended;
      assert.deepEqual(atTargetEnd, ['request']);
      assert.equal(response, 're:request');
      await eventually(() => proxy.connections.length === 0, 'the link to close');
    } finally {
      client.destroy();
      await within(proxy.close(), DEADLINE, 'proxy close');
      await target.close();
    }
  });

  test('an unreachable target resets the client instead of throwing', async () => {
    const placeholder = createServer();
    placeholder.listen(0, '127.0.0.1');
    await within(once(placeholder, 'listening'), DEADLINE, 'placeholder listening');
    const address = placeholder.address();
    const deadPort = typeof address === 'object' && address ? address.port : 0;
    await new Promise<void>((resolve) => placeholder.close(() => resolve()));
    const proxy = await startFaultProxy({ target: { port: deadPort } });
    try {
      const ws = new WebSocket(proxy.wsUrl('/'));
      // During the handshake `ws` reports the reset as an error, then closes (events.once would reject).
      const closed = new Promise<number>((resolve) => ws.on('error', () => undefined).on('close', resolve));
      assert.equal(await within(closed, DEADLINE, 'client close'), 1006);
      await eventually(() => proxy.connections.length === 0, 'the link to be gone');
    } finally {
      await within(proxy.close(), DEADLINE, 'proxy close');
    }
  });

  test('close(): resolves with links open and timers pending, and leaves nothing behind', async () => {
    const echo = await startEcho();
    const proxy = await startFaultProxy({ target: { port: echo.port } });
    try {
      const peer = await Peer.open(proxy.wsUrl('/'));
      proxy.set({ delay: 10_000 }); // a timer pending
      peer.ws.send('held');
      await eventually(() => (proxy.connections[0]?.queuedBytes ?? 0) > 0, 'the frame to be held');
      await within(proxy.close(), DEADLINE, 'proxy close');
      assert.equal(proxy.state, 'closed');
      assert.equal(proxy.connections.length, 0);
      assert.equal((await peer.waitClose(2_000)).code, 1006);
      await within(proxy.close(), DEADLINE, 'a second close is the same close');
      const refused = connect({ host: '127.0.0.1', port: proxy.port });
      const [error] = (await within(once(refused, 'error'), DEADLINE, 'connect refused')) as [NodeJS.ErrnoException];
      assert.equal(error.code, 'ECONNREFUSED');
    } finally {
      await within(proxy.close(), DEADLINE, 'proxy close');
      await echo.close();
    }
  });

  test('invalid modes and options are refused before anything changes', async () => {
    await assert.rejects(startFaultProxy({ target: { port: 0 } }), InvalidOptionError);
    await withEcho(async (_echo, proxy, peers) => {
      await openVia(proxy, peers);
      assert.throws(() => proxy.set({ delay: -1 }), InvalidOptionError);
      assert.throws(() => proxy.set({ slice: 0.5 }), InvalidOptionError);
      assert.throws(() => proxy.set({ bandwidth: 0 }), InvalidOptionError);
      assert.throws(() => proxy.connections[0]?.set({ slice: Number.NaN }), InvalidOptionError);
      // A misspelt fault would otherwise test nothing: unknown keys are named in the refusal.
      const misspelt = { dealy: 50, slice: 7, bandwith: 10 } as unknown as FaultMode;
      assert.throws(() => proxy.set(misspelt), (error: unknown) => error instanceof InvalidOptionError && error.option === 'mode' && /"dealy", "bandwith"/.test(error.message));
      assert.throws(() => proxy.connections[0]?.set({ blackhole: true } as unknown as FaultMode), /"blackhole"/);
      assert.throws(() => proxy.set([] as unknown as FaultMode), InvalidOptionError);
      assert.throws(() => proxy.set('blackhol' as FaultMode), InvalidOptionError);
      assert.equal(proxy.mode, 'pass');
      assert.equal(proxy.connections[0]?.mode, 'pass');
    });
  });
});
