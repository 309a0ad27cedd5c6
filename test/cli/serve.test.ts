// `lifeline serve --demo` end to end: the pages, demo tokens, the chat namespace over lifeline.v1,
// demo.drop, the generated admin key, and a graceful SIGTERM shutdown.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ProtocolClient } from '../server/protocol/protocol-client.js';
import { startServe, stopAll, type RunningServer } from './harness.js';
import { within } from '../helpers/wait.js';
import { API_KEY, call, errorCode } from './serve-support.js';

let server: RunningServer;
let adminKey: string;

before(async () => {
  server = await startServe(['--port', '0', '--demo']);
  await server.stderrIncludes('"apiKey"');
  adminKey = /"apiKey":"([^"]+)"/.exec(server.stderr())?.[1] ?? '';
});
after(stopAll);

interface DemoToken {
  token: string;
  user: string;
  id: string;
  expiresAt: number;
}

async function demoToken(user: string, ttl?: number, visitor?: string, from = server): Promise<DemoToken> {
  const query = new URLSearchParams({ user, ...(ttl === undefined ? {} : { ttl: String(ttl) }), ...(visitor === undefined ? {} : { visitor }) });
  const response = await call(`${from.url}/demo/token?${query.toString()}`);
  assert.equal(response.status, 200, response.text);
  return response.body as unknown as DemoToken;
}

test('prints exactly one "listening on" line with the real port, on 127.0.0.1', async () => {
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(server.url, 'http://127.0.0.1:0');
  assert.equal(server.stdout(), `listening on ${server.url}\n`);
  await server.stderrIncludes('"msg":"listening"'); // logs go to stderr as JSON lines
});

test('demo mode logs the generated admin key once, with the admin page address', () => {
  assert.match(adminKey, /^[A-Za-z0-9_-]{32}$/);
  assert.equal(server.stderr().split(adminKey).length - 1, 2, 'in the key field and the admin address of one line');
  assert.match(server.stderr(), new RegExp(`"admin":"${server.url}/admin#key=${adminKey}"`));
});

test('a key the operator gave is never logged', async () => {
  const given = await startServe(['--port', '0', '--demo'], { LIFELINE_API_KEY: API_KEY });
  await given.stderrIncludes('demo mode');
  assert.ok(!given.stderr().includes(API_KEY));
  assert.match(given.stderr(), new RegExp(`"admin":"${given.url}/admin"`));
  assert.equal((await call(`${given.url}/admin/api/snapshot?key=${API_KEY}`)).status, 200);
});

