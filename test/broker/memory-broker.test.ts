/**
 * The in-memory broker: the shared Broker contract, and what only an in-process broker promises
 * (every instance is a new epoch; a throwing listener does not stop delivery to the others).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { ChannelEvent, DirectMessage, PublishOrigin } from '../../src/broker/broker.js';
import { MemoryBroker } from '../../src/broker/memory-broker.js';
import { IdempotencyConflictError } from '../../src/core/errors.js';
import { RequestWindow } from '../../src/core/request-window.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { brokerContract } from './contract.js';
import { collectGarbage } from '../helpers/gc.js';

brokerContract('MemoryBroker', async (clock, limits) => new MemoryBroker({ clock, ...limits }));

describe('MemoryBroker', () => {
  const policy = { size: 10, ttl: 60_000 };

  test('a new broker (a restart without persistence) starts every channel in a new epoch', async () => {
    const clock = new FakeClock();
    const before = new MemoryBroker({ clock });
    const { epoch } = await before.publish('room', 1, policy);
    const after = new MemoryBroker({ clock });
    const recovery = await after.recover('room', { epoch, offset: 1 }, 10);
    assert.equal(recovery.recovered, false);
    assert.notEqual(recovery.position.epoch, epoch);
    assert.equal(recovery.position.offset, 0);
  });

  test('a throwing listener does not stop delivery to the others', async () => {
    const broker = new MemoryBroker({ clock: new FakeClock() });
    const got: ChannelEvent[] = [];
    await broker.subscribe('room', () => {
      throw new Error('listener bug');
    });
    await broker.subscribe('room', (event) => got.push(event));
    await broker.publish('room', 'x', policy);
    assert.deepEqual(got.map((event) => event.data), ['x']);
  });

  test('a direct-message listener object hears its session until it stops listening; one that throws does not stop the others', async () => {
    const broker = new MemoryBroker({ clock: new FakeClock() });
    const got: [string, unknown][] = [];
    const listener = (name: string) => ({ directMessage: (message: DirectMessage) => void got.push([name, message.data]) });
    const a = listener('a');
    const b = listener('b');
    broker.listenDirect('s', { directMessage: () => { throw new Error('listener bug'); } });
    broker.listenDirect('s', a);
    const stop = await broker.subscribeDirect('s', (message) => got.push(['fn', message.data]));
    await broker.sendDirect('s', 1, 10_000);
    broker.listenDirect('s', b);
    broker.unlistenDirect('s', a);
    broker.unlistenDirect('other', b); // not listening there: nothing happens
    await stop();
    await broker.sendDirect('s', 2, 10_000);
    broker.unlistenDirect('s', b);
    await broker.sendDirect('s', 3, 10_000);
    assert.deepEqual(got, [['a', 1], ['fn', 1], ['b', 2]]);
  });

  test('close stops every delivery', async () => {
    const broker = new MemoryBroker({ clock: new FakeClock(), newEpoch: () => 'fixed' });
    const got: unknown[] = [];
    await broker.subscribe('room', (event) => got.push(event.data));
    await broker.subscribeDirect('s', (message) => got.push(message.data));
    await broker.close();
    const event = await broker.publish('room', 'x', policy);
    await broker.sendDirect('s', 'y', 1_000);
    assert.equal(event.epoch, 'fixed');
    assert.deepEqual(got, []);
  });
});

describe('MemoryBroker: expired entries do not pile up', () => {
  test('sessions, outboxes, presence, publish records and idle channels are swept on later writes', async () => {
    const clock = new FakeClock();
    const broker = new MemoryBroker({ clock, idleChannelTtl: 10_000 });
    for (let i = 0; i < 50; i++) {
      await broker.saveSession(`s${i}`, { user: null, window: { acked: 0, floor: 0, replies: [] } }, 1_000);
      await broker.sendDirect(`s${i}`, 'hi', 1_000);
      await broker.presenceJoin(`room${i}`, { client: `s${i}`, user: null }, 1_000);
      await broker.publish(`doc:${i}`, i, { size: 10, ttl: 1_000 }, { key: `k${i}`, digest: 'd', ttl: 1_000 });
    }
    assert.deepEqual(broker.size, { channels: 50, sessions: 50, outboxes: 50, presence: 50, claims: 0, origins: 50 });
    // Expired presence members are left to presenceExpired (a live node tells their leave) for ten minutes.
    await clock.tickAsync(620_000);
    await broker.publish('doc:fresh', 0, { size: 10, ttl: 1_000 }); // any write sweeps
    assert.deepEqual(broker.size, { channels: 1, sessions: 0, outboxes: 0, presence: 0, claims: 0, origins: 0 });
  });

  test('a request claim is let go once its reply is recorded; the recorded id is never claimed again', async () => {
    const clock = new FakeClock();
    const broker = new MemoryBroker({ clock });
    await broker.saveSession('s1', { user: null, window: { acked: 0, floor: 0, replies: [] } }, 60_000);
    assert.equal(await broker.claimRequest('s1', 1, 1_000), true);
    assert.equal(broker.size.claims, 1);
    await broker.recordReply('s1', 1, '{"type":"result","id":1,"data":null}', 2);
    assert.equal(broker.size.claims, 0, 'only requests in flight are held');
    assert.equal(await broker.claimRequest('s1', 1, 1_000), false, 'answered: the window speaks for it');
    await clock.tickAsync(5_000);
    assert.equal(await broker.claimRequest('s1', 1, 1_000), false, 'still answered after the claim would have run out');
    for (const id of [2, 3, 4]) await broker.recordReply('s1', id, `{"id":${id}}`, 2);
    assert.equal(await broker.claimRequest('s1', 1, 1_000), false, 'older than the window: never run again');
    assert.equal(await broker.claimRequest('s1', 5, 1_000), true, 'a new id');
  });

  test('an expired outbox does not bring its old messages back with the next one', async () => {
    const clock = new FakeClock();
    const broker = new MemoryBroker({ clock });
    await broker.sendDirect('s', 'old', 1_000);
    await clock.tickAsync(2_000);
    await broker.sendDirect('s', 'new', 1_000);
    assert.deepEqual((await broker.pendingDirect('s', 0)).map((m) => m.data), ['new']);
  });

  test("a session's outbox keeps the longest life it was given: a record saved again for shorter, a message sent for longer", async () => {
    const clock = new FakeClock();
    // Swept once a minute: the outbox without a live record stays until then.
    const broker = new MemoryBroker({ clock, idleChannelTtl: 600_000 });
    const window = { acked: 0, floor: 0, replies: [] };
    await broker.saveSession('s', { user: null, window }, 10_000);
    await broker.sendDirect('s', 'a', 1_000);
    await broker.saveSession('s', { user: null, window }, 2_000); // parked for a shorter recovery window
    await clock.tickAsync(5_000);
    assert.equal(await broker.loadSession('s'), undefined, 'the record expired');
    assert.deepEqual((await broker.pendingDirect('s', 0)).map((m) => m.data), ['a'], 'its outbox lives as long as the first save');
    await broker.sendDirect('s', 'b', 60_000);
    await broker.saveSession('s', { user: null, window }, 1_000);
    await clock.tickAsync(20_000);
    assert.deepEqual((await broker.pendingDirect('s', 0)).map((m) => m.data), ['a', 'b'], 'and as long as its last message');
    assert.deepEqual([broker.size.sessions, broker.size.outboxes], [1, 1], 'the expired record is dropped at the next sweep');
    await clock.tickAsync(60_000);
    await broker.publish('doc', 0, { size: 10, ttl: 1_000 }); // any write sweeps
    assert.deepEqual([broker.size.sessions, broker.size.outboxes], [0, 0], 'and its outbox with it, no node listening');
  });
});

describe('MemoryBroker: a shared request window (each reply kept once)', () => {
  test('records saved with nothing to remember share no window: a reply recorded for one is not in the other', async () => {
    const broker = new MemoryBroker({ clock: new FakeClock() });
    const nothing = { acked: 0, floor: 0, replies: [] };
    await broker.saveSession('s-1', { user: 'u', window: nothing }, 60_000);
    await broker.saveSession('s-2', { user: 'u', window: nothing }, 60_000);
    await broker.recordReply('s-1', 1, 'r1', 1); // a window of one reply, as the shared empty one
    assert.deepEqual((await broker.loadSession('s-1'))?.window, { acked: 1, floor: 0, replies: [[1, 'r1']] });
    assert.deepEqual((await broker.loadSession('s-2'))?.window, nothing);
    assert.equal(await broker.claimRequest('s-2', 1, 1_000), true, 'id 1 is new for s-2');
  });

  test('the live window replaces the stored copy after taking in what it knew; replies recorded in it are the broker\'s', async () => {
    const clock = new FakeClock();
    const broker = new MemoryBroker({ clock });
    assert.equal(broker.shareWindow('s-unknown', new RequestWindow(10)), false, 'nothing stored: nothing shared');
    // Stored: replies 1-3 with 1 forgotten (floor 1), as another connection left them.
    const older = new RequestWindow<unknown>(2);
    for (const id of [1, 2, 3]) older.record(id, `r${id}`);
    await broker.saveSession('s-1', { user: 'u', window: older.snapshot() }, 60_000);
    // The live window was loaded before reply 3 was recorded.
    const live = new RequestWindow<unknown>(10, { acked: 2, floor: 0, replies: [[2, 'r2']] });
    assert.equal(broker.shareWindow('s-1', live), true);
    assert.deepEqual(live.check(3), { kind: 'repeat', reply: 'r3' }, 'a reply the stored copy had is taken in');
    assert.deepEqual(live.check(1), { kind: 'expired' }, 'an id the stored copy forgot never looks new');
    assert.equal(live.acked, 3);
    // The session records in its own window: the broker answers from it at once.
    live.record(4, 'r4');
    assert.equal(await broker.claimRequest('s-1', 4, 1_000), false, 'a recorded id is never claimed');
    assert.deepEqual((await broker.loadSession('s-1'))?.window.replies.at(-1), [4, 'r4']);
    // recordReply of the same reply finds it in place; a save of the same window keeps sharing it.
    await broker.recordReply('s-1', 4, 'r4', 10);
    await broker.saveSession('s-1', { user: 'u', window: live.snapshot() }, 60_000);
    live.record(5, 'r5');
    assert.deepEqual((await broker.loadSession('s-1'))?.window.replies.map(([id]) => id), [2, 3, 4, 5]);
  });
});

describe('MemoryBroker: channels never published to', () => {
  test('a channel only subscribed to (and left) is forgotten once idle', async () => {
    const clock = new FakeClock();
    const broker = new MemoryBroker({ clock, idleChannelTtl: 10_000 });
    const stop = await broker.subscribe('live:user-1', () => undefined);
    await stop();
    await clock.tickAsync(120_000);
    await broker.publish('other', 0, { size: 0, ttl: 0 });
    assert.equal(broker.size.channels, 1);
  });

  test('a forgotten channel comes back in its epoch for positionTtl: a subscriber away past idleChannelTtl is still recovered; past positionTtl, not', async () => {
    const clock = new FakeClock();
    const broker = new MemoryBroker({ clock, idleChannelTtl: 10_000, positionTtl: 60_000 });
    const away = async (ms: number): Promise<boolean> => {
      const stop = await broker.subscribe('quiet', () => undefined);
      const { position } = await broker.recover('quiet', undefined, 1);
      await stop();
      // Any write sweeps (at most every idleChannelTtl / 2): 'quiet' is forgotten past idleChannelTtl.
      for (let waited = 0; waited < ms; waited += 5_000) {
        await clock.tickAsync(5_000);
        await broker.publish('other', 0, { size: 0, ttl: 0 });
      }
      return (await broker.recover('quiet', position, 100)).recovered;
    };
    assert.equal(await away(9_000), true);
    assert.equal(await away(30_000), true, 'forgotten, but its position was kept');
    assert.equal(await away(80_000), false, 'past positionTtl: a new epoch');
  });

  test('offsets of a forgotten channel go on from its head in the same epoch (no history needed to say nothing was missed)', async () => {
    const clock = new FakeClock();
    const broker = new MemoryBroker({ clock, idleChannelTtl: 10_000 });
    await broker.publish('doc', 1, { size: 0, ttl: 0 });
    const last = await broker.publish('doc', 2, { size: 0, ttl: 0 });
    await clock.tickAsync(20_000);
    await broker.publish('other', 0, { size: 0, ttl: 0 });
    assert.equal(broker.size.channels, 1, "'doc' was forgotten");
    const back = await broker.recover('doc', { epoch: last.epoch, offset: last.offset }, 10);
    assert.deepEqual({ recovered: back.recovered, position: back.position }, { recovered: true, position: { epoch: last.epoch, offset: 2 } });
    const next = await broker.publish('doc', 3, { size: 0, ttl: 0 });
    assert.deepEqual({ epoch: next.epoch, offset: next.offset }, { epoch: last.epoch, offset: 3 });
    // A subscriber that held offset 1 missed offset 2, which no history kept: told so.
    assert.equal((await broker.recover('doc', { epoch: last.epoch, offset: 1 }, 10)).recovered, false);
  });
});

describe('MemoryBroker: the history budget', () => {
  const big = 'x'.repeat(100_000);

  test('history across channels stays within the budget; the oldest go first and their clients are told recovered: false', async () => {
    const clock = new FakeClock();
    const broker = new MemoryBroker({ clock, historyBudget: 1_000_000, newEpoch: () => 'e' });
    const heard: number[] = [];
    await broker.subscribe('doc:0', (event) => heard.push(event.offset));
    for (let round = 0; round < 10; round++) {
      for (let channel = 0; channel < 10; channel++) await broker.publish(`doc:${channel}`, big, { size: 100, ttl: 600_000 });
      assert.ok(broker.history.bytes <= 1_000_000, `round ${round}: ${broker.history.bytes} bytes kept`);
    }
    assert.equal(heard.length, 10, 'live delivery is never refused');
    assert.ok(broker.history.evicted > 0);
    // doc:0's first events were evicted: asking for them is answered recovered: false, not a hole.
    const lost = await broker.recover('doc:0', { epoch: 'e', offset: 1 }, 100);
    assert.equal(lost.recovered, false);
    // The newest events are still there.
    const kept = await broker.recover('doc:9', { epoch: 'e', offset: 9 }, 100);
    assert.equal(kept.recovered, true);
    assert.deepEqual(kept.events.map((event) => event.offset), [10]);
  });

  test('an event larger than the whole budget is delivered live and not kept', async () => {
    const broker = new MemoryBroker({ clock: new FakeClock(), historyBudget: 10_000, newEpoch: () => 'e' });
    const heard: unknown[] = [];
    await broker.subscribe('doc', (event) => heard.push(event.data));
    await broker.publish('doc', big, { size: 10, ttl: 60_000 });
    assert.deepEqual(heard, [big]);
    assert.deepEqual({ bytes: broker.history.bytes, events: broker.history.events }, { bytes: 0, events: 0 });
    assert.equal((await broker.recover('doc', { epoch: 'e', offset: 0 }, 10)).recovered, false);
  });

  test('history trimmed by its own channel policy returns its bytes to the budget', async () => {
    const clock = new FakeClock();
    const broker = new MemoryBroker({ clock, historyBudget: 1_000_000 });
    for (let i = 0; i < 5_000; i++) await broker.publish('doc', i, { size: 3, ttl: 60_000 });
    assert.equal(broker.history.events, 3);
    assert.equal(broker.history.evicted, 0);
    await clock.tickAsync(61_000);
    await broker.publish('other', 0, { size: 0, ttl: 0 }); // sweeps: doc's events are past their ttl
    assert.deepEqual({ bytes: broker.history.bytes, events: broker.history.events }, { bytes: 0, events: 0 });
  });

  test('what a publish is deduplicated by keeps its position, not its data: evicted bodies are freed whatever the keys or channels', async () => {
    const policy = { size: 10, ttl: 60_000 };
    const broker = new MemoryBroker({ clock: new FakeClock(), historyBudget: 10_000, newEpoch: () => 'e' });
    const bodies = new Map<string, WeakRef<object>>();
    const first = new Map<string, number>();
    /** Publishes a body of its own, watched; nothing here holds it afterwards. */
    const publish = (name: string, channel: string, origin: PublishOrigin): void => {
      const body = { text: big, name };
      bodies.set(name, new WeakRef(body));
      first.set(name, broker.immediate?.publish(channel, body, policy, origin).offset ?? 0);
    };
    // Once with distinct idempotency keys, once as a session publishing to distinct channels.
    for (let i = 0; i < 20; i++) {
      publish(`key ${i}`, 'doc', { key: `k-${i}`, digest: `d-${i}`, ttl: 86_400_000 });
      publish(`session ${i}`, `doc:${i}`, { session: 's-1', id: i + 1, ttl: 150_000 });
    }
    assert.ok(broker.history.bytes <= 10_000);
    await collectGarbage();
    const kept = [...bodies].filter(([, body]) => body.deref() !== undefined).map(([name]) => name);
    assert.deepEqual(kept, [], `${kept.length} of ${bodies.size} evicted bodies still held (each ${big.length} bytes)`);
    // Deduplication still holds: the same key, or the same session id, returns the first position.
    const again = await broker.publish('doc', { text: big, n: 3 }, policy, { key: 'k-3', digest: 'd-3', ttl: 86_400_000 });
    assert.equal(again.offset, first.get('key 3'));
    assert.deepEqual(again.data, { text: big, n: 3 });
    const resent = await broker.publish('doc:5', { text: big, n: 5 }, policy, { session: 's-1', id: 6, ttl: 150_000 });
    assert.equal(resent.offset, first.get('session 5'));
    assert.throws(() => broker.immediate?.publish('doc', 'other', policy, { key: 'k-3', digest: 'other', ttl: 86_400_000 }), IdempotencyConflictError);
  });
});

