/**
 * Presence across two nodes on one broker (docs/guarantees.md, Sessions): a member whose session
 * moves between the nodes while it enters or leaves presence is heard join once and leave once,
 * whatever the order the broker answers the two nodes in (fake clock, real sockets).
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { Broker } from '../../../src/broker/broker.js';
import { MemoryBroker } from '../../../src/broker/memory-broker.js';
import type { ChannelsConfig } from '../../../src/server/protocol/channels.js';
import { memberId } from '../../../src/server/protocol/member-id.js';
import { PRESENCE_BURST } from '../../../src/server/protocol/presence.js';
import { FakeClock } from '../../../src/testing/fake-clock.js';
import { eventually } from '../../helpers/wait.js';
import { serve } from '../support.js';
import { ParkWatch } from './brokers.js';
import { ProtocolClient, type MessageOf, type ProtocolClient as Client } from './protocol-client.js';

const channels: ChannelsConfig = { room: { presence: true } };
const grace = 1_000;

/** A node's view of `inner` whose next call of a method waits, when held, until the test opens it. */
function gated(inner: Broker): { broker: ParkWatch; hold(method: string): { reached: Promise<void>; open(): void } } {
  const holds = new Map<string, { reach(): void; opened: Promise<void> }>();
  const broker = new ParkWatch(inner, async (method) => {
    const held = holds.get(method);
    if (!held) return;
    holds.delete(method);
    held.reach();
    await held.opened;
  });
  const hold = (method: string): { reached: Promise<void>; open(): void } => {
    let reach = (): void => undefined;
    let open = (): void => undefined;
    const reached = new Promise<void>((resolve) => (reach = resolve));
    const opened = new Promise<void>((resolve) => (open = resolve));
    holds.set(method, { reach, opened });
    return { reached, open };
  };
  return { broker, hold };
}

/** Nodes a (its broker gated) and b on one memory broker, and a watcher of `room:x` on b. */
async function twoNodes(t: TestContext) {
  const clock = new FakeClock();
  const inner = new MemoryBroker({ clock });
  t.after(() => inner.close());
  const viewA = gated(inner);
  const a = await serve(t, { clock, pingInterval: 0, presenceGrace: grace, channels, broker: viewA.broker });
  const viewB = new ParkWatch(inner);
  const b = await serve(t, { clock, pingInterval: 0, presenceGrace: grace, channels, broker: viewB });
  const { client: watcher } = await ProtocolClient.connect(t, b.wsUrl);
  await watcher.subscribe(1, 'room:x');
  return { clock, a, b, viewA, viewB, watcher };
}

function changesOf(watcher: Client, member: string): string[] {
  return watcher.log
    .filter((message): message is MessageOf<'presence'> => message.type === 'presence' && (message.join?.client === member || message.leave?.client === member))
    .map((message) => (message.join ? 'join' : 'leave'));
}

async function listed(watcher: Client, id: number, member: string): Promise<boolean> {
  watcher.send({ type: 'presence.get', id, channel: 'room:x' });
  const reply = await watcher.reply(id);
  if (reply.type !== 'presence.list') throw new Error(`presence.get refused: ${JSON.stringify(reply)}`);
  return reply.members.some((entry) => entry.client === member);
}

/**
 * Two nodes and a watcher, and a member whose link to node a dropped while its subscribe waited
 * at the broker's presence join (held there, its session parked on node a; `joining` opens it).
 */
async function droppedWhileJoiningOnA(t: TestContext) {
  const nodes = await twoNodes(t);
  const { client: first, welcome } = await ProtocolClient.connect(t, nodes.a.wsUrl);
  const joining = nodes.viewA.hold('presenceJoin');
  first.send({ type: 'subscribe', id: 1, channel: 'room:x' });
  await joining.reached;
  first.terminate();
  await nodes.viewA.broker.parked(welcome.session);
  return { ...nodes, welcome, member: memberId(welcome.session), joining };
}

/** The session resumes on node b and subscribes to `room:x` there. */
async function resumeOnB(t: TestContext, url: string, welcome: MessageOf<'welcome'>): Promise<Client> {
  const { client: moved } = await ProtocolClient.connect(t, url, { session: welcome.session, secret: welcome.secret });
  await moved.subscribe(1, 'room:x');
  return moved;
}

/** `moved`'s link drops for good: the watcher hears the member leave once its grace period ends, and has heard one join and one leave in all. */
async function goneForGood(nodes: { clock: FakeClock; viewB: ParkWatch; watcher: Client }, moved: Client, welcome: MessageOf<'welcome'>, member: string): Promise<void> {
  moved.terminate();
  await nodes.viewB.parked(welcome.session);
  await nodes.clock.tickAsync(grace + 1);
  await nodes.watcher.take('presence', (message) => message.leave?.client === member);
  await nodes.watcher.sync();
  assert.deepEqual(changesOf(nodes.watcher, member), ['join', 'leave']);
}

