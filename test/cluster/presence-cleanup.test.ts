/**
 * Presence across nodes when a node dies: its members must not linger. Each node refreshes its
 * members' leases; a member whose lease ran out (its node stopped refreshing: dead, or cut off
 * from the broker) is removed by a live node holding presence subscribers on that channel, and
 * its leave is told once, within the member ttl plus one refresh interval.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { Broker } from '../../src/broker/broker.js';
import { MemoryBroker } from '../../src/broker/memory-broker.js';
import { BrokerUnavailableError } from '../../src/core/errors.js';
import { RedisBroker } from '../../src/redis/index.js';
import type { ChannelsConfig } from '../../src/server/protocol/channels.js';
import { memberId } from '../../src/server/protocol/member-id.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { redisSkip, redisUrl, testPrefix } from '../helpers/redis.js';
import { ProtocolClient } from '../server/protocol/protocol-client.js';
import { serve } from '../server/support.js';

const channels: ChannelsConfig = { room: { presence: true } };
/** Without keepalive a node refreshes its members every 10 s and their ttl is 30 s. */
const REFRESH = 10_000;
const TTL = 30_000;

/** What only a broker in the node's own process offers, as synchronous calls that cannot fail as unavailable. */
const inProcessOnly = new Set<PropertyKey>(['immediate', 'shareWindow', 'listenDirect', 'unlistenDirect']);

/**
 * A node's way to the shared broker that can be cut: afterwards every call fails as unavailable,
 * as for a dead node. A link that can be cut is a network link, so the node sees none of the
 * in-process shortcuts and takes the broker's promised calls, which can fail.
 */
function severable(broker: Broker): { readonly broker: Broker; sever(): void } {
  let severed = false;
  const proxy = new Proxy(broker, {
    get(target, property, receiver) {
      if (inProcessOnly.has(property)) return undefined;
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]): unknown => (severed ? Promise.reject(new BrokerUnavailableError('node gone', false)) : (value as (...a: unknown[]) => unknown).apply(target, args));
    },
  });
  return { broker: proxy, sever: () => (severed = true) };
}

interface Pair {
  readonly live: Broker;
  readonly dying: Broker;
}

async function scenario(t: TestContext, clock: FakeClock, brokers: Pair): Promise<void> {
  const cut = severable(brokers.dying);
  const a = await serve(t, { clock, pingInterval: 0, channels, broker: brokers.live });
  const b = await serve(t, { clock, pingInterval: 0, channels, broker: cut.broker });
  const { client: watcher } = await ProtocolClient.connect(t, a.wsUrl);
  await watcher.subscribe(1, 'room:x');
  const { client: gone, welcome } = await ProtocolClient.connect(t, b.wsUrl);
  await gone.subscribe(1, 'room:x');
  const member = memberId(welcome.session);
  const told = (change: 'join' | 'leave') => (message: { readonly join?: unknown; readonly leave?: unknown }): boolean => (message[change] as { client?: string } | undefined)?.client === member;
  await watcher.take('presence', told('join'));

  // Node b dies: it neither refreshes its member nor tells anyone it left.
  cut.sever();
  let left = false;
  // Real time for the broker's I/O between fake-clock steps: generous on a busy machine.
  const leave = watcher.take('presence', told('leave'), 60_000).then(() => (left = true));
  // Within the ttl the member is still there; past ttl + one refresh interval node a has told its leave (bounded: 60 steps).
  for (let elapsed = 0; elapsed < TTL + REFRESH + 1_000 && !left; elapsed += 1_000) {
    await clock.tickAsync(1_000);
    if (elapsed < TTL - REFRESH) assert.equal(left, false, 'no leave while the lease may still be refreshed');
  }
  await leave;
  watcher.send({ type: 'presence.get', id: 2, channel: 'room:x' });
  const list = await watcher.reply(2);
  assert.ok(list.type === 'presence.list' && !list.members.some((each) => each.client === member), 'no longer listed');
  // Told once: later refreshes find nothing more to remove.
  for (let i = 0; i < 3; i++) await clock.tickAsync(REFRESH);
  assert.equal(watcher.log.filter((message) => message.type === 'presence' && 'leave' in message).length, 1, 'one leave');
}

describe('presence of a dead node', () => {
  test('in-memory broker shared by two nodes: the dead node\'s member is told as left within ttl + one refresh', async (t) => {
    const clock = new FakeClock();
    const broker = new MemoryBroker({ clock });
    t.after(() => broker.close());
    await scenario(t, clock, { live: broker, dying: broker });
  });

  test('over Redis: the dead node\'s member is removed from Redis and told as left within ttl + one refresh', { skip: redisSkip }, async (t) => {
    const clock = new FakeClock();
    const prefix = testPrefix();
    const [live, dying] = await Promise.all([RedisBroker.connect({ url: redisUrl, prefix, clock }), RedisBroker.connect({ url: redisUrl, prefix, clock })]);
    t.after(() => Promise.all([live.close(), dying.close()]));
    await scenario(t, clock, { live, dying });
  });
});
