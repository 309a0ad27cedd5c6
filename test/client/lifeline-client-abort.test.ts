import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, test } from 'node:test';
import { seededRng } from '../../src/core/clock.js';
import type { ClientEnvironment } from '../../src/client/environment.js';
import { withOutbox } from '../../src/client/durable-outbox.js';
import { LifelineClient } from '../../src/client/lifeline-client.js';
import { LifelineClient as NodeLifelineClient } from '../../src/client/node.js';
import type { LifelineClientOptions } from '../../src/client/lifeline-client-types.js';
import { MemoryOutboxStore, type OutboxSnapshot } from '../../src/client/outbox-store.js';
import { ReplyError } from '../../src/client/reply-error.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { startServer } from '../../src/testing/server-fixture.js';
import { scriptedSockets } from '../helpers/scripted-socket.js';
import { Gate } from '../helpers/gate.js';
import { until, within } from '../helpers/wait.js';

// `signal` on publish(), request() and presence(): an abort rejects with the signal's reason and
// takes the message out of the outbox, so it is never sent, or never sent again.

const steady: ClientEnvironment = { hidden: () => false, online: () => true, subscribe: () => () => undefined };

function setup(options: LifelineClientOptions = {}) {
  const clock = new FakeClock();
  const { WebSocket, latest } = scriptedSockets();
  const client = new LifelineClient('ws://test/ws', { clock, WebSocket, environment: steady, rng: seededRng(1), initialDelay: 100, ...options });
  const sent = () => latest().sent.map((data) => JSON.parse(String(data)) as Record<string, unknown>);
  const say = (message: object) => latest().receive(JSON.stringify(message));
  /** Lets the store's promises and the socket's opening run. */
  const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  const welcome = async (session: string, resumed: boolean) => {
    await settle();
    latest().open();
    await settle();
    say({ type: 'welcome', v: 1, session, resumed, recoveryWindow: 120_000, pingInterval: 25_000, acked: 0 });
    await settle();
  };
  const drop = async () => {
    latest().drop(1006);
    clock.tick(1_000);
    await settle();
  };
  return { clock, client, sent, say, welcome, drop, settle };
}

const isAbort = (error: unknown): boolean => error instanceof DOMException && error.name === 'AbortError';
const types = (messages: Record<string, unknown>[]) => messages.map((m) => `${String(m.type)} ${String(m.id)}`);

