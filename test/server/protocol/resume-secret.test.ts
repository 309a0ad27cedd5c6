/**
 * Resume secrets (docs/protocol.md §1, docs/guarantees.md): a session resumes only with the
 * secret its welcome handed out, which the server stores hashed; anonymous connections resume
 * their own anonymous sessions with it, and nobody resumes anything with the session id alone.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { MemoryBroker } from '../../../src/broker/memory-broker.js';
import { serve } from '../support.js';
import { ProtocolClient } from './protocol-client.js';

let anonymousCount = 0;
/** Like `lifeline serve --allow-anonymous`: every connection without a token gets a fresh user. */
const anonymousOrNamed = (request: { readonly query: URLSearchParams }): { ok: true; user: string; anonymous?: boolean } => {
  const user = request.query.get('user');
  return user === null ? { ok: true, user: `anon-${++anonymousCount}`, anonymous: true } : { ok: true, user };
};

describe('protocol: resume secrets', () => {
  test('welcome hands out a secret from the injected random source; the broker stores only its hash', async (t) => {
    const broker = new MemoryBroker();
    const fixture = await serve(t, { pingInterval: 0, broker, randomBytes: (size) => new Uint8Array(size).fill(7) });
    const { welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    const expected = Buffer.alloc(32, 7).toString('base64url');
    assert.equal(welcome.secret, expected);
    const record = await broker.loadSession(welcome.session);
    assert.equal(record?.secret, createHash('sha256').update(expected).digest('hex'));
    assert.equal(JSON.stringify(record).includes(expected), false, 'the secret itself is not stored');
  });

  test('the session id alone, or with a wrong secret, starts a new session', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, channels: { chat: {} } });
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    await client.publish(1, 'chat:a', 'x');
    await client.dispose();
    // One character off (the last one encodes 4 bits: 'A' one time in 16, so 'E' then).
    const oneOff = `${welcome.secret.slice(0, -1)}${welcome.secret.endsWith('A') ? 'E' : 'A'}`;
    for (const hello of [{ session: welcome.session }, { session: welcome.session, secret: oneOff }, { session: welcome.session, secret: 'short' }]) {
      const { client: other, welcome: refused } = await ProtocolClient.connect(t, fixture.wsUrl, hello);
      assert.equal(refused.resumed, false, JSON.stringify(hello));
      assert.notEqual(refused.session, welcome.session);
      assert.notEqual(refused.secret, welcome.secret);
      await other.dispose();
    }
    // The owner still resumes it (the failed attempts did not spoil it), and the welcome echoes its secret.
    const { welcome: again } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    assert.equal(again.resumed, true);
    assert.equal(again.session, welcome.session);
    assert.equal(again.secret, welcome.secret);
    assert.equal(again.acked, 1);
  });

  test('an anonymous client resumes its own session, and is its user again; another anonymous client cannot', async (t) => {
    const fixture = await serve<string>(t, { pingInterval: 0, channels: { chat: {} }, authenticate: anonymousOrNamed });
    fixture.server.handle('whoami', (_params, context) => context.user);
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    const first = await client.request(1, 'whoami');
    assert.equal(first.type, 'result');
    await client.publish(2, 'chat:a', 'once');
    await client.dispose();

    const { client: intruder, welcome: refused } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session });
    assert.equal(refused.resumed, false, 'another anonymous client without the secret gets a new session');
    await intruder.dispose();
    const { client: named, welcome: notNamed } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret }, { query: { user: 'mallory' } });
    assert.equal(notNamed.resumed, false, 'a signed-in user cannot take an anonymous session, even with its secret');
    await named.dispose();

    const { client: back, welcome: resumed } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    assert.equal(resumed.resumed, true);
    assert.equal(resumed.session, welcome.session);
    assert.equal(resumed.acked, 2);
    // A resend of id 2 gets the stored ack (exactly once), and the user is the session's.
    back.send({ type: 'publish', id: 2, channel: 'chat:a', data: 'once' });
    const ack = await back.reply(2);
    assert.equal(ack.type, 'ack');
    assert.deepEqual(await back.request(3, 'whoami'), { type: 'result', id: 3, data: first.type === 'result' ? first.data : undefined });
  });

  test('a secret that is not a string is refused as bad_message', async (t) => {
    const fixture = await serve(t, { pingInterval: 0 });
    const client = await ProtocolClient.open(fixture.wsUrl);
    t.after(() => client.dispose());
    client.send({ type: 'hello', v: 1, session: 's-x', secret: 42 });
    const error = await client.take('error');
    assert.equal(error.code, 'bad_message');
    assert.match(error.message, /secret/);
  });

  test('the same user resumes when its token lists the same claims in another order', async (t) => {
    // Each handshake decodes the user anew: the second one builds its object in another key order.
    let handshakes = 0;
    const authenticate = (): { ok: true; user: { readonly sub: string; readonly org: string } } => {
      handshakes++;
      return { ok: true, user: handshakes === 1 ? { sub: 'ada', org: 'acme' } : { org: 'acme', sub: 'ada' } };
    };
    const fixture = await serve<{ readonly sub: string; readonly org: string }>(t, { pingInterval: 0, channels: { chat: {} }, authenticate });
    const { client, welcome } = await ProtocolClient.connect(t, fixture.wsUrl);
    await client.publish(1, 'chat:a', 'x');
    await client.dispose();
    const { welcome: again } = await ProtocolClient.connect(t, fixture.wsUrl, { session: welcome.session, secret: welcome.secret });
    assert.equal(again.resumed, true);
    assert.equal(again.session, welcome.session);
    assert.equal(again.acked, 1);
  });
});