describe('MemoryBroker: publish records (idempotency keys, session publishes) are capped', () => {
  const policy = { size: 10, ttl: 60_000 };

  test('past maxIdempotencyKeys the oldest record is forgotten first: a new key is always taken, the newest keys still deduplicate', async () => {
    const broker = new MemoryBroker({ clock: new FakeClock(), maxIdempotencyKeys: 100 });
    const key = (i: number): PublishOrigin => ({ key: `k-${i}`, digest: `d-${i}`, ttl: 86_400_000 });
    const first = new Map<number, number>();
    for (let i = 0; i < 1_000; i++) first.set(i, (await broker.publish('doc', i, policy, key(i))).offset);
    for (let i = 0; i < 1_000; i++) await broker.publish(`doc:${i}`, i, policy, { session: 's-1', id: i + 1, ttl: 150_000 });
    assert.equal(broker.size.origins, 100, 'records held');
    // The newest session records deduplicate; the first keys were forgotten (a repeat publishes again).
    assert.equal((await broker.publish('doc:999', 999, policy, { session: 's-1', id: 1_000, ttl: 150_000 })).offset, 1);
    assert.notEqual((await broker.publish('doc', 0, policy, key(0))).offset, first.get(0));
  });

  test('past maxKeysPerUser a holder\'s own oldest record goes, never another\'s; expired records leave their holder\'s count', async () => {
    const clock = new FakeClock();
    const broker = new MemoryBroker({ clock, maxIdempotencyKeys: 100, maxKeysPerUser: 10 });
    const keyOf = (holder: string | undefined, i: number, ttl = 86_400_000): PublishOrigin => ({ key: `${holder ?? 'server'}\n${i}`, digest: `d-${i}`, ttl, ...(holder === undefined ? {} : { holder }) });
    const ann = (await broker.publish('doc', 'ann', policy, keyOf('u:"ann"', 0))).offset;
    const server = (await broker.publish('doc', 'server', policy, keyOf(undefined, 0))).offset;
    for (let i = 0; i < 50; i++) await broker.publish('doc', i, policy, keyOf('u:"mallory"', i));
    assert.equal(broker.size.origins, 12, 'ann 1, the server 1, mallory her last 10');
    assert.equal((await broker.publish('doc', 'ann', policy, keyOf('u:"ann"', 0))).offset, ann, 'another user\'s record survives the flood');
    assert.equal((await broker.publish('doc', 'server', policy, keyOf(undefined, 0))).offset, server, 'so does the server\'s');
    const newest = (await broker.publish('doc', 'head', policy, keyOf(undefined, 1))).offset;
    assert.ok((await broker.publish('doc', 49, policy, keyOf('u:"mallory"', 49))).offset < newest, 'her newest deduplicates');
    assert.equal((await broker.publish('doc', 0, policy, keyOf('u:"mallory"', 0))).offset, newest + 1, 'her oldest was forgotten: published again');
    // Short-lived records of eve expire; the ones that replace them are not pushed out by the dead.
    for (let i = 0; i < 10; i++) await broker.publish('doc', i, policy, keyOf('u:"eve"', i, 1_000));
    clock.tick(60_001); // past the sweep's period: the expired are swept
    const first = (await broker.publish('doc', 10, policy, keyOf('u:"eve"', 10))).offset;
    for (let i = 11; i < 20; i++) await broker.publish('doc', i, policy, keyOf('u:"eve"', i));
    assert.equal((await broker.publish('doc', 10, policy, keyOf('u:"eve"', 10))).offset, first, 'all ten of her live records count, the expired ones do not');
  });

  test('by default at most 100 000 records, each of an idempotency key or a session\'s channel', async () => {
    const broker = new MemoryBroker({ clock: new FakeClock(), historyBudget: 0 });
    for (let i = 0; i < 100_500; i++) broker.immediate?.publish('doc', 0, policy, { key: `k-${i}`, digest: 'd', ttl: 86_400_000 });
    assert.equal(broker.size.origins, 100_000);
  });
});

