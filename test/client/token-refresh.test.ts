import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TokenRefresh } from '../../src/client/token-refresh.js';
import { FakeClock } from '../../src/testing/fake-clock.js';

function refresher(provider: () => Promise<string>): { refresh: TokenRefresh; clock: FakeClock; sent: string[]; failures: unknown[] } {
  const clock = new FakeClock(1_000_000);
  const sent: string[] = [];
  const failures: unknown[] = [];
  const refresh = new TokenRefresh(provider, { clock, send: (token) => sent.push(token), failed: (error) => failures.push(error) });
  return { refresh, clock, sent, failures };
}

describe('TokenRefresh', () => {
  test('refreshes 30 s before a far expiry, and at 90 % of a near one', async () => {
    const { refresh, clock, sent } = refresher(async () => 'fresh');
    refresh.expiresAt(clock.now() + 600_000); // t=0: expires in 10 min, refresh due at 9.5 min
    await clock.tickAsync(569_999);
    assert.deepEqual(sent, []);
    await clock.tickAsync(1); // t=570 000
    assert.deepEqual(sent, ['fresh']);
    refresh.expiresAt(clock.now() + 100_000); // expires in 100 s: 10 % margin (10 s) is below 30 s, so 90 s
    await clock.tickAsync(89_999);
    assert.deepEqual(sent, ['fresh']);
    await clock.tickAsync(1);
    assert.deepEqual(sent, ['fresh', 'fresh']);
  });

  test('an expiry already passed refreshes at once; a missing one schedules nothing', async () => {
    const { refresh, clock, sent } = refresher(async () => 'now');
    refresh.expiresAt(undefined);
    assert.equal(clock.pending, 0);
    refresh.expiresAt(clock.now() - 5_000);
    await clock.tickAsync(0);
    assert.deepEqual(sent, ['now']);
  });

  test('a token that arrives after stop() is not sent; a provider that throws is reported', async () => {
    let release: ((token: string) => void) | undefined;
    const { refresh, clock, sent } = refresher(() => new Promise((resolve) => (release = resolve)));
    refresh.expiresAt(clock.now());
    await clock.tickAsync(0);
    assert.ok(release, 'the provider was asked');
    refresh.stop(); // the link ended meanwhile
    release?.('late');
    await clock.tickAsync(0);
    assert.deepEqual(sent, []);

    const failing = refresher(() => {
      throw new Error('no token');
    });
    failing.refresh.expiresAt(failing.clock.now());
    await failing.clock.tickAsync(0);
    assert.deepEqual(failing.sent, []);
    assert.equal((failing.failures[0] as Error).message, 'no token');
  });
});
