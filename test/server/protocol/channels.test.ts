/**
 * Channels over real sockets (docs/protocol.md §2-4): namespaces and hooks, subscribe with
 * recovery (exact replays, `recovered: false` with the head for a gap or another epoch), no
 * event lost or duplicated when publishes race a replay, unsubscribe, server-side publish, and a
 * slow consumer closed with 4002 that recovers everything from history when it comes back.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ChannelEvent, HistoryPolicy, PresenceMember, PublishOrigin, Unsubscribe } from '../../../src/broker/broker.js';
import { BrokerUnavailableError, LifelineError } from '../../../src/core/errors.js';
import { MemoryBroker } from '../../../src/broker/memory-broker.js';
import type { ChannelsConfig } from '../../../src/server/protocol/channels.js';
import { RequestError } from '../../../src/server/protocol/request-error.js';
import { serve } from '../support.js';
import { ForwardingBroker, slowBroker } from './brokers.js';
import { ProtocolClient, type MessageOf, type Position, type ProtocolClient as Client } from './protocol-client.js';

const channels: ChannelsConfig = {
  chat: { history: { size: 100, ttl: 600_000 } },
  small: { history: { size: 3, ttl: 600_000 } },
  bare: {},
};

function offsets(events: readonly MessageOf<'event'>[]): number[] {
  return events.map((event) => event.offset);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

/** Where in the log a message sits (for "before / after subscribed" checks). */
function indexIn(client: Client, message: MessageOf<'subscribed'>): number {
  return client.log.indexOf(message);
}

describe('protocol: channel access', () => {
  test('a channel no namespace allows is refused with bad_channel (subscribe and publish)', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    client.send({ type: 'subscribe', id: 1, channel: 'nowhere:room' });
    const refused = await client.reply(1);
    assert.equal(refused.type, 'error');
    assert.equal(refused.type === 'error' && refused.code, 'bad_channel');
    const publish = await client.publish(2, 'nowhere', { x: 1 });
    assert.equal(publish.type === 'error' && publish.code, 'bad_channel');
    await assert.rejects(fixture.server.publish('nowhere:room', 1), (error: unknown) => error instanceof RequestError && error.code === 'bad_channel');
  });

  test("the '*' namespace covers every other name", async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels: { '*': {} } });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    assert.equal((await client.subscribe(1, 'anything:at-all')).recovered, true);
  });

  test('canSubscribe and canPublish saying no (sync or async) refuse with forbidden; nothing is published', async (t) => {
    const seen: string[] = [];
    const fixture = await serve(t, {
      pingInterval: 0,
      channels,
      canSubscribe: ({ channel }) => channel !== 'chat:secret',
      canPublish: async ({ channel, data }) => {
        seen.push(`${channel}:${JSON.stringify(data)}`);
        return channel !== 'chat:readonly';
      },
    });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    client.send({ type: 'subscribe', id: 1, channel: 'chat:secret' });
    const refused = await client.reply(1);
    assert.equal(refused.type === 'error' && refused.code, 'forbidden');
    await client.subscribe(2, 'chat:readonly');
    const publish = await client.publish(3, 'chat:readonly', { text: 'hi' });
    assert.equal(publish.type === 'error' && publish.code, 'forbidden');
    assert.deepEqual(seen, ['chat:readonly:{"text":"hi"}'], 'the hook sees the channel and the data');
    const allowed = await client.publish(4, 'chat:open', 1);
    assert.equal(allowed.type, 'ack');
    await client.wire();
    assert.deepEqual(client.events('chat:readonly'), [], 'nothing was published');
    const head = await client.subscribe(5, 'chat:readonly');
    assert.equal(head.position.offset, 0);
  });
});

