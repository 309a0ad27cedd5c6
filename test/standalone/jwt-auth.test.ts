// Signed-token authentication: what a token must carry, what it grants, and why one is refused.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { SignJWT } from 'jose';
import type { AuthRequest, AuthResult } from '../../src/server/index.js';
import { presentedToken, tokenAuth, type TokenUser } from '../../src/standalone/jwt-auth.js';
import { loadPublicKey } from '../../src/standalone/jwt-keys.js';
import { hs256, JWT_SECRET } from '../helpers/jwt.js';

const secret = new TextEncoder().encode(JWT_SECRET);
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const now = (): number => Math.floor(Date.now() / 1000);

function request(fields: { headers?: Record<string, string>; query?: string; token?: string; firstMessage?: { type: string; token?: unknown } } = {}): AuthRequest {
  const url = new URL(`http://localhost/ws${fields.query ?? ''}`);
  return {
    headers: fields.headers ?? {},
    url,
    query: url.searchParams,
    cookies: {},
    remoteAddress: '127.0.0.1',
    ...(fields.token === undefined ? {} : { token: fields.token }),
    ...(fields.firstMessage === undefined ? {} : { firstMessage: fields.firstMessage }),
  };
}

function refused(result: AuthResult<TokenUser>): string {
  assert.equal(result.ok, false, 'refused');
  return result.ok ? '' : `${result.status ?? 401} ${result.message ?? ''}`;
}

test('an HS256 token names the user; exp becomes the expiry in ms', async () => {
  const { authenticate } = tokenAuth({ secret, allowAnonymous: false });
  const exp = now() + 60;
  const result = await authenticate(request({ headers: { authorization: `Bearer ${await hs256({ sub: 'ada', exp })}` } }));
  assert.deepEqual(result, { ok: true, user: { id: 'ada' }, expiresAt: exp * 1000 });
});

test('a token without exp is refused unless allowTokensWithoutExp; then it never expires', async () => {
  const forever = `?token=${await hs256({ sub: 'bob' })}`;
  assert.match(refused(await tokenAuth({ secret, allowAnonymous: false }).authenticate(request({ query: forever }))), /^401 the token has no exp claim; this server accepts only tokens that expire$/);
  const rs = await new SignJWT({ sub: 'carol' }).setProtectedHeader({ alg: 'RS256' }).sign(rsa.privateKey);
  assert.match(refused(await tokenAuth({ publicKey: loadPublicKey(rsaPem, 'test'), allowAnonymous: true }).authenticate(request({ token: rs }))), /no exp claim/, 'whatever the key, and even with anonymous access on');
  const allowed = await tokenAuth({ secret, allowAnonymous: false, allowTokensWithoutExp: true }).authenticate(request({ query: forever }));
  assert.deepEqual(allowed, { ok: true, user: { id: 'bob' } }, 'no exp: no expiry');
});

test('a channels claim travels with the user and limits subscribe and publish', async () => {
  const auth = tokenAuth({ secret, allowAnonymous: false, allowTokensWithoutExp: true });
  const result = await auth.authenticate(request({ query: `?token=${await hs256({ sub: 'ada', channels: ['chat:team-*'] })}` }));
  assert.ok(result.ok);
  const user = result.user;
  assert.deepEqual(user, { id: 'ada', channels: ['chat:team-*'] });
  assert.equal(auth.canSubscribe({ user, session: 's', channel: 'chat:team-a' }), true);
  assert.equal(auth.canSubscribe({ user, session: 's', channel: 'chat:lobby' }), false);
  assert.equal(auth.canPublish({ user, session: 's', channel: 'chat:lobby', data: 1 }), false);
  assert.equal(auth.canPublish({ user: { id: 'bob' }, session: 's', channel: 'chat:lobby', data: 1 }), true, 'no claim: every channel');
  // The same grants in another order, or repeated, are the same user (a refresh must name the same user).
  const reordered = await auth.authenticate(request({ query: `?token=${await hs256({ sub: 'ada', channels: ['chat:b', 'chat:a', 'chat:b'] })}` }));
  const sorted = await auth.authenticate(request({ query: `?token=${await hs256({ sub: 'ada', channels: ['chat:a', 'chat:b'] })}` }));
  assert.ok(reordered.ok && sorted.ok);
  assert.deepEqual(reordered.user, sorted.user);
  const bad = await auth.authenticate(request({ query: `?token=${await hs256({ sub: 'ada', channels: 'chat:*' })}` }));
  assert.match(refused(bad), /^401 the channels claim must be a list/);
});

