/**
 * Takeovers across nodes are ordered: a client that lost its link resumes its session, maybe on
 * another node, while the node it left is still answering an older resume. Whatever order the
 * broker answers the two nodes in, the connection whose hello was looked up last keeps the
 * session: an older resume answered late closes nothing and names nothing in the record
 * (docs/guarantees.md, Sessions). Two servers on one in-memory broker and on one real Redis.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { Broker, ControlNotice, SessionRecord, Unsubscribe } from '../../../src/broker/broker.js';
import { MemoryBroker } from '../../../src/broker/memory-broker.js';
import { RedisBroker } from '../../../src/redis/index.js';
import { redisSkip, redisUrl, testPrefix } from '../../helpers/redis.js';
import { eventually, within } from '../../helpers/wait.js';
import { serve } from '../support.js';
import { ParkWatch } from './brokers.js';
import { ProtocolClient } from './protocol-client.js';

/** The broker of each node: two views of one memory broker, or two brokers on one Redis. */
interface NodeBrokers {
  readonly a: Broker & Required<Pick<Broker, 'broadcast' | 'onBroadcast'>>;
  readonly b: Broker & Required<Pick<Broker, 'broadcast' | 'onBroadcast'>>;
}

const setups: readonly { readonly name: string; readonly skip: string | false; make(t: TestContext): Promise<NodeBrokers> }[] = [
  {
    name: 'MemoryBroker',
    skip: false,
    make: async (t) => {
      const broker = new MemoryBroker();
      t.after(() => broker.close());
      return { a: broker, b: broker };
    },
  },
  {
    name: 'RedisBroker',
    skip: redisSkip,
    make: async (t) => {
      const prefix = testPrefix();
      const a = await RedisBroker.connect({ url: redisUrl, prefix });
      t.after(() => a.close());
      const b = await RedisBroker.connect({ url: redisUrl, prefix });
      t.after(() => b.close());
      return { a, b };
    },
  },
];

/**
 * Node a's view of its broker, as a networked broker answers it: each call a promise, parks
 * reported, control notices carried, and its next `saveSession` held once `hold()` is called
 * until `release()`.
 */
class HeldSaves extends ParkWatch {
  readonly #gate: { armed: boolean; reached: () => void; release: () => void };
  /** Resolves when the held save was called. */
  readonly reached: Promise<void>;

  constructor(override readonly inner: NodeBrokers['a']) {
    const gate = { armed: false, reached: (): void => undefined, release: (): void => undefined };
    const released = new Promise<void>((resolve) => (gate.release = resolve));
    super(inner, async (method) => {
      if (method !== 'saveSession' || !gate.armed) return;
      gate.armed = false;
      gate.reached();
      await released;
    });
    this.#gate = gate;
    this.reached = new Promise((resolve) => (gate.reached = resolve));
  }

  hold(): void {
    this.#gate.armed = true;
  }

  release(): void {
    this.#gate.release();
  }

  broadcast(notice: ControlNotice): Promise<void> {
    return this.inner.broadcast(notice);
  }

  onBroadcast(listener: (notice: ControlNotice) => void): Promise<Unsubscribe> {
    return this.inner.onBroadcast(listener);
  }
}

/**
 * Nodes a (its saves can be held) and b, and a session opened on a and parked there: the client
 * lost its link. `notices` collects every control notice node b hears.
 */
async function parkedOnA(t: TestContext, make: (t: TestContext) => Promise<NodeBrokers>) {
  const brokers = await make(t);
  const held = new HeldSaves(brokers.a);
  t.after(() => held.release());
  const a = await serve(t, { pingInterval: 0, broker: held });
  const b = await serve(t, { pingInterval: 0, broker: brokers.b });
  const notices: ControlNotice[] = [];
  const stop = await brokers.b.onBroadcast((notice) => notices.push(notice));
  t.after(() => stop());
  const { client: first, welcome } = await ProtocolClient.connect(t, a.wsUrl);
  await first.dispose();
  await held.parked(welcome.session);
  return { brokers, held, a, b, notices, resume: { session: welcome.session, secret: welcome.secret } };
}

let markers = 0;

type Setup = Awaited<ReturnType<typeof parkedOnA>>;

/** A resume on node a whose save node a's broker holds: the client's older link. */
async function heldResumeOnA(t: TestContext, { held, a, resume }: Setup): Promise<ProtocolClient> {
  held.hold();
  const older = await ProtocolClient.open(a.wsUrl);
  t.after(() => older.dispose());
  older.send({ type: 'hello', v: 1, ...resume });
  await within(held.reached, 5_000, "node a's save of the resume");
  return older;
}

/**
 * Once node b has heard and judged every notice node a sent (a marker sent after them through
 * a's broker arrives after them, and a lookup through b's broker is answered after those b made
 * for them): the client's newest connection, on node b, is open and served, and node b alone
 * announced a takeover.
 */