describe('protocol: subscribe and recovery', () => {
  test('a first subscribe gets the head and then every new event in order', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels });
    await fixture.server.publish('chat:a', 'old');
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    const subscribed = await client.subscribe(1, 'chat:a');
    assert.equal(subscribed.recovered, true);
    assert.equal(subscribed.position.offset, 1);
    assert.equal(subscribed.channel, 'chat:a');
    for (const n of [1, 2, 3]) await fixture.server.publish('chat:a', { n });
    await client.wire();
    const events = client.events('chat:a');
    assert.deepEqual(offsets(events), [2, 3, 4], 'the old event is not replayed without since');
    assert.deepEqual(events.map((event) => event.data), [{ n: 1 }, { n: 2 }, { n: 3 }]);
    assert.ok(events.every((event) => event.epoch === subscribed.position.epoch));
  });

  test('subscribe with since replays exactly the missed events, then subscribed with recovered true and the head', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels });
    let last: Position = { epoch: '', offset: 0 };
    for (let n = 1; n <= 6; n++) last = await fixture.server.publish('chat:a', { n });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    const subscribed = await client.subscribe(1, 'chat:a', { epoch: last.epoch, offset: 3 });
    assert.equal(subscribed.recovered, true);
    assert.deepEqual(subscribed.position, last);
    const replayed = client.events('chat:a');
    assert.deepEqual(offsets(replayed), [4, 5, 6]);
    assert.deepEqual(replayed.map((event) => event.data), [{ n: 4 }, { n: 5 }, { n: 6 }]);
    assert.ok(replayed.every((event) => client.log.indexOf(event) < indexIn(client, subscribed)), 'the replay comes before subscribed');
    await fixture.server.publish('chat:a', { n: 7 });
    await client.wire();
    assert.deepEqual(offsets(client.events('chat:a')), [4, 5, 6, 7]);
  });

  test('a since at the head replays nothing and is recovered', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels });
    const head = await fixture.server.publish('chat:a', 1);
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    const subscribed = await client.subscribe(1, 'chat:a', head);
    assert.deepEqual({ recovered: subscribed.recovered, position: subscribed.position }, { recovered: true, position: head });
    assert.deepEqual(client.events('chat:a'), []);
  });

  test('a gap beyond the history gets recovered false with the head, no partial replay, then live events', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels });
    let head: Position = { epoch: '', offset: 0 };
    for (let n = 1; n <= 6; n++) head = await fixture.server.publish('small:a', n);
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    const subscribed = await client.subscribe(1, 'small:a', { epoch: head.epoch, offset: 1 });
    assert.equal(subscribed.recovered, false);
    assert.deepEqual(subscribed.position, head);
    assert.deepEqual(client.events('small:a'), [], 'events 4-6 are in history, but 2-3 are not: nothing is replayed');
    // Within the history it recovers.
    const again = await client.subscribe(2, 'small:a', { epoch: head.epoch, offset: 3 });
    assert.equal(again.recovered, true);
    assert.deepEqual(offsets(client.events('small:a')), [4, 5, 6]);
    await fixture.server.publish('small:a', 7);
    await client.wire();
    assert.deepEqual(offsets(client.events('small:a')), [4, 5, 6, 7]);
  });

  test('a namespace without history: any gap is not recovered', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels });
    const first = await fixture.server.publish('bare:a', 1);
    await fixture.server.publish('bare:a', 2);
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    const subscribed = await client.subscribe(1, 'bare:a', first);
    assert.deepEqual({ recovered: subscribed.recovered, offset: subscribed.position.offset }, { recovered: false, offset: 2 });
  });

  test('rewind: a first subscribe gets the last events before subscribed, then live ones; by count, capped by history', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels });
    let head: Position = { epoch: '', offset: 0 };
    for (let n = 1; n <= 6; n++) head = await fixture.server.publish('chat:a', { n });
    for (let n = 1; n <= 6; n++) await fixture.server.publish('small:a', n);
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    client.send({ type: 'subscribe', id: 1, channel: 'chat:a', rewind: { count: 2 } });
    const subscribed = (await client.reply(1)) as MessageOf<'subscribed'>;
    assert.deepEqual({ recovered: subscribed.recovered, position: subscribed.position }, { recovered: true, position: head });
    const rewound = client.events('chat:a');
    assert.deepEqual(offsets(rewound), [5, 6]);
    assert.deepEqual(rewound.map((event) => event.data), [{ n: 5 }, { n: 6 }]);
    assert.ok(rewound.every((event) => client.log.indexOf(event) < indexIn(client, subscribed)), 'the rewind comes before subscribed');
    await fixture.server.publish('chat:a', { n: 7 });
    await client.wire();
    assert.deepEqual(offsets(client.events('chat:a')), [5, 6, 7], 'then live events, none twice');
    client.send({ type: 'subscribe', id: 2, channel: 'small:a', rewind: { count: 50, ms: 60_000 } });
    await client.reply(2);
    assert.deepEqual(offsets(client.events('small:a')), [4, 5, 6], 'no more than the history keeps');
    // since wins over rewind: a client holding a position continues from it.
    client.send({ type: 'subscribe', id: 3, channel: 'chat:a', since: { epoch: head.epoch, offset: 7 }, rewind: { count: 50 } });
    await client.reply(3);
    assert.deepEqual(offsets(client.events('chat:a')), [5, 6, 7]);
  });

  for (const rewind of [{}, { count: 0 }, { count: 1.5 }, { count: 10_001 }, { ms: -1 }, { ms: '2m' }, { count: 1, extra: true }, 5]) {
    test(`a bad rewind ${JSON.stringify(rewind)} is answered bad_message; the connection stays`, async (t) => {
      const fixture = await serve(t, { pingInterval: 0, channels });
      const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
      client.send({ type: 'subscribe', id: 1, channel: 'chat:a', rewind });
      const refused = await client.reply(1);
      assert.equal(refused.type === 'error' && refused.code, 'bad_message');
      assert.match(refused.type === 'error' ? String(refused.message) : '', /rewind/);
      assert.equal((await client.subscribe(2, 'chat:a')).recovered, true);
    });
  }

  test('another epoch, or a since ahead of the head, gets recovered false with the head', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels });
    let head: Position = { epoch: '', offset: 0 };
    for (let n = 1; n <= 3; n++) head = await fixture.server.publish('chat:a', n);
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    const otherEpoch = await client.subscribe(1, 'chat:a', { epoch: `${head.epoch}x`, offset: 1 });
    assert.deepEqual({ recovered: otherEpoch.recovered, position: otherEpoch.position }, { recovered: false, position: head });
    const ahead = await client.subscribe(2, 'chat:a', { epoch: head.epoch, offset: 9 });
    assert.deepEqual({ recovered: ahead.recovered, position: ahead.position }, { recovered: false, position: head });
    assert.deepEqual(client.events('chat:a'), []);
  });

  for (const variant of ['in-memory broker', 'broker with network-like delays'] as const) {
    test(`events published during a replay are neither lost nor duplicated (${variant}, 25 rounds)`, async (t) => {
      const inner = new MemoryBroker();
      const broker = variant === 'in-memory broker' ? inner : slowBroker(inner, 42);
      const fixture = await serve(t, { pingInterval: 0, channels, broker });
      t.after(() => inner.close());
      const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
      for (let round = 0; round < 25; round++) {
        const channel = `chat:race-${round}`;
        let head: Position = { epoch: '', offset: 0 };
        for (let n = 1; n <= 5; n++) head = await fixture.server.publish(channel, n);
        const since = { epoch: head.epoch, offset: round % 6 };
        const id = round + 1;
        // Publish 10 more while the subscription is being set up, a turn or a few apart.
        const publishing = (async () => {
          for (let n = 6; n <= 15; n++) {
            await fixture.server.publish(channel, n);
            for (let turns = 0; turns < (round + n) % 3; turns++) await new Promise((resolve) => setImmediate(resolve));
          }
        })();
        client.send({ type: 'subscribe', id, channel, since });
        const subscribed = await client.take('subscribed', (message) => message.id === id);
        await publishing;
        await client.wire();
        const events = client.events(channel);
        assert.equal(subscribed.recovered, true, `round ${round}`);
        assert.deepEqual(offsets(events), range(since.offset + 1, 15), `round ${round}: every event after since, once, in order`);
        assert.deepEqual(events.map((event) => event.data), range(since.offset + 1, 15), `round ${round}: data`);
        const at = indexIn(client, subscribed);
        for (const event of events) {
          const before = client.log.indexOf(event) < at;
          assert.equal(before, event.offset <= subscribed.position.offset, `round ${round}: offset ${event.offset} on the right side of subscribed (head ${subscribed.position.offset})`);
        }
      }
    });
  }

  test('unsubscribe is answered and no event of the channel follows', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    await client.subscribe(1, 'chat:a');
    await fixture.server.publish('chat:a', 'before');
    client.send({ type: 'unsubscribe', id: 2, channel: 'chat:a' });
    const unsubscribed = await client.reply(2);
    assert.deepEqual(unsubscribed, { type: 'unsubscribed', id: 2, channel: 'chat:a' });
    await fixture.server.publish('chat:a', 'after');
    await client.wire();
    assert.deepEqual(client.events('chat:a').map((event) => event.data), ['before']);
    assert.equal(fixture.server.realtime.channels.get('chat:a'), undefined, 'the node dropped its interest');
  });

  test('unsubscribe from a channel never subscribed is answered too', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    client.send({ type: 'unsubscribe', id: 1, channel: 'chat:never' });
    assert.deepEqual(await client.reply(1), { type: 'unsubscribed', id: 1, channel: 'chat:never' });
  });
});

