import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Backoff, defaultBackoff } from '../../src/core/backoff.js';
import { seededRng } from '../../src/core/clock.js';
import type { ClientEnvironment } from '../../src/client/environment.js';
import type { ReconnectingWebSocketEventMap } from '../../src/client/events.js';
import type { ClientOptions } from '../../src/client/options.js';
import { withPageAwareness } from '../../src/client/page-awareness.js';
import { withRetryHints } from '../../src/core/retry-hint.js';
import { ReconnectingWebSocket } from '../../src/client/reconnecting-websocket.js';
import { withHeartbeat, type LinkWatchPlugin } from '../../src/client/with-heartbeat.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { scriptedSockets } from '../helpers/scripted-socket.js';
import { until } from '../helpers/wait.js';

class TestEnvironment implements ClientEnvironment {
  isHidden = false;
  isOnline = true;
  #listeners = new Set<() => void>();
  hidden = () => this.isHidden;
  online = () => this.isOnline;
  subscribe(fn: () => void) {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }
  change(next: { hidden?: boolean; online?: boolean }) {
    this.isHidden = next.hidden ?? this.isHidden;
    this.isOnline = next.online ?? this.isOnline;
    for (const fn of this.#listeners) fn();
  }
}

async function setup(options: ClientOptions = {}, url: ConstructorParameters<typeof ReconnectingWebSocket>[0] = 'ws://test/ws') {
  const clock = new FakeClock();
  const environment = new TestEnvironment();
  const scripted = scriptedSockets();
  const client = new ReconnectingWebSocket(url, undefined, { clock, rng: seededRng(1), environment, pageAwareness: withPageAwareness(), retryHints: withRetryHints(), WebSocket: scripted.WebSocket, ...options });
  const events: string[] = [];
  const record = <K extends keyof ReconnectingWebSocketEventMap>(type: K, show: (e: ReconnectingWebSocketEventMap[K]) => string) =>
    client.addEventListener(type, (e) => events.push(`${type}:${show(e)}`));
  record('close', (e) => `${e.code}:${e.willReconnect}:${e.action}`);
  record('reconnecting', (e) => `${e.attempt}`);
  record('giveup', (e) => `${e.attempts}`);
  record('authRequired', (e) => `${e.code}`);
  await Promise.resolve(); // the first attempt starts in a microtask
  return { clock, environment, client, events, ...scripted };
}

/** Delays the client announced in its reconnecting events. */
function delays(client: ReconnectingWebSocket): number[] {
  const seen: number[] = [];
  client.addEventListener('reconnecting', (e) => seen.push(e.delay));
  return seen;
}

describe('ReconnectingWebSocket: reconnect policy (fake clock)', () => {
  test('the backoff sequence is the seeded full-jitter schedule, then giveup after maxAttempts', async () => {
    const { clock, client, events, latest } = await setup({ maxAttempts: 4 });
    const seen = delays(client);
    for (let i = 0; i < 5; i++) {
      latest().drop(1006);
      clock.runNext();
    }
    const expected = new Backoff({ ...defaultBackoff, maxAttempts: 4 }, seededRng(1));
    assert.deepEqual(seen, [expected.next(), expected.next(), expected.next(), expected.next()]);
    assert.ok(events.includes('giveup:4'));
    assert.equal(client.state, 'closed');
    assert.equal(client.readyState, 3);
  });

  test('giveup rejects opened(); a manual reconnect() starts a fresh budget', async () => {
    const { clock, client, sockets, latest } = await setup({ maxAttempts: 1 });
    const waiting = client.opened();
    latest().drop(1006);
    clock.runNext();
    latest().drop(1006);
    await assert.rejects(waiting, { code: 'ERR_CONNECTION_CLOSED' });
    const before = sockets.length;
    client.reconnect();
    assert.equal(sockets.length, before + 1);
    assert.equal(client.attempt, 0);
    latest().open();
    await client.opened();
    assert.equal(client.state, 'open');
  });

  test('close() never reconnects, even when the socket then drops abnormally', async () => {
    const { clock, client, events, sockets, latest } = await setup();
    latest().open();
    client.close(1000, 'bye');
    assert.deepEqual(latest().closedWith, { code: 1000, reason: 'bye' });
    latest().drop(1006);
    clock.tick(120_000);
    assert.equal(sockets.length, 1);
    assert.equal(client.state, 'closed');
    assert.deepEqual(events, ['close:1006:false:stop']);
    assert.equal(client.send('late'), 'rejected');
  });

  test('close() waits closeTimeout (default 5 s) for the server\'s answer, then reports 1006 "close timeout", never 1000', async () => {
    for (const [options, wait] of [[{}, 5_000], [{ closeTimeout: 300 }, 300]] as const) {
      const { clock, client, events, sockets, latest } = await setup(options);
      const reasons: string[] = [];
      client.addEventListener('close', (e) => reasons.push(e.reason));
      latest().open();
      client.close(1000, 'bye');
      clock.tick(wait - 1);
      assert.equal(client.state, 'closing', 'still waiting for the answer');
      assert.deepEqual(events, []);
      clock.tick(1);
      assert.equal(client.state, 'closed');
      assert.deepEqual(events, ['close:1006:false:stop']);
      assert.deepEqual(reasons, ['close timeout']);
      latest().drop(1000, 'bye', true); // the answer, too late: not reported again
      clock.tick(120_000);
      assert.deepEqual(events, ['close:1006:false:stop']);
      assert.equal(sockets.length, 1);
    }
  });

  test('1000 and 1001 from the server stop; 1008 is fatal; 1012 reconnects', async () => {
    for (const [code, expected] of [[1000, 'close:1000:false:stop'], [1001, 'close:1001:false:stop'], [1008, 'close:1008:false:fatal'], [1012, 'close:1012:true:reconnect']] as const) {
      const { events, latest } = await setup();
      latest().open();
      latest().drop(code, '', true);
      assert.equal(events[0], expected, String(code));
    }
  });

  test('shouldReconnect overrides the table', async () => {
    const { events, latest } = await setup({ shouldReconnect: (close) => (close.code === 1000 ? true : undefined) });
    latest().open();
    latest().drop(1000, '', true);
    assert.equal(events[0], 'close:1000:true:reconnect');
  });

  test('4000 asks for fresh credentials: authRequired, then the URL provider is called with authRequired', async () => {
    const calls: string[] = [];
    const { clock, events, latest } = await setup({}, ({ attempt, authRequired }) => {
      calls.push(`${attempt}:${authRequired}`);
      return `ws://test/ws?token=${calls.length}`;
    });
    latest().open();
    latest().drop(4000, 'token expired', true);
    assert.ok(events.includes('authRequired:4000'));
    clock.runNext();
    assert.deepEqual(calls, ['0:false', '1:true']);
    assert.equal(latest().url, 'ws://test/ws?token=2');
  });

  test('an async URL provider that fails counts as a failed attempt and is retried', async () => {
    let calls = 0;
    const clock = new FakeClock();
    const { WebSocket, sockets } = scriptedSockets();
    const provider = async () => {
      calls++;
      if (calls === 1) throw new Error('token service down');
      return 'ws://test/ws';
    };
    const client = new ReconnectingWebSocket(provider, undefined, { clock, WebSocket, environment: new TestEnvironment(), rng: seededRng(1) });
    const errors: string[] = [];
    client.addEventListener('error', (e) => errors.push(e.error.message));
    await clock.tickAsync(0);
    assert.deepEqual(errors, ['token service down']);
    assert.equal(client.state, 'reconnecting');
    await clock.tickAsync(defaultBackoff.initialDelay);
    assert.equal(sockets.length, 1);
  });

  test('the stability window resets the attempt counter only after staying up', async () => {
    const { clock, client, latest } = await setup({ stabilityWindow: 5_000 });
    latest().drop(1006);
    clock.runNext();
    latest().drop(1006);
    clock.runNext();
    assert.equal(client.attempt, 2);
    latest().open();
    clock.tick(4_999);
    latest().drop(1006); // flapping: not stable long enough
    assert.equal(client.attempt, 3);
    clock.runNext();
    latest().open();
    clock.tick(5_000);
    assert.equal(client.attempt, 0);
  });

  test('a server retry hint replaces the backoff delay', async () => {
    const { client, latest } = await setup({ rng: () => 0.5 });
    const seen = delays(client);
    latest().open();
    latest().drop(1012, 'service restart; retry after 2000 ms, spread over 1000 ms', true);
    assert.deepEqual(seen, [2500]);
  });

  test('a refused handshake is judged by its status: 401 refreshes auth, 403 gives up, 503 honours Retry-After', async () => {
    const a = await setup();
    a.latest().refuse(401);
    assert.ok(a.events.includes('authRequired:401'));
    const b = await setup();
    b.latest().refuse(403);
    assert.equal(b.events[0], 'close:1006:false:fatal');
    const c = await setup({ rng: () => 0 });
    const seen = delays(c.client);
    c.latest().refuse(503, 7_000);
    assert.deepEqual(seen, [7_000]);
  });

  test('connect timeout abandons the attempt with 1006 "connect timeout" (never 1000) and retries', async () => {
    const { clock, client, sockets, latest } = await setup({ connectTimeout: 3_000 });
    const closes: string[] = [];
    client.addEventListener('close', (e) => closes.push(`${e.code} ${e.reason} ${e.wasClean}`));
    clock.tick(3_000);
    assert.deepEqual(closes, ['1006 connect timeout false']);
    assert.equal(latest().closedWith?.code, 4408);
    latest().open(); // the abandoned socket opening late is ignored
    assert.equal(client.state, 'reconnecting');
    clock.runNext();
    assert.equal(sockets.length, 2);
  });

  test('heartbeat watchdog declares a silent link dead and reconnects', async () => {
    const { clock, client, latest } = await setup({ heartbeat: withHeartbeat({ watchdog: 10_000, pingInterval: 0 }) });
    const closes: string[] = [];
    client.addEventListener('close', (e) => closes.push(`${e.code} ${e.reason} ${e.willReconnect}`));
    latest().open();
    clock.tick(9_000);
    latest().receive('{"type":"ping"}'); // server app ping keeps it alive and is not surfaced
    clock.tick(9_000);
    assert.deepEqual(closes, []);
    clock.tick(1_000);
    assert.deepEqual(closes, ['1006 heartbeat timeout true']);
  });

  test('a link watch that hands dead() whatever it gets (promise.catch(dead)) drops the link as a heartbeat timeout: the attempt count is not rewound', async () => {
    let fail: (error: Error) => void = () => undefined;
    const watch: LinkWatchPlugin = (_host, _send, dead) => ({
      start: () => void new Promise<void>((_resolve, reject) => (fail = reject)).catch(dead),
      stop: () => undefined,
      visible: () => undefined,
      saw: () => false,
    });
    const locals: unknown[] = [];
    const { clock, client, latest, events } = await setup({ heartbeat: watch, stabilityWindow: 5_000, shouldReconnect: (close) => void locals.push(close.local) });
    latest().drop(1006);
    clock.runNext(); // the retry
    latest().open();
    clock.tick(5_000); // stable: the attempt count resets
    const closed = until(client, 'close', () => true);
    fail(new Error('lost'));
    const close = (await closed) as ReconnectingWebSocketEventMap['close'];
    assert.equal(close.reason, 'heartbeat timeout');
    assert.deepEqual(locals, [undefined, 'heartbeat']);
    assert.deepEqual(events.filter((e) => e.startsWith('reconnecting')), ['reconnecting:1', 'reconnecting:1']);
    client.close();
  });

  test('control messages are filtered only when the heartbeat is on', async () => {
    const on = await setup({ heartbeat: withHeartbeat() });
    const off = await setup();
    const got: string[] = [];
    on.client.onmessage = (e) => got.push(`on:${e.data}`);
    off.client.onmessage = (e) => got.push(`off:${e.data}`);
    for (const s of [on.latest(), off.latest()]) {
      s.open();
      s.receive('{"type":"pong"}');
      s.receive('{"type":"chat"}');
    }
    assert.deepEqual(got, ['on:{"type":"chat"}', 'off:{"type":"pong"}', 'off:{"type":"chat"}']);
  });

  test('hidden or offline pauses the retry; visible and online again retries at once', async () => {
    const { clock, client, environment, sockets, latest } = await setup({ initialDelay: 60_000, jitter: 'none' });
    latest().drop(1006);
    assert.equal(client.state, 'reconnecting');
    environment.change({ hidden: true });
    assert.equal(client.state, 'paused');
    clock.tick(600_000);
    assert.equal(sockets.length, 1);
    environment.change({ hidden: false, online: false });
    assert.equal(client.state, 'paused');
    environment.change({ online: true });
    assert.equal(client.state, 'reconnecting');
    clock.tick(0); // the retry, scheduled in 0 ms
    assert.equal(client.state, 'connecting');
    assert.equal(sockets.length, 2);
  });

  test('a server retry hint still holds when the page comes back; only our own backoff is skipped', async () => {
    const { clock, client, environment, sockets, latest } = await setup({ rng: () => 0 });
    latest().open();
    latest().drop(1012, 'restart; retry after 30000 ms', true);
    environment.change({ online: false });
    assert.equal(client.state, 'paused');
    clock.tick(10_000);
    environment.change({ online: true });
    assert.equal(client.state, 'reconnecting');
    assert.equal(sockets.length, 1);
    clock.tick(19_999);
    assert.equal(sockets.length, 1);
    clock.tick(1);
    assert.equal(sockets.length, 2);
  });

  test("a delay the app's reconnectDelay chose is no server hint: when the page comes back the retry is at once", async () => {
    const { clock, client, environment, sockets, latest } = await setup({ rng: () => 0, reconnectDelay: () => 60_000 });
    const seen = delays(client);
    latest().open();
    // The server's hint is there, but the app's delay decided the wait.
    latest().drop(1012, 'restart; retry after 30000 ms', true);
    assert.deepEqual(seen, [60_000]);
    environment.change({ online: false });
    assert.equal(client.state, 'paused');
    clock.tick(10_000);
    environment.change({ online: true });
    assert.deepEqual(seen, [60_000, 0], 'our own delay is skipped, as the backoff is');
    clock.tick(0);
    assert.equal(sockets.length, 2);
  });

  test('no reconnecting while paused: the attempt is announced when it is scheduled, once the page is back', async () => {
    const { clock, client, environment, events, sockets, latest } = await setup({ initialDelay: 60_000, jitter: 'none' });
    const seen = delays(client);
    latest().open();
    environment.change({ hidden: true });
    latest().drop(1006); // while hidden: the retry waits
    assert.equal(client.state, 'paused');
    clock.tick(600_000);
    assert.deepEqual(events, ['close:1006:true:reconnect']);
    environment.change({ hidden: false });
    assert.deepEqual(events, ['close:1006:true:reconnect', 'reconnecting:1']);
    assert.deepEqual(seen, [0], 'at once');
    clock.tick(0);
    assert.equal(client.state, 'connecting');
    assert.equal(sockets.length, 2);
    // A server's hint still holds when the page comes back: the attempt is announced with the rest of its wait.
    latest().open();
    environment.change({ online: false });
    latest().drop(1012, 'restart; retry after 30000 ms', true);
    assert.equal(client.state, 'paused');
    clock.tick(10_000);
    assert.deepEqual(seen, [0]);
    environment.change({ online: true });
    assert.deepEqual(seen, [0, 20_000]);
    assert.equal(client.state, 'reconnecting');
    clock.tick(20_000);
    assert.equal(sockets.length, 3);
  });

  test('close() refuses a code a client may not send, before changing anything', async () => {
    const { client, latest } = await setup();
    latest().open();
    assert.throws(() => client.close(1001), { code: 'ERR_INVALID_CLOSE' });
    assert.throws(() => client.close(1000, 'x'.repeat(124)), { code: 'ERR_INVALID_CLOSE' });
    assert.equal(client.state, 'open');
    assert.equal(latest().closedWith, undefined);
    client.close(4000, 'switching user');
    assert.deepEqual(latest().closedWith, { code: 4000, reason: 'switching user' });
  });

  test('everything the first attempt reports can be heard by listeners added after the constructor', async () => {
    const scripted = scriptedSockets();
    const client = new ReconnectingWebSocket('ws://test/ws', undefined, { clock: new FakeClock(), WebSocket: scripted.WebSocket, environment: new TestEnvironment() });
    const heard: string[] = [];
    for (const type of ['connecting', 'statechange', 'error', 'close'] as const) client.addEventListener(type, () => heard.push(type));
    await Promise.resolve();
    assert.deepEqual(heard, ['connecting']);
    const broken = new ReconnectingWebSocket(() => {
      throw new Error('no token');
    }, undefined, { clock: new FakeClock(), WebSocket: scripted.WebSocket, environment: new TestEnvironment() });
    const heardBroken: string[] = [];
    for (const type of ['connecting', 'error', 'close', 'reconnecting'] as const) broken.addEventListener(type, () => heardBroken.push(type));
    await Promise.resolve();
    assert.deepEqual(heardBroken, ['connecting', 'error', 'close', 'reconnecting']);
    client.dispose();
    broken.dispose();
  });

  test('the queue holds messages until open and flushes them in order before new sends', async () => {
    const { client, latest } = await setup();
    assert.equal(client.send('1'), 'queued');
    assert.equal(client.send('2'), 'queued');
    assert.equal(client.bufferedAmount, 2);
    client.addEventListener('open', () => client.send('3'));
    latest().open();
    assert.deepEqual(latest().sent, ['1', '2', '3']);
    assert.equal(client.send('4'), 'sent');
  });

  test("queue overflow: 'reject' refuses new messages and reports an error", async () => {
    const { client } = await setup({ queue: { maxMessages: 2 } });
    const errors: string[] = [];
    client.addEventListener('error', (e) => errors.push(e.error.message));
    assert.deepEqual([client.send('a'), client.send('b'), client.send('c')], ['queued', 'queued', 'rejected']);
    assert.equal(errors.length, 1);
    assert.equal(client.queued, 2);
  });

  test('the WHATWG surface: constants, on* handlers before listeners, url and binaryType', async () => {
    const { client, latest } = await setup({ binaryType: 'arraybuffer' });
    assert.equal(ReconnectingWebSocket.OPEN, 1);
    assert.equal(client.CLOSED, 3);
    assert.equal(client.url, 'ws://test/ws');
    assert.equal(latest().binaryType, 'arraybuffer');
    client.binaryType = 'blob';
    assert.equal(latest().binaryType, 'blob');
    const order: string[] = [];
    client.addEventListener('open', () => order.push('listener'));
    client.onopen = () => order.push('handler');
    latest().open();
    assert.deepEqual(order, ['handler', 'listener']);
    assert.equal(client.readyState, 1);
  });

  test('late events from a replaced socket are ignored', async () => {
    const { client, sockets } = await setup();
    const first = sockets[0];
    assert.ok(first);
    client.reconnect();
    const got: string[] = [];
    client.onmessage = (e) => got.push(String(e.data));
    first.open();
    first.receive('stale');
    first.drop(1006);
    assert.equal(client.state, 'connecting');
    assert.deepEqual(got, []);
  });
});

describe('ReconnectingWebSocket: queue: false', () => {
  test('send refuses quietly while not open, and sends when open', async () => {
    const clock = new FakeClock();
    const { WebSocket, latest } = scriptedSockets();
    const client = new ReconnectingWebSocket('ws://test/ws', undefined, { clock, WebSocket, queue: false, environment: new TestEnvironment() });
    const errors: string[] = [];
    client.addEventListener('error', (e) => errors.push(e.error.message));
    await Promise.resolve();
    assert.equal(client.send('early'), 'rejected');
    assert.deepEqual(errors, []);
    latest().open();
    assert.equal(client.send('now'), 'sent');
    assert.deepEqual(latest().sent, ['now']);
    client.dispose();
  });
});
