import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { seededRng } from '../../src/core/clock.js';
import type { ClientEnvironment } from '../../src/client/environment.js';
import { FileOutboxStore, LifelineClient as NodeLifelineClient, MemoryOutboxStore, ReplyError, withOutbox, type OutboxEvent, type OutboxSnapshot, type OutboxStore } from '../../src/client/node.js';
import { LifelineClient } from '../../src/client/lifeline-client.js';
import type { LifelineClientOptions } from '../../src/client/lifeline-client-types.js';
import { createServer, type LifelineServer } from '../../src/server/server.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { startServer } from '../../src/testing/server-fixture.js';
import { scriptedSockets, type ScriptedSocket } from '../helpers/scripted-socket.js';
import { eventually, until, within } from '../helpers/wait.js';
import { pino } from 'pino';
import { Gate } from '../helpers/gate.js';
import { fast, outboxFile, watch } from '../helpers/outbox-files.js';

const steady: ClientEnvironment = { hidden: () => false, online: () => true, subscribe: () => () => undefined };

/** Lets every queued promise reaction run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A promise the test resolves. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * A store the test drives: every save is recorded and may be held back (`hold()`) or fail;
 * a load may be held back too. What it holds is what the last save that finished stored.
 */
class ScriptedStore implements OutboxStore {
  readonly saves: OutboxSnapshot[] = [];
  #gate: Promise<void> | undefined;
  #loadGate: Promise<void> | undefined;
  failLoad: Error | undefined;
  failSave: Error | undefined;

  constructor(public snapshot?: OutboxSnapshot) {}

  /** Saves from now on wait until the returned function is called. */
  hold(): () => void {
    const gate = deferred();
    this.#gate = gate.promise;
    return () => {
      this.#gate = undefined;
      gate.resolve();
    };
  }

  holdLoad(): () => void {
    const gate = deferred();
    this.#loadGate = gate.promise;
    return gate.resolve;
  }

  async load(): Promise<OutboxSnapshot | undefined> {
    await this.#loadGate;
    if (this.failLoad) throw this.failLoad;
    return this.snapshot;
  }

  async save(snapshot: OutboxSnapshot): Promise<void> {
    this.saves.push(snapshot);
    await this.#gate;
    if (this.failSave) throw this.failSave;
    this.snapshot = snapshot;
  }
}

function setup(outbox: OutboxStore, options: LifelineClientOptions = {}) {
  const clock = new FakeClock();
  const { WebSocket, sockets, latest } = scriptedSockets();
  const client = new LifelineClient('ws://test/ws', { clock, WebSocket, environment: steady, rng: seededRng(1), initialDelay: 100, outbox: withOutbox(outbox), ...options });
  const events: OutboxEvent[] = [];
  client.addEventListener('outbox', (e) => events.push(e));
  const errors: Error[] = [];
  client.addEventListener('error', (e) => errors.push(e.error));
  const sent = (socket: ScriptedSocket = latest()) => socket.sent.map((data) => JSON.parse(String(data)) as Record<string, unknown>);
  const say = (message: object, socket: ScriptedSocket = latest()) => socket.receive(JSON.stringify(message));
  /** Opens the next socket (after the store loaded) and welcomes it. */
  const welcome = async (session: string, resumed: boolean, acked = 0) => {
    await settle();
    latest().open();
    await settle();
    say({ type: 'welcome', v: 1, session, resumed, recoveryWindow: 120_000, pingInterval: 25_000, acked });
    await settle();
  };
  const drop = async () => {
    latest().drop(1006);
    clock.tick(1_000);
    await settle();
  };
  return { clock, client, sockets, latest, sent, say, welcome, drop, events, errors };
}

/** Unhandled rejections from now until `stop()`. */
function watchRejections(): { readonly rejections: unknown[]; stop(): void } {
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown): void => void rejections.push(reason);
  process.on('unhandledRejection', onRejection);
  return { rejections, stop: () => void process.off('unhandledRejection', onRejection) };
}

const ofType = (type: string) => (m: Record<string, unknown>) => m.type === type;
const body = (channel: string, data: unknown) => JSON.stringify({ type: 'publish', channel, data });
const ignore = () => undefined;

