// Cluster-wide control through the broker: two `lifeline serve --redis` nodes on one Redis. An
// HTTP API disconnect sent to one node closes the connections on the other (4001), and a
// session resumed on another node closes its old connection with 4001 at once.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { redisSkip, redisUrl, testPrefix } from '../helpers/redis.js';
import { within } from '../helpers/wait.js';
import { ProtocolClient } from '../server/protocol/protocol-client.js';
import { startServe, stopAll } from './harness.js';
import { hs256, JWT_SECRET } from '../helpers/jwt.js';
import { API_KEY, call, nowSeconds } from './serve-support.js';

after(stopAll);

async function twoNodes(): Promise<[{ url: string; wsUrl: () => string }, { url: string; wsUrl: () => string }]> {
  const args = ['--port', '0', '--api-key', API_KEY, '--redis', redisUrl, '--redis-prefix', testPrefix(), '--ping-interval', '0', '--jwt-audience', 'lifeline'];
  const env = { LIFELINE_JWT_SECRET: JWT_SECRET };
  return Promise.all([startServe(args, env), startServe(args, env)]);
}

const tokenFor = (sub: string): Promise<string> => hs256({ aud: 'lifeline', sub, exp: nowSeconds() + 600 });

describe('control across nodes', { skip: redisSkip }, () => {
  test('POST /users/:user/disconnect on one node closes that user on the other (4001), no one else', async (t) => {
    const [a, b] = await twoNodes();
    const { client: ada } = await ProtocolClient.connect(t, a.wsUrl(), {}, { query: { token: await tokenFor('ada') } });
    const { client: bob } = await ProtocolClient.connect(t, a.wsUrl(), {}, { query: { token: await tokenFor('bob') } });
    const response = await call(`${b.url}/api/v1/users/ada/disconnect`, { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` }, json: { reason: 'banned' } });
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, { closed: 0, everywhere: true });
    assert.deepEqual(await within(ada.closed, 5_000, 'ada closed'), { code: 4001, reason: 'banned' });
    await bob.subscribe(1, 'chat:still-here');
  });

  test('POST /sessions/:session/disconnect on one node closes that session on the other', async (t) => {
    const [a, b] = await twoNodes();
    const { client, welcome } = await ProtocolClient.connect(t, a.wsUrl(), {}, { query: { token: await tokenFor('cy') } });
    const response = await call(`${b.url}/api/v1/sessions/${welcome.session}/disconnect`, { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` } });
    assert.equal(response.status, 200);
    assert.equal((await within(client.closed, 5_000, 'session closed')).code, 4001);
  });

  test('a session resumed on another node: its old connection is closed with 4001 at once', async (t) => {
    const [a, b] = await twoNodes();
    const token = await tokenFor('dee');
    const { client: old, welcome } = await ProtocolClient.connect(t, a.wsUrl(), {}, { query: { token } });
    const { welcome: resumed } = await ProtocolClient.connect(t, b.wsUrl(), { session: welcome.session, secret: welcome.secret }, { query: { token } });
    assert.equal(resumed.resumed, true);
    assert.equal((await within(old.closed, 5_000, 'old connection closed')).code, 4001);
  });
});