test('serves the demo page, its script and stylesheet, never cached', async () => {
  const page = await call(`${server.url}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  assert.equal(page.headers.get('cache-control'), 'no-store');
  assert.match(page.text, /<meta name="lifeline-endpoint" content="\/ws">/);
  assert.match(page.text, /src="\/client\.js"/);
  const script = await call(`${server.url}/client.js`);
  assert.equal(script.status, 200);
  assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
  assert.ok(script.text.length > 1000, 'the bundled client');
  assert.equal((await call(`${server.url}/style.css`)).status, 200);
});

test('404 for unknown paths, 400 for a plain GET of the endpoint, 405 for other methods on pages', async () => {
  assert.equal((await call(`${server.url}/nope`)).status, 404);
  assert.equal((await call(`${server.url}/ws`)).status, 400, 'a GET without Upgrade on the endpoint is a malformed handshake');
  const post = await call(`${server.url}/`, { method: 'POST', body: 'x' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
});

const claimsOf = (token: string): { sub: string; name: string; exp: number } => JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { sub: string; name: string; exp: number };

test('GET /demo/token signs a token for the name, valid for ttl seconds (default 300)', async () => {
  const before = Date.now();
  const issued = await demoToken('Ada Lovelace');
  assert.equal(issued.user, 'Ada Lovelace');
  assert.ok(issued.expiresAt >= before + 299_000 && issued.expiresAt <= Date.now() + 300_000, String(issued.expiresAt));
  const claims = claimsOf(issued.token);
  assert.match(claims.sub, /^Ada Lovelace~[0-9a-f]{12}$/);
  assert.equal(claims.sub, issued.id);
  assert.equal(claims.name, 'Ada Lovelace');
  assert.equal(claims.exp * 1000, issued.expiresAt);
  const short = await demoToken('bob', 5);
  assert.ok(short.expiresAt <= Date.now() + 5_000);
});

test('GET /demo/token refuses a bad name or ttl with a JSON 400', async () => {
  const bad = ['', 'x'.repeat(33), 'ada!', 'a%0Ab'].map((user) => `user=${user}`);
  for (const query of [...bad, 'ttl=60', 'user=ada&visitor=short', `user=ada&visitor=${'v'.repeat(129)}`, 'user=ada&visitor=not%20a%20key%20at%20all', 'user=ada&ttl=4', 'user=ada&ttl=3601', 'user=ada&ttl=1.5', 'user=ada&ttl=abc']) {
    const response = await call(`${server.url}/demo/token?${query}`);
    assert.equal(response.status, 400, query);
    assert.equal(errorCode(response), 'bad_request', query);
    assert.equal(typeof (response.body.error as { message?: unknown }).message, 'string');
  }
  assert.equal((await call(`${server.url}/demo/token?user=ada`, { method: 'POST' })).status, 405);
});

test('a demo token opens a lifeline.v1 session on chat:lobby with history and presence', async (t) => {
  const ada = await ProtocolClient.connect(t, server.wsUrl(), {}, { query: { token: (await demoToken('ada')).token } });
  const bob = await ProtocolClient.connect(t, server.wsUrl(), {}, { query: { token: (await demoToken('bob')).token } });
  await ada.client.subscribe(1, 'chat:lobby');
  await bob.client.subscribe(1, 'chat:lobby');
  const ack = await ada.client.publish(2, 'chat:lobby', { user: 'ada', text: 'hello' });
  assert.equal(ack.type, 'ack');
  const event = await bob.client.take('event', (e) => e.channel === 'chat:lobby');
  assert.deepEqual(event.data, { user: 'ada', text: 'hello' });
  // Anyone may get a demo token, but nobody posts as someone else (or posts a non-message).
  for (const [id, data] of [[4, { user: 'bob', text: 'not me' }], [5, { text: 'anonymous' }], [6, { user: 'ada', text: '' }], [7, 'plain']] as const) {
    const refused = await ada.client.publish(id, 'chat:lobby', data);
    assert.equal(refused.type === 'error' && refused.code, 'forbidden', JSON.stringify(data));
  }
  bob.client.send({ type: 'presence.get', id: 3, channel: 'chat:lobby' });
  const list = await bob.client.take('presence.list');
  const shown = list.members.map((member) => member.user as { id: string; name: string }).sort((a, b) => a.name.localeCompare(b.name));
  assert.deepEqual(shown.map((user) => user.name), ['ada', 'bob'], 'members are shown by their id and name, never their grants');
  assert.deepEqual(Object.keys(shown[0] ?? {}).sort(), ['id', 'name']);
  assert.match(shown[0]?.id ?? '', /^ada~[0-9a-f]{12}$/);
});

test('one visitor cannot lock another out: a token in someone else\'s name is a user of its own (maxSessionsPerUser)', async (t) => {
  const limited = await startServe(['--port', '0', '--demo', '--max-sessions-per-user', '2']);
  // An intruder asks for the victim's name and fills the per-user limit with its sessions.
  for (let i = 0; i < 2; i++) await ProtocolClient.connect(t, limited.wsUrl(), {}, { query: { token: (await demoToken('vic', 300, undefined, limited)).token } });
  // The victim still gets in, twice (its own limit), with its own visitor key.
  const victim = 'victim-own-secret-key';
  const first = await demoToken('vic', 300, victim, limited);
  await ProtocolClient.connect(t, limited.wsUrl(), {}, { query: { token: first.token } });
  const second = await demoToken('vic', 300, victim, limited);
  assert.equal(second.id, first.id, 'the same name and visitor are the same user (refreshes and resumes need that)');
  await ProtocolClient.connect(t, limited.wsUrl(), {}, { query: { token: second.token } });
  // The limit still holds for each user: a third session of the victim's own is refused.
  const over = await ProtocolClient.open(limited.wsUrl(), { query: { token: (await demoToken('vic', 300, victim, limited)).token } });
  t.after(() => over.dispose());
  over.send({ type: 'hello', v: 1 });
  assert.equal((await within(over.closed, 5_000, 'the third session closed')).code, 1008);
  // Guessing keys gets users of their own, never the victim's.
  for (const visitor of [undefined, 'intruder-guessed-key']) assert.notEqual((await demoToken('vic', 300, visitor, limited)).id, first.id);
});

test('demo.drop cuts the asking link without a close frame; after a resume the request gets its stored reply', async (t) => {
  const visitor = 'carol-own-secret-key';
  const { client, welcome } = await ProtocolClient.connect(t, server.wsUrl(), {}, { query: { token: (await demoToken('carol', undefined, visitor)).token } });
  client.send({ type: 'request', id: 7, method: 'demo.drop' });
  assert.equal((await within(client.closed, 5_000, 'the drop')).code, 1006);
  const again = await ProtocolClient.connect(t, server.wsUrl(), { session: welcome.session, secret: welcome.secret }, { query: { token: (await demoToken('carol', undefined, visitor)).token } });
  assert.equal(again.welcome.resumed, true);
  again.client.send({ type: 'request', id: 7, method: 'demo.drop' });
  assert.deepEqual(await again.client.reply(7), { type: 'result', id: 7, data: { dropped: true } });
  await again.client.sync();
  assert.equal(again.client.ws.readyState, again.client.ws.OPEN, 'the stored reply, not a second drop');
});

test('the admin snapshot answers the generated key', async () => {
  const snapshot = await call(`${server.url}/admin/api/snapshot`, { headers: { Authorization: `Bearer ${adminKey}` } });
  assert.equal(snapshot.status, 200);
  assert.equal(typeof snapshot.body.at, 'number');
  assert.equal((await call(`${server.url}/admin/api/snapshot`)).status, 401);
  const page = await call(`${server.url}/admin`);
  assert.equal(page.status, 200, 'the admin page itself is a static page');
});

test('SIGTERM closes every client with 1012 and a retry hint, then exits 0', async () => {
  const a = await ProtocolClient.open(`${server.wsUrl()}?token=${(await demoToken('dave')).token}`);
  const b = await ProtocolClient.open(`${server.wsUrl()}?token=${(await demoToken('erin')).token}`);
  await a.hello();
  server.child.kill('SIGTERM');
  for (const close of [await within(a.closed, 15_000, 'a closed'), await within(b.closed, 15_000, 'b closed')]) {
    assert.equal(close.code, 1012);
    assert.match(close.reason, /retry after \d+ ms/);
  }
  const exit = await within(server.exited, 15_000, 'the server to exit');
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.equal(server.stdout(), `listening on ${server.url}\n`, 'nothing else on stdout');
  assert.match(server.stderr(), /shut down cleanly/);
});