describe('LifelineClient with a durable outbox: the protocol against a scripted socket', () => {
  test('a publish is saved with its session and id before it goes out, and dropped from the store once acknowledged', async () => {
    const store = new ScriptedStore();
    const { client, sent, say, welcome } = setup(store);
    await welcome('s-1', false);
    const release = store.hold();
    const published = client.publish('chat:a', 'x');
    await settle();
    assert.equal(sent().filter(ofType('publish')).length, 0, 'not on the wire while the save runs');
    assert.deepEqual(store.saves.at(-1), { session: 's-1', entries: [{ kind: 'publish', body: body('chat:a', 'x'), id: 1 }] });
    release();
    await settle();
    assert.deepEqual(sent().find(ofType('publish')), { id: 1, type: 'publish', channel: 'chat:a', data: 'x' });
    assert.deepEqual(store.snapshot?.entries, [{ kind: 'publish', body: body('chat:a', 'x'), id: 1 }]);
    say({ type: 'ack', id: 1, position: { epoch: 'e', offset: 7 } });
    assert.deepEqual(await published, { epoch: 'e', offset: 7 });
    await settle();
    assert.deepEqual(store.snapshot, { session: 's-1', entries: [] });
    client.close();
  });

  test('publishes made while a save runs are saved together and go out in order after it', async () => {
    const store = new ScriptedStore();
    const { client, sent, welcome } = setup(store);
    await welcome('s-1', false);
    const release = store.hold();
    for (let n = 1; n <= 5; n++) client.publish('chat:a', n).catch(ignore);
    await settle();
    assert.ok(store.saves.length <= 3, `${store.saves.length} saves for 5 publishes (the welcome's, the first publish's, the rest together)`);
    release();
    await settle();
    assert.deepEqual(sent().filter(ofType('publish')).map((m) => `${String(m.id)}:${String(m.data)}`), ['1:1', '2:2', '3:3', '4:4', '5:5']);
    assert.deepEqual(store.snapshot?.entries.map((e) => e.id), [1, 2, 3, 4, 5]);
    client.close();
  });

  test('a publish made offline is saved unnumbered (never sent), then numbered and saved again before it goes out', async () => {
    const store = new ScriptedStore();
    const { client, sent, welcome } = setup(store);
    client.publish('chat:a', 'offline').catch(ignore);
    await settle();
    assert.deepEqual(store.snapshot, { session: undefined, entries: [{ kind: 'publish', body: body('chat:a', 'offline'), id: 0 }] });
    await welcome('s-1', false);
    assert.deepEqual(store.snapshot, { session: 's-1', entries: [{ kind: 'publish', body: body('chat:a', 'offline'), id: 1 }] });
    assert.deepEqual(sent().find(ofType('publish'))?.id, 1);
    client.close();
  });

  test('a new client resumes the stored session and resends the stored entries with their ids; outcomes arrive as outbox events', async () => {
    const store = new ScriptedStore({
      session: 's-1',
      entries: [
        { kind: 'publish', body: body('chat:a', 'sent before the restart'), id: 3 },
        { kind: 'request', body: '{"type":"request","method":"m","params":1}', id: 0 },
      ],
    });
    const { client, sent, say, welcome, events } = setup(store);
    assert.equal((await settle(), client.session), 's-1');
    await welcome('s-1', true, 2);
    assert.deepEqual(sent()[0], { type: 'hello', v: 1, session: 's-1' });
    assert.deepEqual(sent().slice(1), [
      { id: 3, type: 'publish', channel: 'chat:a', data: 'sent before the restart' },
      { id: 4, type: 'request', method: 'm', params: 1 },
    ]);
    say({ type: 'ack', id: 3, position: { epoch: 'e', offset: 1 } });
    say({ type: 'result', id: 4, data: 'done' });
    await settle();
    assert.deepEqual(
      events.map((e) => [e.entry.kind, e.value, e.error]),
      [
        ['publish', { epoch: 'e', offset: 1 }, undefined],
        ['request', 'done', undefined],
      ],
    );
    assert.deepEqual(store.snapshot, { session: 's-1', entries: [] });
    client.close();
  });

  test('a subscribe sent with the hello never takes the id of a restored entry: each reply settles its own', async () => {
    const store = new ScriptedStore({ session: 's-1', entries: [{ kind: 'publish', body: body('chat:a', 'stored'), id: 1 }] });
    const { client, sent, say, welcome, events } = setup(store);
    const sub = client.subscribe('chat:a');
    await welcome('s-1', true);
    const subscribe = sent().find(ofType('subscribe'));
    assert.deepEqual(sent().map((m) => m.type), ['hello', 'subscribe', 'publish'], 'the subscribe went out with the hello, the resend after the welcome');
    assert.deepEqual(sent().find(ofType('publish'))?.id, 1, 'the stored entry is resent under its id');
    assert.equal(subscribe?.id, 2);
    say({ type: 'subscribed', id: 2, channel: 'chat:a', position: { epoch: 'e', offset: 4 }, recovered: true });
    say({ type: 'ack', id: 1, position: { epoch: 'e', offset: 5 } });
    await settle();
    assert.equal(sub.state, 'subscribed');
    assert.deepEqual(events.map((e) => e.value), [{ epoch: 'e', offset: 5 }]);
    assert.equal(client.state, 'ready');
    client.close();
  });

  test('the stored session not resumed: a sent entry gets outcome_unknown (never resent), a never-sent one goes out under the new session', async () => {
    const store = new ScriptedStore({
      session: 's-1',
      entries: [
        { kind: 'publish', body: body('chat:a', 'maybe applied'), id: 3 },
        { kind: 'publish', body: body('chat:a', 'never sent'), id: 0 },
      ],
    });
    const { client, sent, say, welcome, events } = setup(store);
    await welcome('s-2', false);
    // Numbered above the restored entries' ids.
    assert.deepEqual(sent().filter(ofType('publish')), [{ id: 4, type: 'publish', channel: 'chat:a', data: 'never sent' }]);
    await settle();
    assert.equal(events.length, 1);
    assert.equal(events[0]?.entry.body, body('chat:a', 'maybe applied'));
    assert.ok(events[0]?.error instanceof ReplyError && events[0].error.code === 'outcome_unknown' && !events[0].error.remote);
    assert.deepEqual(store.snapshot, { session: 's-2', entries: [{ kind: 'publish', body: body('chat:a', 'never sent'), id: 4 }] });
    say({ type: 'ack', id: 4, position: { epoch: 'e', offset: 1 } });
    await settle();
    assert.deepEqual(events[1]?.value, { epoch: 'e', offset: 1 });
    assert.deepEqual(store.snapshot, { session: 's-2', entries: [] });
    client.close();
  });

  test('a restored entry refused with unavailable is resent under its id, as one made by this client, until acknowledged', async () => {
    const store = new ScriptedStore({ session: 's-1', entries: [{ kind: 'publish', body: body('chat:a', 'stored'), id: 3 }] });
    const { clock, client, sent, say, welcome, events } = setup(store);
    await welcome('s-1', true, 2);
    say({ type: 'error', id: 3, code: 'unavailable', message: 'broker unreachable' });
    await settle();
    assert.equal(events.length, 0, 'not done: the broker said try again later');
    assert.deepEqual(store.snapshot?.entries.map((e) => e.id), [3], 'still stored');
    clock.tick(1_000);
    await settle();
    assert.deepEqual(sent().filter(ofType('publish')).map((m) => m.id), [3, 3], 'resent under its id');
    say({ type: 'ack', id: 3, position: { epoch: 'e', offset: 1 } });
    await settle();
    assert.deepEqual(events.map((e) => [e.value, e.error]), [[{ epoch: 'e', offset: 1 }, undefined]]);
    assert.deepEqual(store.snapshot, { session: 's-1', entries: [] });
    client.close();
  });

  test('hello waits for the store; what the app publishes meanwhile goes after the stored entries', async () => {
    const store = new ScriptedStore({ session: 's-1', entries: [{ kind: 'publish', body: body('chat:a', 'stored'), id: 2 }] });
    const releaseLoad = store.holdLoad();
    const { client, sent, latest, say } = setup(store);
    client.publish('chat:a', 'new').catch(ignore);
    await settle();
    latest().open();
    await settle();
    assert.deepEqual(sent(), [], 'no hello before the stored session is known');
    releaseLoad();
    await settle();
    assert.deepEqual(sent(), [{ type: 'hello', v: 1, session: 's-1' }]);
    say({ type: 'welcome', v: 1, session: 's-1', resumed: true, acked: 2 });
    await settle();
    assert.deepEqual(sent().slice(1).map((m) => `${String(m.id)}:${String(m.data)}`), ['2:stored', '3:new']);
    client.close();
  });

  test('a store that fails is reported as error and the client goes on in memory', async () => {
    const store = new ScriptedStore();
    store.failLoad = new Error('load failed');
    store.failSave = new Error('save failed');
    const { client, sent, say, welcome, errors } = setup(store);
    await welcome('s-1', false);
    const published = client.publish('chat:a', 'x');
    await settle();
    assert.equal(sent().find(ofType('publish'))?.id, 1, 'sent although the save failed');
    say({ type: 'ack', id: 1, position: { epoch: 'e', offset: 1 } });
    assert.equal((await published).offset, 1);
    assert.deepEqual([...new Set(errors.map((e) => e.message))], ['load failed', 'save failed']);
    client.close();
  });

  test('a store whose load or save throws instead of rejecting is reported as error; later saves run and every message goes out', async () => {
    const store = new ScriptedStore();
    const thrown: string[] = [];
    const throwing: OutboxStore = {
      load: () => {
        thrown.push('load');
        throw new Error('load threw');
      },
      save: (snapshot) => {
        // Over a synchronous API (localStorage): the second save finds the quota full.
        if (store.saves.length === 1 && !thrown.includes('save')) {
          thrown.push('save');
          throw new Error('save threw');
        }
        return store.save(snapshot);
      },
    };
    const { rejections, stop } = watchRejections();
    const { client, sent, say, welcome, errors } = setup(throwing);
    try {
      await welcome('s-1', false);
      for (const id of [1, 2, 3]) {
        const promise = client.publish('chat:a', id);
        await settle();
        assert.equal(sent().filter(ofType('publish')).at(-1)?.id, id, `publish ${id} sent`);
        say({ type: 'ack', id, position: { epoch: 'e', offset: id } });
        assert.equal((await promise).offset, id);
      }
      await settle();
      assert.deepEqual(thrown, ['load', 'save']);
      assert.deepEqual(errors.map((e) => e.message), ['load threw', 'save threw']);
      assert.deepEqual(store.snapshot, { session: 's-1', entries: [] }, 'the saves after the throw ran');
      assert.deepEqual(rejections, []);
    } finally {
      stop();
      client.close();
    }
  });

  for (const [what, held] of [
    ['a body that is not a message', { session: 's-1', entries: [{ kind: 'publish', body: 5, id: 0 }] }],
    ['a body that is not JSON', { session: 's-1', entries: [{ kind: 'publish', body: '{"type":"publish",', id: 0 }] }],
    ['a body of another kind', { session: 's-1', entries: [{ kind: 'request', body: body('chat:a', 1), id: 0 }] }],
    ['two entries with one id', { session: 's-1', entries: [{ kind: 'publish', body: body('chat:a', 1), id: 2 }, { kind: 'publish', body: body('chat:a', 2), id: 2 }] }],
    ['a fractional id', { session: 's-1', entries: [{ kind: 'publish', body: body('chat:a', 1), id: 1.5 }] }],
    ['a session a hello cannot carry', { session: 's'.repeat(65), entries: [] }],
    ['a secret that is not a string', { session: 's-1', secret: 7, entries: [] }],
    ['entries that are not a list', { session: 's-1', entries: null }],
    ['a string', 'outbox'],
  ] as const) {
    test(`a store that hands back what is no outbox (${what}) is reported as error; the client starts empty and works`, async () => {
      const store = new ScriptedStore(held as unknown as OutboxSnapshot);
      const { rejections, stop } = watchRejections();
      const { client, sent, say, welcome, errors } = setup(store);
      try {
        await welcome('s-2', false);
        assert.deepEqual(sent()[0], { type: 'hello', v: 1 }, 'no stored session is claimed');
        assert.equal(errors.length, 1);
        assert.match(errors[0]?.message ?? '', /^the stored outbox is not one \(.+\); starting with an empty outbox$/);
        const published = client.publish('chat:a', 'new');
        await settle();
        assert.deepEqual(sent().filter(ofType('publish')), [{ id: 1, type: 'publish', channel: 'chat:a', data: 'new' }], 'only the new publish goes out');
        say({ type: 'ack', id: 1, position: { epoch: 'e', offset: 1 } });
        assert.equal((await published).offset, 1);
        await settle();
        assert.deepEqual(store.snapshot, { session: 's-2', entries: [] }, 'the store holds an outbox again');
        assert.deepEqual(rejections, []);
      } finally {
        stop();
        client.close();
      }
    });
  }

  test('close() rejects with closed but leaves the store as it was: the next client resends', async () => {
    const store = new ScriptedStore();
    const { client, welcome } = setup(store);
    await welcome('s-1', false);
    const published = client.publish('chat:a', 'x');
    await settle();
    client.close();
    await assert.rejects(published, (e: unknown) => e instanceof ReplyError && e.code === 'closed');
    await settle();
    assert.deepEqual(store.snapshot, { session: 's-1', entries: [{ kind: 'publish', body: body('chat:a', 'x'), id: 1 }] });
  });

  test('close() right after a publish resolves still drops it from the store: the next client does not resend it', async () => {
    const store = new ScriptedStore();
    const { client, say, welcome } = setup(store);
    await welcome('s-1', false);
    const pending = client.publish('chat:a', 'kept');
    const published = client.publish('chat:a', 'x');
    await settle();
    // What a script does: `await client.publish(...); client.close();`
    const closed = published.then(() => client.close());
    say({ type: 'ack', id: 2, position: { epoch: 'e', offset: 7 } });
    await closed;
    await assert.rejects(pending, (e: unknown) => e instanceof ReplyError && e.code === 'closed');
    await settle();
    assert.deepEqual(store.snapshot, { session: 's-1', entries: [{ kind: 'publish', body: body('chat:a', 'kept'), id: 1 }] }, 'the answered one is gone, the unanswered one stays');
  });

  test('close() before the store has loaded keeps what it held and stores what was made meanwhile after it; with nothing made, it is left as it was', async () => {
    const stored = { session: 's-1', secret: 'secret-1', entries: [{ kind: 'publish' as const, body: body('chat:a', 'stored'), id: 2 }] };
    const store = new ScriptedStore(stored);
    const releaseLoad = store.holdLoad();
    const { client } = setup(store);
    const published = client.publish('chat:a', 'new');
    client.subscribe('chat:a').presence().catch(ignore); // never stored
    client.close();
    await assert.rejects(published, (e: unknown) => e instanceof ReplyError && e.code === 'closed');
    releaseLoad();
    await settle();
    assert.deepEqual(store.snapshot, { ...stored, entries: [...stored.entries, { kind: 'publish', body: body('chat:a', 'new'), id: 0 }] });
    assert.equal(store.saves.length, 1);

    const untouched = new ScriptedStore(stored);
    const releaseAgain = untouched.holdLoad();
    const other = setup(untouched).client;
    other.subscribe('chat:a').presence().catch(ignore); // asks for a save, stores nothing
    other.close();
    releaseAgain();
    await settle();
    assert.deepEqual(untouched.saves, []);
    assert.deepEqual(untouched.snapshot, stored);
  });

  test('presence queries are not stored; a timeout leaves the entry stored (it is still resent)', async () => {
    const store = new ScriptedStore();
    const { clock, client, welcome } = setup(store, { requestTimeout: 1_000 });
    await welcome('s-1', false);
    client.subscribe('chat:a').presence().catch(ignore);
    const request = client.request('slow').catch((e: unknown) => (e instanceof ReplyError ? e.code : 'other'));
    await settle();
    clock.tick(1_000);
    assert.equal(await request, 'timeout');
    await settle();
    assert.deepEqual(store.snapshot?.entries.map((e) => e.kind), ['request']);
    client.close();
  });

  test('presence queries pending when the client ends for good reject with closed (they are not stored): on give-up, as on close()', async () => {
    const outcome = (promise: Promise<unknown>) => promise.then(() => 'resolved', (e: unknown) => (e instanceof ReplyError ? e.code : 'other'));
    const store = new ScriptedStore();
    const { client, welcome, drop } = setup(store, { requestTimeout: 0, maxAttempts: 1 });
    await welcome('s-1', false);
    const presence = outcome(client.subscribe('chat:a').presence());
    let published = 'pending';
    void outcome(client.publish('chat:a', 1)).then((code) => (published = code));
    await settle();
    const gaveUp = until(client, 'giveup', () => true, 5_000);
    await drop();
    await drop(); // the one retry fails too
    await within(gaveUp, 5_000, 'the give-up');
    assert.equal(await within(presence, 5_000, 'the presence query to settle'), 'closed');
    await settle();
    assert.equal(published, 'pending', 'a stored publish stays pending: reconnect() resends it');
    assert.deepEqual(store.snapshot?.entries.map((e) => e.kind), ['publish']);
    client.close();
    await settle();
    assert.equal(published, 'closed');

    const other = setup(new ScriptedStore(), { requestTimeout: 0 });
    await other.welcome('s-2', false);
    const asked = outcome(other.client.subscribe('chat:a').presence());
    await settle();
    other.client.close();
    assert.equal(await within(asked, 5_000, 'the presence query to settle'), 'closed');
  });
});

