import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { LifelineClient, NodeWebSocket, ReplyError, type LifelineClientOptions, type LifelineCloseEvent, type ReconnectingEvent, type Subscription } from '../../src/client/node.js';
import { LifelineClient as BrowserLifelineClient, withOutbox, withTokenRefresh } from '../../src/client/index.js';
import { InvalidOptionError } from '../../src/core/errors.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { MemoryBroker } from '../../src/broker/memory-broker.js';
import type { Position } from '../../src/core/position.js';
import { RequestError } from '../../src/server/protocol/request-error.js';
import { createServer, type LifelineServer } from '../../src/server/server.js';
import type { ServerOptions } from '../../src/server/options.js';
import { startServer, type ServerFixture } from '../../src/testing/server-fixture.js';
import { until, within } from '../helpers/wait.js';
import { Gate } from '../helpers/gate.js';

const channels = {
  chat: { history: { size: 100, ttl: 300_000 }, presence: true },
  small: { history: { size: 2, ttl: 300_000 } },
};
const quiet = pino({ level: 'silent' });
const fast = { initialDelay: 10, maxDelay: 50 };


function connect(url: string, gate = new Gate(), options: LifelineClientOptions = {}): LifelineClient {
  return new LifelineClient(() => gate.wait().then(() => url), { ...fast, ...options });
}

/** Resolves once `check()` holds, re-checking on each `type` event of `target` (bounded). */
async function when(target: EventTarget, type: string, check: () => boolean, ms = 5_000): Promise<void> {
  if (!check()) await until(target, type, check, ms);
}

/** Every event the subscription delivers, as `offset:data`. */
function record(sub: Subscription): string[] {
  const got: string[] = [];
  sub.addEventListener('event', (e) => got.push(`${e.position.offset}:${JSON.stringify(e.data)}`));
  return got;
}

function serverOn(port: number, options: ServerOptions<unknown> = {}): Promise<LifelineServer<unknown>> {
  const server = createServer({ port, host: '127.0.0.1', logger: quiet, channels, ...options });
  return server.listen().then(() => server);
}

/** Drops the server side of every connection at once (no close frame: the client sees 1006). */
async function dropLinks(fixture: ServerFixture<unknown>, client: LifelineClient): Promise<void> {
  const closed = until(client, 'close', () => true);
  for (const connection of fixture.server.connections) connection.terminate();
  await within(closed, 5_000, 'the client saw the drop');
}

const restart = { code: 1012, retryAfter: 10, retrySpread: 10, drainTimeout: 1_000 } as const;

function code(expected: string) {
  return (error: unknown) => error instanceof ReplyError && error.code === expected;
}

