/**
 * Hello, park, takeover and expiry in the protocol core. A session is parked as the hub parks it
 * (its record kept for the recovery window); the record store here is a map with deadlines on a
 * fake clock, standing for the broker's answer to "load this session".
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RequestWindow } from '../../src/core/request-window.js';
import { openSession, type StoredSession } from '../../src/protocol/hello.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { countedIds, newSession, secrets } from './support.js';

const RECOVERY_WINDOW = 120_000;

/** Records kept until a deadline on the clock, as a broker keeps a parked session. */
class ParkedSessions {
  readonly #records = new Map<string, { readonly record: StoredSession; readonly until: number }>();
  constructor(private readonly clock: FakeClock) {}
  park(id: string, record: StoredSession, ttl: number): void {
    this.#records.set(id, { record, until: this.clock.now() + ttl });
  }
  load(id: string | undefined): StoredSession | undefined {
    const kept = id === undefined ? undefined : this.#records.get(id);
    return kept && this.clock.now() < kept.until ? kept.record : undefined;
  }
}

const ada = { name: 'ada', roles: ['admin'] };
const connection = { user: ada, anonymous: false };

describe('protocol core: hello', () => {
  test('a first hello opens a new session with ids from the injected source', () => {
    const opened = openSession({ hello: {}, connection, stored: undefined, secrets, ids: countedIds() });
    assert.deepEqual(opened, { id: 's-1', secret: 'secret-1', resume: { secret: 'digest(secret-1)', anonymous: false }, resumed: false, user: ada, window: undefined });
  });

  test('resume inside the recovery window: the same session, its window continues; outside it: a new session', () => {
    const clock = new FakeClock();
    const store = new ParkedSessions(clock);
    const ids = countedIds();
    const first = openSession({ hello: {}, connection, stored: undefined, secrets, ids });
    const session = newSession(clock, { id: first.id });
    session.publish(1, 'chat:a');
    session.checked(1, { ok: true });
    const [, ack] = session.published(1, { kind: 'stored', position: { epoch: 'e', offset: 1 } });
    // The connection closed: the session is parked.
    store.park(first.id, { user: ada, window: session.window.snapshot(), ...first.resume }, RECOVERY_WINDOW);

    clock.tick(RECOVERY_WINDOW - 1);
    const hello = { session: first.id, secret: first.secret };
    const resumed = openSession({ hello, connection, stored: store.load(hello.session), secrets, ids });
    assert.equal(resumed.resumed, true);
    assert.equal(resumed.id, first.id);
    assert.equal(resumed.secret, first.secret, 'the secret the client proved it holds is echoed');
    const again = newSession(clock, { id: resumed.id, window: new RequestWindow<unknown>(4, resumed.window) });
    assert.equal(again.window.acked, 1, 'welcome tells acked: 1');
    assert.deepEqual(again.publish(1, 'chat:a'), [ack], 'a resend after the resume gets the first answer');

    clock.tick(1);
    const late = openSession({ hello, connection, stored: store.load(hello.session), secrets, ids });
    assert.equal(late.resumed, false, 'expired with the recovery window');
    assert.equal(late.id, 's-2');
  });

  test('takeover: a live session resumed from another connection continues with the same window', () => {
    const clock = new FakeClock();
    const live = newSession(clock);
    live.request(3, 'm');
    live.checked(3, { ok: true });
    live.claimed(3, true);
    const [, reply] = live.ran(3, { kind: 'result', data: 42 });
    // The hub saves live sessions with their owner; a second connection presents the secret.
    const stored: StoredSession = { user: ada, window: live.window.snapshot(), secret: 'digest(secret-1)', anonymous: false };
    const taken = openSession({ hello: { session: 's-1', secret: 'secret-1' }, connection, stored, secrets, ids: countedIds() });
    assert.equal(taken.resumed, true);
    const successor = newSession(clock, { id: taken.id, window: new RequestWindow<unknown>(4, taken.window) });
    assert.deepEqual(successor.request(3, 'm'), [reply]);
  });

  test('a wrong secret or another user opens a new session instead', () => {
    const stored: StoredSession = { user: ada, window: { acked: 0, floor: 0, replies: [] }, secret: 'digest(right)' };
    const wrong = openSession({ hello: { session: 's-9', secret: 'wrong' }, connection, stored, secrets, ids: countedIds() });
    assert.equal(wrong.resumed, false);
    const other = openSession({ hello: { session: 's-9', secret: 'right' }, connection: { user: { name: 'bob' }, anonymous: false }, stored, secrets, ids: countedIds() });
    assert.equal(other.resumed, false);
    const missing = openSession({ hello: { session: 's-9' }, connection, stored, secrets, ids: countedIds() });
    assert.equal(missing.resumed, false);
  });

  test('the same user with its keys in another order resumes (identities compare by value, not by JSON text)', () => {
    const stored: StoredSession = { user: { roles: ['admin'], name: 'ada' }, window: { acked: 0, floor: 0, replies: [] }, secret: 'digest(right)' };
    const opened = openSession({ hello: { session: 's-9', secret: 'right' }, connection, stored, secrets, ids: countedIds() });
    assert.equal(opened.resumed, true);
  });

  test('an anonymous session is resumed by any anonymous connection with the secret, which becomes its user', () => {
    const stored: StoredSession = { user: { guest: 'g-1' }, window: { acked: 0, floor: 0, replies: [] }, secret: 'digest(right)', anonymous: true };
    const opened = openSession({ hello: { session: 's-9', secret: 'right' }, connection: { user: { guest: 'g-2' }, anonymous: true }, stored, secrets, ids: countedIds() });
    assert.equal(opened.resumed, true);
    assert.deepEqual(opened.user, { guest: 'g-1' });
    assert.deepEqual(opened.resume, { secret: 'digest(right)', anonymous: true });
  });
});