describe('protocol: broker failures', () => {
  test('a failed broker subscription is answered unavailable; the connection stays and the channel is not poisoned', async (t) => {
    class FlakySubscribe extends ForwardingBroker {
      failures = 1;
      override async subscribe(channel: string, onEvent: (event: ChannelEvent) => void): Promise<Unsubscribe> {
        if (this.failures-- > 0) throw new Error('broker unreachable');
        return super.subscribe(channel, onEvent);
      }
    }
    const inner = new MemoryBroker();
    const fixture = await serve(t, { pingInterval: 0, channels, broker: new FlakySubscribe(inner) });
    t.after(() => inner.close());
    const { client: unlucky } = await ProtocolClient.connect(t, fixture.wsUrl);
    unlucky.send({ type: 'subscribe', id: 1, channel: 'chat:a' });
    const refused = await unlucky.reply(1);
    assert.equal(refused.type === 'error' && refused.code, 'unavailable');
    assert.deepEqual(fixture.server.realtime.channels.get('chat:a'), undefined, 'nothing left subscribed');
    await unlucky.subscribe(2, 'chat:a');
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    await client.subscribe(1, 'chat:a');
    await fixture.server.publish('chat:a', 'through');
    assert.equal((await client.take('event')).data, 'through');
    assert.equal((await unlucky.take('event')).data, 'through', 'the refused connection stayed up and subscribed again');
  });

  test('a presence join the broker fails refuses the subscribe whole: one answer (unavailable), nothing left subscribed or listed', async (t) => {
    class FlakyJoin extends ForwardingBroker {
      failures = 1;
      override async presenceJoin(channel: string, member: PresenceMember, ttl: number): Promise<boolean> {
        if (this.failures-- > 0) throw new BrokerUnavailableError('Redis is unreachable', false);
        return super.presenceJoin(channel, member, ttl);
      }
    }
    const inner = new MemoryBroker();
    const broker = new FlakyJoin(inner);
    const fixture = await serve(t, { pingInterval: 0, presenceGrace: 0, channels: { room: { presence: true } }, broker });
    t.after(() => inner.close());
    const { client: watcher } = await ProtocolClient.connect(t, fixture.wsUrl);
    broker.failures = 0;
    await watcher.subscribe(1, 'room:a');
    await watcher.take('presence');
    broker.failures = 1;
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    client.send({ type: 'subscribe', id: 1, channel: 'room:a' });
    const refused = await client.reply(1);
    assert.equal(refused.type === 'error' && refused.code, 'unavailable');
    // A later reply on the same connection: anything more for id 1 would have come before it.
    client.send({ type: 'presence.get', id: 2, channel: 'room:a' });
    assert.equal((await client.reply(2)).type, 'error', 'not subscribed, so no presence list');
    assert.deepEqual(client.log.filter((message) => 'id' in message && message.id === 1).map((message) => message.type), ['error'], 'one answer to the subscribe');
    assert.equal(fixture.server.realtime.channels.get('room:a'), 1, 'only the watcher is subscribed');
    watcher.send({ type: 'presence.get', id: 2, channel: 'room:a' });
    const listed = await watcher.reply(2);
    assert.equal(listed.type === 'presence.list' && listed.members.length, 1, 'only the watcher is listed');
    // Asked again, it succeeds: subscribed, and the watcher hears one join.
    await client.subscribe(3, 'room:a');
    await watcher.take('presence', (message) => message.join !== undefined);
    assert.deepEqual(watcher.log.filter((message) => message.type === 'presence').length, 2, 'its own join, then the one join of the retry');
  });

  test('an unreachable broker under presence.get and ack: answered unavailable (ack only logged), the connection stays', async (t) => {
    class Down extends ForwardingBroker {
      down = false;
      override async presence(channel: string): Promise<readonly PresenceMember[]> {
        if (this.down) throw new LifelineError('ERR_BROKER_UNAVAILABLE', 'Redis is unreachable');
        return super.presence(channel);
      }
      override async ackDirect(session: string, seq: number): Promise<void> {
        if (this.down) throw new LifelineError('ERR_BROKER_UNAVAILABLE', 'Redis is unreachable');
        return super.ackDirect(session, seq);
      }
    }
    const inner = new MemoryBroker();
    const broker = new Down(inner);
    const fixture = await serve(t, { pingInterval: 0, channels: { room: { presence: true } }, broker });
    t.after(() => inner.close());
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    await client.subscribe(1, 'room:a');
    broker.down = true;
    client.send({ type: 'ack', seq: 1 });
    client.send({ type: 'presence.get', id: 2, channel: 'room:a' });
    const refused = await client.reply(2);
    assert.equal(refused.type === 'error' && refused.code, 'unavailable');
    broker.down = false;
    client.send({ type: 'presence.get', id: 3, channel: 'room:a' });
    assert.equal((await client.reply(3)).type, 'presence.list', 'the same connection carries on');
  });

  test('a publish whose broker answer was lost (it may have run) is asked again with its origin: one event, acked at its position', async (t) => {
    class LostAnswer extends ForwardingBroker {
      lost = 1;
      override async publish(channel: string, data: unknown, policy: HistoryPolicy, origin?: PublishOrigin): Promise<ChannelEvent> {
        const event = await super.publish(channel, data, policy, origin);
        if (this.lost-- > 0) throw new BrokerUnavailableError('Redis is unreachable: the connection closed', true);
        return event;
      }
    }
    const inner = new MemoryBroker();
    const fixture = await serve(t, { pingInterval: 0, channels, broker: new LostAnswer(inner) });
    t.after(() => inner.close());
    const { client: watcher } = await ProtocolClient.connect(t, fixture.wsUrl);
    await watcher.subscribe(1, 'chat:a');
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    const ack = await client.publish(1, 'chat:a', 'once');
    assert.equal(ack.type, 'ack');
    const event = await watcher.take('event');
    assert.deepEqual(ack.type === 'ack' && ack.position, { epoch: event.epoch, offset: event.offset });
    await client.publish(2, 'chat:a', 'next');
    await watcher.take('event', (e) => e.data === 'next');
    assert.deepEqual(watcher.events('chat:a').map((e) => e.data), ['once', 'next'], 'published once');
  });

  test('a failed broker publish is answered unavailable, not remembered: the resend publishes', async (t) => {
    class FlakyPublish extends ForwardingBroker {
      failures = 1;
      override async publish(channel: string, data: unknown, policy: HistoryPolicy, origin?: PublishOrigin): Promise<ChannelEvent> {
        if (this.failures-- > 0) throw new Error('broker unreachable');
        return super.publish(channel, data, policy, origin);
      }
    }
    const inner = new MemoryBroker();
    const fixture = await serve(t, { pingInterval: 0, channels, broker: new FlakyPublish(inner) });
    t.after(() => inner.close());
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    const refused = await client.publish(1, 'chat:a', 'x');
    assert.equal(refused.type === 'error' && refused.code, 'unavailable');
    const again = await client.publish(1, 'chat:a', 'x');
    assert.equal(again.type === 'ack' && again.position.offset, 1);
  });
});