describe('presence across nodes: one join, one leave', () => {
  test('a member that resumed on another node and left there is heard leave once: the first node\'s grace period ends with nothing to tell (fake clock)', async (t) => {
    const { clock, b, viewA, a, watcher } = await twoNodes(t);
    const { client: first, welcome } = await ProtocolClient.connect(t, a.wsUrl);
    const member = memberId(welcome.session);
    await first.subscribe(1, 'room:x');
    await watcher.take('presence', (message) => message.join?.client === member);
    first.terminate();
    await viewA.broker.parked(welcome.session); // node a's leave waits out the grace period
    const moved = await resumeOnB(t, b.wsUrl, welcome);
    moved.send({ type: 'unsubscribe', id: 2, channel: 'room:x' });
    await moved.reply(2);
    await watcher.take('presence', (message) => message.leave?.client === member);
    await clock.tickAsync(grace + 1);
    await watcher.sync();
    assert.deepEqual(changesOf(watcher, member), ['join', 'leave']);
  });

  test('a member whose subscribe entered presence on a node it left, and resumed on another node meanwhile, is heard join once (fake clock)', async (t) => {
    // Node a will take its join back: its connection ended before its subscribed.
    const nodes = await droppedWhileJoiningOnA(t);
    const { b, viewA, watcher, welcome, member, joining } = nodes;
    const withdrawing = viewA.hold('presenceLeave');
    joining.open(); // the join lands (a new member), and node a sets out to take it back
    await withdrawing.reached;
    // Meanwhile the session resumed on node b and subscribed: its join finds the member present.
    const moved = await resumeOnB(t, b.wsUrl, welcome);
    withdrawing.open();
    await watcher.take('presence', (message) => message.join?.client === member);
    assert.equal(await listed(watcher, 2, member), true, 'listed through node b');
    await watcher.sync();
    assert.deepEqual(changesOf(watcher, member), ['join']);

    await goneForGood(nodes, moved, welcome, member);
  });

  test('a member whose subscribe joined late on a node it left, after it resumed and joined on another node, stays present: no leave, no second join (fake clock)', async (t) => {
    const nodes = await droppedWhileJoiningOnA(t);
    const { clock, b, watcher, welcome, member, joining } = nodes;
    // The session resumed on node b and joined there (a new member: its join is told) ...
    const moved = await resumeOnB(t, b.wsUrl, welcome);
    await watcher.take('presence', (message) => message.join?.client === member);
    // ... before node a's join landed, for a connection that is gone.
    joining.open();
    // Node a answers it in-process (no I/O, in-memory broker): a few turns see it through.
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    await clock.tickAsync(grace + 1);
    for (let refresh = 0; refresh < 3; refresh++) await clock.tickAsync(10_000);
    assert.equal(await listed(watcher, 2, member), true, 'listed through node b');
    await watcher.sync();
    assert.deepEqual(changesOf(watcher, member), ['join']);
    await goneForGood(nodes, moved, welcome, member);
  });

  test("a member that flapped past its pacing burst on one node and resumed on another is not heard leave by the first node's late paced announcement: the others' view ends as the broker's (fake clock)", async (t) => {
    const { clock, a, b, viewA, watcher } = await twoNodes(t);
    const { client: first, welcome } = await ProtocolClient.connect(t, a.wsUrl);
    const member = memberId(welcome.session);
    let id = 1;
    const step = async (type: 'subscribe' | 'unsubscribe'): Promise<void> => {
      first.send({ type, id, channel: 'room:x' });
      await first.reply(id++);
    };
    const heard = (count: number, what: string): Promise<void> => eventually(() => changesOf(watcher, member).length === count, what, 5_000);
    // The burst: joins and leaves told at once, until node a's pacing of the member runs dry.
    for (let n = 0; n < PRESENCE_BURST / 2; n++) {
      await step('subscribe');
      await step('unsubscribe');
    }
    await heard(PRESENCE_BURST, 'the burst');
    await step('subscribe'); // paced: told a second later
    await clock.tickAsync(1_000);
    await heard(PRESENCE_BURST + 1, 'the paced join');
    await step('unsubscribe'); // paced again: node a will tell this leave a second from now ...
    first.terminate();
    await viewA.broker.parked(welcome.session);
    // ... but the session resumed on node b and joined there meanwhile (a new member: told at once).
    await resumeOnB(t, b.wsUrl, welcome);
    await heard(PRESENCE_BURST + 2, "node b's join");
    await clock.tickAsync(1_000);
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    await watcher.sync();
    assert.equal(await listed(watcher, 100, member), true, 'listed through node b');
    assert.equal(changesOf(watcher, member).at(-1), 'join', 'the last change heard is its join on node b');
  });
});
