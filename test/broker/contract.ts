/**
 * The suite every {@link Broker} must pass (STYLE 11: one contract, run against each
 * implementation). A networked broker (Redis) runs it unchanged, so nothing here relies on shared
 * memory or synchronous delivery: every delivery is awaited with a deadline, every test works in
 * its own channel and session names, and time moves only through the injected FakeClock (TTLs
 * are computed from it, never from the platform clock).
 *
 * @example
 * brokerContract('MemoryBroker', async (clock) => new MemoryBroker({ clock }));
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import type { Broker, ChannelEvent, DirectMessage, HistoryPolicy, PresenceMember, PublishOrigin, SessionRecord } from '../../src/broker/broker.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { within } from '../helpers/wait.js';

/** How long a delivery may take (a networked broker needs a round trip or two). */
const DELIVERY_DEADLINE = 5_000;

const roomy: HistoryPolicy = { size: 100, ttl: 60_000 };

/** Collects what a listener receives and lets a test await the n-th item with a deadline. */
class Inbox<T> {
  readonly items: T[] = [];
  #wake: (() => void) | undefined;

  readonly push = (item: T): void => {
    this.items.push(item);
    this.#wake?.();
  };

  /** Resolves once at least `count` items arrived. */
  async atLeast(count: number, ms = DELIVERY_DEADLINE): Promise<readonly T[]> {
    const deadline = Date.now() + ms;
    while (this.items.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${count} deliveries, got ${this.items.length} within ${ms} ms`);
      await within(new Promise<void>((resolve) => (this.#wake = resolve)), left, `${count} deliveries (have ${this.items.length})`).catch(() => undefined);
    }
    return this.items;
  }
}

interface Setup {
  readonly broker: Broker;
  readonly clock: FakeClock;
  /** A name unique to this test (channels, sessions): no crosstalk on a shared server. */
  readonly name: (suffix: string) => string;
}

/** A direct message the broker took (sent without a limit, it always does). */
async function stored(sending: Promise<DirectMessage | null>): Promise<DirectMessage> {
  const message = await sending;
  assert.ok(message, 'the broker stored the message');
  return message;
}

function offsets(events: readonly ChannelEvent[]): number[] {
  return events.map((event) => event.offset);
}

function byClient(members: readonly PresenceMember[]): PresenceMember[] {
  return [...members].sort((a, b) => a.client.localeCompare(b.client));
}

function record(user: unknown, acked = 0, replies: readonly (readonly [number, unknown])[] = []): SessionRecord {
  return { user, window: { acked, floor: 0, replies } };
}

/**
 * Limits a test sets on the broker it makes (the brokers' own options of the same names); the
 * rest keep their defaults.
 */
export interface BrokerLimits {
  readonly maxKeysPerUser?: number;
}

/**
 * Registers `describe(name)` with every test a Broker must pass. `makeBroker` gets a fresh
 * FakeClock per test (and the limits the test sets) and returns a fresh broker on it; the suite
 * closes it after the test.
 */
export function brokerContract(name: string, makeBroker: (clock: FakeClock, limits: BrokerLimits) => Promise<Broker>): void {
  async function setup(t: TestContext, limits: BrokerLimits = {}): Promise<Setup> {
    const clock = new FakeClock(1_700_000_000_000);
    const broker = await makeBroker(clock, limits);
    t.after(() => broker.close());
    const prefix = `t${randomUUID().slice(0, 8)}`;
    return { broker, clock, name: (suffix) => `${prefix}:${suffix}` };
  }

  describe(`Broker contract: ${name}`, () => {
    describe('channels: publish and fan-out', () => {
      test('publish assigns offsets 1, 2, 3 in one epoch and fans out to every subscriber in order', async (t) => {
        const { broker, name } = await setup(t);
        const channel = name('room');
        const first = new Inbox<ChannelEvent>();
        const second = new Inbox<ChannelEvent>();
        await broker.subscribe(channel, first.push);
        await broker.subscribe(channel, second.push);
        const published: ChannelEvent[] = [];
        for (const text of ['a', 'b', 'c']) published.push(await broker.publish(channel, { text }, roomy));
        assert.deepEqual(offsets(published), [1, 2, 3]);
        const epoch = published[0]?.epoch;
        assert.ok(typeof epoch === 'string' && epoch.length > 0, 'an epoch names the history');
        assert.ok(published.every((event) => event.epoch === epoch && event.channel === channel));
        for (const inbox of [first, second]) {
          const got = await inbox.atLeast(3);
          assert.deepEqual(
            got.map((event) => ({ channel: event.channel, epoch: event.epoch, offset: event.offset, data: event.data })),
            published.map((event) => ({ channel: event.channel, epoch: event.epoch, offset: event.offset, data: event.data })),
          );
        }
      });

      test('events of one channel never reach subscribers of another', async (t) => {
        const { broker, name } = await setup(t);
        const mine = new Inbox<ChannelEvent>();
        const other = new Inbox<ChannelEvent>();
        await broker.subscribe(name('mine'), mine.push);
        await broker.subscribe(name('other'), other.push);
        await broker.publish(name('other'), 1, roomy);
        await broker.publish(name('mine'), 2, roomy);
        await other.atLeast(1);
        await mine.atLeast(1);
        assert.deepEqual(mine.items.map((event) => event.data), [2]);
        assert.deepEqual(other.items.map((event) => event.data), [1]);
        assert.equal(mine.items[0]?.offset, 1, 'offsets count per channel');
      });

      test('unsubscribe stops delivery to that listener only', async (t) => {
        const { broker, name } = await setup(t);
        const channel = name('room');
        const leaving = new Inbox<ChannelEvent>();
        const staying = new Inbox<ChannelEvent>();
        const stop = await broker.subscribe(channel, leaving.push);
        await broker.subscribe(channel, staying.push);
        await broker.publish(channel, 'before', roomy);
        await leaving.atLeast(1);
        await stop();
        await broker.publish(channel, 'after', roomy);
        await broker.publish(channel, 'later', roomy);
        // The staying listener saw both later events: had the stopped one been reached, it would be by now.
        await staying.atLeast(3);
        assert.deepEqual(leaving.items.map((event) => event.data), ['before']);
      });

      test('a listener that publishes to its own channel: every listener still gets the events in offset order', async (t) => {
        const { broker, name } = await setup(t);
        const channel = name('room');
        const replying = new Inbox<ChannelEvent>();
        const later = new Inbox<ChannelEvent>();
        // A bot in the process answering on the channel, subscribed before everyone else.
        await broker.subscribe(channel, (event) => {
          replying.push(event);
          if (event.data === 'question') void broker.publish(channel, 'answer', roomy);
        });
        await broker.subscribe(channel, later.push);
        await broker.publish(channel, 'question', roomy);
        for (const inbox of [replying, later]) {
          await inbox.atLeast(2);
          assert.deepEqual(offsets(inbox.items), [1, 2]);
          assert.deepEqual(inbox.items.map((event) => event.data), ['question', 'answer']);
        }
      });

      test('a listener that unsubscribes and subscribes again while an event is delivered gets it once', async (t) => {
        const { broker, name } = await setup(t);
        const channel = name('room');
        const staying = new Inbox<ChannelEvent>();
        const moving = new Inbox<ChannelEvent>();
        await broker.subscribe(channel, staying.push);
        let again: Promise<unknown> | undefined;
        const listener = (event: ChannelEvent): void => {
          moving.push(event);
          // Both asked for during the delivery, before either is answered.
          again ??= Promise.all([stop(), broker.subscribe(channel, listener)]);
        };
        const stop = await broker.subscribe(channel, listener);
        await broker.publish(channel, 'first', roomy);
        await moving.atLeast(1);
        await again;
        await broker.publish(channel, 'second', roomy);
        await moving.atLeast(2);
        await staying.atLeast(2);
        assert.deepEqual(moving.items.map((event) => event.data), ['first', 'second']);
      });
      test('data JSON cannot carry is refused with a TypeError and uses no offset (history or not)', async (t) => {
        const { broker, name } = await setup(t);
        const cyclic: { self?: unknown } = {};
        cyclic.self = cyclic;
        for (const policy of [roomy, { size: 0, ttl: 0 }]) {
          const channel = name(`room${policy.size}`);
          const inbox = new Inbox<ChannelEvent>();
          await broker.subscribe(channel, inbox.push);
          for (const data of [10n, { nested: [1n] }, cyclic, () => 0, Symbol('x')]) {
            await assert.rejects(broker.publish(channel, data, policy), (error: unknown) => error instanceof TypeError && /JSON cannot carry/.test(error.message));
          }
          const next = await broker.publish(channel, 'fine', policy);
          assert.equal(next.offset, 1, 'the refused publishes took no offset');
          await inbox.atLeast(1);
          assert.deepEqual(inbox.items.map((event) => [event.offset, event.data]), [[1, 'fine']], 'nothing refused was delivered');
          assert.deepEqual(offsets((await broker.recover(channel, { epoch: next.epoch, offset: 0 }, 10)).events), policy.size > 0 ? [1] : []);
        }
      });
    });

    describe('channels: exactly-once client publishes', () => {
      test('a publish repeating the last origin (session, id) returns the first event and publishes nothing', async (t) => {
        const { broker, name } = await setup(t);
        const channel = name('room');
        const inbox = new Inbox<ChannelEvent>();
        await broker.subscribe(channel, inbox.push);
        const origin = { session: name('s'), id: 7, ttl: 10_000 };
        const first = await broker.publish(channel, { text: 'hi' }, roomy, origin);
        const again = await broker.publish(channel, { text: 'hi' }, roomy, origin);
        assert.deepEqual([again.epoch, again.offset], [first.epoch, first.offset]);
        const next = await broker.publish(channel, { text: 'next' }, roomy, { ...origin, id: 8 });
        assert.equal(next.offset, first.offset + 1, 'a new id publishes');
        const other = await broker.publish(channel, { text: 'hi' }, roomy, { ...origin, session: name('other') });
        assert.equal(other.offset, first.offset + 2, 'the same id from another session is another message');
        const elsewhere = await broker.publish(name('elsewhere'), 'x', roomy, origin);
        assert.equal(elsewhere.offset, 1, 'the same origin on another channel is another message');
        await inbox.atLeast(3);
        assert.deepEqual(offsets(inbox.items), [1, 2, 3], 'subscribers heard each event once');
        const history = await broker.recover(channel, { epoch: first.epoch, offset: 0 }, 100);
        assert.deepEqual(offsets(history.events), [1, 2, 3], 'history holds each event once');
      });

      test('the origin is forgotten after its ttl', async (t) => {
        const { broker, clock, name } = await setup(t);
        const channel = name('room');
        const origin = { session: name('s'), id: 1, ttl: 1_000 };
        await broker.publish(channel, 'a', roomy, origin);
        clock.tick(1_001);
        assert.equal((await broker.publish(channel, 'a', roomy, origin)).offset, 2);
      });
    });

    describe('channels: idempotency keys', () => {
      test('the same key and digest returns the stored event and stores nothing; another digest is refused', async (t) => {
        const { broker, name } = await setup(t);
        const channel = name('room');
        const inbox = new Inbox<ChannelEvent>();
        await broker.subscribe(channel, inbox.push);
        const keyed = { key: name('key'), digest: 'd1', ttl: 86_400_000 };
        const first = await broker.publish(channel, { text: 'hi' }, roomy, keyed);
        const again = await broker.publish(channel, { text: 'hi' }, roomy, keyed);
        assert.deepEqual([again.epoch, again.offset], [first.epoch, first.offset]);
        await assert.rejects(broker.publish(channel, { text: 'other' }, roomy, { ...keyed, digest: 'd2' }), (error: Error & { code?: string }) => error.code === 'ERR_IDEMPOTENCY_CONFLICT');
        // A conflict does not replace the stored key: the first body still gets its position.
        assert.equal((await broker.publish(channel, { text: 'hi' }, roomy, keyed)).offset, first.offset);
        const otherKey = await broker.publish(channel, { text: 'hi' }, roomy, { ...keyed, key: name('key2') });
        assert.equal(otherKey.offset, first.offset + 1, 'another key is another message');
        const elsewhere = await broker.publish(name('elsewhere'), { text: 'hi' }, roomy, keyed);
        assert.equal(elsewhere.offset, 1, 'keys are kept per channel');
        await inbox.atLeast(2);
        assert.deepEqual(offsets(inbox.items), [1, 2], 'subscribers heard each event once');
        const history = await broker.recover(channel, { epoch: first.epoch, offset: 0 }, 100);
        assert.deepEqual(offsets(history.events), [1, 2], 'history holds each event once');
      });

      test('a key is forgotten after its ttl', async (t) => {
        const { broker, clock, name } = await setup(t);
        const channel = name('room');
        const keyed = { key: name('key'), digest: 'd1', ttl: 1_000 };
        await broker.publish(channel, 'a', roomy, keyed);
        clock.tick(999);
        assert.equal((await broker.publish(channel, 'a', roomy, keyed)).offset, 1, 'still remembered');
        clock.tick(2);
        assert.equal((await broker.publish(channel, 'b', roomy, { ...keyed, digest: 'd2' })).offset, 2, 'forgotten: a new message');
      });

      test("past maxKeysPerUser a holder's own oldest records go, across channels, never another's; expired ones leave the count", async (t) => {
        const { broker, clock, name } = await setup(t, { maxKeysPerUser: 10 });
        const channel = name('room');
        const keyOf = (holder: string | undefined, i: number, ttl = 86_400_000): PublishOrigin => ({ key: name(`${holder ?? 'server'}\n${i}`), digest: `d-${i}`, ttl, ...(holder === undefined ? {} : { holder }) });
        const ann = (await broker.publish(channel, 'ann', roomy, keyOf('u:"ann"', 0))).offset;
        const server = (await broker.publish(channel, 'server', roomy, keyOf(undefined, 0))).offset;
        // Mallory's keys spread over five channels: her quota is hers, wherever she publishes.
        const hers = (i: number): string => name(`spread-${i % 5}`);
        const first = new Map<number, number>();
        for (let i = 0; i < 30; i++) first.set(i, (await broker.publish(hers(i), i, roomy, keyOf('u:"mallory"', i))).offset);
        assert.equal((await broker.publish(channel, 'ann', roomy, keyOf('u:"ann"', 0))).offset, ann, "another user's record survives the flood");
        assert.equal((await broker.publish(channel, 'server', roomy, keyOf(undefined, 0))).offset, server, "so does the server's");
        for (let i = 20; i < 30; i++) assert.equal((await broker.publish(hers(i), i, roomy, keyOf('u:"mallory"', i))).offset, first.get(i), `her record ${i}, among her newest ten, deduplicates`);
        for (let i = 0; i < 20; i += 7) assert.notEqual((await broker.publish(hers(i), i, roomy, keyOf('u:"mallory"', i))).offset, first.get(i), `her record ${i} was forgotten: published again`);
        // Short-lived records of eve expire; the ones made after them are not pushed out by the dead.
        for (let i = 0; i < 10; i++) await broker.publish(channel, i, roomy, keyOf('u:"eve"', i, 1_000));
        clock.tick(60_001);
        const tenth = (await broker.publish(channel, 10, roomy, keyOf('u:"eve"', 10))).offset;
        for (let i = 11; i < 20; i++) await broker.publish(channel, i, roomy, keyOf('u:"eve"', i));
        assert.equal((await broker.publish(channel, 10, roomy, keyOf('u:"eve"', 10))).offset, tenth, 'all ten of her live records count, the expired ones do not');
      });
    });

    describe('channels: history and recovery', () => {
      test('recover without since gives the head (offset 0 for an empty channel)', async (t) => {
        const { broker, name } = await setup(t);
        const channel = name('room');
        const empty = await broker.recover(channel, undefined, 100);
        assert.equal(empty.position.offset, 0);
        assert.equal(empty.recovered, true);
        assert.deepEqual(empty.events, []);
        const published = [await broker.publish(channel, 1, roomy), await broker.publish(channel, 2, roomy), await broker.publish(channel, 3, roomy)];
        const head = await broker.recover(channel, undefined, 100);
        assert.deepEqual(head, { events: [], position: { epoch: published[2]?.epoch, offset: 3 }, recovered: true });
        assert.equal(empty.position.epoch, head.position.epoch, 'an empty channel is the start of the same history');
      });

      test('recover(since) returns exactly the events after since, in order, and the head', async (t) => {
        const { broker, name } = await setup(t);
        const channel = name('room');
        const published: ChannelEvent[] = [];
        for (let i = 1; i <= 5; i++) published.push(await broker.publish(channel, { n: i }, roomy));
        const epoch = published[0]?.epoch ?? '';
        const recovery = await broker.recover(channel, { epoch, offset: 2 }, 100);
        assert.equal(recovery.recovered, true);
        assert.deepEqual(recovery.position, { epoch, offset: 5 });
        assert.deepEqual(
          recovery.events.map((event) => [event.channel, event.epoch, event.offset, event.data]),
          [3, 4, 5].map((n) => [channel, epoch, n, { n }]),
        );
        const upToDate = await broker.recover(channel, { epoch, offset: 5 }, 100);
        assert.deepEqual(upToDate, { events: [], position: { epoch, offset: 5 }, recovered: true }, 'nothing missed: recovered, nothing to replay');
        const fromStart = await broker.recover(channel, { epoch, offset: 0 }, 100);
        assert.deepEqual(offsets(fromStart.events), [1, 2, 3, 4, 5]);
      });

      test('history trimmed by size: a gap within it recovers, one beyond it does not', async (t) => {
        const { broker, name } = await setup(t);
        const channel = name('room');
        const policy: HistoryPolicy = { size: 3, ttl: 60_000 };
        let epoch = '';
        for (let i = 1; i <= 5; i++) epoch = (await broker.publish(channel, i, policy)).epoch;
        const within3 = await broker.recover(channel, { epoch, offset: 2 }, 100);
        assert.equal(within3.recovered, true);
        assert.deepEqual(offsets(within3.events), [3, 4, 5]);
        const beyond = await broker.recover(channel, { epoch, offset: 1 }, 100);
        assert.deepEqual(beyond, { events: [], position: { epoch, offset: 5 }, recovered: false }, 'event 2 is gone: no partial replay');
      });

      test('history trimmed by ttl: once the clock passes the ttl the gap is not recoverable', async (t) => {
        const { broker, clock, name } = await setup(t);
        const channel = name('room');
        const policy: HistoryPolicy = { size: 100, ttl: 1_000 };
        const { epoch } = await broker.publish(channel, 1, policy);
        await broker.publish(channel, 2, policy);
        clock.tick(500);
        assert.equal((await broker.recover(channel, { epoch, offset: 0 }, 100)).recovered, true, 'still within the ttl');
        clock.tick(501);
        const expired = await broker.recover(channel, { epoch, offset: 0 }, 100);
        assert.deepEqual(expired, { events: [], position: { epoch, offset: 2 }, recovered: false });
        assert.equal((await broker.recover(channel, { epoch, offset: 2 }, 100)).recovered, true, 'a holder of the head missed nothing');
        await broker.publish(channel, 3, policy);
        const fresh = await broker.recover(channel, { epoch, offset: 2 }, 100);
        assert.equal(fresh.recovered, true);
        assert.deepEqual(offsets(fresh.events), [3], 'events younger than the ttl are served');
      });

      test('rewind gives the newest events, oldest first, ending at the head; capped by count and history size', async (t) => {
        const { broker, name } = await setup(t);
        const channel = name('room');
        const empty = await broker.rewind(channel, 10, undefined);
        assert.deepEqual(empty.events, []);
        assert.equal(empty.position.offset, 0);
        assert.equal(empty.recovered, true);
        const policy: HistoryPolicy = { size: 4, ttl: 60_000 };
        let epoch = '';
        for (let i = 1; i <= 6; i++) epoch = (await broker.publish(channel, { n: i }, policy)).epoch;
        const three = await broker.rewind(channel, 3, undefined);
        assert.deepEqual(three.position, { epoch, offset: 6 });
        assert.deepEqual(
          three.events.map((event) => [event.channel, event.epoch, event.offset, event.data]),
          [4, 5, 6].map((offset) => [channel, epoch, offset, { n: offset }]),
        );
        assert.deepEqual(offsets((await broker.rewind(channel, 50, undefined)).events), [3, 4, 5, 6], 'no more than the history keeps');
        // What a rewind gave recovers seamlessly: nothing after its head is missing.
        await broker.publish(channel, { n: 7 }, policy);
        const next = await broker.recover(channel, three.position, 100);
        assert.equal(next.recovered, true);
        assert.deepEqual(offsets(next.events), [7]);
      });

      test('a fractional rewind count gives its whole part (a fractional history size is one)', async (t) => {
        const { broker, name } = await setup(t);
        const channel = name('room');
        const policy: HistoryPolicy = { size: 2.5, ttl: 60_000 };
        for (let i = 1; i <= 4; i++) await broker.publish(channel, i, policy);
        assert.deepEqual(offsets((await broker.rewind(channel, 1.5, undefined)).events), [4]);
        assert.deepEqual(offsets((await broker.rewind(channel, 2.5, undefined)).events), [3, 4]);
        assert.deepEqual(offsets((await broker.rewind(channel, 0.5, undefined)).events), []);
      });

      test('rewind by age: only events younger than maxAgeMs (and the ttl)', async (t) => {
        const { broker, clock, name } = await setup(t);
        const channel = name('room');
        const policy: HistoryPolicy = { size: 100, ttl: 10_000 };
        await broker.publish(channel, 1, policy);
        clock.tick(3_000);
        await broker.publish(channel, 2, policy);
        clock.tick(1_000);
        await broker.publish(channel, 3, policy);
        clock.tick(500);
        assert.deepEqual(offsets((await broker.rewind(channel, 100, 2_000)).events), [2, 3], 'the last 2 s');
        assert.deepEqual(offsets((await broker.rewind(channel, 100, 600)).events), [3]);
        assert.deepEqual(offsets((await broker.rewind(channel, 1, 60_000)).events), [3], 'the count applies too');
        assert.deepEqual(offsets((await broker.rewind(channel, 100, 60_000)).events), [1, 2, 3], 'never beyond history');
        clock.tick(6_000);
        assert.deepEqual(offsets((await broker.rewind(channel, 100, undefined)).events), [2, 3], 'event 1 is past the ttl');
      });

      test('a different epoch is not recoverable, whatever the offset', async (t) => {
        const { broker, name } = await setup(t);
        const channel = name('room');
        const { epoch } = await broker.publish(channel, 1, roomy);
        await broker.publish(channel, 2, roomy);
        for (const offset of [0, 1, 2]) {
          const recovery = await broker.recover(channel, { epoch: `${epoch}-other`, offset }, 100);
          assert.deepEqual(recovery, { events: [], position: { epoch, offset: 2 }, recovered: false }, `offset ${offset}`);
        }
      });

      test('a since ahead of the head is not recoverable (the holder saw a history that was lost)', async (t) => {
        const { broker, name } = await setup(t);
        const channel = name('room');
        const { epoch } = await broker.publish(channel, 1, roomy);
        const recovery = await broker.recover(channel, { epoch, offset: 7 }, 100);
        assert.deepEqual(recovery, { events: [], position: { epoch, offset: 1 }, recovered: false });
      });

      test('a gap larger than limit is not recoverable (never a partial replay)', async (t) => {
        const { broker, name } = await setup(t);
        const channel = name('room');
        let epoch = '';
        for (let i = 1; i <= 5; i++) epoch = (await broker.publish(channel, i, roomy)).epoch;
        assert.equal((await broker.recover(channel, { epoch, offset: 1 }, 3)).recovered, false);
        const exact = await broker.recover(channel, { epoch, offset: 2 }, 3);
        assert.equal(exact.recovered, true);
        assert.deepEqual(offsets(exact.events), [3, 4, 5]);
      });

      test('an unbounded size (Infinity) keeps every event, a fractional one its whole part; no publish fails or skips an offset', async (t) => {
        const { broker, name } = await setup(t);
        const unbounded = name('unbounded');
        const all: HistoryPolicy = { size: Infinity, ttl: Infinity };
        const published: ChannelEvent[] = [];
        for (let i = 1; i <= 4; i++) published.push(await broker.publish(unbounded, i, all));
        assert.deepEqual(offsets(published), [1, 2, 3, 4]);
        const epoch = published[0]?.epoch ?? '';
        const everything = await broker.recover(unbounded, { epoch, offset: 0 }, 100);
        assert.equal(everything.recovered, true);
        assert.deepEqual(everything.events.map((event) => event.data), [1, 2, 3, 4]);

        const fraction = name('fraction');
        const half: HistoryPolicy = { size: 2.5, ttl: 60_000 };
        const halves: ChannelEvent[] = [];
        for (let i = 1; i <= 4; i++) halves.push(await broker.publish(fraction, i, half));
        assert.deepEqual(offsets(halves), [1, 2, 3, 4]);
        const at = halves[0]?.epoch ?? '';
        const two = await broker.recover(fraction, { epoch: at, offset: 2 }, 100);
        assert.equal(two.recovered, true);
        assert.deepEqual(two.events.map((event) => event.data), [3, 4]);
        assert.equal((await broker.recover(fraction, { epoch: at, offset: 1 }, 100)).recovered, false, 'two kept, not three');
      });

      test('size 0 keeps no history: any gap fails, no gap still recovers', async (t) => {
        const { broker, name } = await setup(t);
        const channel = name('room');
        const none: HistoryPolicy = { size: 0, ttl: 60_000 };
        const published = [await broker.publish(channel, 1, none), await broker.publish(channel, 2, none), await broker.publish(channel, 3, none)];
        assert.deepEqual(offsets(published), [1, 2, 3], 'offsets still count');
        const epoch = published[0]?.epoch ?? '';
        assert.deepEqual(await broker.recover(channel, { epoch, offset: 2 }, 100), { events: [], position: { epoch, offset: 3 }, recovered: false });
        assert.deepEqual(await broker.recover(channel, { epoch, offset: 3 }, 100), { events: [], position: { epoch, offset: 3 }, recovered: true });
      });
    });

    describe('sessions', () => {
      test('save, load and delete', async (t) => {
        const { broker, name } = await setup(t);
        const id = name('session');
        assert.equal(await broker.loadSession(id), undefined, 'unknown session');
        const saved = record({ name: 'ann', roles: ['admin'] }, 2, [
          [1, { type: 'ack', id: 1, position: { epoch: 'e', offset: 1 } }],
          [2, { type: 'result', id: 2, data: [1, 'two', null] }],
        ]);
        await broker.saveSession(id, saved, 10_000);
        assert.deepEqual(await broker.loadSession(id), saved);
        await broker.deleteSession(id);
        assert.equal(await broker.loadSession(id), undefined);
      });

      test('a deleted session leaves nothing: no record, no pending direct messages, not in its user\'s sessions', async (t) => {
        const { broker, name } = await setup(t);
        const id = name('session');
        const user = name('user');
        await broker.saveSession(id, record(user), 10_000);
        await broker.sendDirect(id, 'one', 10_000);
        assert.equal((await broker.pendingDirect(id, 0)).length, 1);
        assert.deepEqual(await broker.sessionsOf(user), [id]);
        await broker.deleteSession(id);
        assert.equal(await broker.loadSession(id), undefined);
        assert.deepEqual(await broker.pendingDirect(id, 0), []);
        assert.deepEqual(await broker.sessionsOf(user), []);
      });

      test('the owner is stored with a session, and a save without one keeps it', async (t) => {
        const { broker, name } = await setup(t);
        const id = name('session');
        await broker.saveSession(id, { ...record('ann'), owner: 'conn-b' }, 10_000);
        assert.equal((await broker.loadSession(id))?.owner, 'conn-b');
        await broker.saveSession(id, record('ann'), 10_000);
        assert.equal((await broker.loadSession(id))?.owner, 'conn-b', 'kept');
        await broker.saveSession(id, { ...record('ann'), owner: 'conn-c' }, 10_000);
        assert.equal((await broker.loadSession(id))?.owner, 'conn-c', 'replaced');
      });

      test('the secret digest and the anonymous flag are stored with a session, and a save without them keeps them', async (t) => {
        const { broker, name } = await setup(t);
        const id = name('session');
        await broker.saveSession(id, record('anon-1'), 10_000);
        assert.equal((await broker.loadSession(id))?.secret, undefined);
        await broker.saveSession(id, { ...record('anon-1'), secret: 'ab'.repeat(32), anonymous: true }, 10_000);
        const loaded = await broker.loadSession(id);
        assert.deepEqual([loaded?.secret, loaded?.anonymous], ['ab'.repeat(32), true]);
        await broker.saveSession(id, record('anon-1', 2), 10_000);
        const kept = await broker.loadSession(id);
        assert.deepEqual([kept?.secret, kept?.anonymous, kept?.window.acked], ['ab'.repeat(32), true, 2], 'kept');
        await broker.saveSession(id, { ...record('ann', 2), secret: 'cd'.repeat(32), anonymous: false }, 10_000);
        const replaced = await broker.loadSession(id);
        assert.deepEqual([replaced?.secret, replaced?.anonymous], ['cd'.repeat(32), false], 'replaced');
      });

      test('a session expires after its ttl; every save refreshes it', async (t) => {
        const { broker, clock, name } = await setup(t);
        const id = name('session');
        await broker.saveSession(id, record('ann'), 1_000);
        clock.tick(800);
        assert.notEqual(await broker.loadSession(id), undefined);
        await broker.saveSession(id, record('ann'), 1_000);
        clock.tick(800);
        assert.notEqual(await broker.loadSession(id), undefined, 'the second save restarted the ttl');
        clock.tick(201);
        assert.equal(await broker.loadSession(id), undefined);
      });

      test('refreshSessions extends live sessions (never shortens them) and skips gone ones', async (t) => {
        const { broker, clock, name } = await setup(t);
        const [short, long, gone] = [name('short'), name('long'), name('gone')];
        const ann = { id: name('ann') };
        await broker.saveSession(short, record(ann), 1_000);
        await broker.saveSession(long, record(ann), 60_000);
        await broker.sendDirect(short, 'kept', 1_000);
        assert.deepEqual(await broker.refreshSessions([short, long, gone], 5_000), [gone], 'the ids it did not find');
        clock.tick(4_000);
        assert.notEqual(await broker.loadSession(short), undefined, 'extended to 5 s');
        assert.deepEqual((await broker.pendingDirect(short, 0)).map((m) => m.data), ['kept'], 'its outbox lives as long');
        assert.deepEqual([...(await broker.sessionsOf(ann))].sort(), [short, long].sort(), 'still found by user');
        assert.equal(await broker.loadSession(gone), undefined, 'a refresh creates nothing');
        clock.tick(1_001);
        assert.equal(await broker.loadSession(short), undefined, 'expired after the refreshed ttl');
        assert.notEqual(await broker.loadSession(long), undefined, 'a longer ttl was not shortened');
        assert.deepEqual(await broker.sessionsOf(ann), [long]);
      });

      test('sessionsOf finds a user by value: the order of its keys does not matter', async (t) => {
        const { broker, name } = await setup(t);
        const [first, second, other] = [name('first'), name('second'), name('other')];
        const tenant = name('acme');
        await broker.saveSession(first, record({ sub: 'ann', tenant }), 60_000);
        await broker.saveSession(second, record({ tenant, sub: 'ann' }), 60_000);
        await broker.saveSession(other, record({ sub: 'bob', tenant }), 60_000);
        assert.deepEqual([...(await broker.sessionsOf({ tenant, sub: 'ann' }))].sort(), [first, second].sort());
      });

      test('claimRequest: the first claim wins until its ttl passes', async (t) => {
        const { broker, clock, name } = await setup(t);
        const session = name('s');
        assert.equal(await broker.claimRequest(session, 1, 1_000), true);
        assert.equal(await broker.claimRequest(session, 1, 1_000), false, 'held by the first');
        assert.equal(await broker.claimRequest(session, 2, 1_000), true, 'another id');
        assert.equal(await broker.claimRequest(name('other'), 1, 1_000), true, 'another session');
        clock.tick(1_001);
        assert.equal(await broker.claimRequest(session, 1, 1_000), true, 'an expired claim is free again');
      });

      test('sessionsOf finds the unexpired sessions of a user, compared as JSON', async (t) => {
        const { broker, clock, name } = await setup(t);
        const [a, b, c] = [name('a'), name('b'), name('c')];
        const ann = { id: name('ann') };
        await broker.saveSession(a, { user: ann, window: { acked: 0, floor: 0, replies: [] } }, 10_000);
        await broker.saveSession(b, { user: { id: ann.id }, window: { acked: 0, floor: 0, replies: [] } }, 1_000);
        await broker.saveSession(c, { user: { id: name('bob') }, window: { acked: 0, floor: 0, replies: [] } }, 10_000);
        assert.deepEqual([...(await broker.sessionsOf({ id: ann.id }))].sort(), [a, b].sort());
        clock.tick(1_001);
        assert.deepEqual(await broker.sessionsOf(ann), [a], 'an expired session is not found');
      });

      test('recordReply then load gives the reply and the highest id', async (t) => {
        const { broker, name } = await setup(t);
        const id = name('session');
        await broker.saveSession(id, record('ann'), 10_000);
        const reply = { type: 'result', id: 1, data: { room: 'ops' } };
        await broker.recordReply(id, 1, reply, 10);
        await broker.recordReply(id, 2, { type: 'ack', id: 2, position: { epoch: 'e', offset: 9 } }, 10);
        const loaded = await broker.loadSession(id);
        assert.equal(loaded?.user, 'ann');
        assert.equal(loaded?.window.acked, 2);
        assert.deepEqual(new Map(loaded?.window.replies).get(1), reply);
        assert.equal(loaded?.window.replies.length, 2);
      });

      test('recordReply keeps the last capacity replies and forgets the oldest', async (t) => {
        const { broker, name } = await setup(t);
        const id = name('session');
        await broker.saveSession(id, record('ann'), 10_000);
        for (let n = 1; n <= 4; n++) await broker.recordReply(id, n, { n }, 2);
        const loaded = await broker.loadSession(id);
        assert.deepEqual(loaded?.window, { acked: 4, floor: 2, replies: [[3, { n: 3 }], [4, { n: 4 }]] });
      });

      test('recordReply out of id order keeps the capacity highest ids and forgets the lowest (every broker alike)', async (t) => {
        const { broker, name } = await setup(t);
        // Ids may be recorded out of order (a durable outbox sends a message once it is saved).
        for (const [order, expected] of [
          [[2, 3, 1], { acked: 3, floor: 1, replies: [[2, { n: 2 }], [3, { n: 3 }]] }],
          [[1, 3, 2, 4], { acked: 4, floor: 2, replies: [[3, { n: 3 }], [4, { n: 4 }]] }],
        ] as const) {
          const id = name(`session-${order.join('')}`);
          await broker.saveSession(id, record('ann'), 10_000);
          for (const n of order) await broker.recordReply(id, n, { n }, 2);
          assert.deepEqual((await broker.loadSession(id))?.window, expected, `recorded in the order ${order.join(', ')}`);
        }
      });

      test('a save with an older window does not undo recorded replies', async (t) => {
        // The hub records replies as they happen and saves its whole window when the session
        // leaves the node; the later save may carry the same or an older view.
        const { broker, name } = await setup(t);
        const id = name('session');
        await broker.saveSession(id, record('ann'), 10_000);
        await broker.recordReply(id, 1, { n: 1 }, 10);
        await broker.recordReply(id, 2, { n: 2 }, 10);
        await broker.saveSession(id, record('ann', 1, [[1, { n: 1 }]]), 10_000);
        const loaded = await broker.loadSession(id);
        assert.equal(loaded?.window.acked, 2);
        assert.deepEqual(new Map(loaded?.window.replies).get(2), { n: 2 });
      });

      test('a hello claims a generation as it loads a session, above every one before; a save with a lower one than stored changes nothing', async (t) => {
        const { broker, clock, name } = await setup(t);
        const id = name('session');
        assert.equal(await broker.loadSession(id, true), undefined, 'a session not stored');
        assert.equal(await broker.loadSession(id), undefined, 'and the claim stored nothing');
        assert.notEqual(await broker.saveSession(id, { ...record('ann'), owner: 'conn-a', generation: 0 }, 10_000), false);
        assert.equal((await broker.loadSession(id))?.generation, 0, 'a plain load gives the stored generation');
        const first = (await broker.loadSession(id, true))?.generation ?? 0;
        const second = (await broker.loadSession(id, true))?.generation ?? 0;
        assert.ok(first > 0 && second > first, `each claim above the last: ${first}, ${second}`);
        assert.equal((await broker.loadSession(id))?.generation, 0, 'a claim is not a save');
        // The hello that claimed second saves first; the one that claimed first is answered late.
        assert.notEqual(await broker.saveSession(id, { ...record('ann', 1, [[1, 'r1']]), owner: 'conn-c', generation: second }, 10_000), false);
        const late = { ...record('bob', 5, [[5, 'r5']]), owner: 'conn-b', generation: first, sentSeq: 9, secret: 'ab'.repeat(32), anonymous: true };
        assert.equal(await broker.saveSession(id, late, 60_000), false, 'the late save loses');
        const loaded = await broker.loadSession(id);
        assert.deepEqual(loaded, { ...record('ann', 1, [[1, 'r1']]), owner: 'conn-c', generation: second }, 'and changed nothing');
        assert.deepEqual(await broker.sessionsOf('bob'), [], 'not even the user index');
        assert.equal((await broker.sendDirect(id, 'next', 10_000))?.seq, 1, 'nor the outbox seq');
        clock.tick(10_001);
        assert.equal(await broker.loadSession(id), undefined, 'nor the ttl');
      });

      test('a save with the stored generation or none applies (none keeps the stored one); claims stay above any generation saved', async (t) => {
        const { broker, name } = await setup(t);
        const id = name('session');
        await broker.saveSession(id, { ...record('ann'), owner: 'conn-a', generation: 5 }, 10_000);
        assert.notEqual(await broker.saveSession(id, { ...record('ann', 2), generation: 5 }, 10_000), false, 'the same connection saves again (its park)');
        assert.deepEqual([(await broker.loadSession(id))?.window.acked, (await broker.loadSession(id))?.owner], [2, 'conn-a']);
        assert.notEqual(await broker.saveSession(id, { ...record('ann', 3), owner: 'conn-x' }, 10_000), false, 'not ordered');
        const kept = await broker.loadSession(id);
        assert.deepEqual([kept?.owner, kept?.generation], ['conn-x', 5], 'the stored generation kept');
        assert.ok(((await broker.loadSession(id, true))?.generation ?? 0) > 5, 'a claim is above the generation saved');
        await broker.saveSession(id, { ...record('ann', 3), owner: 'conn-y', generation: 1_000 }, 10_000);
        assert.ok(((await broker.loadSession(id, true))?.generation ?? 0) > 1_000, 'also one written back from a node (a record the broker had lost)');
      });

      test('an expired record orders nothing: a save after it applies whatever its generation', async (t) => {
        const { broker, clock, name } = await setup(t);
        const id = name('session');
        await broker.saveSession(id, { ...record('ann'), owner: 'conn-a', generation: 7 }, 1_000);
        clock.tick(1_001);
        assert.notEqual(await broker.saveSession(id, { ...record('ann'), owner: 'conn-b', generation: 2 }, 1_000), false);
        const loaded = await broker.loadSession(id);
        assert.deepEqual([loaded?.owner, loaded?.generation], ['conn-b', 2]);
        clock.tick(1_001);
        await broker.saveSession(id, record('ann'), 1_000);
        assert.equal((await broker.loadSession(id))?.generation, undefined, 'a save without one after expiry stores none');
      });

      test('a takeover notice reaches every listener with its generation', async (t) => {
        const { broker, name } = await setup(t);
        if (!broker.broadcast || !broker.onBroadcast) return t.skip('this broker serves one node');
        const inbox = new Inbox<unknown>();
        const stop = await broker.onBroadcast(inbox.push);
        t.after(() => stop());
        const session = name('session');
        await broker.broadcast({ kind: 'takeover', session, connection: 'conn-b', generation: 3 });
        await broker.broadcast({ kind: 'takeover', session, connection: 'conn-c' });
        // Two notices, in either order: a Cluster's pub/sub does not keep the order of two
        // publishes (each may go out through another node); the generation orders takeovers.
        const heard = (await inbox.atLeast(2)) as { connection: string }[];
        assert.deepEqual(
          [...heard].sort((a, b) => a.connection.localeCompare(b.connection)),
          [
            { kind: 'takeover', session, connection: 'conn-b', generation: 3 },
            { kind: 'takeover', session, connection: 'conn-c' },
          ],
        );
      });

      test('recordReply for an unknown session creates nothing', async (t) => {
        const { broker, name } = await setup(t);
        const id = name('session');
        await broker.recordReply(id, 1, { n: 1 }, 10);
        assert.equal(await broker.loadSession(id), undefined);
      });
    });

    describe('direct messages', () => {
      test('seqs count 1, 2, 3 per session; pendingDirect gives those after n; ackDirect removes', async (t) => {
        const { broker, name } = await setup(t);
        const id = name('session');
        const sent: DirectMessage[] = [];
        for (const kind of ['a', 'b', 'c']) sent.push(await stored(broker.sendDirect(id, { kind }, 10_000)));
        assert.deepEqual(sent, [
          { seq: 1, data: { kind: 'a' } },
          { seq: 2, data: { kind: 'b' } },
          { seq: 3, data: { kind: 'c' } },
        ]);
        assert.deepEqual(await broker.pendingDirect(id, 0), sent);
        assert.deepEqual(await broker.pendingDirect(id, 1), sent.slice(1));
        assert.deepEqual(await broker.pendingDirect(id, 3), []);
        await broker.ackDirect(id, 2);
        assert.deepEqual(await broker.pendingDirect(id, 0), sent.slice(2), 'acknowledged messages are gone');
        await broker.ackDirect(id, 3);
        assert.deepEqual(await broker.pendingDirect(id, 0), []);
        const other = await stored(broker.sendDirect(name('other'), 'x', 10_000));
        assert.equal(other.seq, 1, 'seqs are per session');
        assert.equal((await stored(broker.sendDirect(id, 'd', 10_000))).seq, 4, 'acks never reuse a seq');
      });

      test('with a limit, a full outbox stores nothing and uses no seq; an ack makes room', async (t) => {
        const { broker, name } = await setup(t);
        const id = name('session');
        await broker.saveSession(id, record('ann'), 60_000);
        for (const kind of ['a', 'b', 'c']) await stored(broker.sendDirect(id, { kind }, 10_000, 3));
        assert.equal(await broker.sendDirect(id, { kind: 'd' }, 10_000, 3), null, 'refused: three unacknowledged');
        assert.deepEqual((await broker.pendingDirect(id, 0)).map((m) => m.seq), [1, 2, 3], 'what was stored is kept, the refused one is not');
        await broker.ackDirect(id, 1);
        assert.equal((await stored(broker.sendDirect(id, { kind: 'e' }, 10_000, 3))).seq, 4, 'room after the ack; the refused send used no seq');
        assert.equal(await broker.sendDirect(id, { kind: 'f' }, 10_000, 3), null, 'full again at the limit');
        assert.deepEqual((await broker.pendingDirect(id, 0)).map((m) => m.data), [{ kind: 'b' }, { kind: 'c' }, { kind: 'e' }]);
        assert.equal((await stored(broker.sendDirect(id, { kind: 'g' }, 10_000))).seq, 5, 'without a limit nothing is refused');
      });

      test('a save with sentSeq makes later seqs start above it (a broker that lost its data never reuses one)', async (t) => {
        const { broker, name } = await setup(t);
        const id = name('session');
        await broker.saveSession(id, { user: 'ann', window: { acked: 0, floor: 0, replies: [] }, sentSeq: 5 }, 10_000);
        assert.equal((await stored(broker.sendDirect(id, 'next', 10_000))).seq, 6);
        await broker.saveSession(id, { user: 'ann', window: { acked: 0, floor: 0, replies: [] }, sentSeq: 2 }, 10_000);
        assert.equal((await stored(broker.sendDirect(id, 'later', 10_000))).seq, 7, 'a lower sentSeq never moves seqs back');
      });

      test('subscribeDirect receives new messages until unsubscribed', async (t) => {
        const { broker, name } = await setup(t);
        const id = name('session');
        await broker.sendDirect(id, 'old', 10_000);
        const inbox = new Inbox<DirectMessage>();
        const stop = await broker.subscribeDirect(id, inbox.push);
        await broker.sendDirect(name('other'), 'not mine', 10_000);
        await broker.sendDirect(id, 'new', 10_000);
        const got = await inbox.atLeast(1);
        assert.deepEqual(got, [{ seq: 2, data: 'new' }]);
        await stop();
        await broker.sendDirect(id, 'after', 10_000);
        const witness = new Inbox<DirectMessage>();
        await broker.subscribeDirect(id, witness.push);
        await broker.sendDirect(id, 'witnessed', 10_000);
        await witness.atLeast(1);
        assert.equal(inbox.items.length, 1, 'nothing after unsubscribe');
      });
    });

    describe('presence', () => {
      test('join, list and leave', async (t) => {
        const { broker, name } = await setup(t);
        const channel = name('room');
        assert.deepEqual(await broker.presence(channel), []);
        const ann = { client: 's-a', user: { name: 'ann' } };
        const bob = { client: 's-b', user: { name: 'bob' } };
        assert.equal(await broker.presenceJoin(channel, ann, 10_000), true, 'a new member');
        assert.equal(await broker.presenceJoin(channel, bob, 10_000), true);
        assert.equal(await broker.presenceJoin(channel, ann, 10_000), false, 'already present');
        assert.deepEqual(byClient(await broker.presence(channel)), [ann, bob], 'a second join refreshes, it does not duplicate');
        assert.deepEqual(await broker.presence(name('elsewhere')), []);
        await broker.presenceLeave(channel, ann.client);
        assert.deepEqual(await broker.presence(channel), [bob]);
      });

      test('entries expire after their ttl unless refreshed', async (t) => {
        const { broker, clock, name } = await setup(t);
        const channel = name('room');
        const ann = { client: 's-a', user: 'ann' };
        const bob = { client: 's-b', user: 'bob' };
        await broker.presenceJoin(channel, ann, 1_000);
        await broker.presenceJoin(channel, bob, 1_000);
        clock.tick(600);
        await broker.presenceJoin(channel, ann, 1_000);
        clock.tick(600);
        assert.deepEqual(await broker.presence(channel), [ann], 'bob was not refreshed (a dead node): gone');
        clock.tick(1_001);
        assert.deepEqual(await broker.presence(channel), []);
        assert.equal(await broker.presenceJoin(channel, ann, 1_000), true, 'an expired member joins anew');
      });

      test('a member whose ttl ended is handed out once by presenceExpired (to tell its leave); live members stay', async (t) => {
        const { broker, clock, name } = await setup(t);
        assert.ok(broker.presenceExpired, 'the broker hands out expired members');
        const channel = name('room');
        const ann = { client: 's-a', user: 'ann' };
        const bob = { client: 's-b', user: 'bob' };
        await broker.presenceJoin(channel, ann, 1_000);
        await broker.presenceJoin(channel, bob, 1_000);
        assert.deepEqual(await broker.presenceExpired(channel), [], 'nobody expired yet');
        clock.tick(600);
        await broker.presenceJoin(channel, ann, 1_000);
        clock.tick(600);
        assert.deepEqual(await broker.presence(channel), [ann], 'bob was not refreshed (a dead node)');
        assert.deepEqual(await broker.presenceExpired(channel), [bob], 'bob, to be told as left');
        assert.deepEqual(await broker.presenceExpired(channel), [], 'once only');
        assert.deepEqual(await broker.presence(channel), [ann]);
        assert.equal(await broker.presenceJoin(channel, bob, 1_000), true, 'bob back: a new member');
      });

      test('a leave for one connection keeps a member that another connection holds now', async (t) => {
        const { broker, name } = await setup(t);
        const channel = name('room');
        const before = { client: 'm-a', user: 'ann', connection: 'c-1' };
        const after = { ...before, connection: 'c-2' };
        await broker.presenceJoin(channel, before, 10_000);
        assert.equal(await broker.presenceJoin(channel, after, 10_000), false, 'the session came back on c-2');
        assert.equal(await broker.presenceLeave(channel, 'm-a', 'c-1'), false, "c-1's leave is stale");
        assert.deepEqual(await broker.presence(channel), [after]);
        assert.equal(await broker.presenceLeave(channel, 'm-a', 'c-2'), true);
        assert.deepEqual(await broker.presence(channel), []);
        await broker.presenceJoin(channel, after, 10_000);
        assert.equal(await broker.presenceLeave(channel, 'm-a'), true, 'without a connection: any holder');
        assert.deepEqual(await broker.presence(channel), []);
      });

      test('a join for an older connection of the session than the one holding the member changes nothing; an expired holder orders nothing', async (t) => {
        const { broker, clock, name } = await setup(t);
        const channel = name('room');
        const older = { client: 'm-a', user: 'ann', connection: 'c-1', generation: 1 };
        const newer = { ...older, connection: 'c-2', generation: 2 };
        assert.equal(await broker.presenceJoin(channel, newer, 1_000), true);
        assert.equal(await broker.presenceJoin(channel, older, 1_000), false, 'present');
        assert.deepEqual(await broker.presence(channel), [newer], 'the newer connection holds it still');
        assert.equal(await broker.presenceLeave(channel, 'm-a', 'c-1'), false, "c-1's leave is stale");
        clock.tick(1_001);
        assert.equal(await broker.presenceJoin(channel, older, 1_000), true, 'the lease of c-2 ended: a new member');
        assert.deepEqual(await broker.presence(channel), [older]);
        const unordered = { client: 'm-a', user: 'ann', connection: 'c-3' };
        assert.equal(await broker.presenceJoin(channel, unordered, 1_000), false);
        assert.deepEqual(await broker.presence(channel), [unordered], 'a join with no generation is not ordered');
      });

      test('a leave of a member that is not there removes nothing and says so: one caller only tells its leave', async (t) => {
        const { broker, clock, name } = await setup(t);
        const channel = name('room');
        const ann = { client: 'm-a', user: 'ann', connection: 'c-1' };
        assert.equal(await broker.presenceLeave(channel, 'm-a', 'c-1'), false, 'never joined');
        await broker.presenceJoin(channel, ann, 10_000);
        assert.equal(await broker.presenceLeave(channel, 'm-a', 'c-2'), false, 'held by c-1');
        assert.equal(await broker.presenceLeave(channel, 'm-a', 'c-1'), true);
        assert.equal(await broker.presenceLeave(channel, 'm-a', 'c-1'), false, 'left already');
        assert.equal(await broker.presenceLeave(channel, 'm-a'), false, 'left already, for any connection too');
        await broker.presenceJoin(channel, ann, 1_000);
        clock.tick(1_001);
        assert.deepEqual(await broker.presenceExpired?.(channel), [ann]);
        assert.equal(await broker.presenceLeave(channel, 'm-a', 'c-1'), false, 'expired and taken: its leave was told by whoever took it');
      });
    });
  });
}