test('RS256 tokens verify against the public key; an HS256 token signed with that key is refused', async () => {
  const publicKey = loadPublicKey(rsaPem, 'test');
  const { authenticate } = tokenAuth({ publicKey, allowAnonymous: false, allowTokensWithoutExp: true });
  const token = await new SignJWT({ sub: 'carol' }).setProtectedHeader({ alg: 'RS256' }).sign(rsa.privateKey);
  assert.deepEqual(await authenticate(request({ token })), { ok: true, user: { id: 'carol' } });
  // The classic confusion: the public key (which is public) used as an HMAC secret.
  const forged = await hs256({ sub: 'mallory' }, new TextEncoder().encode(rsaPem));
  assert.match(refused(await authenticate(request({ token: forged }))), /algorithm this server does not accept/);
});

test('both algorithms at once: each token is checked with its own key', async () => {
  const { authenticate } = tokenAuth({ secret, publicKey: loadPublicKey(rsaPem, 'test'), allowAnonymous: false, allowTokensWithoutExp: true });
  const rs = await new SignJWT({ sub: 'r' }).setProtectedHeader({ alg: 'RS256' }).sign(rsa.privateKey);
  assert.equal((await authenticate(request({ token: rs }))).ok, true);
  assert.equal((await authenticate(request({ token: await hs256({ sub: 'h' }) }))).ok, true);
});

