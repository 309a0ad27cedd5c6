/**
 * Direct messages with the real client across dropped links, takeovers and server restarts
 * (1012), as a property (docs/protocol.md §6, docs/guarantees.md "Server to one session"):
 * whatever the interleaving, every message the app's `sendTo` stored reaches the client's
 * `message` listener exactly once, in the order sent, and the outbox ends empty. Against the
 * in-memory broker and a real Redis.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { LifelineClient } from '../../src/client/node.js';
import type { Broker } from '../../src/broker/broker.js';
import { MemoryBroker } from '../../src/broker/memory-broker.js';
import { RedisBroker } from '../../src/redis/index.js';
import { startServer } from '../../src/testing/server-fixture.js';
import { redisSkip, redisUrl, testPrefix } from '../helpers/redis.js';
import { eventually, until, within } from '../helpers/wait.js';

type Step = { readonly kind: 'send'; readonly count: number } | { readonly kind: 'drop' } | { readonly kind: 'dropInListener' } | { readonly kind: 'kick' };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 5 }).map((count): Step => ({ kind: 'send', count })) },
  fc.constant<Step>({ kind: 'drop' }),
  fc.constant<Step>({ kind: 'dropInListener' }),
  fc.constant<Step>({ kind: 'kick' }),
);

const brokers: readonly { readonly name: string; readonly skip: string | false; make(): Promise<Broker> }[] = [
  { name: 'MemoryBroker', skip: false, make: async () => new MemoryBroker() },
  { name: 'RedisBroker', skip: redisSkip, make: () => RedisBroker.connect({ url: redisUrl, prefix: testPrefix() }) },
];

for (const { name, skip, make } of brokers) {
  describe(`LifelineClient direct messages across reconnects (${name})`, { skip }, () => {
    test('property: each stored message reaches the client once, in order, whatever drops the links; nothing is left unacknowledged', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
          const broker = await make();
          const fixture = await startServer({ broker, pingInterval: 0 });
          const client = new LifelineClient(fixture.wsUrl, { initialDelay: 5, maxDelay: 20 });
          const got: unknown[] = [];
          let dropNext = false;
          client.addEventListener('message', (e) => {
            got.push(e.data);
            if (!dropNext) return;
            dropNext = false;
            // The link dies before the ack can leave: the server sends it again, the client drops the repeat.
            for (const connection of fixture.server.connections) connection.terminate();
          });
          try {
            await within(client.ready(), 5_000, 'ready');
            const session = client.session ?? '';
            let sent = 0;
            for (const action of steps) {
              if (action.kind === 'send') {
                for (let n = 0; n < action.count; n++) assert.equal(await fixture.server.sendTo(session, ++sent), true);
              } else if (action.kind === 'dropInListener') {
                dropNext = true;
              } else {
                const back = until(client, 'ready', () => true, 5_000);
                for (const connection of fixture.server.connections) {
                  if (action.kind === 'drop') connection.terminate();
                  else connection.close(1012, 'restart');
                }
                await back;
              }
            }
            const all = Array.from({ length: sent }, (_, index) => index + 1);
            for (let round = 0; round < 100 && got.length < sent; round++) await until(client, 'message', () => true, 5_000).catch(() => undefined);
            await within(client.ready(), 5_000, 'ready at the end');
            assert.deepEqual(got, all, 'each message once, in order');
            assert.equal(client.session, session, 'one session throughout');
            // The last acks may be on their way (or a repeat's, after a link dropped in a listener).
            await eventually(async () => (await broker.pendingDirect(session, 0)).length === 0, 'every message acknowledged', 5_000);
          } finally {
            client.close();
            await fixture.close();
            await broker.close();
          }
        }),
        { numRuns: 12 },
      );
    });
  });
}