describe('protocol: publish', () => {
  test('a publish is acked with its position and reaches every subscriber, the publisher included', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels });
    const { client: ann } = await ProtocolClient.connect(t, fixture.wsUrl);
    const { client: bob } = await ProtocolClient.connect(t, fixture.wsUrl);
    await ann.subscribe(1, 'chat:a');
    await bob.subscribe(1, 'chat:a');
    const ack = await ann.publish(2, 'chat:a', { text: 'hi' });
    assert.equal(ack.type, 'ack');
    assert.equal(ack.type === 'ack' && ack.position.offset, 1);
    for (const client of [ann, bob]) {
      const event = await client.take('event');
      assert.deepEqual(event, { type: 'event', channel: 'chat:a', epoch: ack.type === 'ack' ? ack.position.epoch : '', offset: 1, data: { text: 'hi' } });
    }
  });

  test('server.publish reaches subscribers on every connection and resolves with the position', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels });
    const clients = await Promise.all([1, 2, 3].map(async () => (await ProtocolClient.connect(t, fixture.wsUrl)).client));
    for (const client of clients) await client.subscribe(1, 'chat:news');
    assert.equal(fixture.server.realtime.channels.get('chat:news'), 3);
    const position = await fixture.server.publish('chat:news', { headline: 'up' });
    assert.equal(position.offset, 1);
    for (const client of clients) {
      const event = await client.take('event');
      assert.deepEqual(event, { type: 'event', channel: 'chat:news', epoch: position.epoch, offset: 1, data: { headline: 'up' } });
    }
  });
});

