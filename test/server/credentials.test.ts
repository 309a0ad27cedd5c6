import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import WebSocket from 'ws';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { MAX_TIMER_MS } from '../../src/core/clock.js';
import { REFRESH_BURST, REFRESH_PER_SECOND } from '../../src/server/protocol/hub.js';
import { eventually } from '../helpers/wait.js';
import { DEADLINE, serve, within } from './support.js';

type Message = { readonly type: string; readonly [key: string]: unknown };

/** A raw lifeline.v1 peer: records messages and waits for one that matches, with a deadline. */
async function protocolPeer(url: string) {
  const ws = new WebSocket(url, 'lifeline.v1');
  const seen: Message[] = [];
  const waiters: { match: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  ws.on('message', (data) => {
    const message = JSON.parse(String(data)) as Message;
    // A message goes to the first waiter for it, or waits in `seen` for the next: each is taken once.
    const waiter = waiters.find((w) => w.match(message));
    if (!waiter) return void seen.push(message);
    waiters.splice(waiters.indexOf(waiter), 1);
    waiter.resolve(message);
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  await within(new Promise((resolve) => ws.once('open', resolve)), DEADLINE, 'open');
  return {
    ws,
    closed,
    send: (message: Message) => ws.send(JSON.stringify(message)),
    next: (type: string) =>
      within(
        new Promise<Message>((resolve) => {
          const hit = seen.find((m) => m.type === type);
          if (hit) {
            seen.splice(seen.indexOf(hit), 1);
            resolve(hit);
          } else waiters.push({ match: (m) => m.type === type, resolve });
        }),
        DEADLINE,
        `a "${type}" message`,
      ),
  };
}

/** Tokens look like `user:expiresAt`; the hook believes them (it is a test). */
const tokenAuth = {
  authenticate: ({ query, token }: { query: URLSearchParams; token?: string }) => {
    const [user, until] = (token ?? query.get('token') ?? '').split(':');
    return user && until ? { ok: true as const, user, expiresAt: Number(until) } : { ok: false as const };
  },
};

describe('expiring credentials', () => {
  test('a connection is closed with 4000 when its credentials expire', async (t) => {
    const clock = new FakeClock(1_000);
    const fixture = await serve(t, { clock, pingInterval: 0, ...tokenAuth });
    const peer = await protocolPeer(`${fixture.wsUrl}?token=ann:6000`);
    await clock.tickAsync(4_999);
    assert.equal(fixture.server.connections.size, 1);
    await clock.tickAsync(1);
    assert.equal(await within(peer.closed, DEADLINE, 'close'), 4000);
  });

  test('credentials that expire beyond the longest platform timer (24.8 days) are not ended early when that timer runs', async (t) => {
    // A clock whose timers are clamped as the platform's are (MAX_TIMER_MS).
    class ClampedClock extends FakeClock {
      override setTimeout(fn: () => void, ms: number): ReturnType<FakeClock['setTimeout']> {
        return super.setTimeout(fn, Math.min(ms, MAX_TIMER_MS));
      }
    }
    const clock = new ClampedClock(1_000);
    const fixture = await serve(t, { clock, pingInterval: 0, ...tokenAuth });
    const expiresAt = 1_000 + 30 * 86_400_000;
    const peer = await protocolPeer(`${fixture.wsUrl}?token=ann:${expiresAt}`);
    peer.send({ type: 'hello', v: 1 });
    assert.equal((await peer.next('welcome')).expiresAt, expiresAt);
    await clock.tickAsync(MAX_TIMER_MS + 1);
    assert.equal(fixture.server.connections.size, 1, 'still open after the clamped timer ran');
    await clock.tickAsync(expiresAt - clock.now() - 1);
    assert.equal(fixture.server.connections.size, 1);
    await clock.tickAsync(1);
    assert.equal(await within(peer.closed, DEADLINE, 'close at the expiry'), 4000);
  });

  test('welcome says when; a refresh with a fresh token for the same user moves the expiry', async (t) => {
    const clock = new FakeClock(1_000);
    const fixture = await serve(t, { clock, pingInterval: 0, ...tokenAuth });
    const peer = await protocolPeer(`${fixture.wsUrl}?token=ann:6000`);
    peer.send({ type: 'hello', v: 1 });
    assert.equal((await peer.next('welcome')).expiresAt, 6000);
    peer.send({ type: 'refresh', token: 'ann:20000' });
    assert.equal((await peer.next('refreshed')).expiresAt, 20000);
    await clock.tickAsync(10_000); // past the old expiry
    assert.equal(fixture.server.connections.size, 1);
    await clock.tickAsync(9_000); // t = 20 000: the new one
    assert.equal(await within(peer.closed, DEADLINE, 'close at the new expiry'), 4000);
  });

  test('refreshes are paced per connection: past the burst one is refused with limit and the hook is not asked; one per period after', async (t) => {
    const clock = new FakeClock(1_000);
    let asked = 0;
    const fixture = await serve(t, {
      clock,
      pingInterval: 0,
      authenticate: (request: { query: URLSearchParams; token?: string }) => {
        asked++;
        return tokenAuth.authenticate(request);
      },
    });
    const peer = await protocolPeer(`${fixture.wsUrl}?token=ann:999999`);
    peer.send({ type: 'hello', v: 1 });
    await peer.next('welcome');
    const handshake = asked;
    for (let i = 1; i <= REFRESH_BURST; i++) {
      peer.send({ type: 'refresh', token: `ann:${999_999 + i}` });
      assert.equal((await peer.next('refreshed')).expiresAt, 999_999 + i);
    }
    peer.send({ type: 'refresh', token: 'ann:1999999' });
    const refused = await peer.next('error');
    assert.equal(refused.code, 'limit');
    assert.equal(asked - handshake, REFRESH_BURST, 'the hook was not asked for the refused one');
    await clock.tickAsync(1_000 / REFRESH_PER_SECOND);
    peer.send({ type: 'refresh', token: 'ann:2999999' });
    assert.equal((await peer.next('refreshed')).expiresAt, 2_999_999, 'one more after the period');
  });

  test("a refresh naming another user is refused and the old expiry stands", async (t) => {
    const clock = new FakeClock(1_000);
    const fixture = await serve(t, { clock, pingInterval: 0, ...tokenAuth });
    const peer = await protocolPeer(`${fixture.wsUrl}?token=ann:6000`);
    peer.send({ type: 'hello', v: 1 });
    await peer.next('welcome');
    peer.send({ type: 'refresh', token: 'bob:99999' });
    const refused = await peer.next('error');
    assert.equal(refused.code, 'unauthorized');
    await clock.tickAsync(5_000);
    assert.equal(await within(peer.closed, DEADLINE, 'close at the old expiry'), 4000);
  });

  test('a refresh whose user lists the same claims in another order is the same user', async (t) => {
    const clock = new FakeClock(1_000);
    // Tokens look like `name:expiresAt`; each decode builds the user with its keys in a new order.
    let decoded = 0;
    const authenticate = ({ query, token }: { query: URLSearchParams; token?: string }) => {
      const [name, until] = (token ?? query.get('token') ?? '').split(':');
      const user = ++decoded % 2 === 1 ? { name, org: 'acme' } : { org: 'acme', name };
      return { ok: true as const, user, expiresAt: Number(until) };
    };
    const fixture = await serve(t, { clock, pingInterval: 0, authenticate });
    const peer = await protocolPeer(`${fixture.wsUrl}?token=ann:6000`);
    peer.send({ type: 'hello', v: 1 });
    await peer.next('welcome');
    peer.send({ type: 'refresh', token: 'ann:20000' });
    assert.equal((await peer.next('refreshed')).expiresAt, 20000);
  });

  test('a refresh answered after its connection closed arms no expiry timer (it would hold the closed connection until then)', async (t) => {
    const clock = new FakeClock(1_000);
    let release: (() => void) | undefined;
    const authenticate = async ({ query, token }: { query: URLSearchParams; token?: string }) => {
      // The refresh's verdict waits until the test lets it go, after the connection closed.
      if (token !== undefined) await new Promise<void>((resolve) => (release = resolve));
      const [user, until] = (token ?? query.get('token') ?? '').split(':');
      return { ok: true as const, user: user ?? '', expiresAt: Number(until) };
    };
    const fixture = await serve(t, { clock, pingInterval: 0, authenticate });
    const peer = await protocolPeer(`${fixture.wsUrl}?token=ann:6000`);
    peer.send({ type: 'hello', v: 1 });
    await peer.next('welcome');
    peer.send({ type: 'refresh', token: 'ann:9999999' });
    await eventually(() => release !== undefined, 'the refresh reached the hook');
    peer.ws.close();
    await eventually(() => fixture.server.connections.size === 0, 'the server saw the close');
    const pending = clock.pending;
    release?.();
    await clock.tickAsync(0);
    assert.equal(clock.pending, pending, 'no timer armed for the closed connection');
  });

  test('credentials without an expiry never close the connection', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, pingInterval: 0, authenticate: () => ({ ok: true, user: 'ann' }) });
    // A session (hello answered), so the hello deadline is not what is tested here.
    const peer = await protocolPeer(fixture.wsUrl);
    peer.send({ type: 'hello', v: 1 });
    await peer.next('welcome');
    await clock.tickAsync(10 * 24 * 3_600_000);
    assert.equal(fixture.server.connections.size, 1);
  });
});
