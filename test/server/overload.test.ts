/**
 * Overload over real sockets: while a flood of new handshakes is refused by `admissionRate`
 * (503 + Retry-After), a client that was already connected keeps its connection and gets the
 * exact reply to every request. On a fake clock the admission bucket never refills, so every
 * handshake of the flood is over the limit whatever the machine's speed. No timing is asserted
 * (the latency under a flood is measured by `npm run bench -- --scenario overload`).
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import WebSocket from 'ws';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { RawSocket, type RawResponse } from '../helpers/raw-socket.js';
import { DEADLINE, serve, within } from './support.js';
import { ProtocolClient } from './protocol/protocol-client.js';

const ROUNDS = 10;
const HANDSHAKES_PER_ROUND = 20;

/** One handshake of the flood: its response; the server closes the socket after a refusal. */
async function attempt(port: number): Promise<RawResponse> {
  const raw = await RawSocket.request(port);
  try {
    const response = await raw.readResponse();
    if (response.status !== 101) await raw.waitClosed();
    return response;
  } finally {
    raw.destroy();
  }
}

/** Sends `request` on a fresh connection and resolves with every byte the server sent before it closed. */
async function exchange(port: number, request: string): Promise<string> {
  const socket = connect({ port, host: '127.0.0.1' });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  socket.once('connect', () => socket.write(request));
  await within(new Promise((resolve) => socket.once('close', resolve)), DEADLINE, 'the server to close the connection');
  return Buffer.concat(chunks).toString('latin1');
}

const fixedKey = (): string => Buffer.from(Array.from({ length: 16 }, (_, i) => i)).toString('base64');
const upgradeRequest = (port: number, extra = ''): string =>
  `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${fixedKey()}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;

/** The response to a handshake over a limit, byte for byte: status line, headers, body, nothing after. */
function assertExactRefusal(bytes: string, message: string, retryAfter: string): void {
  const body = `${message}\n`;
  assert.equal(
    bytes,
    `HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nRetry-After: ${retryAfter}\r\n\r\n${body}`,
  );
}

describe('overload: the refusal a flood gets', () => {
  test('over admissionRate: exactly one 503 with Retry-After and Connection: close, then the server closes; counted and reported once each', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, admissionRate: 1 });
    const rejected: string[] = [];
    fixture.server.on('rejected', (rejection, request) => rejected.push(`${rejection.kind} ${rejection.status} ${request.url ?? ''}`));
    await ProtocolClient.connect(t, fixture.wsUrl); // takes the bucket's one token
    for (let i = 0; i < 3; i++) assertExactRefusal(await exchange(fixture.port, upgradeRequest(fixture.port)), 'too many connection attempts', '1');
    assert.deepEqual(rejected, ['rate 503 /ws', 'rate 503 /ws', 'rate 503 /ws']);
    assert.equal(fixture.server.stats.handshakes.get(503), 3);
    assert.equal(fixture.server.connections.size, 1);
  });

  test('over maxConnections: the same response with the configured Retry-After, also for a handshake with a query', async (t) => {
    const fixture = await serve(t, { maxConnections: 1, retryAfter: 7_000 });
    await ProtocolClient.connect(t, fixture.wsUrl);
    assertExactRefusal(await exchange(fixture.port, upgradeRequest(fixture.port)), 'server is at capacity', '7');
    const withQuery = upgradeRequest(fixture.port).replace('GET /ws ', 'GET /ws?token=x ');
    assertExactRefusal(await exchange(fixture.port, withQuery), 'server is at capacity', '7');
    assert.equal(fixture.server.stats.handshakes.get(503), 2);
  });

  test('under the limits, a malformed handshake is still judged (400), and a path that is not an endpoint stays 404 over them', async (t) => {
    const fixture = await serve(t, { maxConnections: 1 });
    const malformed = await exchange(fixture.port, upgradeRequest(fixture.port).replace(/Sec-WebSocket-Key: [^\r]+/, 'Sec-WebSocket-Key: short'));
    assert.match(malformed, /^HTTP\/1\.1 400 Bad Request\r\n/);
    await ProtocolClient.connect(t, fixture.wsUrl);
    const elsewhere = await exchange(fixture.port, upgradeRequest(fixture.port).replace('GET /ws ', 'GET /elsewhere '));
    assert.match(elsewhere, /^HTTP\/1\.1 404 Not Found\r\n/);
  });
});

describe('overload: connected clients under a handshake flood', () => {
  test('a flood over admissionRate gets 503 + Retry-After while a connected client gets its exact replies and stays open', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, admissionRate: 1 });
    fixture.server.handle('double', (params) => {
      const { n } = params as { n: number };
      return { n, doubled: n * 2 };
    });
    // The bucket starts with one token: the connected client takes it.
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    assert.deepEqual(await client.request(1, 'double', { n: 0 }), { type: 'result', id: 1, data: { n: 0, doubled: 0 } });

    const statuses = new Map<number, number>();
    const retryAfters = new Set<string | undefined>();
    for (let round = 1; round <= ROUNDS; round++) {
      const id = round + 1;
      // The request goes out in the middle of the round's handshakes.
      const flood = Array.from({ length: HANDSHAKES_PER_ROUND }, () => attempt(fixture.port));
      const reply = client.request(id, 'double', { n: round });
      for (const response of await Promise.all(flood)) {
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        retryAfters.add(response.headers['retry-after']);
      }
      assert.deepEqual(await reply, { type: 'result', id, data: { n: round, doubled: round * 2 } });
    }

    assert.deepEqual([...statuses], [[503, ROUNDS * HANDSHAKES_PER_ROUND]], 'every handshake of the flood was refused with 503');
    assert.deepEqual([...retryAfters], ['1'], 'every refusal carried Retry-After');
    assert.equal(client.ws.readyState, WebSocket.OPEN, 'the connected client is still open');
    assert.equal(fixture.server.connections.size, 1, 'no handshake of the flood was admitted');
    assert.deepEqual(await client.request(ROUNDS + 2, 'double', { n: 21 }), { type: 'result', id: ROUNDS + 2, data: { n: 21, doubled: 42 } });
  });
});
