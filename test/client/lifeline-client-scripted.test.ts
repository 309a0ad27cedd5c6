import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { seededRng } from '../../src/core/clock.js';
import type { ClientEnvironment } from '../../src/client/environment.js';
import { withOutbox } from '../../src/client/durable-outbox.js';
import { MemoryOutboxStore } from '../../src/client/outbox-store.js';
import { LifelineClient } from '../../src/client/lifeline-client.js';
import type { LifelineClientOptions } from '../../src/client/lifeline-client-types.js';
import { ReplyError } from '../../src/client/reply-error.js';
import { defaultRetryBackoff, resolveRetryBackoff } from '../../src/client/retry-policy.js';
import { InvalidOptionError } from '../../src/core/errors.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { scriptedSockets, type ScriptedSocket } from '../helpers/scripted-socket.js';

// The protocol state machine against a scripted socket: what the client writes for each thing
// the "server" says. Real-server behaviour is in lifeline-client.test.ts.

const steady: ClientEnvironment = { hidden: () => false, online: () => true, subscribe: () => () => undefined };

function setup(options: LifelineClientOptions = {}) {
  const clock = new FakeClock();
  const { WebSocket, sockets, latest } = scriptedSockets();
  const client = new LifelineClient('ws://test/ws', { clock, WebSocket, environment: steady, rng: seededRng(1), initialDelay: 100, ...options });
  /** What the client wrote on `socket`, decoded. */
  const sent = (socket: ScriptedSocket = latest()) => socket.sent.map((data) => JSON.parse(String(data)) as Record<string, unknown>);
  const say = (message: object, socket: ScriptedSocket = latest()) => socket.receive(JSON.stringify(message));
  /** Opens the next socket and welcomes it. */
  const welcome = async (session: string, resumed: boolean) => {
    await Promise.resolve();
    latest().open();
    say({ type: 'welcome', v: 1, session, resumed, recoveryWindow: 120_000, pingInterval: 25_000, acked: 0 });
  };
  /** Drops the link and lets the retry timer fire. */
  const drop = () => {
    latest().drop(1006);
    clock.tick(1_000);
  };
  return { clock, client, sockets, latest, sent, say, welcome, drop };
}

const ofType = (type: string) => (m: Record<string, unknown>) => m.type === type;

