/**
 * `handshakeRejection: 'close'` under a flood of refused peers that never answer the close
 * frame: the sockets a node holds while their refusals close are bounded, and past the bound a
 * refusal gets the HTTP answer of status mode. Real sockets on 127.0.0.1; the server's clock is
 * fake, so no `closeTimeout` frees a socket behind the test's back on a slow machine.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { LifelineServer } from '../../src/server/server.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { parseClose, RawSocket, type RawResponse } from '../helpers/raw-socket.js';
import { eventually } from '../helpers/wait.js';
import { connectPair, serve, within, DEADLINE } from './support.js';

/** A refused peer: upgraded and sent a close frame (`close`), or answered over HTTP. */
interface Refused {
  readonly raw: RawSocket;
  readonly response: RawResponse;
  readonly close: number | undefined;
}

/** Sends a valid handshake and reads the refusal; an upgraded peer reads the close frame and never answers it. */
async function refusedPeer(t: TestContext, port: number): Promise<Refused> {
  const raw = await RawSocket.request(port);
  t.after(() => raw.destroy());
  const response = await raw.readResponse();
  if (response.status !== 101) {
    await raw.waitClosed();
    return { raw, response, close: undefined };
  }
  const frame = await raw.readFrame();
  assert.equal(frame.opcode, 0x8, 'a close frame');
  return { raw, response, close: parseClose(frame).code };
}

/** Sockets the server's HTTP listener still holds open. */
function heldSockets(server: LifelineServer): Promise<number> {
  return new Promise((resolve, reject) => server.httpServer.getConnections((error, count) => (error ? reject(error) : resolve(count))));
}

describe("handshakeRejection 'close': refusals still closing are bounded", () => {
  test('peers that never answer the close frame: at most maxConnections are held, the rest get the HTTP status; counted once each', async (t) => {
    const clock = new FakeClock();
    const CAP = 6;
    const PEERS = 20;
    const fixture = await serve(t, { clock, closeTimeout: 2_000, handshakeRejection: 'close', maxConnections: CAP, authenticate: () => ({ ok: false }) });
    const kinds: string[] = [];
    fixture.server.on('rejected', (rejection) => kinds.push(rejection.kind));
    const peers: Refused[] = [];
    for (let i = 0; i < PEERS; i++) peers.push(await refusedPeer(t, fixture.port));
    const upgraded = peers.filter((peer) => peer.response.status === 101);
    assert.equal(upgraded.length, CAP, `refusals held open while their peers stay silent (of ${PEERS})`);
    assert.ok(
      upgraded.every((peer) => peer.close === 4401),
      'each held one was sent 4401',
    );
    for (const peer of peers.slice(CAP)) {
      assert.equal(peer.response.status, 401, 'past the bound: the status mode answer');
      assert.equal(peer.response.body, 'authentication required\n');
    }
    await eventually(async () => (await heldSockets(fixture.server)) === CAP, 'the server holds only the bounded refusals', DEADLINE);
    assert.equal(kinds.length, PEERS, "one 'rejected' event per refusal");
    assert.deepEqual([...fixture.server.stats.handshakes], [[401, PEERS]]);
    assert.deepEqual([...fixture.server.stats.refusals], [['unauthorized', PEERS]]);

    // Each way out frees its place once: half the peers answer, the rest reach closeTimeout.
    for (const peer of upgraded.slice(0, CAP / 2)) {
      peer.raw.sendClose(4401);
      peer.raw.socket.end();
    }
    await Promise.all(upgraded.slice(0, CAP / 2).map((peer) => within(peer.raw.closed, DEADLINE, 'an answered refusal')));
    await clock.tickAsync(2_000);
    await Promise.all(upgraded.map((peer) => within(peer.raw.closed, DEADLINE, 'every refusal closed')));
    const again: Refused[] = [];
    for (let i = 0; i <= CAP; i++) again.push(await refusedPeer(t, fixture.port));
    assert.deepEqual(
      again.map((peer) => peer.close ?? peer.response.status),
      [...Array<number>(CAP).fill(4401), 401],
      'the bound is whole again, no more',
    );
    assert.deepEqual([...fixture.server.stats.handshakes], [[401, PEERS + CAP + 1]]);
  });

  test('over capacity: past the bound the refusal is the fast 503 with its Retry-After', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, handshakeRejection: 'close', maxConnections: 1, retryAfter: 3_000 });
    await connectPair(t, fixture);
    const first = await refusedPeer(t, fixture.port);
    assert.equal(first.close, 4503);
    const second = await refusedPeer(t, fixture.port);
    assert.equal(second.response.status, 503);
    assert.equal(second.response.headers['retry-after'], '3');
    assert.equal(second.response.body, 'server is at capacity\n');
    assert.equal(fixture.server.stats.handshakes.get(503), 2);
    assert.equal(fixture.server.stats.refusals.get('capacity'), 2);
  });
});