describe('LifelineClient against a real Lifeline server', () => {
  test('a subscription gets events from another client and from server.publish, in order; publish resolves with the position', async () => {
    const fixture = await startServer({ channels });
    const a = connect(fixture.wsUrl);
    const b = connect(fixture.wsUrl);
    try {
      const sub = a.subscribe('chat:room');
      const got = record(sub);
      const first = await within(sub.ready(), 5_000, 'subscribed');
      assert.equal(first.recovered, true);
      await within(b.ready(), 5_000, 'b ready');
      const positions: Position[] = [await b.publish('chat:room', 'one'), await fixture.server.publish('chat:room', 'two'), await b.publish('chat:room', 'three')];
      assert.deepEqual(positions.map((p) => p.offset), [1, 2, 3]);
      assert.equal(new Set(positions.map((p) => p.epoch)).size, 1);
      await when(sub, 'event', () => got.length === 3);
      assert.deepEqual(got, ['1:"one"', '2:"two"', '3:"three"']);
      assert.deepEqual(sub.position, positions[2]);
      assert.equal(a.transport.options.WebSocket, NodeWebSocket, 'the node entry puts ws underneath');
      assert.equal(a.transport.protocol, 'lifeline.v1');
    } finally {
      a.close();
      b.close();
      await fixture.close();
    }
  });

  test('request resolves with the handler result; a RequestError code and message surface on the rejection', async () => {
    const fixture = await startServer({ channels });
    fixture.server.handle('add', (params) => {
      const { x, y } = params as { x: number; y: number };
      return x + y;
    });
    fixture.server.handle('rooms.create', () => {
      throw new RequestError('exists', 'a room with that name exists');
    });
    const client = connect(fixture.wsUrl);
    try {
      assert.equal(await within(client.request('add', { x: 2, y: 3 }), 5_000, 'add'), 5);
      await assert.rejects(client.request('rooms.create', { name: 'ops' }), (e: unknown) => e instanceof ReplyError && e.code === 'exists' && e.message === 'a room with that name exists' && e.remote);
      await assert.rejects(client.request('nope'), code('no_method'));
      await assert.rejects(client.publish('unknown:x', 1), code('bad_channel'));
    } finally {
      client.close();
      await fixture.close();
    }
  });

  test('after a dropped link the session resumes and every event missed meanwhile arrives once, in order, recovered: true', async () => {
    const fixture = await startServer({ channels });
    const gate = new Gate();
    const client = connect(fixture.wsUrl, gate);
    try {
      const recovered: boolean[] = [];
      const sub = client.subscribe('chat:room', { subscribed: (e) => recovered.push(e.recovered) });
      const got = record(sub);
      await within(sub.ready(), 5_000, 'subscribed');
      await fixture.server.publish('chat:room', 0);
      await when(sub, 'event', () => got.length === 1);
      const session = client.session;
      gate.close();
      await dropLinks(fixture, client);
      assert.equal(sub.state, 'subscribing');
      for (let n = 1; n <= 10; n++) await fixture.server.publish('chat:room', n);
      const ready = until(client, 'ready', () => true);
      gate.open();
      assert.equal(((await within(ready, 5_000, 'ready again')) as Event & { resumed: boolean }).resumed, true);
      assert.equal(client.session, session);
      await when(sub, 'event', () => got.length === 11);
      assert.deepEqual(got, Array.from({ length: 11 }, (_, n) => `${n + 1}:${n}`));
      assert.deepEqual(recovered, [true, true]);
      await fixture.server.publish('chat:room', 11);
      await when(sub, 'event', () => got.length === 12);
      assert.equal(got.at(-1), '12:11');
    } finally {
      client.close();
      await fixture.close();
    }
  });

  test("rewind: a new subscription gets the last events once, then live ones; after a dropped link it recovers from the rewind's head, no duplicate", async () => {
    const fixture = await startServer({ channels });
    const gate = new Gate();
    const client = connect(fixture.wsUrl, gate);
    try {
      for (let n = 1; n <= 5; n++) await fixture.server.publish('chat:room', n);
      const order: string[] = [];
      const sub = client.subscribe('chat:room', { rewind: 3, subscribed: (e) => order.push(`subscribed@${e.position.offset}`) });
      const got = record(sub);
      sub.addEventListener('event', (e) => order.push(`event@${e.position.offset}`));
      await within(sub.ready(), 5_000, 'subscribed');
      assert.deepEqual(got, ['3:3', '4:4', '5:5']);
      assert.deepEqual(order, ['event@3', 'event@4', 'event@5', 'subscribed@5'], 'the rewind comes before subscribed');
      gate.close();
      await dropLinks(fixture, client);
      await fixture.server.publish('chat:room', 6);
      const ready = until(client, 'ready', () => true);
      gate.open();
      await within(ready, 5_000, 'ready again');
      await when(sub, 'event', () => got.length === 4);
      await fixture.server.publish('chat:room', 7);
      await when(sub, 'event', () => got.length === 5);
      assert.deepEqual(got, ['3:3', '4:4', '5:5', '6:6', '7:7'], 'each event once, in order');
      // By age: everything was published just now, so '1m' gives the whole history.
      const other = connect(fixture.wsUrl);
      try {
        const aged = other.subscribe('chat:room', { rewind: '1m' });
        const seen = record(aged);
        await within(aged.ready(), 5_000, 'subscribed by age');
        assert.deepEqual(seen, ['1:1', '2:2', '3:3', '4:4', '5:5', '6:6', '7:7']);
      } finally {
        other.close();
      }
      for (const rewind of ['2 minutes', 0, 1.5, 10_001, '8d', '169h', '0s', ''] as const) {
        assert.throws(() => client.subscribe('chat:other', { rewind }), /rewind: wants 1-10000 events or an age up to 7 days/, `rewind ${JSON.stringify(rewind)}`);
      }
      assert.equal(client.subscriptions.has('chat:other'), false, 'a refused rewind subscribes nothing');
    } finally {
      client.close();
      await fixture.close();
    }
  });

  test('rewind: a link that drops in the middle of the rewind leaves nothing of it behind: the next subscribe rewinds afresh, each event once, in order, no gap', async () => {
    const fixture = await startServer({ channels });
    const gate = new Gate();
    let links = 0;
    /** The first link dies at its second event message (the rewind's replay), before `subscribed`. */
    class DropsMidRewind extends NodeWebSocket {
      readonly #link = ++links;
      #events = 0;
      override emit(name: string | symbol, ...args: unknown[]): boolean {
        if (name === 'message' && this.#link === 1 && String(args[0]).includes('"type":"event"') && ++this.#events === 2) this.terminate();
        // Nothing more reaches the client from a link it has ended.
        if (name === 'message' && this.readyState !== NodeWebSocket.OPEN) return false;
        return super.emit(name, ...args);
      }
    }
    const client = connect(fixture.wsUrl, gate, { WebSocket: DropsMidRewind });
    try {
      for (let n = 1; n <= 10; n++) await fixture.server.publish('chat:room', n);
      gate.close();
      const order: string[] = [];
      const sub = client.subscribe('chat:room', { rewind: 3, subscribed: (e) => order.push(`subscribed@${e.position.offset} ${e.recovered}`) });
      sub.addEventListener('event', (e) => order.push(`${e.position.offset}`));
      gate.open();
      await within(until(client, 'close', () => true), 5_000, 'the link dropped mid-rewind');
      gate.close();
      assert.deepEqual(order, [], 'nothing of the interrupted rewind delivered yet');
      for (let n = 11; n <= 30; n++) await fixture.server.publish('chat:room', n);
      gate.open();
      await within(sub.ready(), 5_000, 'subscribed on the next link');
      assert.deepEqual(order, ['28', '29', '30', 'subscribed@30 true'], 'the last 3 events, once, in order, then subscribed');
    } finally {
      client.close();
      await fixture.close();
    }
  });

  test('a request and a publish whose link drops before the reply take effect once and resolve once after the resume', async () => {
    let dropOnPublish: (() => void) | undefined;
    const fixture = await startServer({
      channels,
      canPublish: () => {
        dropOnPublish?.(); // the first publish loses its link before the ack goes out
        dropOnPublish = undefined;
        return true;
      },
    });
    dropOnPublish = () => {
      for (const connection of fixture.server.connections) connection.terminate();
    };
    let runs = 0;
    fixture.server.handle('slow', (_params, context) => {
      runs++;
      if (runs === 1) context.connection.terminate(); // the reply will find no link
      return `done ${runs}`;
    });
    const client = connect(fixture.wsUrl);
    try {
      await within(client.ready(), 5_000, 'ready');
      const resumes: boolean[] = [];
      client.addEventListener('session', (e) => resumes.push(e.resumed));
      assert.equal(await within(client.request('slow'), 5_000, 'request after the resume'), 'done 1');
      assert.equal(runs, 1);
      const sub = client.subscribe('chat:once');
      const got = record(sub);
      await within(sub.ready(), 5_000, 'subscribed');
      const position = await within(client.publish('chat:once', 'only'), 5_000, 'publish after the resume');
      assert.equal(position.offset, 1);
      assert.equal((await fixture.server.publish('chat:once', 'next')).offset, 2, 'the channel holds one event before this one');
      await when(sub, 'event', () => got.length === 2);
      assert.deepEqual(got, ['1:"only"', '2:"next"']);
      assert.deepEqual(resumes, [true, true]);
    } finally {
      client.close();
      await fixture.close();
    }
  });

  test('a request still running on the server when the client resumes and resends it runs once', async () => {
    const fixture = await startServer({ channels });
    let runs = 0;
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    fixture.server.handle('slow', async (_params, context) => {
      const run = ++runs;
      context.connection.terminate();
      await released; // still working when the resend arrives on the new link
      return `run ${run}`;
    });
    const client = connect(fixture.wsUrl);
    try {
      await within(client.ready(), 5_000, 'ready');
      const resumed = until(client, 'ready', (e) => (e as Event & { resumed: boolean }).resumed);
      const result = client.request('slow');
      await within(resumed, 5_000, 'resumed, the request resent');
      release();
      assert.equal(await within(result, 5_000, 'result'), 'run 1');
      await client.request('nope').catch(() => undefined); // processed after the resend: nothing else runs
      assert.equal(runs, 1);
    } finally {
      release();
      client.close();
      await fixture.close();
    }
  });

  test('a gap beyond the channel history is reported as recovered: false, and events flow on from the head', async () => {
    const fixture = await startServer({ channels });
    const gate = new Gate();
    const client = connect(fixture.wsUrl, gate);
    try {
      const recovered: boolean[] = [];
      const sub = client.subscribe('small:x', { subscribed: (e) => recovered.push(e.recovered) });
      const got = record(sub);
      await within(sub.ready(), 5_000, 'subscribed');
      await fixture.server.publish('small:x', 0);
      await when(sub, 'event', () => got.length === 1);
      gate.close();
      await dropLinks(fixture, client);
      for (let n = 1; n <= 5; n++) await fixture.server.publish('small:x', n);
      const resubscribed = until(sub, 'subscribed', () => true);
      gate.open();
      await within(resubscribed, 5_000, 'resubscribed');
      assert.deepEqual(recovered, [true, false]);
      assert.equal(sub.position?.offset, 6);
      await fixture.server.publish('small:x', 6);
      await when(sub, 'event', () => got.length === 2);
      assert.deepEqual(got, ['1:0', '7:6']);
    } finally {
      client.close();
      await fixture.close();
    }
  });

  test('a server restart is a new epoch and a new session: recovered: false, resumed: false', async () => {
    const first = await startServer({ channels });
    const gate = new Gate();
    const client = connect(first.wsUrl, gate);
    let second: LifelineServer<unknown> | undefined;
    try {
      const recovered: boolean[] = [];
      const sub = client.subscribe('chat:room', { subscribed: (e) => recovered.push(e.recovered) });
      const got = record(sub);
      await within(sub.ready(), 5_000, 'subscribed');
      await first.server.publish('chat:room', 'before');
      await when(sub, 'event', () => got.length === 1);
      const oldEpoch = sub.position?.epoch;
      gate.close();
      const closed = until(client, 'close', () => true);
      await first.server.close(restart);
      await within(closed, 5_000, 'closed by the restart');
      second = await serverOn(first.port);
      await second.publish('chat:room', 'after');
      const sessions: boolean[] = [];
      client.addEventListener('session', (e) => sessions.push(e.resumed));
      const ready = until(client, 'ready', () => true);
      gate.open();
      await within(ready, 5_000, 'ready on the new server');
      assert.deepEqual(sessions, [false]);
      assert.deepEqual(recovered, [true, false]);
      assert.notEqual(sub.position?.epoch, oldEpoch);
      assert.equal(sub.position?.offset, 1);
      await second.publish('chat:room', 'live');
      await when(sub, 'event', () => got.length === 2);
      assert.deepEqual(got, ['1:"before"', '2:"live"']);
    } finally {
      client.close();
      await second?.close({ drainTimeout: 0 });
    }
  });

  test('a new session after a restart: a sent, unanswered request fails outcome_unknown; one never sent is delivered', async () => {
    const first = await startServer({ channels });
    let release: () => void = () => undefined;
    let started: () => void = () => undefined;
    const hangStarted = new Promise<void>((resolve) => (started = resolve));
    first.server.handle('hang', () => {
      started();
      return new Promise<string>((resolve) => (release = () => resolve('late')));
    });
    const gate = new Gate();
    const client = connect(first.wsUrl, gate);
    let second: LifelineServer<unknown> | undefined;
    try {
      await within(client.ready(), 5_000, 'ready');
      const hanging = client.request('hang');
      await within(hangStarted, 5_000, 'the handler runs');
      gate.close();
      const closed = until(client, 'close', () => true);
      await first.server.close(restart);
      await within(closed, 5_000, 'closed by the restart');
      const queued = client.request('echo', 'queued while down');
      second = await serverOn(first.port);
      let echoes = 0;
      second.handle('echo', (params) => {
        echoes++;
        return params;
      });
      gate.open();
      await assert.rejects(within(hanging, 5_000, 'outcome_unknown'), code('outcome_unknown'));
      assert.equal(await within(queued, 5_000, 'queued request'), 'queued while down');
      assert.equal(echoes, 1);
    } finally {
      release();
      client.close();
      await second?.close({ drainTimeout: 0 });
    }
  });

  test('direct messages: delivered once, resent after a reconnect while unacknowledged, never twice', async () => {
    const broker = new MemoryBroker();
    const fixture = await startServer({ channels, broker });
    fixture.server.handle('barrier', () => 'ok'); // processed after every earlier message of the session
    const gate = new Gate();
    const client = connect(fixture.wsUrl, gate);
    const got: string[] = [];
    let dropInListener = false;
    client.addEventListener('message', (e) => {
      got.push(`${e.seq}:${String(e.data)}`);
      if (dropInListener) {
        dropInListener = false;
        // The link dies before our ack can reach the server: it will send this again.
        for (const connection of fixture.server.connections) connection.terminate();
      }
    });
    try {
      await within(client.ready(), 5_000, 'ready');
      const session = client.session ?? '';
      assert.equal(await fixture.server.sendTo(session, 'a'), true);
      await when(client, 'message', () => got.length === 1);
      await client.request('barrier');
      assert.deepEqual(await broker.pendingDirect(session, 0), [], 'acknowledged');

      // sent while the client is away: delivered after the resume
      gate.close();
      await dropLinks(fixture, client);
      await fixture.server.sendTo(session, 'b');
      gate.open();
      await when(client, 'message', () => got.length === 2);

      // received, then the link drops before the ack lands: redelivered by the server, dropped by the client
      dropInListener = true;
      const resumed = until(client, 'ready', () => true);
      await fixture.server.sendTo(session, 'c');
      await within(resumed, 5_000, 'resumed after the drop');
      await client.request('barrier');
      assert.deepEqual(await broker.pendingDirect(session, 0), [], 'the repeat was acknowledged');
      assert.deepEqual(got, ['1:a', '2:b', '3:c']);
    } finally {
      client.close();
      await fixture.close();
    }
  });

  test('presence: members of a channel and join events', async () => {
    const fixture = await startServer({ channels });
    const a = connect(fixture.wsUrl);
    const b = connect(fixture.wsUrl);
    try {
      const joins: string[] = [];
      const lobby = a.subscribe('chat:lobby', { presence: (e) => joins.push(`${e.action} ${e.member.client}`) });
      await within(lobby.ready(), 5_000, 'a subscribed');
      const joined = until(lobby, 'presence', () => true);
      await within(b.subscribe('chat:lobby').ready(), 5_000, 'b subscribed');
      await within(joined, 5_000, 'join event');
      assert.ok(joins.includes(`join ${b.member}`), joins.join());
      assert.notEqual(b.member, b.session, 'presence never shows the session id');
      const members = await within(lobby.presence(), 5_000, 'presence');
      assert.deepEqual(members.map((m) => m.client).sort(), [a.member, b.member].sort());
      await assert.rejects(a.subscribe('small:nopresence').presence(), code('forbidden'));
    } finally {
      a.close();
      b.close();
      await fixture.close();
    }
  });

  test('a publish that fits maxPayload only without its id is refused too_big: the server would close with 1009 and end the client', async () => {
    const fixture = await startServer({ channels, maxPayload: 200 });
    const client = connect(fixture.wsUrl);
    const closes: string[] = [];
    client.addEventListener('close', (e) => closes.push(`${e.code} ${e.action}`));
    try {
      await within(client.ready(), 5_000, 'ready');
      // The JSON text without its id is exactly maxPayload; on the wire `"id":1,` comes on top.
      const data = 'x'.repeat(200 - JSON.stringify({ type: 'publish', channel: 'chat:a', data: '' }).length);
      await assert.rejects(client.publish('chat:a', data), code('too_big'));
      assert.equal((await client.publish('chat:a', 'small')).offset, 1, 'the client stays up');
      assert.deepEqual(closes, []);
      assert.equal(client.state, 'ready');
    } finally {
      client.close();
      await fixture.close();
    }
  });

  test('close() rejects what is pending with closed, and the server sees the connection go', async () => {
    const fixture = await startServer({ channels });
    let started: () => void = () => undefined;
    const hangStarted = new Promise<void>((resolve) => (started = resolve));
    fixture.server.handle('hang', () => {
      started();
      return new Promise(() => undefined);
    });
    const client = connect(fixture.wsUrl);
    try {
      await within(client.ready(), 5_000, 'ready');
      const hanging = client.request('hang');
      await within(hangStarted, 5_000, 'the handler runs');
      const gone = new Promise<void>((resolve) => fixture.server.on('disconnect', () => resolve()));
      const closed = until(client, 'close', () => true);
      client.close();
      await assert.rejects(hanging, code('closed'));
      await within(gone, 5_000, 'the server saw the close');
      const event = (await within(closed, 5_000, 'the socket closed')) as Event & { code: number; willReconnect: boolean };
      assert.deepEqual([event.code, event.willReconnect], [1000, false]);
      assert.equal(client.state, 'closed');
      assert.equal(client.transport.state, 'closed');
      assert.equal(fixture.server.connections.size, 0);
    } finally {
      client.close();
      await fixture.close();
    }
  });
});

/** A plain ws server on 127.0.0.1 that accepts `lifeline.v1` and never says anything: the sockets it accepted, with the path each asked for. */
async function silentServer(t: TestContext): Promise<{ server: WebSocketServer; url: string; accepted: { path: string | undefined; socket: ServerSocket }[] }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (protocols) => (protocols.has('lifeline.v1') ? 'lifeline.v1' : false) });
  await once(server, 'listening');
  const accepted: { path: string | undefined; socket: ServerSocket }[] = [];
  server.on('connection', (socket, request) => accepted.push({ path: request.url, socket }));
  t.after(async () => {
    for (const socket of server.clients) socket.terminate();
    await new Promise((resolve) => server.close(resolve));
  });
  return { server, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, accepted };
}

