import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { performance } from 'node:perf_hooks';
import type { ClientEnvironment } from '../../src/client/environment.js';
import type { ClientOptions } from '../../src/client/options.js';
import { ReconnectingWebSocket } from '../../src/client/reconnecting-websocket.js';
import { withHeartbeat } from '../../src/client/with-heartbeat.js';
import { InvalidOptionError, LifelineError } from '../../src/core/errors.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { scriptedSockets } from '../helpers/scripted-socket.js';

const steady: ClientEnvironment = { hidden: () => false, online: () => true, subscribe: () => () => undefined };

function scripted(options: ClientOptions = {}, protocols?: string | string[] | null) {
  const clock = new FakeClock();
  const sockets = scriptedSockets();
  const client = new ReconnectingWebSocket('ws://test/ws', protocols as string | string[] | undefined, { clock, WebSocket: sockets.WebSocket, environment: steady, ...options });
  return { client, clock, ...sockets };
}

describe('ReconnectingWebSocket: fixed bugs', () => {
  test("a socket error's cause is the implementation's error; an implementation that reports an error with no event is reported too", async () => {
    const { client, latest } = scripted();
    const errors: unknown[] = [];
    client.addEventListener('error', (event) => errors.push(event.error));
    await Promise.resolve();
    const failure = new Error('connect ECONNREFUSED');
    (latest().onerror as ((e: { error: Error }) => void) | null)?.({ error: failure });
    (latest().onerror as (() => void) | null)?.();
    assert.deepEqual(
      errors.map((e) => [(e as LifelineError).code, (e as LifelineError).cause]),
      [
        ['ERR_SOCKET', failure],
        ['ERR_SOCKET', undefined],
      ],
    );
    client.close();
  });

  test('a non-callable on* handler is ignored: a non-object reads back as null, an object is kept', async () => {
    const { client, latest } = scripted();
    const seen: string[] = [];
    for (const name of ['onopen', 'onmessage', 'onclose', 'onerror'] as const) {
      (client as unknown as Record<string, unknown>)[name] = 'not a function';
      assert.equal(client[name], null, `${name} reads back null`);
      const object = { not: 'a function' };
      (client as unknown as Record<string, unknown>)[name] = object;
      assert.equal(client[name], object, `${name} keeps an object (WebIDL [LegacyTreatNonObjectAsNull])`);
    }
    client.addEventListener('message', (event) => seen.push(String(event.data)));
    await Promise.resolve();
    latest().open();
    latest().receive('one');
    const handler = (event: MessageEvent) => seen.push(`handler:${String(event.data)}`);
    client.onmessage = handler;
    assert.equal(client.onmessage, handler);
    latest().receive('two');
    client.onmessage = null;
    latest().receive('three');
    // The handler attribute's listener was added first (at construction), so it runs first.
    assert.deepEqual(seen, ['one', 'handler:two', 'two', 'three']);
    client.close();
  });

  test('null as protocols is the subprotocol "null", as WHATWG converts it', async () => {
    const { client, latest } = scripted({}, null);
    await Promise.resolve();
    assert.deepEqual(latest().protocols, ['null']);
    assert.equal(client.readyState, 0);
    client.close();
  });

  test('a failing WebSocket constructor is reported with its own message, not "invalid URL"', async () => {
    class Refusing {
      constructor() {
        throw new TypeError('bad option x');
      }
    }
    const closes: string[] = [];
    const client = new ReconnectingWebSocket('ws://test/ws', undefined, { WebSocket: Refusing as never, environment: steady, clock: new FakeClock() });
    client.addEventListener('close', (event) => closes.push(event.reason));
    client.addEventListener('error', () => undefined);
    await Promise.resolve();
    assert.equal(closes.length, 1);
    assert.match(closes[0] ?? '', /bad option x/);
  });

  test('protocol keeps the negotiated value after close', async () => {
    const { client, latest } = scripted({}, ['chat']);
    await Promise.resolve();
    latest().protocol = 'chat';
    latest().open();
    assert.equal(client.protocol, 'chat');
    client.close();
    latest().drop(1000, '', true);
    assert.equal(client.readyState, 3);
    assert.equal(client.protocol, 'chat');
  });

  test('close() hands the socket what WHATWG sends: no arguments for none, 1000 with a reason given alone, the reason as a string (null is "null")', async () => {
    type Close = (code?: number | null, reason?: string | null) => void;
    const calls: unknown[][] = [];
    for (const args of [[], [undefined, 'bye'], [1000, null], [4000, undefined]] as Parameters<Close>[]) {
      const { client, latest } = scripted();
      await Promise.resolve();
      const socket = latest();
      socket.open();
      const close = socket.close.bind(socket);
      socket.close = (...given) => (calls.push(given), close(...given));
      (client.close as Close)(...args);
    }
    assert.deepEqual(calls, [[], [1000, 'bye'], [1000, 'null'], [4000, '']]);
    // While waiting to retry there is no socket: the close is reported with the reason converted.
    const { client, latest } = scripted();
    await Promise.resolve();
    latest().drop(1006);
    const reasons: string[] = [];
    client.addEventListener('close', (event) => reasons.push(event.reason));
    (client.close as Close)(4000, null);
    assert.deepEqual(reasons, ['null']);
  });

  test('close() then reconnect() still reports the first connection closing', async () => {
    const { client, sockets, latest } = scripted();
    await Promise.resolve();
    latest().open();
    const closes: { code: number; reason: string }[] = [];
    client.addEventListener('close', (event) => closes.push({ code: event.code, reason: event.reason }));
    client.close(4001, 'bye');
    client.reconnect();
    const first = sockets[0];
    assert.ok(first);
    first.drop(4001, 'bye', true);
    assert.deepEqual(closes, [{ code: 4001, reason: 'bye' }]);
    assert.equal(sockets.length, 2, 'a new socket is opening');
    assert.equal(client.readyState, 0);
    latest().open();
    assert.equal(client.readyState, 1);
    client.close();
  });

  test('sends refused by a full queue are cheap: one error event per full spell, no Error per send', async () => {
    const { client, latest } = scripted({ queue: { maxMessages: 2 } });
    const errors: string[] = [];
    client.addEventListener('error', (event) => errors.push(event.error.message));
    client.send('a');
    client.send('b');
    const outcomes = new Set<string>();
    const started = performance.now();
    for (let i = 0; i < 10_000; i++) outcomes.add(client.send('x'));
    const elapsed = performance.now() - started;
    assert.deepEqual([...outcomes], ['rejected']);
    assert.equal(errors.length, 1, 'one report while the queue stays full');
    await Promise.resolve();
    latest().open();
    assert.deepEqual(latest().sent, ['a', 'b']);
    latest().drop(1006);
    // Full again after a flush: reported again.
    client.send('c');
    client.send('d');
    client.send('e');
    assert.equal(errors.length, 2);
    // A figure, not an assertion: timing on a shared machine is not a correctness check.
    process.stdout.write(`# 10,000 refused sends: ${elapsed.toFixed(1)} ms\n`);
    client.close();
  });
});