// ---- against a real server, with the file store ------------------------------------------------------

const channels = { chat: { history: { size: 100, ttl: 300_000 } } };


async function stored(path: string): Promise<OutboxSnapshot> {
  return JSON.parse(await readFile(path, 'utf8')) as OutboxSnapshot;
}

describe('LifelineClient with a FileOutboxStore against a real server', () => {
  test('a publish whose ack never arrived is applied once: a new client on the same file resumes the session and gets the stored ack', async (t) => {
    const path = await outboxFile(t);
    let publishes = 0;
    const fixture = await startServer({
      channels,
      canPublish: () => {
        publishes++;
        // The link dies before the ack goes out: the publish happens, its ack is lost.
        for (const connection of fixture.server.connections) if (!watcherConnections.has(connection)) connection.terminate();
        return true;
      },
    });
    const watcher = await watch(fixture.wsUrl, 'chat:once');
    const watcherConnections = new Set(fixture.server.connections);
    const gate = new Gate();
    const first = new NodeLifelineClient(() => gate.wait().then(() => fixture.wsUrl), { ...fast, outbox: new FileOutboxStore(path) });
    let second: NodeLifelineClient | undefined;
    try {
      await within(first.ready(), 5_000, 'the first client ready');
      const session = first.session;
      const closed = until(first, 'close', () => true);
      gate.close(); // it never comes back: as good as a process that died
      const orphan = first.publish('chat:once', 'only once');
      orphan.catch(ignore);
      await within(closed, 5_000, 'the link dropped before the ack');
      await eventually(() => watcher.events.length === 1, 'the publish reached the channel', 5_000);
      const snapshot = await stored(path);
      assert.equal(typeof snapshot.secret, 'string', 'the resume secret is kept with the session: without it the server starts a new one');
      assert.deepEqual(snapshot, { session, secret: snapshot.secret, entries: [{ kind: 'publish', body: body('chat:once', 'only once'), id: 1 }] });

      const outcomes: OutboxEvent[] = [];
      // It lets go of the file (one per client at a time); a process that died would leave a lock
      // the next one takes over.
      first.close();
      second = new NodeLifelineClient(fixture.wsUrl, { ...fast, outbox: new FileOutboxStore(path) });
      second.addEventListener('outbox', (e) => outcomes.push(e));
      const resumed = until(second, 'session', () => true);
      assert.equal(((await within(resumed, 5_000, 'the second client welcomed')) as Event & { resumed: boolean }).resumed, true);
      assert.equal(second.session, session);
      await eventually(() => outcomes.length === 1, 'the outcome of the stored publish', 5_000);
      assert.deepEqual(outcomes[0]?.value, { epoch: (outcomes[0]?.value as { epoch: string }).epoch, offset: 1 });
      assert.equal(outcomes[0]?.error, undefined);
      await eventually(async () => (await stored(path)).entries.length === 0, 'the store emptied', 5_000);
      assert.equal((await fixture.server.publish('chat:once', 'marker')).offset, 2, 'exactly one event before the marker');
      await eventually(() => watcher.events.length === 2, 'the marker', 5_000);
      assert.deepEqual(watcher.events, ['only once', 'marker']);
      assert.equal(publishes, 1, 'the resend was answered from the session window, not run again');
    } finally {
      first.close();
      second?.close();
      watcher.client.close();
      await fixture.close();
    }
  });

  test('a publish made while offline survives the process: the next client sends it once', async (t) => {
    const path = await outboxFile(t);
    const fixture = await startServer({ channels });
    const gate = new Gate();
    gate.close();
    const first = new NodeLifelineClient(() => gate.wait().then(() => fixture.wsUrl), { ...fast, outbox: new FileOutboxStore(path) });
    const watcher = await watch(fixture.wsUrl, 'chat:offline');
    let second: NodeLifelineClient | undefined;
    try {
      first.publish('chat:offline', 'queued offline').catch(ignore);
      await eventually(async () => (await stored(path).catch(() => ({ entries: [] }))).entries.length === 1, 'the offline publish saved', 5_000);
      assert.deepEqual((await stored(path)).entries, [{ kind: 'publish', body: body('chat:offline', 'queued offline'), id: 0 }]);
      const outcomes: OutboxEvent[] = [];
      first.close(); // one client per file at a time
      second = new NodeLifelineClient(fixture.wsUrl, { ...fast, outbox: new FileOutboxStore(path) });
      second.addEventListener('outbox', (e) => outcomes.push(e));
      await eventually(() => outcomes.length === 1, 'the outcome', 5_000);
      assert.equal((outcomes[0]?.value as { offset: number }).offset, 1);
      await eventually(() => watcher.events.length === 1, 'the event', 5_000);
      await eventually(async () => (await stored(path)).entries.length === 0, 'the store emptied', 5_000);
      assert.deepEqual(watcher.events, ['queued offline']);
    } finally {
      first.close();
      second?.close();
      watcher.client.close();
      await fixture.close();
    }
  });

  test('a client made on the same file right after close() waits for the last save of the closed one: its offline publish is sent once', async (t) => {
    const path = await outboxFile(t);
    const fixture = await startServer({ channels });
    const loaded = deferred();
    /** Tells when its load has ended. */
    class Counted extends FileOutboxStore {
      override async load(): Promise<OutboxSnapshot | undefined> {
        try {
          return await super.load();
        } finally {
          loaded.resolve();
        }
      }
    }
    // Offline for good: its URL never resolves.
    const first = new NodeLifelineClient(() => new Promise<string>(ignore), { ...fast, outbox: new Counted(path) });
    let second: NodeLifelineClient | undefined;
    try {
      await within(loaded.promise, 5_000, 'the first client loaded');
      await settle();
      const published = first.publish('chat:reopen', 'from the first');
      first.close(); // its save of the publish is still to run
      await assert.rejects(published, (e: unknown) => e instanceof ReplyError && e.code === 'closed');
      second = new NodeLifelineClient(fixture.wsUrl, { ...fast, outbox: new FileOutboxStore(path) });
      const outcome = (await within(until(second, 'outbox', () => true), 5_000, "the first client's publish sent by the second")) as OutboxEvent;
      assert.deepEqual([outcome.entry.body, (outcome.value as { offset: number }).offset], [body('chat:reopen', 'from the first'), 1]);
      second.close();
      await within(new FileOutboxStore(path).idle(), 5_000, "the second client's last save");
      assert.deepEqual((await stored(path)).entries, [], 'answered: gone from the file');
    } finally {
      first.close();
      second?.close();
      await fixture.close();
    }
  });

  test('after a server restart the stored session is gone: the sent publish is reported outcome_unknown and never resent', async (t) => {
    const path = await outboxFile(t);
    let held = 0;
    const never = new Promise<boolean>(() => undefined);
    const first = await startServer({
      channels,
      canPublish: () => {
        held++;
        return never; // no answer before the server goes away
      },
    });
    const gate = new Gate();
    const client = new NodeLifelineClient(() => gate.wait().then(() => first.wsUrl), { ...fast, outbox: new FileOutboxStore(path) });
    let second: LifelineServer<unknown> | undefined;
    let next: NodeLifelineClient | undefined;
    try {
      await within(client.ready(), 5_000, 'ready');
      client.publish('chat:lost', 'unknown fate').catch(ignore);
      await eventually(() => held === 1, 'the server holds the publish', 5_000);
      gate.close();
      await first.server.close({ drainTimeout: 0 });
      second = createServer({ port: first.port, host: '127.0.0.1', channels, logger: pino({ level: 'silent' }) });
      await second.listen();
      let publishes = 0;
      second.on('message', (_connection, message) => {
        if (message.type === 'publish') publishes++;
      });
      const outcomes: OutboxEvent[] = [];
      client.close(); // one client per file at a time
      next = new NodeLifelineClient(first.wsUrl, { ...fast, outbox: new FileOutboxStore(path) });
      next.addEventListener('outbox', (e) => outcomes.push(e));
      const welcomed = until(next, 'session', () => true);
      assert.equal(((await within(welcomed, 5_000, 'welcomed')) as Event & { resumed: boolean }).resumed, false);
      await eventually(() => outcomes.length === 1, 'the outcome', 5_000);
      assert.ok(outcomes[0]?.error instanceof ReplyError && outcomes[0].error.code === 'outcome_unknown');
      await eventually(async () => (await stored(path)).entries.length === 0, 'the store emptied', 5_000);
      assert.equal((await stored(path)).session, next.session, 'the new session is stored');
      assert.equal(publishes, 0);
    } finally {
      client.close();
      next?.close();
      await second?.close({ drainTimeout: 0 });
    }
  });

  test('one MemoryOutboxStore handed from client to client plays a restart', async () => {
    const fixture = await startServer({ channels });
    const store = new MemoryOutboxStore();
    const gate = new Gate();
    gate.close();
    const first = new NodeLifelineClient(() => gate.wait().then(() => fixture.wsUrl), { ...fast, outbox: store });
    first.request('echo', 1).catch(ignore);
    fixture.server.handle('echo', (params) => params);
    let second: NodeLifelineClient | undefined;
    try {
      await eventually(() => store.snapshot?.entries.length === 1, 'saved', 5_000);
      first.close();
      second = new NodeLifelineClient(fixture.wsUrl, { ...fast, outbox: store });
      const outcome = await within(until(second, 'outbox', () => true), 5_000, 'the outcome');
      assert.equal((outcome as OutboxEvent).value, 1);
    } finally {
      second?.close();
      await fixture.close();
    }
  });
});

