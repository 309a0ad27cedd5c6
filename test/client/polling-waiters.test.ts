import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ClientEnvironment } from '../../src/client/environment.js';
import { LifelineClient } from '../../src/client/lifeline-client.js';
import { ReconnectingWebSocket } from '../../src/client/reconnecting-websocket.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { collectGarbage } from '../helpers/gc.js';
import { scriptedSockets } from '../helpers/scripted-socket.js';

// An app that polls for the link during a long outage (every second, giving up on each wait
// after a second) must hold O(1) memory, however long the outage lasts.

const steady: ClientEnvironment = { hidden: () => false, online: () => true, subscribe: () => () => undefined };
const POLLS = 200;

/** A signal that aborts after `ms` of `clock`. */
function abortAfter(clock: FakeClock, ms: number): AbortSignal {
  const controller = new AbortController();
  clock.setTimeout(() => controller.abort(), ms);
  return controller.signal;
}

/** Starts POLLS waits, each given up after 1 s (its signal aborts), and returns the number still held after a collection. */
async function pollDuringOutage(clock: FakeClock, wait: (signal: AbortSignal) => Promise<unknown>): Promise<{ held: number; gaveUp: number }> {
  const refs: WeakRef<Promise<unknown>>[] = [];
  let gaveUp = 0;
  for (let i = 0; i < POLLS; i++) {
    const waiting = wait(abortAfter(clock, 1_000));
    refs.push(new WeakRef(waiting));
    waiting.catch((error: unknown) => error instanceof DOMException && error.name === 'AbortError' && gaveUp++);
    await clock.tickAsync(1_000);
  }
  await collectGarbage();
  return { held: refs.filter((ref) => ref.deref() !== undefined).length, gaveUp };
}

describe('waiting for the link while polling during an outage holds O(1) memory', () => {
  test('opened({ signal }): a wait whose signal aborted rejects with its reason and is let go', async () => {
    const clock = new FakeClock();
    const { WebSocket, latest } = scriptedSockets();
    // An attempt that never opens and never times out: one long outage.
    const client = new ReconnectingWebSocket('ws://test/ws', undefined, { clock, WebSocket, environment: steady, connectTimeout: 1e9 });
    const { held, gaveUp } = await pollDuringOutage(clock, (signal) => client.opened({ signal }));
    assert.equal(gaveUp, POLLS);
    assert.ok(held <= 1, `${held} of ${POLLS} abandoned waits still held`);
    const next = client.opened();
    latest().open();
    await next;
    client.close();
  });

  test('opened() without a signal: repeated calls share one pending promise, settled at the open', async () => {
    const clock = new FakeClock();
    const { WebSocket, latest } = scriptedSockets();
    const client = new ReconnectingWebSocket('ws://test/ws', undefined, { clock, WebSocket, environment: steady, connectTimeout: 1e9 });
    const first = client.opened();
    for (let i = 0; i < POLLS; i++) assert.equal(client.opened(), first);
    await Promise.resolve();
    latest().open();
    await first;
    client.close();
  });

  const lifelineWaits: [string, (client: LifelineClient) => (options?: { signal?: AbortSignal }) => Promise<unknown>][] = [
    ['LifelineClient.ready', (client) => (options) => client.ready(options)],
    ['Subscription.ready', (client) => {
      const room = client.subscribe('room');
      return (options) => room.ready(options);
    }],
  ];
  for (const [name, waitOf] of lifelineWaits) {
    test(`${name}({ signal }): abandoned waits are let go; without a signal one promise is shared`, async () => {
      const clock = new FakeClock();
      const { WebSocket } = scriptedSockets();
      const client = new LifelineClient('ws://test/ws', { clock, WebSocket, environment: steady, connectTimeout: 1e9 });
      const wait = waitOf(client);
      const { held, gaveUp } = await pollDuringOutage(clock, (signal) => wait({ signal }));
      assert.equal(gaveUp, POLLS);
      assert.ok(held <= 1, `${held} of ${POLLS} abandoned waits still held`);
      const shared = wait();
      assert.equal(wait(), shared);
      client.close();
      await assert.rejects(shared, { code: 'closed' });
    });
  }

  test('a signal aborted already rejects at once with its reason', async () => {
    const clock = new FakeClock();
    const { WebSocket } = scriptedSockets();
    const client = new ReconnectingWebSocket('ws://test/ws', undefined, { clock, WebSocket, environment: steady });
    const reason = new Error('gave up');
    await assert.rejects(client.opened({ signal: AbortSignal.abort(reason) }), (error) => error === reason);
    client.close();
  });
});
