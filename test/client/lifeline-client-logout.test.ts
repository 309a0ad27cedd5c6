/**
 * `LifelineClient#logout()` against a real server: the session ends on the server (other
 * members hear the leave at once, it cannot be resumed), pending publishes and requests reject
 * with `closed`, the session id and secret are forgotten and a durable outbox is emptied; offline
 * it clears everything locally all the same.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { FileOutboxStore, LifelineClient, MemoryOutboxStore, ReplyError, type OutboxSnapshot } from '../../src/client/node.js';
import { startServer } from '../../src/testing/server-fixture.js';
import { Gate } from '../helpers/gate.js';
import { fast, outboxFile } from '../helpers/outbox-files.js';
import { eventually, within } from '../helpers/wait.js';

const channels = { room: { presence: true }, chat: { history: { size: 10, ttl: 60_000 } } };
/** Far longer than any deadline here: a leave heard at all was told at once. */
const GRACE = 60_000;

async function stored(path: string): Promise<OutboxSnapshot> {
  return JSON.parse(await readFile(path, 'utf8')) as OutboxSnapshot;
}

function isClosed(error: unknown): boolean {
  return error instanceof ReplyError && error.code === 'closed';
}

describe('LifelineClient#logout()', () => {
  test('online: the server ends the session (others hear the leave at once), the file store is emptied, a new client starts a new session', async (t) => {
    const path = await outboxFile(t);
    const fixture = await startServer({ channels, presenceGrace: GRACE });
    t.after(() => fixture.close());
    const watcher = new LifelineClient(fixture.wsUrl, fast);
    t.after(() => watcher.close());
    const left: string[] = [];
    const joined: string[] = [];
    const room = watcher.subscribe('room:1', { presence: (e) => (e.action === 'join' ? joined : left).push(e.member.client) });
    await within(room.ready(), 5_000, 'the watcher subscribed');

    const client = new LifelineClient(fixture.wsUrl, { ...fast, outbox: new FileOutboxStore(path) });
    t.after(() => client.close());
    await within(client.subscribe('room:1').ready(), 5_000, 'the client subscribed');
    await within(client.publish('chat:a', 'kept'), 5_000, 'a publish');
    const session = client.session ?? '';
    await eventually(() => joined.length === 2, 'the watcher heard the join', 5_000);
    assert.equal(typeof (await stored(path)).secret, 'string', 'the store holds the session and its secret');

    await within(client.logout(), 5_000, 'logout');
    assert.equal(client.state, 'closed');
    assert.equal(client.session, undefined, 'the session id is forgotten');
    assert.deepEqual(await stored(path), { entries: [] }, 'the store is empty: no entries, no session, no secret');
    assert.equal(await fixture.server.broker.loadSession(session), undefined, 'the server forgot the session');
    await eventually(() => left.length === 1, 'the watcher heard the leave (long before the grace period)', 5_000);
    assert.equal(fixture.server.realtime.sessions, 1, 'only the watcher\'s session is left');

    const next = new LifelineClient(fixture.wsUrl, { ...fast, outbox: new FileOutboxStore(path) });
    t.after(() => next.close());
    await within(next.ready(), 5_000, 'the next client ready');
    assert.notEqual(next.session, session, 'a new session');
    await next.logout();
    await client.logout(); // a second logout does nothing more, and resolves
  });

  test('pending publishes and requests reject with closed; the wait for the server is bounded (connectTimeout)', async (t) => {
    const fixture = await startServer({ channels });
    t.after(() => fixture.close());
    const gate = new Gate();
    gate.close();
    fixture.server.handle('slow', () => gate.wait().then(() => 'late'));
    const client = new LifelineClient(fixture.wsUrl, { ...fast, connectTimeout: 300 });
    t.after(() => client.close());
    await within(client.ready(), 5_000, 'ready');
    const session = client.session ?? '';
    // The server handles `end` after this request: it waits for the handler.
    const request = client.request('slow');
    const outcome = request.then(
      () => 'resolved',
      (error: unknown) => (isClosed(error) ? 'closed' : String(error)),
    );
    await within(client.logout(), 5_000, 'logout, bounded');
    assert.equal(await outcome, 'closed');
    await assert.rejects(client.publish('chat:a', 'after'), isClosed, 'nothing more is sent');
    gate.open();
    await eventually(async () => (await fixture.server.broker.loadSession(session)) === undefined, 'the server ended the session once the request was done', 5_000);
  });

  test('offline: pending entries reject with closed and the store is emptied all the same', async (t) => {
    const path = await outboxFile(t);
    const fixture = await startServer({ channels });
    t.after(() => fixture.close());
    const gate = new Gate();
    const first = new LifelineClient(() => gate.wait().then(() => fixture.wsUrl), { ...fast, outbox: new FileOutboxStore(path) });
    t.after(() => first.close());
    await within(first.ready(), 5_000, 'ready');
    gate.close();
    const closed = new Promise((resolve) => first.transport.addEventListener('close', resolve, { once: true }));
    for (const connection of fixture.server.connections) connection.terminate();
    await within(closed, 5_000, 'the link dropped');
    const offline = first.publish('chat:a', 'queued offline');
    const outcome = offline.then(
      () => 'resolved',
      (error: unknown) => (isClosed(error) ? 'closed' : String(error)),
    );
    await eventually(async () => (await stored(path).catch(() => ({ entries: [] }))).entries.length === 1, 'the offline publish stored', 5_000);

    await within(first.logout(), 5_000, 'logout offline');
    assert.equal(await outcome, 'closed');
    assert.deepEqual(await stored(path), { entries: [] });
    assert.equal(first.session, undefined);
  });

  test('after close(): the store, which the next client of its path may hold by now, is left as close() left it', async (t) => {
    const path = await outboxFile(t);
    const fixture = await startServer({ channels });
    t.after(() => fixture.close());
    const first = new LifelineClient(fixture.wsUrl, { ...fast, outbox: new FileOutboxStore(path) });
    await within(first.ready(), 5_000, 'the first client ready');
    first.close();
    // The next client of the path takes it over (once the first has saved and let go) and keeps a publish made offline.
    const gate = new Gate();
    gate.close();
    const next = new LifelineClient(() => gate.wait().then(() => fixture.wsUrl), { ...fast, outbox: new FileOutboxStore(path) });
    t.after(() => next.close());
    void next.publish('chat:a', 'kept by the next client').catch(() => undefined);
    await eventually(async () => (await stored(path).catch(() => ({ entries: [] }))).entries.length === 1, 'the next client stored its publish', 5_000);

    await within(first.logout(), 5_000, 'logout of a closed client');
    assert.equal((await stored(path)).entries.length, 1, 'the next client\'s outbox is intact');
  });

  test('a close() during the wait for the server: the store is emptied while this client holds it, and the next client keeps what it stores', async (t) => {
    const path = await outboxFile(t);
    const lock = `${path}.${process.pid}.lock`;
    const fixture = await startServer({ channels });
    t.after(() => fixture.close());
    /** Whether the lock file was there when each save of the first client began. */
    const heldAtSave: boolean[] = [];
    class Watched extends FileOutboxStore {
      override save(snapshot: OutboxSnapshot): Promise<void> {
        heldAtSave.push(existsSync(lock));
        return super.save(snapshot);
      }
    }
    const first = new LifelineClient(fixture.wsUrl, { ...fast, outbox: new Watched(path) });
    await within(first.ready(), 5_000, 'the first client ready');
    await within(first.publish('chat:a', 'answered'), 5_000, 'a publish');
    const out = first.logout();
    first.close(); // the app's own close, while logout() waits for the server
    const gate = new Gate();
    gate.close();
    const next = new LifelineClient(() => gate.wait().then(() => fixture.wsUrl), { ...fast, outbox: new FileOutboxStore(path) });
    t.after(() => next.close());
    void next.publish('chat:a', 'kept by the next client').catch(() => undefined);
    await within(out, 5_000, 'logout');
    await eventually(async () => (await stored(path).catch(() => ({ entries: [] }))).entries.length === 1, 'the next client stored its publish', 5_000);
    assert.ok(heldAtSave.length > 0 && heldAtSave.every(Boolean), `every save of the first client ran under its lock: ${JSON.stringify(heldAtSave)}`);
    assert.equal((await stored(path)).entries.length, 1, "the next client's outbox is intact");
  });

  test('before the store has loaded: what it held is dropped, not restored, and the store is emptied', async () => {
    const store = new MemoryOutboxStore();
    store.snapshot = { session: 's-old', secret: 'secret', entries: [{ kind: 'publish', body: '{"type":"publish","channel":"chat:a","data":1}', id: 3 }] };
    const gate = new Gate();
    gate.close();
    const client = new LifelineClient(() => gate.wait().then(() => 'ws://127.0.0.1:1/ws'), { ...fast, outbox: store });
    await within(client.logout(), 5_000, 'logout while loading');
    assert.deepEqual(store.snapshot?.entries, []);
    assert.equal(store.snapshot?.session, undefined);
    assert.equal(client.session, undefined);
  });
});