describe('protocol: data JSON cannot carry', () => {
  test('server.publish refuses it (TypeError) and the channel stays usable', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels });
    const first = await fixture.server.publish('chat:a', 'fine');
    await assert.rejects(fixture.server.publish('chat:a', { n: 10n }), TypeError);
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    await assert.rejects(fixture.server.publish('chat:a', cyclic), TypeError);
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    const subscribed = await client.subscribe(1, 'chat:a', { epoch: first.epoch, offset: 0 });
    assert.equal(subscribed.recovered, true);
    assert.deepEqual(subscribed.position, first, 'nothing was published');
    assert.deepEqual(client.events('chat:a').map((event) => event.data), ['fine']);
  });
});

describe('protocol: slow consumer', () => {
  test('a client that stops reading is closed with 4002 and, back with its last position, recovers every missed event once', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, outboundBudget: 64 * 1024, channels: { feed: { history: { size: 10_000, ttl: 600_000 } } } });
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    await client.subscribe(1, 'feed');
    client.pause();
    const chunk = 'x'.repeat(16 * 1024);
    let head: Position = { epoch: '', offset: 0 };
    for (let n = 1; n <= 4_096 && fixture.server.stats.slowConsumerCloses === 0; n++) head = await fixture.server.publish('feed', { n, chunk });
    assert.equal(fixture.server.stats.slowConsumerCloses, 1, 'the budget was exceeded within 64 MiB');
    // A few more while it is gone.
    for (let i = 0; i < 5; i++) head = await fixture.server.publish('feed', { n: head.offset + 1, chunk });
    client.resume();
    const closed = await client.closed;
    assert.equal(closed.code, 4002);
    const received = client.events('feed');
    assert.ok(received.length > 0 && received.length < head.offset, `some events arrived before the close (${received.length} of ${head.offset})`);
    assert.deepEqual(offsets(received), range(1, received.length), 'what arrived is a prefix, in order');
    const last = received.at(-1);
    assert.ok(last);

    const { client: back, welcome: again } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    assert.equal(again.resumed, true);
    const subscribed = await back.subscribe(2, 'feed', { epoch: last.epoch, offset: last.offset });
    assert.equal(subscribed.recovered, true);
    assert.deepEqual(subscribed.position, head);
    const recovered = back.events('feed');
    assert.deepEqual([...offsets(received), ...offsets(recovered)], range(1, head.offset), 'every event exactly once');
    assert.ok(recovered.every((event) => (event.data as { n: number }).n === event.offset));
  });
});