describe('ReconnectingWebSocket: WHATWG argument checks (more in test/conformance)', () => {
  test('a bad URL throws a SyntaxError DOMException from the constructor, before any socket exists', () => {
    const { WebSocket, sockets } = scriptedSockets();
    for (const url of ['not a url', 'ftp://h/', 'ws://h/#frag']) {
      assert.throws(() => new ReconnectingWebSocket(url, undefined, { WebSocket, environment: steady }), (error: unknown) => error instanceof DOMException && error.name === 'SyntaxError', url);
    }
    assert.equal(sockets.length, 0);
  });

  test('a URL provider returning a bad URL ends the client with the reason, once', async () => {
    const { WebSocket, sockets } = scriptedSockets();
    const client = new ReconnectingWebSocket(() => 'ftp://h/', undefined, { WebSocket, environment: steady, clock: new FakeClock() });
    const closes: string[] = [];
    client.addEventListener('error', () => undefined);
    client.addEventListener('close', (event) => closes.push(`${event.code} ${event.action} ${event.reason}`));
    await Promise.resolve();
    assert.deepEqual(closes, ['1006 fatal invalid WebSocket URL: ftp://h/']);
    assert.equal(sockets.length, 0);
  });

  test('with no WebSocket anywhere, the constructor says what to pass', () => {
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'WebSocket');
    Reflect.deleteProperty(globalThis, 'WebSocket');
    try {
      assert.throws(() => new ReconnectingWebSocket('ws://h/'), /no WebSocket on this platform: pass one/);
    } finally {
      if (saved) Object.defineProperty(globalThis, 'WebSocket', saved);
    }
  });

  test('url reads back serialized, http: mapped to ws:', () => {
    const { WebSocket } = scriptedSockets();
    const client = new ReconnectingWebSocket('HTTP://Example.com:80/a b', undefined, { WebSocket, environment: steady, clock: new FakeClock() });
    assert.equal(client.url, 'ws://example.com/a%20b');
    client.close();
  });
});

