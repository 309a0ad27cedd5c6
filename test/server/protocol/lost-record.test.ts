/**
 * A session whose broker record was lost while its connection lasted (a Redis restarted without
 * persistence, an eviction, a record that ran out while the broker could not be reached): the
 * node parks it from what it holds when the connection ends, and the client resumes it with its
 * secret, its reply window intact (docs/guarantees.md, Sessions). Against the in-memory broker
 * and a real Redis.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { Broker } from '../../../src/broker/broker.js';
import { MemoryBroker } from '../../../src/broker/memory-broker.js';
import { RedisBroker } from '../../../src/redis/index.js';
import { redisSkip, redisUrl, testPrefix } from '../../helpers/redis.js';
import { serve } from '../support.js';
import { ParkWatch } from './brokers.js';
import { ProtocolClient } from './protocol-client.js';

const brokers: readonly { readonly name: string; readonly skip: string | false; make(): Promise<Broker> }[] = [
  { name: 'MemoryBroker', skip: false, make: async () => new MemoryBroker() },
  { name: 'RedisBroker', skip: redisSkip, make: () => RedisBroker.connect({ url: redisUrl, prefix: testPrefix() }) },
];

let anonymousCount = 0;

async function watched(t: TestContext, make: () => Promise<Broker>): Promise<ParkWatch> {
  const inner = await make();
  t.after(() => inner.close());
  return new ParkWatch(inner);
}

for (const { name, skip, make } of brokers) {
  describe(`protocol: a session record lost while connected (${name})`, { skip }, () => {
    test('parked when its connection ends, it resumes with its secret and its replies: a resent publish publishes nothing', async (t) => {
      const broker = await watched(t, make);
      const fixture = await serve(t, { pingInterval: 0, broker, channels: { chat: { history: { size: 10, ttl: 60_000 } } } });
      const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
      const ack = await client.publish(1, 'chat:a', 'once');
      assert.equal(ack.type, 'ack');
      await broker.inner.deleteSession(welcome.session); // the broker lost it
      await client.dispose();
      await broker.parked(welcome.session);

      const { client: back, welcome: again } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
      assert.equal(again.resumed, true, 'resumed with its secret');
      assert.equal(again.session, welcome.session);
      assert.equal(again.acked, 1);
      assert.deepEqual(await back.publish(1, 'chat:a', 'once'), ack, 'the resend gets the stored ack');
      const replay = await back.subscribe(2, 'chat:a', { epoch: ack.type === 'ack' ? ack.position.epoch : '', offset: 0 });
      assert.equal(replay.position.offset, 1, 'one event in history');
    });

    test('an anonymous session too: its own client resumes it, another anonymous one cannot', async (t) => {
      const broker = await watched(t, make);
      const fixture = await serve<string>(t, { pingInterval: 0, broker, authenticate: () => ({ ok: true, user: `anon-${++anonymousCount}`, anonymous: true }) });
      const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
      await broker.inner.deleteSession(welcome.session);
      await client.dispose();
      await broker.parked(welcome.session);

      const { client: intruder, welcome: refused } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: 'not-the-secret' });
      assert.equal(refused.resumed, false);
      await intruder.dispose();
      const { welcome: again } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
      assert.equal(again.resumed, true);
      assert.equal(again.session, welcome.session);
    });
  });
}