describe('MemoryBroker: channel churn', () => {
  test('many channel names subscribed once are forgotten seconds after their last subscriber left', async () => {
    const clock = new FakeClock();
    const broker = new MemoryBroker({ clock });
    for (let batch = 0; batch < 5; batch++) {
      for (let i = 0; i < 2_000; i++) {
        const stop = await broker.subscribe(`user:${batch}-${i}`, () => undefined);
        await broker.recover(`user:${batch}-${i}`, undefined, 1);
        await stop();
      }
      await clock.tickAsync(11_000);
    }
    await broker.recover('probe', undefined, 1); // a subscribe-side call sweeps too
    assert.ok(broker.size.channels <= 2_001, `${broker.size.channels} channels held`);
  });
});

describe('MemoryBroker: the immediate steps (publish, record, claim without a promise)', () => {
  const policy = { size: 10, ttl: 60_000 };

  test('answer as the promised methods do: one event per origin, a key reused for another body refused, a claim held until the reply is recorded', async () => {
    const broker = new MemoryBroker({ clock: new FakeClock(), newEpoch: () => 'e' });
    const now = broker.immediate;
    assert.ok(now, 'a plain MemoryBroker answers at once');
    const origin = { session: 's-1', id: 7, ttl: 60_000 };
    const first = now.publish('room', 'a', policy, origin);
    assert.deepEqual(now.publish('room', 'a', policy, origin), first, 'the same origin again: the first event, nothing published');
    assert.equal((await broker.publish('room', 'a', policy, origin)).offset, first.offset, 'the promised publish sees the same origin');
    assert.equal(now.publish('room', 'b', policy).offset, first.offset + 1);
    const key = { key: 'k', digest: 'd1', ttl: 60_000 };
    now.publish('room', 'c', policy, key);
    assert.throws(() => now.publish('room', 'other', policy, { ...key, digest: 'd2' }), IdempotencyConflictError);
    await broker.saveSession('s-1', { user: 'u', window: new RequestWindow<unknown>(10).snapshot() }, 60_000);
    assert.equal(now.claimRequest('s-1', 3, 1_000), true);
    assert.equal(now.claimRequest('s-1', 3, 1_000), false, 'held');
    assert.equal(await broker.claimRequest('s-1', 3, 1_000), false, 'held for the promised claim too');
    now.recordReply('s-1', 3, 'r3', 10);
    assert.equal(now.claimRequest('s-1', 3, 1_000), false, 'answered: never claimed again');
    assert.deepEqual((await broker.loadSession('s-1'))?.window.replies, [[3, 'r3']]);
    assert.equal(broker.size.claims, 0, 'the claim was let go at the record');
  });

  test('a subclass that overrides publish, recordReply or claimRequest has none: its override is what runs', () => {
    /** A subclass whose `method` calls the inherited one (as a wrapper adding a check or a log would). */
    const overriding = (method: 'publish' | 'recordReply' | 'claimRequest' | 'recover'): MemoryBroker => {
      class Overriding extends MemoryBroker {}
      const inherited = MemoryBroker.prototype[method] as (...args: unknown[]) => unknown;
      Object.defineProperty(Overriding.prototype, method, {
        value: function (this: MemoryBroker, ...args: unknown[]) {
          return inherited.apply(this, args);
        },
      });
      return new Overriding();
    };
    for (const method of ['publish', 'recordReply', 'claimRequest'] as const) assert.equal(overriding(method).immediate, undefined, method);
    assert.ok(overriding('recover').immediate, 'an override of another method keeps them');
  });

  test('a method replaced by a class field or patched on after construction is honoured: its immediate step is left out', async () => {
    let saved = 0;
    class Counting extends MemoryBroker {
      override saveSession = async (...args: Parameters<MemoryBroker['saveSession']>): Promise<boolean> => {
        saved++;
        return MemoryBroker.prototype.saveSession.apply(this, args);
      };
    }
    const counting = new Counting({ clock: new FakeClock() });
    assert.ok(counting.immediate, 'publish, record and claim are still its own');
    assert.equal(counting.immediate?.saveSession, undefined, 'a class field replaces saveSession: the promised one must run');
    await counting.saveSession('s-1', { user: null, window: { acked: 0, floor: 0, replies: [] } }, 1_000);
    assert.equal(saved, 1);
    const patched = new MemoryBroker({ clock: new FakeClock() });
    assert.ok(patched.immediate?.recover, 'recover is its own at first');
    const recover = patched.recover.bind(patched);
    patched.recover = (...args) => recover(...args);
    assert.equal(patched.immediate?.recover, undefined, 'patched later: the promised one must run');
    patched.publish = async () => Promise.reject(new Error('patched'));
    assert.equal(patched.immediate, undefined, 'a patched publish: no immediate steps at all');
  });
});