/** The first message (the hello) of the next connection `server` accepts. */
function nextHello(server: WebSocketServer): Promise<unknown> {
  return once(server, 'connection').then(([socket]) => once(socket as ServerSocket, 'message'));
}

/**
 * A client (fake clock, backoff 100 ms doubling, no jitter) of a server that accepts and never
 * welcomes, run for `rounds` links: each is left `wait` ms after its hello (it must have closed
 * by then), then the retry's delay passes. What the client reported, and the client.
 */
async function neverWelcomed(t: TestContext, options: LifelineClientOptions, wait: number, rounds: number) {
  const { server, url } = await silentServer(t);
  const clock = new FakeClock();
  const hellos = [nextHello(server)];
  const client = new LifelineClient(url, { clock, initialDelay: 100, jitter: 'none', ...options });
  t.after(() => client.close());
  const closes: string[] = [];
  const retries: [number, number][] = [];
  const giveups: number[] = [];
  client.addEventListener('close', (e: LifelineCloseEvent) => closes.push(e.reason));
  client.addEventListener('reconnecting', (e: ReconnectingEvent) => retries.push([e.attempt, e.delay]));
  client.addEventListener('giveup', (e) => giveups.push(e.attempts));
  for (let round = 1; round <= rounds; round++) {
    await within(hellos[round - 1] as Promise<unknown>, 5_000, `hello ${round}`);
    hellos.push(nextHello(server));
    clock.tick(wait);
    assert.equal(closes.length, round, `link ${round} closed`);
    clock.tick(retries[round - 1]?.[1] ?? 0); // the retry, if any
  }
  return { client, closes: [...closes], retries, giveups };
}

