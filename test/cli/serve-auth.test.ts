// `lifeline serve` with signed tokens: HS256 and RS256, expiry and refresh on a live connection,
// the channels claim, anonymous access, and the refusal to start without a way to authenticate.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { WebSocket } from 'ws';
import { PROTOCOL } from '../../src/protocol/protocol-name.js';
import { ProtocolClient, type ServerType } from '../server/protocol/protocol-client.js';
import { runCliInProcess, startServe, stopAll, type RunningServer } from './harness.js';
import { within } from '../helpers/wait.js';
import { hs256, JWT_SECRET } from '../helpers/jwt.js';
import { nowSeconds, refusal } from './serve-support.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeline-auth-'));
let server: RunningServer;
let rsaPrivate: CryptoKey;

before(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  rsaPrivate = pair.privateKey;
  const pemFile = join(dir, 'issuer.pem');
  writeFileSync(pemFile, await exportSPKI(pair.publicKey));
  server = await startServe(['--port', '0', '--jwt-public-key', pemFile, '--jwt-audience', 'lifeline', '--ping-interval', '0'], { LIFELINE_JWT_SECRET: JWT_SECRET });
});
after(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

const token = (claims: Record<string, unknown>): Promise<string> => hs256({ aud: 'lifeline', exp: nowSeconds() + 600, ...claims });

test('an HS256 token in ?token= opens a lifeline.v1 session', async (t) => {
  const exp = nowSeconds() + 60;
  const { welcome } = await ProtocolClient.connect(t, server.wsUrl(), {}, { query: { token: await token({ sub: 'ada', exp }) } });
  assert.equal(welcome.v, 1);
  assert.equal((welcome as { expiresAt?: number }).expiresAt, exp * 1000, 'the welcome tells when the credentials expire');
});

test('an RS256 token in Authorization: Bearer is accepted', async () => {
  const rs = await new SignJWT({ sub: 'bob', aud: 'lifeline', exp: nowSeconds() + 600 }).setProtectedHeader({ alg: 'RS256' }).sign(rsaPrivate);
  const ws = new WebSocket(server.wsUrl(), PROTOCOL, { headers: { Authorization: `Bearer ${rs}` } });
  await within(once(ws, 'open'), 5_000, 'open');
  assert.equal(ws.protocol, PROTOCOL);
  ws.terminate();
});

test('no token, an expired one, a wrong audience or a bad signature: 401 before the upgrade', async () => {
  const cases: readonly [string | undefined, RegExp][] = [
    [undefined, /a token is required/],
    [await token({ sub: 'ada', exp: nowSeconds() - 5 }), /the token has expired/],
    [await hs256({ sub: 'ada', aud: 'someone-else' }), /aud claim is not accepted/],
    [await hs256({ sub: 'ada', aud: 'lifeline' }, 'a-different-secret-that-is-32-bytes-long'), /signature is invalid/],
    [await hs256({ sub: 'ada', aud: 'lifeline' }), /the token has no exp claim/],
    // jose only checks that sub is present: a number or an object is not a user name.
    [await token({ sub: 12345 }), /sub must be a string/],
    [await token({ sub: { length: 3 } }), /sub must be a string/],
  ];
  for (const [jwt, reason] of cases) {
    const url = jwt === undefined ? server.wsUrl() : `${server.wsUrl()}?token=${jwt}`;
    const refused = await refusal(url, { protocols: PROTOCOL });
    assert.equal(refused.status, 401, String(reason));
    assert.match(refused.body, reason);
  }
});

test('credentials that expire close the connection with 4000', async (t) => {
  // The server is another process, so its clock is real: the token expires a few seconds on,
  // late enough that a slow connect on a busy machine still happens before it.
  const exp = nowSeconds() + 4;
  const { client } = await ProtocolClient.connect(t, server.wsUrl(), {}, { query: { token: await token({ sub: 'ada', exp }) } });
  const closed = await within(client.closed, 30_000, 'the expiry close');
  assert.deepEqual(closed, { code: 4000, reason: 'credentials expired' });
  assert.ok(Date.now() >= exp * 1000 - 50, 'not before exp');
});

test('a refresh with a fresh token moves the expiry; the connection outlives the first token', async (t) => {
  const exp = nowSeconds() + 4;
  const { client } = await ProtocolClient.connect(t, server.wsUrl(), {}, { query: { token: await token({ sub: 'ada', exp }) } });
  const later = nowSeconds() + 120;
  client.send({ type: 'refresh', token: await token({ sub: 'ada', exp: later }) });
  // `refreshed` is not in the protocol test client's message table: read it by its type.
  const refreshed = (await client.take('refreshed' as ServerType)) as unknown as { expiresAt: number };
  assert.equal(refreshed.expiresAt, later * 1000);
  // Past the first token's expiry (time itself is what is tested here), the session still answers.
  // The event awaited is the first token's expiry itself: the timer fires once it has passed.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, exp * 1000 - Date.now() + 300)));
  await client.sync();
  assert.equal(client.ws.readyState, WebSocket.OPEN);
});

test('a refresh for another user, or with a bad token, is refused and the old expiry stands', async (t) => {
  const { client } = await ProtocolClient.connect(t, server.wsUrl(), {}, { query: { token: await token({ sub: 'ada', exp: nowSeconds() + 60 }) } });
  client.send({ type: 'refresh', token: await token({ sub: 'mallory', exp: nowSeconds() + 600 }) });
  assert.match((await client.take('error', (m) => m.code === 'unauthorized')).message, /same user/);
  client.send({ type: 'refresh', token: await token({ sub: 'ada', exp: nowSeconds() - 1 }) });
  assert.match((await client.take('error', (m) => m.code === 'unauthorized')).message, /expired/);
});

test('the channels claim decides what a token may subscribe and publish to', async (t) => {
  const jwt = await token({ sub: 'ada', channels: ['chat:team-*'] });
  const { client } = await ProtocolClient.connect(t, server.wsUrl(), {}, { query: { token: jwt } });
  client.send({ type: 'subscribe', id: 1, channel: 'chat:lobby' });
  assert.deepEqual(await client.reply(1), { type: 'error', id: 1, code: 'forbidden', message: 'not allowed to subscribe to "chat:lobby"' });
  assert.equal((await client.subscribe(2, 'chat:team-red')).type, 'subscribed');
  const refused = await client.publish(3, 'chat:lobby', 'hi');
  assert.deepEqual(refused, { type: 'error', id: 3, code: 'forbidden', message: 'not allowed to publish to "chat:lobby"' });
  assert.equal((await client.publish(4, 'chat:team-red', 'hi')).type, 'ack');
  await client.take('event', (event) => event.channel === 'chat:team-red' && event.data === 'hi');
  // A namespace the server does not configure is refused whatever the claim says.
  client.send({ type: 'subscribe', id: 5, channel: 'other:x' });
  assert.equal((await client.reply(5)).type, 'error');
});

test('--allow-anonymous lets a client without a token in as anon-…, resuming its session with its secret; a token it cannot check is still refused', async (t) => {
  const open = await startServe(['--port', '0', '--allow-anonymous']);
  const { client, welcome } = await ProtocolClient.connect(t, open.wsUrl());
  assert.equal(welcome.v, 1);
  await client.dispose();
  // A new anonymous connection with the session's secret resumes it; without it, it cannot.
  const { client: stranger, welcome: strange } = await ProtocolClient.connect(t, open.wsUrl(), { session: welcome.session });
  assert.equal(strange.resumed, false);
  await stranger.dispose();
  const { welcome: again } = await ProtocolClient.connect(t, open.wsUrl(), { session: welcome.session, secret: welcome.secret });
  assert.equal(again.resumed, true);
  assert.equal(again.session, welcome.session);
  const refused = await refusal(`${open.wsUrl()}?token=${await token({ sub: 'x' })}`, { protocols: PROTOCOL });
  assert.equal(refused.status, 401);
  assert.match(refused.body, /accepts no tokens/);
});

test('--allow-anonymous beside a token key: an anonymous client gets only --anonymous-channels (none by default), never more than a token grants', async (t) => {
  const strict = await startServe(['--port', '0', '--allow-anonymous', '--ping-interval', '0'], { LIFELINE_JWT_SECRET: JWT_SECRET });
  const { client: anonymous } = await ProtocolClient.connect(t, strict.wsUrl());
  anonymous.send({ type: 'subscribe', id: 1, channel: 'chat:lobby' });
  assert.equal(((await anonymous.reply(1)) as { code?: string }).code, 'forbidden');
  const listed = await startServe(['--port', '0', '--allow-anonymous', '--ping-interval', '0', '--anonymous-channels', 'chat:public-*'], { LIFELINE_JWT_SECRET: JWT_SECRET });
  const { client: guest } = await ProtocolClient.connect(t, listed.wsUrl());
  guest.send({ type: 'subscribe', id: 1, channel: 'chat:public-lobby' });
  assert.equal((await guest.reply(1)).type, 'subscribed');
  guest.send({ type: 'subscribe', id: 2, channel: 'chat:team' });
  assert.equal(((await guest.reply(2)) as { code?: string }).code, 'forbidden');
  const bad = await runCliInProcess(['serve', '--allow-anonymous', '--anonymous-channels', 'chat:*,has space']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--anonymous-channels must be a comma-separated list of channel patterns/);
});

test('--authenticate-on first-message: the token comes in the first message', async (t) => {
  const server2 = await startServe(['--port', '0', '--authenticate-on', 'first-message'], { LIFELINE_JWT_SECRET: JWT_SECRET });
  const client = await ProtocolClient.open(server2.wsUrl());
  t.after(() => client.dispose());
  client.send({ type: 'auth', token: await hs256({ sub: 'ada', exp: nowSeconds() + 600 }) });
  await client.take('authenticated' as ServerType);
  assert.equal((await client.hello()).v, 1);
  const refused = await ProtocolClient.open(server2.wsUrl());
  refused.send({ type: 'auth', token: 'nope' });
  assert.equal((await within(refused.closed, 5_000, 'the refusal')).code, 4401);
});

test('--authenticate-on first-message: expiring credentials are refreshed like the handshake\'s', async (t) => {
  const server3 = await startServe(['--port', '0', '--authenticate-on', 'first-message', '--ping-interval', '0'], { LIFELINE_JWT_SECRET: JWT_SECRET });
  const client = await ProtocolClient.open(server3.wsUrl());
  t.after(() => client.dispose());
  client.send({ type: 'auth', token: await hs256({ sub: 'ada', exp: nowSeconds() + 60 }) });
  await client.take('authenticated' as ServerType);
  await client.hello();
  const later = nowSeconds() + 120;
  client.send({ type: 'refresh', token: await hs256({ sub: 'ada', exp: later }) });
  const refreshed = (await client.take('refreshed' as ServerType)) as unknown as { expiresAt: number };
  assert.equal(refreshed.expiresAt, later * 1000);
});

/** The warning lines a server logged before it was ready. */
async function startupWarnings(running: RunningServer): Promise<string[]> {
  await running.stderrIncludes('standalone server ready');
  const log = running.stderr();
  return log
    .slice(0, log.indexOf('standalone server ready'))
    .split('\n')
    .filter((line) => line.includes('"level":40'))
    .map((line) => (JSON.parse(line) as { msg: string }).msg);
}

test('a token key without --jwt-audience is one warning line at start; tokens without exp are refused unless --allow-tokens-without-exp, which warns too', async (t) => {
  assert.deepEqual(await startupWarnings(server), [], 'an audience is set, exp is required: nothing to warn about');
  const loose = await startServe(['--port', '0', '--allow-tokens-without-exp', '--ping-interval', '0'], { LIFELINE_JWT_SECRET: JWT_SECRET });
  const warnings = await startupWarnings(loose);
  assert.equal(warnings.length, 2, warnings.join('\n'));
  assert.match(warnings[0] ?? '', /^no --jwt-audience: tokens are accepted whatever their aud claim/);
  assert.match(warnings[1] ?? '', /^--allow-tokens-without-exp: tokens without an exp claim are accepted and never expire/);
  const { welcome } = await ProtocolClient.connect(t, loose.wsUrl(), {}, { query: { token: await hs256({ sub: 'ada', aud: 'anything' }) } });
  assert.equal((welcome as { expiresAt?: number }).expiresAt, undefined, 'accepted, and it never expires');
  // A secret demo mode generated signs nothing but this process's demo tokens: no audience to check.
  assert.deepEqual(await startupWarnings(await startServe(['--port', '0', '--demo'])), []);
});

test('without a JWT key, --allow-anonymous or --demo, serve refuses to start (exit 2, one line)', async () => {
  const result = await runCliInProcess(['serve', '--port', '0']);
  assert.equal(result.code, 2);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /^lifeline serve: no way to authenticate clients: set --jwt-secret \(HS256\) or --jwt-public-key \(RS256\), or --allow-anonymous/);
  assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
});

test('a public key that cannot be used is a usage error naming the flag', async () => {
  const missing = await runCliInProcess(['serve', '--jwt-public-key', join(dir, 'missing.pem')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--jwt-public-key: cannot read .*missing\.pem: no such file/);
  const garbage = join(dir, 'garbage.pem');
  writeFileSync(garbage, 'not a key');
  const bad = await runCliInProcess(['serve'], { LIFELINE_JWT_PUBLIC_KEY: garbage });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--jwt-public-key is not a PEM public key or certificate/);
  const onlyAudience = await runCliInProcess(['serve', '--allow-anonymous', '--jwt-audience', 'x']);
  assert.equal(onlyAudience.code, 2);
  assert.match(onlyAudience.stderr, /--jwt-audience, --jwt-issuer and --allow-tokens-without-exp need --jwt-secret or --jwt-public-key/);
});
