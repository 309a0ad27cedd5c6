// Three `lifeline serve --redis` nodes behind a real HAProxy (round robin, no sticky sessions,
// health checks on /readyz), as users deploy them: clients reconnect through the balancer to
// whichever node, resume, and get every event once; a node drained with SIGTERM is taken out by
// the health check before its clients are closed.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { LifelineClient } from '../../src/client/node.js';
import { startServe, stopAll, type RunningServer } from '../cli/harness.js';
import { hs256, JWT_SECRET } from '../helpers/jwt.js';
import { API_KEY, call, nowSeconds } from '../cli/serve-support.js';
import { HaProxy, haproxySkip } from '../helpers/haproxy.js';
import { redisSkip, redisUrl, testPrefix } from '../helpers/redis.js';
import { eventually, within } from '../helpers/wait.js';

after(stopAll);

const CLIENTS = 6;
const EVENTS = 40;

test('behind HAProxy: a drained node leaves the balancer first; its clients resume elsewhere and get every event once', { skip: haproxySkip || redisSkip }, async (t) => {
  const args = ['--port', '0', '--api-key', API_KEY, '--redis', redisUrl, '--redis-prefix', testPrefix(), '--jwt-audience', 'lifeline', '--drain-delay', '1500'];
  // One after another: each start has its own deadline on a busy machine.
  const nodes: RunningServer[] = [];
  for (let i = 0; i < 3; i++) nodes.push(await startServe(args, { LIFELINE_JWT_SECRET: JWT_SECRET }));
  const proxy = await HaProxy.start(nodes.map((node) => Number(new URL(node.url).port)));
  t.after(() => proxy.stop());
  await eventually(async () => (await call(`${proxy.url}/readyz`).catch(() => ({ status: 0 }))).status === 200, 'haproxy serving');

  const seen: { offset: number; data: unknown }[][] = [];
  const unrecovered: number[] = [];
  const closes: { at: number; code: number }[] = [];
  const clients: LifelineClient[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const token = await hs256({ aud: 'lifeline', sub: `user-${i}`, exp: nowSeconds() + 600 });
    const client = new LifelineClient(`ws://127.0.0.1:${proxy.port}/ws?token=${token}`, { initialDelay: 50, maxDelay: 500, maxAttempts: Infinity, connectTimeout: 2_000 });
    t.after(() => client.close());
    const mine: { offset: number; data: unknown }[] = [];
    seen.push(mine);
    client.addEventListener('close', (event) => closes.push({ at: Date.now(), code: event.code }));
    client.subscribe('chat:lb', {
      event: (event) => mine.push({ offset: event.position.offset, data: event.data }),
      subscribed: (event) => {
        if (!event.recovered) unrecovered.push(i);
      },
    });
    clients.push(client);
  }
  await eventually(() => clients.every((client) => client.state === 'ready'), 'every client connected through haproxy');

  const publish = async (n: number): Promise<void> => {
    const response = await call(`${proxy.url}/api/v1/channels/chat%3Alb/publish`, { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` }, json: { data: { n } } });
    assert.equal(response.status, 200, `publish ${n}: ${JSON.stringify(response.body)}`);
  };
  for (let n = 1; n <= EVENTS / 2; n++) await publish(n);

  // Drain node 1: /readyz fails at once, haproxy marks it DOWN, and only then are clients closed (1012).
  const drained = nodes[0];
  assert.ok(drained);
  drained.child.kill('SIGTERM');
  await eventually(async () => (await call(`${drained.url}/readyz`)).status === 503, 'node 1 /readyz 503', 5_000);
  await proxy.printed(/Server nodes\/n1 is DOWN/);
  const downAt = Date.now();
  assert.equal(closes.filter((close) => close.code === 1012).length, 0, 'no client was closed before the balancer took the node out');
  assert.equal((await within(drained.exited, 15_000, 'node 1 exit')).code, 0);

  for (let n = EVENTS / 2 + 1; n <= EVENTS; n++) await publish(n);
  await eventually(() => seen.every((mine) => mine.length >= EVENTS), 'every client has every event', 20_000);
  for (const [i, mine] of seen.entries()) {
    assert.deepEqual(
      mine.map((event) => event.offset),
      Array.from({ length: EVENTS }, (_, k) => k + 1),
      `client ${i}: every event once, in order`,
    );
  }
  assert.deepEqual(unrecovered, [], 'every resume recovered');
  const restarted = closes.filter((close) => close.code === 1012);
  assert.ok(restarted.every((close) => close.at >= downAt), 'clients closed only after the node was out of the balancer');
});