describe('LifelineClient against a plain ws server', () => {
  test('a server that accepts the socket and never welcomes: the link ends at connectTimeout (1006 connect timeout) and is retried with backoff', async (t) => {
    const { server, url, accepted } = await silentServer(t);
    const clock = new FakeClock();
    const hello = nextHello(server);
    const client = new LifelineClient(url, { clock, connectTimeout: 2_000, initialDelay: 100, jitter: 'none' });
    t.after(() => client.close());
    const closes: string[] = [];
    client.addEventListener('close', (e: LifelineCloseEvent) => closes.push(`${e.code} ${e.reason} ${e.wasClean} ${e.willReconnect}`));
    const retries: number[] = [];
    client.addEventListener('reconnecting', (e: ReconnectingEvent) => retries.push(e.attempt));
    const [data] = (await within(hello, 5_000, 'the hello')) as [Buffer];
    assert.equal(JSON.parse(data.toString()).type, 'hello');
    assert.equal(client.state, 'open');
    const first = accepted[0]?.socket;
    assert.ok(first);
    const serverSawClose = once(first, 'close');
    clock.tick(1_999);
    assert.deepEqual(closes, [], 'not yet');
    const second = once(server, 'connection');
    clock.tick(1);
    assert.deepEqual(closes, ['1006 connect timeout false true']);
    assert.deepEqual(retries, [1]);
    assert.equal(client.state, 'reconnecting');
    const [code, reason] = (await within(serverSawClose, 5_000, 'the server saw the close')) as [number, Buffer];
    assert.deepEqual([code, reason.toString()], [4408, 'connect timeout']);
    clock.tick(100); // the backoff
    await within(second, 5_000, 'the retry reached the server');
    assert.equal(accepted.length, 2);
  });

  test('a server that never welcomes: the stability window that runs while waiting does not count, so the backoff grows with each attempt', async (t) => {
    // The defaults' shape: the welcome is due after the stability window has run (at 5 s).
    const { retries } = await neverWelcomed(t, { connectTimeout: 10_000, stabilityWindow: 5_000 }, 10_000, 3);
    assert.deepEqual(retries, [[1, 100], [2, 200], [3, 400]]);
  });

  test('a server that never welcomes, connectTimeout above the heartbeat watchdog: the heartbeat ends each link as a connect timeout, the backoff grows and the client gives up after maxAttempts', async (t) => {
    // The watchdog (35 s by default) runs out long before the welcome is due; maxAttempts
    // retries, then the attempt that gives up.
    const { client, closes, retries, giveups } = await neverWelcomed(t, { connectTimeout: 60_000, maxAttempts: 3 }, 35_000, 4);
    assert.deepEqual(closes, Array(4).fill('connect timeout'));
    assert.deepEqual(retries, [[1, 100], [2, 200], [3, 400]]);
    assert.equal(giveups.length, 1);
    assert.equal(client.state, 'closed');
  });

  test('options refused at construction (browser entry) leave no connection attempt behind: the server only sees the next client', async (t) => {
    const { server, url, accepted } = await silentServer(t);
    const store = { load: async () => undefined, save: async () => undefined };
    type Options = ConstructorParameters<typeof BrowserLifelineClient>[1];
    // What is refused, and how: InvalidOptionError where a check says why; a TypeError where the
    // browser entry is handed the Node entry's bare forms (no attach() to call).
    const refused: [what: string, options: () => Options, error: new (...args: never[]) => Error][] = [
      ['a bare refreshToken provider (the Node entry form)', () => ({ refreshToken: (async () => 'token') as never }), TypeError],
      ['a refreshToken that is no module', () => ({ refreshToken: 'token' as never }), TypeError],
      ['withTokenRefresh given no function', () => ({ refreshToken: withTokenRefresh('token' as never) }), InvalidOptionError],
      ['a bare outbox store (the Node entry form)', () => ({ outbox: store as never }), TypeError],
      ['an outbox that is no store', () => ({ outbox: 42 as never }), TypeError],
      ['an outbox store without save', () => ({ outbox: withOutbox({ load: store.load } as never) }), InvalidOptionError],
      ['a negative heartbeat setting', () => ({ heartbeat: { maxMissed: -1 } }), InvalidOptionError],
      // The transport's own option, refused before the store begins to load (lifeline-client-scripted.test.ts counts the loads).
      ['a good store, then a transport option out of range', () => ({ outbox: withOutbox(store), connectTimeout: 0 }), InvalidOptionError],
    ];
    let attempts = 0;
    for (const [what, options, error] of refused) {
      const make = () =>
        new BrowserLifelineClient(() => {
          attempts++;
          return `${url}/refused`;
        }, { WebSocket: NodeWebSocket, maxAttempts: 0, ...options() });
      assert.throws(make, error, what);
    }
    await Promise.resolve(); // when a first attempt would start
    const controlSeen = new Promise<void>((resolve) => server.on('connection', (_socket, request) => request.url === '/control' && resolve()));
    const control = new BrowserLifelineClient(`${url}/control`, { WebSocket: NodeWebSocket });
    t.after(() => control.close());
    await within(controlSeen, 5_000, 'the control client connected');
    assert.equal(attempts, 0);
    assert.deepEqual(accepted.map((a) => a.path), ['/control']);
  });
});