async function servedOnB({ brokers, b, notices, resume }: Setup, moved: ProtocolClient): Promise<void> {
  const marker = `marker-${++markers}`;
  await brokers.a.broadcast({ kind: 'disconnect-session', session: marker, reason: 'marker' });
  await eventually(() => notices.some((notice) => notice.kind === 'disconnect-session' && notice.session === marker), 'the marker heard on node b');
  await brokers.b.loadSession(resume.session);
  await moved.sync();
  await moved.wire();
  assert.equal(moved.ws.readyState, moved.ws.OPEN, "the client's newest connection stays open");
  assert.equal(await b.server.sendTo(resume.session, 'still here'), true);
  assert.equal((await moved.take('message')).data, 'still here', 'the session is served on node b');
  assert.equal(notices.filter((notice) => notice.kind === 'takeover').length, 1, `only node b announced a takeover: ${JSON.stringify(notices)}`);
}

for (const { name, skip, make } of setups) {
  describe(`protocol: takeovers across nodes are ordered (${name})`, { skip }, () => {
    test('a resume whose connection closed while its save was in flight, answered after the client resumed on another node, takes nothing over there', async (t) => {
      const setup = await parkedOnA(t, make);
      const { held, a, b, resume } = setup;
      const stale = await heldResumeOnA(t, setup);
      stale.terminate(); // the link dies while node a saves the record
      await eventually(() => a.server.connections.size === 0, 'node a saw the connection close');
      const { client: moved, welcome } = await ProtocolClient.connect(t, b.wsUrl, resume);
      assert.equal(welcome.resumed, true, 'resumed on node b');
      held.release(); // node a's save is answered now, after node b's
      await eventually(() => a.server.realtime.sessions === 0, 'node a let the session go');
      await servedOnB(setup, moved);
    });

    test('a resume still open on the node it left, its save answered late, is closed by the newer one and takes nothing over', async (t) => {
      const setup = await parkedOnA(t, make);
      const { held, a, b, resume } = setup;
      const lingering = await heldResumeOnA(t, setup);
      // The client gave up on that link (node a still holds it) and resumed on node b.
      const { client: moved, welcome } = await ProtocolClient.connect(t, b.wsUrl, resume);
      assert.equal(welcome.resumed, true, 'resumed on node b');
      const closed = await within(lingering.closed, 5_000, 'the older connection closed by the newer takeover');
      assert.equal(closed.code, 4001);
      held.release();
      await eventually(() => a.server.realtime.sessions === 0, 'node a let the session go');
      await servedOnB(setup, moved);
    });
  });
}

/** As a broker written before takeovers were ordered: it claims no generation and stores none. */
class NoGenerations extends ParkWatch {
  constructor(override readonly inner: MemoryBroker) {
    super(inner);
  }

  override async loadSession(id: string): Promise<SessionRecord | undefined> {
    const record = await super.loadSession(id);
    if (record === undefined) return undefined;
    const { generation: _dropped, ...unordered } = record;
    return unordered;
  }

  override saveSession(id: string, record: SessionRecord, ttl: number): Promise<boolean | void> {
    const { generation: _ignored, ...unordered } = record;
    return super.saveSession(id, unordered, ttl);
  }

  broadcast(notice: ControlNotice): Promise<void> {
    return this.inner.broadcast(notice);
  }

  onBroadcast(listener: (notice: ControlNotice) => void): Promise<Unsubscribe> {
    return this.inner.onBroadcast(listener);
  }
}

describe('protocol: takeovers across nodes, with a broker that hands out no generations', () => {
  test("a resume on another node closes the old connection, as the record's owner says", async (t) => {
    const broker = new MemoryBroker();
    t.after(() => broker.close());
    const a = await serve(t, { pingInterval: 0, broker: new NoGenerations(broker) });
    const b = await serve(t, { pingInterval: 0, broker: new NoGenerations(broker) });
    const { client: first, welcome } = await ProtocolClient.connect(t, a.wsUrl);
    const resume = { session: welcome.session, secret: welcome.secret };
    // Resumed once on node a, then on node b while that connection lingers.
    const { client: old } = await ProtocolClient.connect(t, a.wsUrl, resume);
    assert.equal((await within(first.closed, 5_000, 'the first connection taken over on node a')).code, 4001);
    const { client: moved, welcome: again } = await ProtocolClient.connect(t, b.wsUrl, resume);
    assert.equal(again.resumed, true);
    assert.equal((await within(old.closed, 5_000, 'the old connection taken over from node b')).code, 4001);
    assert.equal(await b.server.sendTo(resume.session, 'here'), true);
    assert.equal((await moved.take('message')).data, 'here', 'served on node b');
  });
});
