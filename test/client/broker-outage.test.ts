/**
 * A real redis-server (spawned here on its own port) killed and restarted under a real server
 * and real client sockets: what the app sees is a subscription that waits and comes back, and
 * publishes that are resent under their ids and take effect once.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { LifelineClient, type LifelineClientOptions, type Subscription } from '../../src/client/node.js';
import type { Position } from '../../src/core/position.js';
import type { LifelineLogger } from '../../src/core/logger.js';
import { RedisBroker } from '../../src/redis/index.js';
import type { ServerOptions } from '../../src/server/options.js';
import type { LifelineServer } from '../../src/server/server.js';
import { startServer } from '../../src/testing/server-fixture.js';
import { RedisServer, redisServerSkip } from '../helpers/redis-server.js';
import { eventually, until, within } from '../helpers/wait.js';

const channels = { chat: { history: { size: 1_000, ttl: 300_000 } } };
const clientOptions: LifelineClientOptions = { initialDelay: 20, maxDelay: 200, maxAttempts: Number.POSITIVE_INFINITY, retry: { initialDelay: 50, maxDelay: 300 }, retryDeadline: 30_000 };

/** The server's log lines, by message (the `logger` option takes any such object). */
function capture(): { readonly logger: LifelineLogger; readonly lines: string[] } {
  const lines: string[] = [];
  const push = (_fields: object, message: string): void => void lines.push(message);
  return { logger: { debug: push, info: push, warn: push, error: push }, lines };
}

interface Rig {
  readonly redis: RedisServer;
  readonly broker: RedisBroker;
  readonly server: LifelineServer<unknown>;
  readonly client: LifelineClient;
  readonly lines: string[];
}

async function rig(t: TestContext, options: ServerOptions<unknown> = {}): Promise<Rig> {
  const redis = await RedisServer.start();
  t.after(() => redis.kill());
  const broker = await RedisBroker.connect({ url: redis.url, prefix: 'outage:', reconnect: { initialDelay: 50, maxDelay: 200 } });
  t.after(() => broker.close());
  const { logger, lines } = capture();
  const { server, wsUrl, close } = await startServer({ broker, channels, logger, ...options });
  t.after(close);
  const client = new LifelineClient(wsUrl, clientOptions);
  t.after(() => client.close());
  await within(client.ready(), 10_000, 'client ready');
  return { redis, broker, server, client, lines };
}

/** Everything a subscription reports, in order: `event e:offset data`, `subscribed e:offset recovered`, `retrying n code`, `error code`. */
function journal(sub: Subscription): string[] {
  const seen: string[] = [];
  sub.addEventListener('event', (e) => seen.push(`event ${e.position.epoch}:${e.position.offset} ${JSON.stringify(e.data)}`));
  sub.addEventListener('subscribed', (e) => seen.push(`subscribed ${e.position.epoch}:${e.position.offset} ${e.recovered}`));
  sub.addEventListener('retrying', (e) => seen.push(`retrying ${e.attempt} ${e.error.code}`));
  sub.addEventListener('error', (e) => seen.push(`error ${e.error.code}`));
  return seen;
}

/**
 * Each delivered event once, offsets contiguous within an epoch, and a new epoch (or a jump)
 * only right after a `subscribed ... false`: no duplicate, no silent gap.
 */
function assertHonest(seen: readonly string[]): void {
  let epoch = '';
  let offset = 0;
  let told = false;
  for (const line of seen) {
    const [kind, at, rest] = line.split(' ');
    const [e = '', o = '0'] = (at ?? '').split(':');
    if (kind === 'subscribed') {
      if (rest === 'false' || epoch === '') told = true;
      if (rest === 'false' || epoch === '') [epoch, offset] = [e, Number(o)];
      continue;
    }
    if (kind !== 'event') continue;
    if (e !== epoch || Number(o) !== offset + 1) assert.ok(told && e === epoch, `a gap or duplicate without recovered: false at "${line}" in ${JSON.stringify(seen)}`);
    [epoch, offset, told] = [e, Number(o), false];
  }
}

