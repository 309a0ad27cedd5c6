import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { seededRng } from '../../src/core/clock.js';
import type { ClientEnvironment } from '../../src/client/environment.js';
import { LifelineClient } from '../../src/client/lifeline-client.js';
import type { LifelineClientOptions } from '../../src/client/lifeline-client-types.js';
import { LifelineClient as NodeLifelineClient, ReplyError, withTokenRefresh, type UrlContext } from '../../src/client/node.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { scriptedSockets, type ScriptedSocket } from '../helpers/scripted-socket.js';
import { within } from '../helpers/wait.js';
import { serve } from '../server/support.js';

const steady: ClientEnvironment = { hidden: () => false, online: () => true, subscribe: () => () => undefined };
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function setup(options: LifelineClientOptions = {}) {
  const clock = new FakeClock(1_000_000);
  const { WebSocket, latest } = scriptedSockets();
  const tokens: string[] = [];
  const client = new LifelineClient('ws://test/ws', {
    clock,
    WebSocket,
    environment: steady,
    rng: seededRng(1),
    initialDelay: 100,
    heartbeat: false, // a silent scripted socket would otherwise be declared dead after 35 s
    refreshToken: withTokenRefresh(async () => {
      tokens.push(`t${tokens.length + 1}`);
      return `t${tokens.length}`;
    }),
    ...options,
  });
  const errors: Error[] = [];
  client.addEventListener('error', (e) => errors.push(e.error));
  const refreshes = (socket: ScriptedSocket = latest()) =>
    socket.sent.map((data) => JSON.parse(String(data)) as Record<string, unknown>).filter((m) => m.type === 'refresh');
  const say = (message: object) => latest().receive(JSON.stringify(message));
  const welcome = async (expiresAt?: number) => {
    await Promise.resolve();
    latest().open();
    say({ type: 'welcome', v: 1, session: 's-1', resumed: false, recoveryWindow: 120_000, pingInterval: 25_000, acked: 0, expiresAt });
  };
  /** Advances the fake clock and lets the token promise settle. */
  const advance = async (ms: number) => {
    clock.tick(ms);
    await settle();
  };
  return { clock, client, latest, refreshes, say, welcome, advance, tokens, errors };
}

describe('LifelineClient token refresh: scheduling against a scripted socket', () => {
  test('10 % of the time left ahead of expiry (100 s left: at 90 s), then rescheduled from refreshed (30 s ahead at most)', async () => {
    const { clock, client, refreshes, say, welcome, advance } = setup();
    await welcome(clock.now() + 100_000);
    await advance(89_999);
    assert.deepEqual(refreshes(), []);
    await advance(1);
    assert.deepEqual(refreshes(), [{ type: 'refresh', token: 't1' }]);
    say({ type: 'refreshed', expiresAt: clock.now() + 1_000_000 });
    await advance(969_999);
    assert.equal(refreshes().length, 1);
    await advance(1);
    assert.deepEqual(refreshes().at(-1), { type: 'refresh', token: 't2' });
    client.close();
  });

  test('credentials already expired (or about to): the refresh goes at once', async () => {
    const { clock, client, refreshes, welcome, advance } = setup();
    await welcome(clock.now() - 5_000);
    await advance(0);
    assert.deepEqual(refreshes(), [{ type: 'refresh', token: 't1' }]);
    client.close();
  });

  test('no expiresAt, or no refreshToken: nothing is sent', async () => {
    const without = setup();
    await without.welcome();
    await without.advance(10 * 24 * 3_600_000);
    assert.deepEqual(without.refreshes(), []);
    without.client.close();
    const noHook = setup({ refreshToken: undefined });
    await noHook.welcome(noHook.clock.now() + 1_000);
    await noHook.advance(10_000);
    assert.deepEqual(noHook.refreshes(), []);
    noHook.client.close();
  });

  test('a refused refresh (error unauthorized) is reported as error; a failing refreshToken too, and nothing is sent', async () => {
    const failing = setup({
      refreshToken: withTokenRefresh(() => Promise.reject(new Error('token service down'))),
    });
    await failing.welcome(failing.clock.now() + 10_000);
    await failing.advance(10_000);
    assert.deepEqual(failing.refreshes(), []);
    assert.deepEqual(failing.errors.map((e) => e.message), ['token service down']);
    failing.client.close();

    const { clock, client, refreshes, say, welcome, advance, errors } = setup();
    await welcome(clock.now() + 10_000);
    await advance(9_000);
    assert.equal(refreshes().length, 1);
    say({ type: 'error', code: 'unauthorized', message: 'a refresh must keep the same user' });
    const [error] = errors;
    assert.ok(error instanceof ReplyError && error.code === 'unauthorized' && error.remote, String(error));
    client.close();
  });

  test('the link drops before the refresh is due: no token is asked for while down; the next welcome schedules again', async () => {
    const { clock, client, latest, refreshes, welcome, advance, tokens } = setup({ connectTimeout: 1e9 });
    await welcome(clock.now() + 100_000);
    await advance(50_000);
    latest().drop(1006); // the next socket stays unopened for a while
    await advance(100_000);
    assert.deepEqual(tokens, []);
    await welcome(clock.now() + 100_000);
    await advance(90_000);
    assert.deepEqual(refreshes(), [{ type: 'refresh', token: 't1' }]);
    client.close();
  });

  test('a token that arrives after the link changed is dropped', async () => {
    let release: (token: string) => void = () => undefined;
    const { clock, client, latest, refreshes, welcome, advance } = setup({ refreshToken: withTokenRefresh(() => new Promise<string>((resolve) => (release = resolve))) });
    await welcome(clock.now() + 10_000);
    await advance(9_000);
    const old = latest();
    old.drop(1006);
    release('late');
    await settle();
    assert.deepEqual(refreshes(old), []);
    client.close();
  });
});

