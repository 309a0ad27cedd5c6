import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clientTransitions } from '../../src/core/client-state.js';
import { seededRng } from '../../src/core/clock.js';
import type { ClientEnvironment } from '../../src/client/environment.js';
import type { ReconnectingWebSocketEventMap } from '../../src/client/events.js';
import { ReconnectingWebSocket } from '../../src/client/reconnecting-websocket.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { scriptedSockets, type ScriptedSocket } from '../helpers/scripted-socket.js';

const steady: ClientEnvironment = { hidden: () => false, online: () => true, subscribe: () => () => undefined };
const types: readonly (keyof ReconnectingWebSocketEventMap)[] = ['connecting', 'statechange', 'open', 'message', 'close', 'reconnecting', 'authRequired', 'error', 'giveup'];
const actions = ['close', 'reconnect'] as const;

/** A socket the client has not let go of: open or opening, and not closed by the client. */
const live = (s: ScriptedSocket) => s.readyState <= 1 && s.closedWith === undefined;

/**
 * Drives a client through a whole lifecycle (open, message, auth expiry, refused handshake,
 * drops until giveup), with one listener that calls close() or reconnect() the first time it
 * hears `type`. Returns what the invariants need.
 */
async function run(type: keyof ReconnectingWebSocketEventMap, action: (typeof actions)[number]) {
  const clock = new FakeClock();
  const { WebSocket, sockets } = scriptedSockets();
  const client = new ReconnectingWebSocket('ws://test/ws', undefined, { clock, WebSocket, environment: steady, rng: seededRng(3), maxAttempts: 3 });
  // Every move the client reports is one the state diagram allows (the client keeps no checker
  // of its own at run time, to stay small: this suite is the check).
  const illegal: string[] = [];
  client.addEventListener('statechange', ({ from, to }) => {
    if (!clientTransitions[from].includes(to)) illegal.push(`${from} -> ${to}`);
  });
  let fired = false;
  client.addEventListener(type, () => {
    if (fired) return;
    fired = true;
    if (action === 'close') client.close();
    else client.reconnect();
  });
  await Promise.resolve();
  const step = (fn: (s: ScriptedSocket) => void) => {
    const s = sockets.at(-1);
    if (s) fn(s);
  };
  step((s) => s.open());
  step((s) => s.receive('hello'));
  step((s) => s.drop(4000, 'expired', true));
  clock.runNext();
  step((s) => s.refuse(503, 10));
  for (let i = 0; i < 6; i++) {
    clock.runNext();
    step((s) => s.drop(1006));
  }
  clock.tick(600_000);
  return { client, clock, sockets, fired, illegal };
}

describe('ReconnectingWebSocket: app code calling back in from any event', () => {
  for (const type of types) {
    for (const action of actions) {
      test(`${action}() from a "${type}" listener leaves a consistent client`, async () => {
        const { client, clock, sockets, fired, illegal } = await run(type, action);
        assert.ok(fired, `the scenario produced a "${type}" event`);
        assert.deepEqual(illegal, [], 'only moves the state diagram allows');
        assert.ok(sockets.filter(live).length <= 1, 'at most one socket is live');
        if (client.state === 'closed') {
          assert.equal(clock.pending, 0, 'a closed client holds no timers');
          assert.equal(sockets.filter(live).length, 0, 'and no live socket');
        }
        if (action === 'close' && type !== 'close' && type !== 'giveup') {
          // Closed from inside the lifecycle: nothing may reopen it afterwards.
          const after = sockets.length;
          clock.tick(600_000);
          assert.equal(sockets.length, after, 'no socket is opened after close()');
          assert.equal(client.state, 'closed');
        }
        client.dispose();
      });
    }
  }

  test('a URL provider that resolves after close() opens nothing', async () => {
    const clock = new FakeClock();
    const { WebSocket, sockets } = scriptedSockets();
    let release: (url: string) => void = () => undefined;
    const client = new ReconnectingWebSocket(() => new Promise<string>((resolve) => (release = resolve)), undefined, { clock, WebSocket, environment: steady });
    await Promise.resolve();
    client.close();
    release('ws://test/ws');
    await Promise.resolve();
    await Promise.resolve();
    assert.equal(sockets.length, 0);
    assert.equal(client.state, 'closed');
  });

  test('close() from an error listener of a failing attempt reports one close', async () => {
    const clock = new FakeClock();
    const { WebSocket, latest } = scriptedSockets();
    const client = new ReconnectingWebSocket('ws://test/ws', undefined, { clock, WebSocket, environment: steady });
    const closes: string[] = [];
    client.addEventListener('close', (e) => closes.push(`${e.code} ${e.willReconnect} ${e.action}`));
    client.addEventListener('error', () => client.close());
    await Promise.resolve();
    latest().refuse(503);
    clock.tick(600_000);
    await Promise.resolve(); // close() while connecting reports after the caller's code, as WHATWG says
    assert.deepEqual(closes, ['1006 false stop']); // reported once
  });

  test('reconnect() right after a close() while connecting reports that attempt as failed (1006), not a clean-sounding 1000', async () => {
    const clock = new FakeClock();
    const { WebSocket } = scriptedSockets();
    const client = new ReconnectingWebSocket('ws://test/ws', undefined, { clock, WebSocket, environment: steady });
    const closes: string[] = [];
    client.addEventListener('close', (e) => closes.push(`${e.code} ${e.wasClean}`));
    await Promise.resolve();
    assert.equal(client.state, 'connecting');
    client.close();
    client.reconnect();
    await Promise.resolve();
    // No close frame went out: the attempt failed, as the close() alone reports it.
    assert.deepEqual(closes, ['1006 false']);
    assert.equal(client.state, 'connecting');
    client.close();
  });
});