describe('MemoryBroker: sessionsOf from a user index', () => {
  const users: readonly unknown[] = [{ tenant: 't', sub: 'ann' }, { sub: 'ann', tenant: 't' }, { sub: 'bob' }, null, 'carl'];
  const keyOf = (user: unknown): string => JSON.stringify(user === null ? null : typeof user === 'object' ? Object.fromEntries(Object.entries(user as object).sort()) : user);
  type Op = { kind: 'save'; session: number; user: number; ttl: number } | { kind: 'tick'; ms: number } | { kind: 'delete'; session: number } | { kind: 'query'; user: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('save' as const), session: fc.nat(5), user: fc.nat(users.length - 1), ttl: fc.integer({ min: 1, max: 200_000 }) }),
    fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 120_000 }) }),
    fc.record({ kind: fc.constant('delete' as const), session: fc.nat(5) }),
    fc.record({ kind: fc.constant('query' as const), user: fc.nat(users.length - 1) }),
  );

  test('answers as a scan of every record would, before and after the index is made, across saves, moves to another user, expiry, deletes and sweeps', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
        const clock = new FakeClock();
        const broker = new MemoryBroker({ clock });
        /** The model: each session's user (as a key) and when its record expires. */
        const model = new Map<string, { readonly user: string; readonly expiresAt: number }>();
        for (const step of [...ops, { kind: 'query' as const, user: 0 }, { kind: 'query' as const, user: 2 }]) {
          if (step.kind === 'save') {
            const id = `s${step.session}`;
            await broker.saveSession(id, { user: users[step.user], window: { acked: 0, floor: 0, replies: [] } }, step.ttl);
            model.set(id, { user: keyOf(users[step.user]), expiresAt: clock.now() + step.ttl });
          } else if (step.kind === 'tick') clock.tick(step.ms);
          else if (step.kind === 'delete') {
            await broker.deleteSession(`s${step.session}`);
            model.delete(`s${step.session}`);
          } else {
            const key = keyOf(users[step.user]);
            const expected = [...model].filter(([, held]) => held.user === key && held.expiresAt >= clock.now()).map(([id]) => id);
            assert.deepEqual([...(await broker.sessionsOf(users[step.user]))].sort(), expected.sort());
          }
        }
        await broker.close();
      }),
      { numRuns: 300 },
    );
  });
});