describe('a Redis outage under live clients', { skip: redisServerSkip }, () => {
  test('a subscribe and publishes made while Redis is down are retried (publishes under their ids) and take effect once when it is back', async (t) => {
    const { redis, broker, server, client, lines } = await rig(t);
    const before = await client.publish('chat:a', 'before');
    await redis.kill();
    await eventually(() => !broker.isReady(), 'the broker sees Redis gone');
    const sub = client.subscribe('chat:a');
    const seen = journal(sub);
    const publishes = [1, 2, 3, 4, 5].map((n) => client.publish('chat:a', { n }));
    await within(until(sub, 'retrying', () => true, 10_000), 11_000, 'the subscribe refused for now');
    await eventually(() => lines.filter((line) => line === 'broker publish failed').length >= 5, `every publish refused once (log ${JSON.stringify(lines)})`);
    assert.equal(sub.state, 'subscribing', 'refused for now, not ended');
    assert.ok((sub.retry?.attempt ?? 0) >= 1);
    await redis.restart();
    const positions = await within(Promise.all(publishes), 30_000, 'the publishes acknowledged');
    await within(sub.ready(), 30_000, 'the subscription live');
    assert.equal(sub.caughtUp, true);
    assert.equal(sub.retry, undefined);
    // Redis came back empty: a new history, in which each retried publish is stored once.
    const page = await server.history('chat:a', { since: { epoch: positions[0]?.epoch ?? '', offset: 0 }, limit: 100 });
    assert.equal(page.recovered, true);
    const stored = page.events.map((event) => JSON.stringify(event.data));
    for (const [i, position] of positions.entries()) {
      assert.equal(stored.filter((data) => data === JSON.stringify({ n: i + 1 })).length, 1, `publish ${i + 1} stored once`);
      assert.equal(JSON.stringify(page.events.find((event) => event.offset === position.offset)?.data), JSON.stringify({ n: i + 1 }), `publish ${i + 1} is at its acknowledged position`);
    }
    assert.notEqual(positions[0]?.epoch, before.epoch, 'Redis restarted empty');
    const after: Position = await server.publish('chat:a', 'after');
    await eventually(() => seen.some((line) => line.startsWith(`event ${after.epoch}:${after.offset} `)), `a live event after the outage (seen ${JSON.stringify(seen)})`);
    assertHonest(seen);
    assert.ok(!seen.some((line) => line.startsWith('error')), 'never ended');
  });

  test('a resubscribe after a reconnect refused while Redis restarts is retried until live, and told recovered: false (the history went with Redis)', async (t) => {
    let armed = false;
    const held: { redis?: RedisServer; broker?: RedisBroker } = {};
    const { redis, broker, server, client } = await rig(t, {
      // The hook runs between the hello and the broker calls of the subscribe: Redis dies right
      // there. It waits for the second resubscribe, so the session's first broker calls after the
      // welcome (its direct-message replay, the first resubscribe) are done by then.
      canSubscribe: async ({ channel }) => {
        if (!armed || channel !== 'chat:r') return true;
        armed = false;
        await held.redis?.kill();
        await eventually(() => held.broker?.isReady() === false, 'the broker sees Redis gone');
        return true;
      },
    });
    Object.assign(held, { redis, broker });
    const first = client.subscribe('chat:q');
    const sub = client.subscribe('chat:r');
    await within(first.ready(), 10_000, 'subscribed first');
    const seen = journal(sub);
    await within(sub.ready(), 10_000, 'subscribed');
    for (let n = 1; n <= 3; n++) await server.publish('chat:r', n);
    await eventually(() => seen.filter((line) => line.startsWith('event')).length === 3, 'three events');
    armed = true;
    const states: string[] = [];
    client.addEventListener('statechange', (e) => states.push(e.to));
    client.reconnect();
    await within(until(sub, 'retrying', () => true, 10_000), 11_000, `the resubscribe refused for now (states ${states.join(' ')})`);
    assert.equal(sub.state, 'subscribing', 'refused for now, not ended');
    assert.notEqual(client.state, 'ready', 'not ready while a subscription is being retried');
    await redis.restart();
    await eventually(() => sub.state === 'subscribed' && first.state === 'subscribed' && client.state === 'ready', 'subscribed again and ready', 30_000);
    const told = seen.filter((line) => line.startsWith('subscribed')).at(-1) ?? '';
    assert.ok(told.endsWith(' false'), `told the gap cannot be served (got ${told})`);
    const after = await server.publish('chat:r', 'after');
    await eventually(() => seen.some((line) => line.startsWith(`event ${after.epoch}:${after.offset} `)), `a live event after the outage (seen ${JSON.stringify(seen)})`);
    assertHonest(seen);
    assert.ok(!seen.some((line) => line.startsWith('error')), 'never ended');
    assert.ok(states.includes('ready'));
  });
});