describe('ReconnectingWebSocket: options the peers have', () => {
  test('startClosed: no socket until reconnect()', async () => {
    const { client, sockets, latest } = scripted({ startClosed: true });
    await Promise.resolve();
    assert.equal(client.readyState, 3);
    assert.equal(sockets.length, 0);
    assert.equal(client.send('early'), 'rejected');
    client.reconnect();
    assert.equal(client.readyState, 0);
    latest().open();
    assert.equal(client.readyState, 1);
    client.close();
  });

  test('a protocols provider is asked before every attempt', async () => {
    let calls = 0;
    const clock = new FakeClock();
    const { WebSocket, sockets } = scriptedSockets();
    const client = new ReconnectingWebSocket('ws://test/ws', () => [`v${++calls}`], { clock, WebSocket, environment: steady, initialDelay: 10 });
    await Promise.resolve();
    sockets.at(-1)?.drop(1006);
    clock.runNext();
    assert.deepEqual(
      sockets.map((s) => s.protocols),
      [['v1'], ['v2']],
    );
    client.close();
  });

  test('a protocols provider that throws fails that attempt, as a URL provider that throws does: reported, then retried', async () => {
    const failure = new Error('flags unavailable');
    let calls = 0;
    const clock = new FakeClock();
    const { WebSocket, sockets } = scriptedSockets();
    const client = new ReconnectingWebSocket(
      'ws://test/ws',
      () => {
        if (++calls === 1) throw failure;
        return ['v2'];
      },
      { clock, WebSocket, environment: steady, initialDelay: 10 },
    );
    const seen: unknown[] = [];
    client.addEventListener('error', (event) => seen.push(event.error));
    client.addEventListener('close', (event) => seen.push(`${event.code} ${event.reason} ${event.willReconnect}`));
    await Promise.resolve();
    assert.deepEqual(seen, [failure, '1006 protocols provider failed true']);
    assert.equal(client.state, 'reconnecting');
    clock.runNext();
    assert.deepEqual(
      sockets.map((s) => s.protocols),
      [['v2']],
    );
    client.close();
  });

  test('a protocols provider giving a bad list ends the client with a clear reason', async () => {
    const { WebSocket } = scriptedSockets();
    const client = new ReconnectingWebSocket('ws://test/ws', () => ['a', 'a'], { WebSocket, environment: steady, clock: new FakeClock() });
    const closes: string[] = [];
    client.addEventListener('error', () => undefined);
    client.addEventListener('close', (event) => closes.push(`${event.code} ${event.action} ${event.reason}`));
    await Promise.resolve();
    assert.deepEqual(closes, ['1006 fatal invalid subprotocols: a, a']);
  });

  test('reconnect(code, reason) closes the open socket with them', async () => {
    const { client, sockets, latest } = scripted();
    await Promise.resolve();
    latest().open();
    client.reconnect(4000, 'new token');
    assert.deepEqual(sockets[0]?.closedWith, { code: 4000, reason: 'new token' });
    assert.equal(sockets.length, 2);
    assert.throws(() => client.reconnect(1001), /1000 or 3000-4999/);
    client.close();
  });

  test('drainQueuedMessages() hands back what waited, and the queue is empty after', async () => {
    const { client, latest } = scripted();
    client.send('a');
    client.send('b');
    assert.deepEqual(client.drainQueuedMessages(), ['a', 'b']);
    assert.equal(client.queued, 0);
    await Promise.resolve();
    latest().open();
    assert.deepEqual(latest().sent, []);
    client.close();
  });

  test('bufferedAmount counts what was sent once closing or closed (as WHATWG) until reconnect() starts afresh', async () => {
    const { client, latest } = scripted();
    client.send('queued');
    await Promise.resolve();
    latest().open();
    client.close();
    assert.equal(client.send('late'), 'rejected');
    assert.equal(client.bufferedAmount, 4);
    latest().drop(1000, '', true);
    assert.equal(client.send('later'), 'rejected');
    assert.equal(client.bufferedAmount, 9);
    client.reconnect();
    assert.equal(client.bufferedAmount, 0);
    // A queue dropped when the client ends is counted too: those messages never go out.
    client.send('waiting');
    client.close();
    assert.equal(client.bufferedAmount, 7);
  });

  test('debug hears every event before the listeners', async () => {
    const log: string[] = [];
    const { client, latest } = scripted({ debug: (event) => log.push(`debug:${event.type}`) });
    client.addEventListener('open', () => log.push('listener:open'));
    await Promise.resolve();
    latest().open();
    assert.deepEqual(log, ['debug:connecting', 'debug:statechange', 'debug:open', 'listener:open']);
    client.close();
  });

  test('one-line switches back to WHATWG / peer behaviour: binaryType blob, 1008 retried', async () => {
    const { client, latest } = scripted({ binaryType: 'blob', shouldReconnect: (close) => close.code === 1008 || undefined });
    assert.equal(client.binaryType, 'blob');
    await Promise.resolve();
    latest().open();
    assert.equal(latest().binaryType, 'blob');
    const closes: boolean[] = [];
    client.addEventListener('close', (event) => closes.push(event.willReconnect));
    latest().drop(1008, 'policy', true);
    assert.deepEqual(closes, [true]);
    client.close();
  });
});