describe('LifelineClient: aborting a publish, request or presence query', () => {
  test('a signal aborted already rejects with its reason at once; nothing is queued, sent or numbered', async () => {
    const { client, sent, welcome } = setup();
    await welcome('s-1', false);
    const reason = new Error('gone');
    await assert.rejects(client.request('m', 1, { signal: AbortSignal.abort(reason) }), (e) => e === reason);
    await assert.rejects(client.publish('chat:a', 1, { signal: AbortSignal.abort() }), isAbort);
    client.request('m', 2).catch(() => undefined);
    assert.deepEqual(types(sent().slice(1)), ['request 1'], 'only the request without a signal, with the first id');
    client.close();
  });

  test('aborted while the link is down: rejects, and is never sent once the link is back', async () => {
    const { client, sent, welcome, drop } = setup();
    await welcome('s-1', false);
    await drop();
    const controller = new AbortController();
    const request = client.request('charge', { cents: 100 }, { signal: controller.signal });
    const kept = client.publish('chat:a', 'kept');
    controller.abort();
    await assert.rejects(request, isAbort);
    await welcome('s-1', true);
    assert.deepEqual(types(sent().slice(1)), ['publish 1'], 'the aborted request never goes out');
    client.close();
    await kept.catch(() => undefined);
  });

  test('aborted after it went out: rejects; it is not resent after a reconnect and its late reply is ignored', async () => {
    const { client, sent, say, welcome, drop } = setup();
    await welcome('s-1', false);
    const controller = new AbortController();
    const publish = client.publish('chat:a', 'x', { signal: controller.signal });
    assert.deepEqual(types(sent().slice(1)), ['publish 1']);
    controller.abort();
    await assert.rejects(publish, isAbort);
    say({ type: 'ack', id: 1, position: { epoch: 'e', offset: 1 } }); // a late reply: dropped quietly
    await drop();
    await welcome('s-1', true);
    assert.deepEqual(sent().slice(1), [], 'nothing is resent');
    client.publish('chat:a', 'next').catch(() => undefined);
    assert.deepEqual(types(sent().slice(1)), ['publish 2'], 'numbering goes on');
    assert.equal(client.state, 'ready');
    client.close();
  });

  test('a timeout only stops the waiting; an abort after it stops the resending too', async () => {
    const { clock, client, sent, welcome, drop } = setup({ requestTimeout: 1_000 });
    await welcome('s-1', false);
    const controller = new AbortController();
    const request = client.request('m', 1, { signal: controller.signal });
    clock.tick(1_000);
    await assert.rejects(request, (e) => e instanceof ReplyError && e.code === 'timeout');
    controller.abort();
    await drop();
    await welcome('s-1', true);
    assert.deepEqual(sent().slice(1), [], 'aborted after its timeout: not resent');
    client.close();
  });

  test('the abort listener goes when the message is answered, fails or the client closes: a long-lived signal holds nothing', async () => {
    const { client, say, welcome } = setup();
    await welcome('s-1', false);
    const controller = new AbortController();
    const { signal } = controller;
    const answered = client.request('m', 1, { signal });
    const refused = client.publish('chat:a', 1, { signal });
    const open = client.request('m', 2, { signal });
    assert.equal(getEventListeners(signal, 'abort').length, 3);
    say({ type: 'result', id: 1, data: 'ok' });
    say({ type: 'error', id: 2, code: 'forbidden', message: 'no' });
    assert.equal(await answered, 'ok');
    await assert.rejects(refused, (e) => e instanceof ReplyError && e.code === 'forbidden');
    assert.equal(getEventListeners(signal, 'abort').length, 1);
    client.close();
    await assert.rejects(open, (e) => e instanceof ReplyError && e.code === 'closed');
    assert.equal(getEventListeners(signal, 'abort').length, 0);
    controller.abort(); // nothing left to abort
  });

  test('presence({ signal }): an abort rejects the query; its reply is ignored', async () => {
    const { client, sent, say, welcome } = setup();
    await welcome('s-1', false);
    const sub = client.subscribe('chat:a');
    const controller = new AbortController();
    const members = sub.presence({ signal: controller.signal });
    const query = sent().find((m) => m.type === 'presence.get');
    assert.ok(query, 'the query went out');
    controller.abort();
    await assert.rejects(members, isAbort);
    say({ type: 'presence.list', id: query.id, channel: 'chat:a', members: [] });
    client.close();
  });

  test('with a durable outbox: aborted while its save runs, it never goes out and leaves the store', async () => {
    const store = new MemoryOutboxStore();
    const saves: OutboxSnapshot[] = [];
    let release: () => void = () => undefined;
    let held: Promise<void> | undefined;
    const gated = {
      load: () => store.load(),
      save: async (snapshot: OutboxSnapshot) => {
        saves.push(snapshot);
        await held;
        await store.save(snapshot);
      },
    };
    const { client, sent, welcome, settle } = setup({ outbox: withOutbox(gated) });
    await welcome('s-1', false);
    held = new Promise((resolve) => (release = resolve));
    const controller = new AbortController();
    const publish = client.publish('chat:a', 'x', { signal: controller.signal });
    await settle();
    assert.equal(saves.at(-1)?.entries.length, 1, 'being saved');
    controller.abort();
    await assert.rejects(publish, isAbort);
    held = undefined;
    release();
    for (let i = 0; i < 10 && (saves.at(-1)?.entries.length ?? 0) > 0; i++) await settle();
    assert.deepEqual(sent().slice(1), [], 'never on the wire');
    assert.deepEqual((await store.load())?.entries, [], 'gone from the store');
    client.close();
  });
});

describe('LifelineClient against a server: aborting a request', () => {
  test('a request aborted while the link is down never runs on the server', async () => {
    const fixture = await startServer({ channels: { chat: {} } });
    const runs: unknown[] = [];
    fixture.server.handle('charge', (params) => {
      runs.push(params);
      return 'charged';
    });
    const gate = new Gate();
    const client = new NodeLifelineClient(() => gate.wait().then(() => fixture.wsUrl), { initialDelay: 10, maxDelay: 50 });
    try {
      await within(client.ready(), 5_000, 'ready');
      gate.close();
      const closed = until(client, 'close', () => true);
      for (const connection of fixture.server.connections) connection.terminate();
      await within(closed, 5_000, 'the link dropped');
      const controller = new AbortController();
      const aborted = client.request('charge', 'aborted', { signal: controller.signal });
      const kept = client.request('charge', 'kept');
      controller.abort();
      await assert.rejects(aborted, isAbort);
      gate.open();
      assert.equal(await within(kept, 5_000, 'the other request'), 'charged');
      assert.deepEqual(runs, ['kept']);
    } finally {
      client.close();
      await fixture.close();
    }
  });
});