describe('LifelineClient durable outbox: edges', () => {
  test('a message larger than the server accepts is refused with too_big, never stored, and the client stays up', async () => {
    const fixture = await startServer({ channels, maxPayload: 1_000 });
    const store = new MemoryOutboxStore();
    const client = new NodeLifelineClient(fixture.wsUrl, { ...fast, outbox: store });
    try {
      await client.ready();
      await assert.rejects(client.publish('chat:big', 'x'.repeat(2_000)), (error: unknown) => error instanceof ReplyError && error.code === 'too_big');
      assert.equal((await client.publish('chat:big', 'small')).offset, 1, 'the client still works');
      await eventually(async () => ((await store.load())?.entries.length ?? 0) === 0, 'nothing stored', 5_000);
    } finally {
      client.close();
      await fixture.close();
    }
  });

  test('the Node entry takes a bare store of your own (no withOutbox): the publish is saved, sent, and dropped once acknowledged', async () => {
    const fixture = await startServer({ channels });
    const saved: OutboxSnapshot[] = [];
    const store: OutboxStore = { load: async () => undefined, save: async (snapshot) => void saved.push(snapshot) };
    const client = new NodeLifelineClient(fixture.wsUrl, { ...fast, outbox: store });
    try {
      await client.ready();
      assert.equal((await client.publish('chat:bare', 'kept')).offset, 1);
      await eventually(() => saved.at(-1)?.entries.length === 0, 'the acknowledged publish dropped from the store', 5_000);
      assert.ok(saved.some((snapshot) => snapshot.entries.some((entry) => entry.body === body('chat:bare', 'kept'))), 'stored before it was sent');
      assert.equal(saved.at(-1)?.session, client.session);
    } finally {
      client.close();
      await fixture.close();
    }
  });

  test('a give-up keeps a stored publish pending: after reconnect() it takes effect once', async () => {
    const hook = deferred();
    let seen = 0;
    const fixture = await startServer({
      channels,
      canPublish: async () => {
        if (seen++ === 0) await hook.promise; // the first attempt's ack is held back
        return true;
      },
    });
    const watcher = await watch(fixture.wsUrl, 'chat:giveup'); // connects first
    const store = new MemoryOutboxStore();
    const client = new NodeLifelineClient(fixture.wsUrl, { ...fast, maxAttempts: 0, outbox: store });
    try {
      await client.ready();
      let settled = false;
      const sent = client.publish('chat:giveup', 'kept');
      sent.then(() => (settled = true), () => (settled = true));
      await eventually(() => seen === 1, 'the publish reached the server', 5_000);
      const gaveUp = until(client, 'giveup', () => true);
      [...fixture.server.connections].at(-1)?.terminate(); // the client's: it connected last
      await within(gaveUp, 5_000, 'the give-up (maxAttempts 0)');
      await settle();
      assert.equal(settled, false, 'still pending after the give-up');
      assert.equal((await store.load())?.entries.length, 1, 'still stored');
      hook.resolve(); // the first attempt completes on the server: published, reply remembered
      client.reconnect();
      assert.equal((await within(sent, 5_000, 'the publish after reconnect()')).offset, 1);
      await eventually(() => watcher.events.length === 1, 'the event', 5_000);
      assert.deepEqual(watcher.events, ['kept'], 'once');
    } finally {
      client.close();
      watcher.client.close();
      await fixture.close();
    }
  });

});