describe('ReconnectingWebSocket: options are checked at construction', () => {
  test('a number out of range throws InvalidOptionError naming the option; undefined keeps the default', () => {
    const cases: [ClientOptions, string][] = [
      [{ initialDelay: -1 }, 'initialDelay'],
      [{ factor: 0.5 }, 'factor'],
      [{ maxAttempts: Number.NaN }, 'maxAttempts'],
      [{ connectTimeout: 0 }, 'connectTimeout'],
      [{ queue: { maxBytes: -1 } }, 'queue.maxBytes'],
    ];
    for (const [options, option] of cases) {
      assert.throws(() => scripted(options), (error: unknown) => error instanceof InvalidOptionError && error.option === option, option);
    }
    const { client } = scripted({ initialDelay: undefined, connectTimeout: undefined, binaryType: undefined });
    assert.equal(client.options.initialDelay, 1000);
    assert.equal(client.options.connectTimeout, 10_000);
    assert.equal(client.binaryType, 'arraybuffer');
    client.close();
  });

  test('queue limits given as undefined keep their defaults, as the other options do', () => {
    const { client } = scripted({ queue: { maxMessages: undefined, maxBytes: undefined, overflow: undefined } });
    assert.deepEqual(client.options.queue, { maxMessages: 1000, maxBytes: 1024 * 1024, overflow: 'reject' });
    client.close();
  });

  test('withHeartbeat: a setting given as undefined keeps its default, as the client options do', async () => {
    const { client, clock, latest } = scripted({ heartbeat: withHeartbeat({ watchdog: undefined, pingInterval: 0, maxMissed: undefined, probeTimeout: undefined }) });
    const closes: string[] = [];
    client.addEventListener('close', (event) => closes.push(`${event.code} ${event.reason}`));
    await Promise.resolve(); // the first attempt
    latest().open();
    clock.tick(34_999);
    assert.deepEqual(closes, []);
    clock.tick(1); // the default watchdog, 35 s
    assert.deepEqual(closes, ['1006 heartbeat timeout']);
    client.close();
  });

  test('the heartbeat is the opt-in module: its old form (true, settings) is refused, withHeartbeat() turns it on', async () => {
    for (const old of [true, { watchdog: 1000 }]) {
      assert.throws(() => scripted({ heartbeat: old as never }), (error: unknown) => error instanceof InvalidOptionError && error.option === 'heartbeat');
    }
    const { client, clock, latest } = scripted({ heartbeat: withHeartbeat({ watchdog: 1000, pingInterval: 0 }) });
    const closes: string[] = [];
    client.addEventListener('close', (event) => closes.push(`${event.code} ${event.reason}`));
    await Promise.resolve(); // the first attempt
    latest().open();
    clock.tick(1000);
    assert.deepEqual(closes, ['1006 heartbeat timeout']);
    client.close();
  });
});