describe('LifelineClient: the protocol against a scripted socket', () => {
  test('hello first, with the session from the last welcome on every reconnect', async () => {
    const { client, sent, welcome, drop, sockets } = setup();
    const sessions: string[] = [];
    client.addEventListener('session', (e) => sessions.push(`${e.id} ${e.resumed}`));
    await welcome('s-1', false);
    assert.deepEqual(sent()[0], { type: 'hello', v: 1 });
    drop();
    await welcome('s-1', true);
    assert.equal(sockets.length, 2);
    assert.deepEqual(sent()[0], { type: 'hello', v: 1, session: 's-1' });
    assert.deepEqual(sessions, ['s-1 false', 's-1 true']);
    client.close();
  });

  test("hello carries the welcome's secret with the session; a new session's secret replaces it", async () => {
    const { client, sent, say, latest, drop } = setup();
    await Promise.resolve();
    latest().open();
    say({ type: 'welcome', v: 1, session: 's-1', secret: 'secret-one', member: 'm-1', resumed: false, recoveryWindow: 120_000, pingInterval: 25_000, acked: 0 });
    assert.equal(client.member, 'm-1');
    drop();
    await Promise.resolve();
    latest().open();
    assert.deepEqual(sent()[0], { type: 'hello', v: 1, session: 's-1', secret: 'secret-one' });
    say({ type: 'welcome', v: 1, session: 's-2', secret: 'secret-two', member: 'm-2', resumed: false, recoveryWindow: 120_000, pingInterval: 25_000, acked: 0 });
    drop();
    await Promise.resolve();
    latest().open();
    assert.deepEqual(sent()[0], { type: 'hello', v: 1, session: 's-2', secret: 'secret-two' });
    client.close();
  });

  test('publish with an idempotencyKey sends it with the message', async () => {
    const { client, sent, welcome } = setup();
    await welcome('s-1', false);
    client.publish('chat:a', { text: 'hi' }, { idempotencyKey: 'k-1' }).catch(() => undefined);
    await Promise.resolve();
    assert.deepEqual(sent().find(ofType('publish')), { type: 'publish', id: 1, channel: 'chat:a', data: { text: 'hi' }, idempotencyKey: 'k-1' });
    client.close();
  });

  test('ids grow by one per message within a session, across links', async () => {
    const { client, sent, welcome, drop } = setup();
    await welcome('s-1', false);
    client.subscribe('chat:a');
    const ignore = () => undefined;
    client.publish('chat:a', 1).catch(ignore);
    client.request('m', 2).catch(ignore);
    assert.deepEqual(sent().slice(1).map((m) => m.id), [1, 2, 3]);
    drop();
    await welcome('s-1', true);
    // resubscribe (new id 4), then the two unanswered messages with their own ids
    assert.deepEqual(sent().slice(1).map((m) => `${String(m.type)} ${String(m.id)}`), ['subscribe 4', 'publish 2', 'request 3']);
    client.publish('chat:a', 3).catch(ignore);
    assert.equal(sent().at(-1)?.id, 5);
    client.close();
  });

  test('a new session: sent-but-unanswered fails with outcome_unknown, never-sent goes out renumbered', async () => {
    const { client, sent, welcome, drop } = setup();
    await welcome('s-1', false);
    const sentEarly = client.request('charge', { cents: 100 });
    drop();
    const queued = client.publish('chat:a', 'later');
    await welcome('s-2', false);
    await assert.rejects(sentEarly, (e: unknown) => e instanceof ReplyError && e.code === 'outcome_unknown' && !e.remote);
    const publish = sent().find(ofType('publish'));
    // Numbering goes on across sessions (the request took 1): an id is never used twice by a client.
    assert.deepEqual(publish, { id: 2, type: 'publish', channel: 'chat:a', data: 'later' });
    assert.equal(sent().filter(ofType('request')).length, 0, 'the request is not resent');
    client.close();
    await assert.rejects(queued, (e: unknown) => e instanceof ReplyError && e.code === 'closed');
  });

  test('publishTimeout rejects with timeout, yet the publish stays queued and is resent with its id', async () => {
    const { clock, client, sent, say, welcome, drop } = setup({ publishTimeout: 5_000 });
    await welcome('s-1', false);
    const publish = client.publish('chat:a', 'x');
    const outcome = publish.then(
      () => 'resolved',
      (e: unknown) => (e instanceof ReplyError ? e.code : 'other'),
    );
    // t=0 sent as id 1; t=5000 the promise gives up; the message is still pending
    clock.tick(5_000);
    assert.equal(await outcome, 'timeout');
    drop();
    await welcome('s-1', true);
    assert.deepEqual(sent().slice(1), [{ id: 1, type: 'publish', channel: 'chat:a', data: 'x' }]);
    say({ type: 'ack', id: 1, position: { epoch: 'e', offset: 1 } }); // a late reply is dropped quietly
    assert.equal(client.state, 'ready');
    client.close();
  });

  test('events at or below the held position are dropped; a new epoch only arrives through subscribed', async () => {
    const { client, say, welcome, drop, sent } = setup();
    await welcome('s-1', false);
    const got: string[] = [];
    const recovered: boolean[] = [];
    const sub = client.subscribe('chat:a', { event: (e) => got.push(`${e.position.epoch}:${e.position.offset}`), subscribed: (e) => recovered.push(e.recovered) });
    say({ type: 'event', channel: 'chat:a', epoch: 'e1', offset: 1, data: 0 }); // before subscribed: not ours
    say({ type: 'subscribed', id: 1, channel: 'chat:a', position: { epoch: 'e1', offset: 1 }, recovered: true });
    for (const offset of [2, 3, 2, 1, 3]) say({ type: 'event', channel: 'chat:a', epoch: 'e1', offset, data: offset });
    say({ type: 'event', channel: 'chat:a', epoch: 'e2', offset: 9, data: 9 });
    drop();
    await welcome('s-1', true);
    assert.deepEqual(sent().find(ofType('subscribe'))?.since, { epoch: 'e1', offset: 3 });
    assert.equal(sub.state, 'subscribing');
    say({ type: 'subscribed', id: 2, channel: 'chat:a', position: { epoch: 'e2', offset: 9 }, recovered: false });
    say({ type: 'event', channel: 'chat:a', epoch: 'e2', offset: 10, data: 10 });
    assert.deepEqual(got, ['e1:2', 'e1:3', 'e2:10']);
    assert.deepEqual(recovered, [true, false]);
    assert.deepEqual(sub.position, { epoch: 'e2', offset: 10 });
    client.close();
  });

  test('rewind: only the unbroken run that ends at the head is delivered; a stray tail of an earlier subscription of the channel is dropped, not delivered before a gap', async () => {
    const { client, say, welcome, sent } = setup();
    await welcome('s-1', false);
    const event = (offset: number) => say({ type: 'event', channel: 'chat:a', epoch: 'e1', offset, data: offset });
    const first = client.subscribe('chat:a', { rewind: 2 });
    event(6);
    say({ type: 'subscribed', id: 1, channel: 'chat:a', position: { epoch: 'e1', offset: 6 }, recovered: true });
    first.unsubscribe();
    const got: string[] = [];
    const again = client.subscribe('chat:a', { rewind: 2, event: (e) => got.push(`${e.position.offset}`), subscribed: (e) => got.push(`subscribed@${e.position.offset}`) });
    const id = sent().filter(ofType('subscribe')).at(-1)?.id;
    event(7); // the first subscription's tail, sent before the server took the unsubscribe
    event(19);
    event(20);
    event(20); // a repeat is delivered once
    say({ type: 'subscribed', id, channel: 'chat:a', position: { epoch: 'e1', offset: 20 }, recovered: true });
    assert.deepEqual(got, ['19', '20', 'subscribed@20']);
    assert.deepEqual(again.position, { epoch: 'e1', offset: 20 });
    client.close();
  });

  test('subscriptions go out with the hello, before the welcome; ids of a new session start above theirs', async () => {
    const { client, say, latest, sent, drop } = setup();
    const log: string[] = [];
    client.addEventListener('ready', () => log.push('ready'));
    client.subscribe('chat:a');
    client.subscribe('chat:b');
    await Promise.resolve();
    latest().open();
    assert.deepEqual(sent().map((m) => [m.type, m.id, m.channel]), [['hello', undefined, undefined], ['subscribe', 1, 'chat:a'], ['subscribe', 2, 'chat:b']], 'nothing waited for a welcome');
    say({ type: 'welcome', v: 1, session: 's-1', resumed: false, recoveryWindow: 120_000, pingInterval: 25_000, acked: 0 });
    const first = client.publish('chat:a', 'one');
    assert.equal(sent().find(ofType('publish'))?.id, 3, 'not an id a subscribe awaits');
    say({ type: 'subscribed', id: 1, channel: 'chat:a', position: { epoch: 'e', offset: 0 }, recovered: true });
    assert.deepEqual(log, [], 'ready waits for every subscribe sent with the hello');
    say({ type: 'subscribed', id: 2, channel: 'chat:b', position: { epoch: 'e', offset: 0 }, recovered: true });
    assert.deepEqual(log, ['ready']);
    say({ type: 'ack', id: 3, position: { epoch: 'e', offset: 1 } });
    assert.deepEqual(await first, { epoch: 'e', offset: 1 });
    // The server lost the session: the new one numbers from above the subscribes of this link.
    drop();
    await Promise.resolve();
    latest().open();
    assert.deepEqual(sent().map((m) => [m.type, m.id]), [['hello', undefined], ['subscribe', 4], ['subscribe', 5]]);
    say({ type: 'welcome', v: 1, session: 's-2', resumed: false, recoveryWindow: 120_000, pingInterval: 25_000, acked: 0 });
    client.publish('chat:a', 'two').catch(() => undefined);
    assert.equal(sent().find(ofType('publish'))?.id, 6);
    client.close();
  });

  test('ready waits for every resubscribe; the subscription moves subscribing -> subscribed -> subscribing', async () => {
    const { client, say, welcome, drop } = setup();
    const states: string[] = [];
    const log: string[] = [];
    client.addEventListener('ready', (e) => log.push(`ready ${e.resumed}`));
    const sub = client.subscribe('chat:a', { state: (e) => states.push(`${e.from}>${e.to}`), subscribed: () => log.push('subscribed') });
    await welcome('s-1', false);
    assert.equal(client.state, 'open');
    say({ type: 'subscribed', id: 1, channel: 'chat:a', position: { epoch: 'e', offset: 0 }, recovered: true });
    assert.equal(client.state, 'ready');
    drop();
    await welcome('s-1', true);
    say({ type: 'subscribed', id: 2, channel: 'chat:a', position: { epoch: 'e', offset: 0 }, recovered: true });
    assert.deepEqual(log, ['subscribed', 'ready false', 'subscribed', 'ready true']);
    assert.deepEqual(states, ['unsubscribed>subscribing', 'subscribing>subscribed', 'subscribed>subscribing', 'subscribing>subscribed']);
    assert.equal(client.subscribe('chat:a'), sub, 'the same channel gives the same subscription');
    client.close();
    assert.equal(sub.state, 'unsubscribed');
  });

  test('a subscription unsubscribed by a listener while the link drops stays ended: its ready() rejects, it is not resubscribed', async () => {
    const { client, say, welcome, drop, sent } = setup();
    const a = client.subscribe('chat:a');
    const b = client.subscribe('chat:b');
    await welcome('s-1', false);
    say({ type: 'subscribed', id: 1, channel: 'chat:a', position: { epoch: 'e', offset: 0 }, recovered: true });
    say({ type: 'subscribed', id: 2, channel: 'chat:b', position: { epoch: 'e', offset: 0 }, recovered: true });
    assert.equal(client.state, 'ready');
    // The first subscription's listener ends the second while the client is moving them all to subscribing.
    a.addEventListener('state', (e) => e.to === 'subscribing' && b.unsubscribe());
    const bStates: string[] = [];
    b.addEventListener('state', (e) => bStates.push(`${e.from}>${e.to}`));
    drop();
    assert.deepEqual(bStates, ['subscribed>unsubscribed']);
    assert.equal(b.state, 'unsubscribed');
    await assert.rejects(b.ready(), (e: unknown) => e instanceof ReplyError && e.code === 'unsubscribed');
    await welcome('s-1', true);
    assert.deepEqual(sent().filter(ofType('subscribe')).map((m) => m.channel), ['chat:a']);
    say({ type: 'subscribed', id: 3, channel: 'chat:a', position: { epoch: 'e', offset: 0 }, recovered: true });
    assert.equal(client.state, 'ready');
    client.close();
  });

  test('a subscription made in a session listener (while the session is being restored) is one ready waits for', async () => {
    const { client, say, welcome } = setup();
    client.subscribe('chat:a');
    client.addEventListener('session', () => client.subscribe('chat:b'));
    const atReady: string[] = [];
    client.addEventListener('ready', () => {
      for (const sub of client.subscriptions.values()) atReady.push(`${sub.channel} ${sub.state}`);
    });
    await welcome('s-1', false);
    say({ type: 'subscribed', id: 1, channel: 'chat:a', position: { epoch: 'e', offset: 0 }, recovered: true });
    assert.equal(client.state, 'open', 'not ready while chat:b is not confirmed');
    say({ type: 'subscribed', id: 2, channel: 'chat:b', position: { epoch: 'e', offset: 0 }, recovered: true });
    assert.equal(client.state, 'ready');
    assert.deepEqual(atReady, ['chat:a subscribed', 'chat:b subscribed']);
    client.close();
  });

  test('a refused subscription reports the server code and ends', async () => {
    const { client, say, welcome } = setup();
    await welcome('s-1', false);
    const errors: string[] = [];
    const sub = client.subscribe('secret:x', { error: (e) => errors.push(e.error.code) });
    const ready = sub.ready();
    say({ type: 'error', id: 1, code: 'forbidden', message: 'no' });
    await assert.rejects(ready, (e: unknown) => e instanceof ReplyError && e.code === 'forbidden' && e.remote);
    assert.deepEqual(errors, ['forbidden']);
    assert.equal(sub.state, 'unsubscribed');
    assert.equal(client.subscriptions.has('secret:x'), false);
    client.close();
  });

  test('direct messages: each seq once, acknowledged after the listeners, a repeat re-acknowledged', async () => {
    const { client, say, welcome, sent } = setup();
    await welcome('s-1', false);
    const got: unknown[] = [];
    client.addEventListener('message', (e) => {
      got.push(e.data);
      assert.equal(sent().filter(ofType('ack')).length, got.length - 1, 'not acknowledged before the listener ran');
    });
    say({ type: 'message', seq: 1, data: 'a' });
    say({ type: 'message', seq: 2, data: 'b' });
    say({ type: 'message', seq: 2, data: 'b' });
    assert.deepEqual(got, ['a', 'b']);
    assert.deepEqual(sent().filter(ofType('ack')).map((m) => m.seq), [1, 2, 2]);
    client.close();
  });

  test('close() from a listener stops the rest of the step: no ack, no ready', async () => {
    const { client, say, welcome, sent } = setup();
    await welcome('s-1', false);
    client.addEventListener('message', () => client.close());
    say({ type: 'message', seq: 1, data: 'a' });
    assert.equal(sent().filter(ofType('ack')).length, 0);
    assert.equal(client.state, 'closed');
  });

  test('close() rejects everything pending with closed and never reconnects', async () => {
    const { clock, client, welcome, sockets, latest } = setup();
    await welcome('s-1', false);
    const pending = [client.publish('chat:a', 1), client.request('m'), client.subscribe('chat:a').ready()];
    client.close();
    for (const p of pending) await assert.rejects(p, (e: unknown) => e instanceof ReplyError && (e.code === 'closed'));
    latest().drop(1000, '', true);
    clock.tick(600_000);
    assert.equal(sockets.length, 1);
    assert.equal(clock.pending, 0, 'no timer left');
    assert.equal(client.state, 'closed');
    await assert.rejects(client.publish('chat:a', 2), (e: unknown) => e instanceof ReplyError && e.code === 'closed');
    assert.throws(() => client.subscribe('chat:b'), ReplyError);
  });

  test('giving up rejects pending with closed; subscriptions wait for reconnect()', async () => {
    const { clock, client, welcome, latest, sent } = setup({ maxAttempts: 1 });
    await welcome('s-1', false);
    const sub = client.subscribe('chat:a');
    const request = client.request('m');
    latest().drop(1006);
    clock.tick(1_000);
    latest().drop(1006); // the one retry fails too
    await assert.rejects(request, (e: unknown) => e instanceof ReplyError && e.code === 'closed');
    assert.equal(client.state, 'closed');
    assert.equal(sub.state, 'subscribing');
    client.reconnect();
    await welcome('s-1', true);
    assert.deepEqual(sent().slice(1).map((m) => m.type), ['subscribe']);
    client.close();
  });

  test('unsubscribe() sends unsubscribe, ends the subscription and drops later events of the channel', async () => {
    const { client, say, welcome, sent } = setup();
    await welcome('s-1', false);
    const got: unknown[] = [];
    const sub = client.subscribe('chat:a', { event: (e) => got.push(e.data) });
    say({ type: 'subscribed', id: 1, channel: 'chat:a', position: { epoch: 'e', offset: 0 }, recovered: true });
    sub.unsubscribe();
    say({ type: 'event', channel: 'chat:a', epoch: 'e', offset: 1, data: 'late' });
    assert.deepEqual(sent().at(-1), { type: 'unsubscribe', id: 2, channel: 'chat:a' });
    assert.deepEqual(got, []);
    assert.equal(sub.state, 'unsubscribed');
    assert.notEqual(client.subscribe('chat:a'), sub, 'subscribing again makes a new subscription');
    client.close();
  });

  test('data JSON cannot carry rejects the publish at once; a connection-level error is an error event', async () => {
    const { client, say, welcome, latest } = setup();
    await welcome('s-1', false);
    await assert.rejects(client.publish('chat:a', { n: 1n }), TypeError);
    const errors: string[] = [];
    client.addEventListener('error', (e) => errors.push((e.error as ReplyError).code));
    say({ type: 'error', code: 'bad_json', message: 'message is not valid JSON' });
    // No JSON, or JSON with no string `type`: none of them is a protocol message.
    for (const text of ['not json', 'null', '"text"', '[1]', '{"type":1}', '{}']) latest().receive(text);
    assert.deepEqual(errors, ['bad_json', 'bad_message', 'bad_message', 'bad_message', 'bad_message', 'bad_message', 'bad_message']);
    client.close();
  });

  test('transport lifecycle events are re-dispatched on the client', async () => {
    const { client, welcome, latest } = setup();
    const seen: string[] = [];
    for (const type of ['connecting', 'open', 'close', 'reconnecting'] as const) client.addEventListener(type, () => seen.push(type));
    client.addEventListener('close', (e) => seen.push(`${e.code} ${e.willReconnect}`));
    client.addEventListener('statechange', (e) => seen.push(`${e.from}>${e.to}`));
    await welcome('s-1', false);
    latest().drop(1006);
    assert.deepEqual(seen, ['connecting', 'connecting>open', 'open', 'open>ready', 'ready>reconnecting', 'close', '1006 true', 'reconnecting']);
    client.close();
  });

  test('a close event re-dispatched from a platform CloseEvent keeps code, reason and wasClean (accessors on its prototype)', async () => {
    // As browsers (and Node 23+) define it: the fields are WebIDL attributes, not own properties.
    class PlatformCloseEvent extends Event {
      readonly #init: CloseEventInit;
      constructor(type: string, init: CloseEventInit = {}) {
        super(type);
        this.#init = init;
      }
      get code(): number {
        return this.#init.code ?? 0;
      }
      get reason(): string {
        return this.#init.reason ?? '';
      }
      get wasClean(): boolean {
        return this.#init.wasClean ?? false;
      }
    }
    const platform = Object.getOwnPropertyDescriptor(globalThis, 'CloseEvent');
    Object.defineProperty(globalThis, 'CloseEvent', { value: PlatformCloseEvent, configurable: true, writable: true });
    try {
      const { client, welcome, latest } = setup();
      const heard: string[] = [];
      // The client forwards from its own transport listener, added first: it hears each close first.
      const record = (source: string) => (e: Event) => {
        const close = e as Event & { code: number; reason: string; wasClean: boolean; willReconnect: boolean; action: string };
        heard.push(`${source} ${close instanceof PlatformCloseEvent} ${close.code} "${close.reason}" ${close.wasClean} ${close.willReconnect} ${close.action}`);
      };
      client.transport.addEventListener('close', record('transport'));
      client.addEventListener('close', record('client'));
      await welcome('s-1', false);
      latest().drop(1012, 'restarting', true);
      await welcome('s-1', true);
      client.close();
      latest().drop(1000, '', true);
      assert.deepEqual(heard, [
        'client true 1012 "restarting" true true reconnect',
        'transport true 1012 "restarting" true true reconnect',
        'client true 1000 "" true false stop',
        'transport true 1000 "" true false stop',
      ]);
    } finally {
      if (platform) Object.defineProperty(globalThis, 'CloseEvent', platform);
      else delete (globalThis as { CloseEvent?: unknown }).CloseEvent;
    }
  });

  test('a resubscribe refused with unavailable is retried with backoff from its position; ready waits for it; recovered is the server’s', async () => {
    const { clock, client, say, welcome, drop, sent } = setup({ retry: { initialDelay: 400, jitter: 'none' } });
    await welcome('s-1', false);
    const log: string[] = [];
    const sub = client.subscribe('chat:a', {
      retrying: (e) => log.push(`retrying ${e.attempt} ${e.delayMs} ${e.error.code}`),
      subscribed: (e) => log.push(`subscribed ${e.recovered}`),
      caughtup: (e) => log.push(`caughtup ${e.position.offset}`),
      error: (e) => log.push(`error ${e.error.code}`),
    });
    say({ type: 'subscribed', id: 1, channel: 'chat:a', position: { epoch: 'e', offset: 4 }, recovered: true });
    assert.equal(sub.caughtUp, true);
    drop();
    client.addEventListener('ready', () => log.push('ready'));
    await welcome('s-1', true);
    assert.equal(sub.caughtUp, false);
    say({ type: 'error', id: 2, code: 'unavailable', message: 'broker down' });
    assert.equal(sub.state, 'subscribing', 'a transient refusal does not end the subscription');
    assert.deepEqual(sub.retry && { attempt: sub.retry.attempt, delayMs: sub.retry.delayMs }, { attempt: 1, delayMs: 400 });
    assert.equal(client.state, 'open', 'not ready while a subscription is being retried');
    clock.tick(399);
    assert.equal(sent().filter(ofType('subscribe')).length, 1, 'no retry before its delay');
    clock.tick(1);
    say({ type: 'error', id: 3, code: 'failed' });
    clock.tick(800);
    const subscribes = sent().filter(ofType('subscribe'));
    assert.deepEqual(subscribes.map((m) => m.id), [2, 3, 4]);
    assert.ok(subscribes.every((m) => JSON.stringify(m.since) === JSON.stringify({ epoch: 'e', offset: 4 })), 'every attempt resumes from the last position');
    say({ type: 'event', channel: 'chat:a', epoch: 'e', offset: 5, data: 5 });
    say({ type: 'subscribed', id: 4, channel: 'chat:a', position: { epoch: 'e', offset: 5 }, recovered: true });
    assert.equal(sub.state, 'subscribed');
    assert.equal(sub.retry, undefined);
    assert.equal(client.state, 'ready');
    assert.deepEqual(log, ['subscribed true', 'caughtup 4', 'retrying 1 400 unavailable', 'retrying 2 800 failed', 'subscribed true', 'caughtup 5', 'ready']);
    client.close();
  });

  test('a first subscribe refused for now is retried; unsubscribe() during the wait ends it and nothing more is sent', async () => {
    const { clock, client, say, welcome, sent } = setup({ retry: { initialDelay: 100, jitter: 'none', maxDelay: 150 } });
    await welcome('s-1', false);
    const sub = client.subscribe('chat:a');
    const delays: number[] = [];
    sub.addEventListener('retrying', (e) => delays.push(e.delayMs));
    for (let attempt = 0; attempt < 3; attempt++) {
      say({ type: 'error', id: sent().filter(ofType('subscribe')).at(-1)?.id, code: 'unavailable' });
      clock.tick(150);
    }
    assert.deepEqual(delays, [100, 150, 150], 'backoff grows up to maxDelay and never gives up by itself');
    say({ type: 'error', id: 4, code: 'unavailable' });
    sub.unsubscribe();
    clock.tick(10_000);
    assert.equal(sent().filter(ofType('subscribe')).length, 4);
    assert.equal(sub.state, 'unsubscribed');
    client.close();
  });

  test('a retry due while the link is down waits for the resubscribe of the next link', async () => {
    const { clock, client, say, welcome, drop, sent } = setup({ retry: { initialDelay: 5_000, jitter: 'none' } });
    await welcome('s-1', false);
    client.subscribe('chat:a');
    say({ type: 'error', id: 1, code: 'unavailable' });
    drop(); // ticks 1 000
    clock.tick(5_000);
    await welcome('s-1', true);
    assert.deepEqual(sent().filter(ofType('subscribe')).map((m) => m.id), [2], 'one resubscribe on the new link, none from the old timer');
    clock.tick(10_000);
    assert.equal(sent().filter(ofType('subscribe')).length, 1);
    client.close();
  });

  test('a publish refused with unavailable is resent under the same id until acknowledged, once', async () => {
    const { clock, client, say, welcome, sent } = setup({ retry: { initialDelay: 200, jitter: 'none' }, retryDeadline: 5_000 });
    await welcome('s-1', false);
    const publish = client.publish('chat:a', 'x');
    const request = client.request('m');
    say({ type: 'error', id: 1, code: 'unavailable', message: 'the message could not be published; nothing was published' });
    say({ type: 'error', id: 2, code: 'unavailable' });
    clock.tick(200);
    say({ type: 'error', id: 1, code: 'unavailable' });
    clock.tick(400);
    assert.deepEqual(sent().slice(1).map((m) => `${String(m.type)} ${String(m.id)}`), ['publish 1', 'request 2', 'publish 1', 'request 2', 'publish 1']);
    say({ type: 'ack', id: 1, position: { epoch: 'e', offset: 7 } });
    say({ type: 'result', id: 2, data: 'done' });
    assert.deepEqual(await publish, { epoch: 'e', offset: 7 });
    assert.equal(await request, 'done');
    client.close();
  });

  test('with a durable outbox too, a publish refused unavailable waits out its backoff: a later publish does not take it along', async () => {
    const { clock, client, say, latest, sent } = setup({ retry: { initialDelay: 1_000, jitter: 'none' }, retryDeadline: 10_000, outbox: withOutbox(new MemoryOutboxStore()) });
    /** Lets the store's load and saves run. */
    const saved = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    await saved();
    latest().open();
    await saved();
    say({ type: 'welcome', v: 1, session: 's-1', resumed: false, recoveryWindow: 120_000, pingInterval: 25_000, acked: 0 });
    const first = client.publish('chat:a', 'x');
    await saved();
    say({ type: 'error', id: 1, code: 'unavailable' });
    const later = [client.publish('chat:a', 'y'), client.publish('chat:a', 'z')];
    await saved();
    const published = () => sent().filter(ofType('publish')).map((m) => `${String(m.data)} ${String(m.id)}`);
    assert.deepEqual(published(), ['x 1', 'y 2', 'z 3'], 'the refused one is not resent before its delay');
    clock.tick(1_000);
    assert.deepEqual(published(), ['x 1', 'y 2', 'z 3', 'x 1'], 'resent once, after its delay, under its id');
    say({ type: 'ack', id: 1, position: { epoch: 'e', offset: 3 } });
    assert.deepEqual(await first, { epoch: 'e', offset: 3 });
    client.close();
    await Promise.allSettled(later);
  });

  test('no welcome within connectTimeout of the hello drops the link as a connect timeout, heartbeat on or off; a welcome in time keeps it', async () => {
    for (const heartbeat of [true, false]) {
      const { clock, client, latest, say, sockets } = setup({ heartbeat, connectTimeout: 3_000 });
      const closes: string[] = [];
      client.addEventListener('close', (e) => closes.push(`${e.code} ${e.reason} ${e.willReconnect}`));
      await Promise.resolve();
      latest().open();
      clock.tick(2_999);
      assert.deepEqual(closes, [], `heartbeat ${heartbeat}: not yet`);
      clock.tick(1);
      assert.deepEqual(closes, ['1006 connect timeout true'], `heartbeat ${heartbeat}`);
      assert.deepEqual(latest().closedWith, { code: 4408, reason: 'connect timeout' });
      clock.tick(1_000); // the retry
      assert.equal(sockets.length, 2);
      latest().open();
      clock.tick(2_999);
      say({ type: 'welcome', v: 1, session: 's-1', resumed: false, recoveryWindow: 120_000, pingInterval: 25_000, acked: 0 });
      clock.tick(20_000);
      assert.equal(client.state, 'ready');
      assert.equal(closes.length, 1, 'welcomed in time: the link stays');
      client.close();
      // Until the server answers the close, closeTimeout bounds the wait; then no timer is left.
      assert.equal(clock.pending, 1, 'the close is bounded');
      latest().drop(1000, '', true);
      assert.equal(clock.pending, 0, 'no timer left');
    }
  });

  test('heartbeat settings given as undefined keep their defaults, as the other options do', async () => {
    const { clock, client, welcome } = setup({ heartbeat: { watchdog: undefined, pingInterval: 0 }, connectTimeout: undefined });
    const closes: string[] = [];
    client.addEventListener('close', (e) => closes.push(e.reason));
    await welcome('s-1', false);
    clock.tick(34_999);
    assert.equal(client.state, 'ready');
    clock.tick(1); // the default watchdog, 35 s
    assert.deepEqual(closes, ['heartbeat timeout']);
    client.close();
  });

  test('retry settings given as undefined keep their defaults (full jitter included), as the other options do', () => {
    assert.deepEqual(resolveRetryBackoff({ initialDelay: undefined, factor: undefined, maxDelay: undefined, jitter: undefined }), defaultRetryBackoff);
    const { client } = setup({ retry: { initialDelay: undefined, jitter: undefined } });
    client.close();
  });

  test('options refused at construction leave nothing behind: no socket is opened, nothing reconnects', async () => {
    for (const options of [{ retry: { factor: 0.5 } }, { retryDeadline: -1 }, { heartbeat: { maxMissed: -1 } }, { heartbeat: { pingInterval: -1 } }]) {
      const clock = new FakeClock();
      const { WebSocket, sockets } = scriptedSockets();
      assert.throws(() => new LifelineClient('ws://test/ws', { clock, WebSocket, environment: steady, ...options }), (error: unknown) => error instanceof InvalidOptionError);
      await Promise.resolve(); // when the first attempt would start
      clock.tick(600_000);
      assert.equal(sockets.length, 0, JSON.stringify(options));
      assert.equal(clock.pending, 0);
    }
  });

  test('what the transport refuses (a bad URL, connectTimeout 0, no WebSocket) is refused before the modules start: the store is never loaded', async () => {
    let loads = 0;
    let refreshes = 0;
    const store = withOutbox({ load: async () => void loads++, save: async () => undefined });
    const refreshToken = { attach: () => void refreshes++ as never };
    const { WebSocket, sockets } = scriptedSockets();
    const refused: [what: string, url: string, options: LifelineClientOptions, error: new (...args: never[]) => Error][] = [
      ['a URL that is no URL', 'not a url', {}, DOMException],
      ['a URL of another scheme', 'ftp://test/ws', {}, DOMException],
      ['connectTimeout 0', 'ws://test/ws', { connectTimeout: 0 }, InvalidOptionError],
      // No WebSocket option, and none on the platform (Node 20 without a flag, say).
      ['no WebSocket', 'ws://test/ws', { WebSocket: undefined }, InvalidOptionError],
    ];
    const platform = Object.getOwnPropertyDescriptor(globalThis, 'WebSocket');
    Object.defineProperty(globalThis, 'WebSocket', { value: undefined, configurable: true, writable: true });
    try {
      for (const [what, url, options, error] of refused) {
        assert.throws(() => new LifelineClient(url, { WebSocket, environment: steady, outbox: store, refreshToken, ...options }), error, what);
        assert.deepEqual([loads, refreshes], [0, 0], what);
      }
    } finally {
      if (platform) Object.defineProperty(globalThis, 'WebSocket', platform);
      else delete (globalThis as { WebSocket?: unknown }).WebSocket;
    }
    await Promise.resolve(); // when a first attempt would start
    assert.equal(sockets.length, 0);
  });

  test('past retryDeadline (or with retryDeadline 0) unavailable rejects the publish; other refusals are never retried', async () => {
    const { clock, client, say, welcome, sent } = setup({ retry: { initialDelay: 1_000, jitter: 'none' }, retryDeadline: 2_500 });
    await welcome('s-1', false);
    const publish = client.publish('chat:a', 'x');
    const forbidden = client.publish('secret:a', 'y');
    say({ type: 'error', id: 2, code: 'forbidden' });
    await assert.rejects(forbidden, (e: unknown) => e instanceof ReplyError && e.code === 'forbidden');
    say({ type: 'error', id: 1, code: 'unavailable' });
    clock.tick(1_000);
    say({ type: 'error', id: 1, code: 'unavailable' }); // the next delay (2 000) would pass the deadline
    await assert.rejects(publish, (e: unknown) => e instanceof ReplyError && e.code === 'unavailable' && e.remote);
    clock.tick(10_000);
    assert.equal(sent().filter(ofType('publish')).length, 3);
    client.close();

    const none = setup({ retryDeadline: 0 });
    await none.welcome('s-2', false);
    const once = none.client.publish('chat:a', 'z');
    none.say({ type: 'error', id: 1, code: 'unavailable' });
    await assert.rejects(once, (e: unknown) => e instanceof ReplyError && e.code === 'unavailable');
    none.client.close();
  });

  test('a server that says 1013 (try again later) after hello never exhausts maxAttempts: the client keeps coming back', async () => {
    const { clock, client, welcome, latest, sockets } = setup({ maxAttempts: 1, maxDelay: 2_000 });
    await welcome('s-1', false);
    let gaveUp = false;
    client.addEventListener('giveup', () => (gaveUp = true));
    for (let round = 0; round < 5; round++) {
      latest().drop(1013, 'try again later', true);
      clock.tick(2_000);
      await Promise.resolve();
      latest().open();
    }
    assert.equal(gaveUp, false);
    assert.equal(sockets.length, 6, 'one new attempt per 1013');
    latest().drop(1006);
    clock.tick(2_000);
    latest().drop(1006);
    assert.equal(gaveUp, true, 'other closes still spend the budget');
    client.close();
  });
});