/** Tokens look like `user:expiresAt`; the server believes them (as in test/server/credentials.test.ts). */
const tokenAuth = {
  authenticate: ({ query, token }: { query: URLSearchParams; token?: string }) => {
    const [user, until] = (token ?? query.get('token') ?? '').split(':');
    return user && until ? { ok: true as const, user, expiresAt: Number(until) } : { ok: false as const };
  },
};

/** Advances a fake clock shared by server and client in steps, letting loopback I/O run, until `done()` (bounded). */
async function runUntil(clock: FakeClock, done: () => boolean, what: string, step = 10): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) {
    await clock.tickAsync(step);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  if (!done()) throw new Error(`never happened: ${what}`);
}

describe('LifelineClient token refresh against a real server (one fake clock for both)', () => {
  test('the client refreshes before each expiry and the connection outlives them', async (t) => {
    const clock = new FakeClock(1_000);
    const fixture = await serve(t, { clock, pingInterval: 0, ...tokenAuth });
    const issued: number[] = [];
    const client = new NodeLifelineClient(`${fixture.wsUrl}?token=ann:11000`, {
      clock,
      heartbeat: false,
      refreshToken: async () => {
        const until = clock.now() + 10_000;
        issued.push(until);
        return `ann:${until}`;
      },
    });
    const closes: number[] = [];
    client.addEventListener('close', (e) => closes.push(e.code));
    try {
      await within(client.ready(), 5_000, 'ready');
      const [connection] = fixture.server.connections;
      assert.equal(connection?.expiresAt, 11_000);
      // 10 s left at t = 1 000: the refresh goes at t = 10 000 (1 s ahead), the server moves the expiry to 20 000.
      await clock.tickAsync(8_999);
      assert.deepEqual(issued, []);
      await runUntil(clock, () => connection?.expiresAt === 20_000, 'the first refresh');
      await clock.tickAsync(2_000); // t = 12 000: past the first expiry
      // About 10 s left again: the next refresh about 1 s ahead of 20 000.
      await runUntil(clock, () => issued.length === 2 || clock.now() > 20_000, 'the second refresh', 100);
      const second = (issued[1] ?? 0) - 10_000;
      assert.ok(second >= 18_900 && second < 20_000, `second refresh at ${second}`);
      await runUntil(clock, () => connection?.expiresAt === issued[1], 'the second expiry moved');
      await clock.tickAsync(2_000); // past 20 000, the expiry the first refresh had set
      assert.equal(issued[0], 20_000);
      assert.deepEqual(closes, []);
      assert.equal(client.state, 'ready');
      assert.deepEqual([...fixture.server.connections], [connection], 'the same connection all along');
    } finally {
      client.close();
    }
  });

  test('a refused refresh: the server closes with 4000 at expiry, the URL provider gets authRequired and the session resumes with a fresh token', async (t) => {
    const clock = new FakeClock(1_000);
    const fixture = await serve(t, { clock, pingInterval: 0, ...tokenAuth });
    const contexts: UrlContext[] = [];
    const client = new NodeLifelineClient(
      (context) => {
        contexts.push(context);
        return `${fixture.wsUrl}?token=ann:${clock.now() + 60_000}`;
      },
      { clock, heartbeat: false, initialDelay: 10, maxDelay: 10, refreshToken: async () => `bob:${clock.now() + 60_000}` },
    );
    const errors: Error[] = [];
    const closes: number[] = [];
    const authRequired: number[] = [];
    client.addEventListener('error', (e) => errors.push(e.error));
    client.addEventListener('close', (e) => closes.push(e.code));
    client.addEventListener('authRequired', (e) => authRequired.push(e.code));
    const sessions: boolean[] = [];
    client.addEventListener('session', (e) => sessions.push(e.resumed));
    try {
      await within(client.ready(), 5_000, 'ready');
      const session = client.session;
      // 60 s left: the refresh goes 6 s ahead, at t = 55 000, naming another user: refused.
      await clock.tickAsync(53_999);
      await runUntil(clock, () => errors.length > 0, 'the refusal');
      const [refusal] = errors;
      assert.ok(refusal instanceof ReplyError && refusal.code === 'unauthorized', String(refusal));
      await runUntil(clock, () => sessions.length === 2, 'the reconnect after the 4000 close', 100);
      assert.deepEqual(closes, [4000]);
      assert.deepEqual(authRequired, [4000]);
      assert.deepEqual(
        contexts.map((c) => c.authRequired),
        [false, true],
      );
      assert.deepEqual(sessions, [false, true], 'the session resumed');
      assert.equal(client.session, session);
      await runUntil(clock, () => client.state === 'ready', 'ready again');
    } finally {
      client.close();
    }
  });
});
