/**
 * Overload over real sockets: while a flood of new handshakes is refused by `admissionRate`
 * (503 + Retry-After), a client that was already connected keeps its connection and gets the
 * exact reply to every request. On a fake clock the admission bucket never refills, so every
 * handshake of the flood is over the limit whatever the machine's speed. No timing is asserted
 * (the latency under a flood is measured by `npm run bench -- --scenario overload`).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import WebSocket from 'ws';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { RawSocket, type RawResponse } from '../helpers/raw-socket.js';
import { serve } from './support.js';
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