test('refusals say which check failed, always 401', async () => {
  const { authenticate } = tokenAuth({ secret, audience: 'lifeline', issuer: 'https://auth.example', allowAnonymous: true, allowTokensWithoutExp: true });
  const base = { sub: 'ada', aud: 'lifeline', iss: 'https://auth.example' };
  const cases: readonly [Promise<string>, RegExp][] = [
    [hs256({ ...base, exp: now() - 10 }), /^401 the token has expired$/],
    [hs256({ ...base, aud: 'other' }), /^401 the token's aud claim is not accepted/],
    [hs256({ ...base, iss: 'https://evil.example' }), /^401 the token's iss claim is not accepted/],
    [hs256({ ...base, nbf: now() + 600 }), /^401 the token's nbf claim is not accepted/],
    [hs256({ aud: 'lifeline', iss: 'https://auth.example' }), /^401 the token's sub claim is not accepted/],
    [hs256({ ...base, sub: 'x'.repeat(201) }), /^401 the token's sub must be a string of 1-200 characters/],
    [hs256(base, new TextEncoder().encode('another-secret-of-at-least-32-bytes')), /^401 the token signature is invalid$/],
    [Promise.resolve('not.a.jwt'), /^401 the token is malformed$/],
  ];
  for (const [token, expected] of cases) assert.match(refused(await authenticate(request({ token: await token }))), expected);
  // A token that fails is refused even though anonymous access is on.
  assert.equal((await authenticate(request({ query: '?token=garbage' }))).ok, false);
});

test('without a token: 401, or an anon- user when anonymous access is on', async () => {
  assert.match(refused(await tokenAuth({ secret, allowAnonymous: false }).authenticate(request())), /^401 a token is required/);
  const open = tokenAuth({ allowAnonymous: true });
  const first = await open.authenticate(request());
  const second = await open.authenticate(request());
  assert.ok(first.ok && second.ok);
  assert.match(first.user.id, /^anon-[0-9a-f]{12}$/);
  assert.notEqual(first.user.id, second.user.id);
  assert.equal(first.anonymous, true, 'marked anonymous, so its session can be resumed by its secret');
  assert.equal(first.expiresAt, undefined);
  assert.match(refused(await open.authenticate(request({ query: '?token=x' }))), /^401 this server accepts no tokens$/);
});

test('where the token is read from, in order: refresh, first message, Authorization, ?token=', () => {
  assert.deepEqual(presentedToken(request({ token: 'r', headers: { authorization: 'Bearer h' }, query: '?token=q' })), { token: 'r' });
  assert.deepEqual(presentedToken(request({ firstMessage: { type: 'auth', token: 'f' }, query: '?token=q' })), { token: 'f' });
  assert.deepEqual(presentedToken(request({ firstMessage: { type: 'auth' }, query: '?token=q' })), {}, 'first-message mode reads only the message');
  assert.deepEqual(presentedToken(request({ headers: { authorization: 'Bearer h' }, query: '?token=q' })), { token: 'h' });
  assert.deepEqual(presentedToken(request({ query: '?token=q' })), { token: 'q' });
  assert.deepEqual(presentedToken(request({ query: '?token=' })), {});
  assert.match(presentedToken(request({ headers: { authorization: 'Bearer' } })).error ?? '', /must be "Bearer <token>"/);
  // Another scheme is not ours (a browser resends a proxy's Basic credentials): the query speaks.
  assert.deepEqual(presentedToken(request({ headers: { authorization: 'Basic abc' }, query: '?token=q' })), { token: 'q' });
  assert.deepEqual(presentedToken(request({ headers: { authorization: 'Basic abc' } })), {});
});

test('with a token key set, an anonymous user gets no channel unless --anonymous-channels lists it; without one, every channel', async () => {
  const channel = (auth: ReturnType<typeof tokenAuth>, user: TokenUser, name: string): unknown[] => [auth.canSubscribe({ user, session: 's', channel: name }), auth.canPublish({ user, session: 's', channel: name, data: 1 })];
  const keyed = tokenAuth({ secret, allowAnonymous: true });
  const anonymous = await keyed.authenticate(request());
  assert.ok(anonymous.ok && anonymous.anonymous);
  // Leaving a token out must not widen what a token would grant.
  assert.deepEqual(channel(keyed, anonymous.user, 'user:ada:inbox'), [false, false]);
  const listed = tokenAuth({ secret, allowAnonymous: true, anonymousChannels: ['public:*'] });
  const guest = await listed.authenticate(request());
  assert.ok(guest.ok);
  assert.deepEqual(channel(listed, guest.user, 'public:news'), [true, true]);
  assert.deepEqual(channel(listed, guest.user, 'user:ada:inbox'), [false, false]);
  const open = tokenAuth({ allowAnonymous: true });
  const anyone = await open.authenticate(request());
  assert.ok(anyone.ok);
  assert.deepEqual(channel(open, anyone.user, 'user:ada:inbox'), [true, true], 'no token key: anonymous is the only way in');
});

test('the issuer\'s clock may run up to 30 s ahead: nbf is checked with that tolerance, exp without (the connection ends there)', async () => {
  const { authenticate } = tokenAuth({ secret, allowAnonymous: false, allowTokensWithoutExp: true });
  assert.equal((await authenticate(request({ token: await hs256({ sub: 'ada', nbf: now() + 5 }) }))).ok, true, 'nbf 5 s ahead');
  assert.match(refused(await authenticate(request({ token: await hs256({ sub: 'ada', nbf: now() + 120 }) }))), /nbf claim is not accepted/);
  assert.match(refused(await authenticate(request({ token: await hs256({ sub: 'ada', exp: now() - 5 }) }))), /^401 the token has expired$/);
});

test('a public key from PEM text or a file; private, short, foreign or broken keys are refused', () => {
  const fromText = loadPublicKey(rsaPem, '--jwt-public-key');
  assert.equal(fromText.algorithm, 'RS256');
  const pkcs1 = rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  assert.equal(loadPublicKey('/keys/issuer.pem', '--jwt-public-key', (path) => (path === '/keys/issuer.pem' ? pkcs1 : '')).algorithm, 'RS256');
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  assert.equal(loadPublicKey(ec.publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'k').algorithm, 'ES256');
  const refusals: readonly [string, RegExp][] = [
    [rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), /holds a private key/],
    [generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString(), /1024-bit RSA key; RS256 needs 2048/],
    [generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString(), /ed25519 key; use an RSA key/],
    ['-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n', /is not a PEM public key or certificate/],
  ];
  for (const [pem, expected] of refusals) assert.throws(() => loadPublicKey(pem, 'k'), expected);
  assert.throws(
    () =>
      loadPublicKey('/missing.pem', '--jwt-public-key', () => {
        throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      }),
    /--jwt-public-key: cannot read \/missing\.pem: no such file/,
  );
});
