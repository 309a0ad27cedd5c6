/**
 * The node extends its live sessions' broker records in slices spread over half the refresh
 * period, one slice at the broker at a time (not every session at once: with Redis, thousands
 * of scripts that a hello's commands would wait behind), and every session is extended within
 * each period (fake clock); with a real Redis and a short recovery window, idle connected
 * sessions outlive their record's ttl (docs/scaling.md).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryBroker } from '../../../src/broker/memory-broker.js';
import { RedisBroker } from '../../../src/redis/index.js';
import { REFRESH_SLICE } from '../../../src/server/protocol/session-registry.js';
import { FakeClock } from '../../../src/testing/fake-clock.js';
import { redisSkip, redisUrl, testPrefix } from '../../helpers/redis.js';
import { serve } from '../support.js';
import { ForwardingBroker } from './brokers.js';
import { ProtocolClient } from './protocol-client.js';

/** Records each refresh call: when, and which sessions. */
class RefreshLog extends ForwardingBroker {
  readonly calls: { readonly at: number; readonly ids: readonly string[] }[] = [];
  inFlight = 0;
  maxInFlight = 0;

  constructor(
    inner: MemoryBroker,
    private readonly clock: FakeClock,
  ) {
    super(inner);
  }

  override async refreshSessions(ids: readonly string[], ttl: number): Promise<readonly string[]> {
    this.calls.push({ at: this.clock.now(), ids });
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    try {
      await new Promise((resolve) => setImmediate(resolve)); // a networked broker answers later
      return await super.refreshSessions(ids, ttl);
    } finally {
      this.inFlight--;
    }
  }
}

describe('protocol: live sessions refreshed in the broker', () => {
  test('in slices spread over half the period, one at a time, each session once per period (fake clock)', async (t) => {
    const clock = new FakeClock();
    const broker = new RefreshLog(new MemoryBroker({ clock }), clock);
    t.after(() => broker.close());
    // Recovery window 120 s: a refresh period of 30 s, its slices within the first 15 s.
    const fixture = await serve(t, { clock, pingInterval: 0, broker, recoveryWindow: 120_000 });
    const count = REFRESH_SLICE * 2 + 20;
    const sessions = new Set<string>();
    for (let i = 0; i < count; i++) sessions.add((await ProtocolClient.connect(t, fixture.wsUrl)).welcome.session);
    const start = clock.now();

    for (let period = 1; period <= 2; period++) {
      const from = broker.calls.length;
      const ends = start + 30_000 * period;
      await clock.tickAsync(ends - clock.now());
      const first = broker.calls.slice(from);
      assert.equal(first.length, 1, `period ${period}: one slice at the period's start, not every session at once`);
      assert.ok((first[0]?.ids.length ?? 0) <= REFRESH_SLICE);
      await clock.tickAsync(15_000);
      const calls = broker.calls.slice(from);
      assert.equal(calls.length, 3, `period ${period}: ${count} sessions in three slices`);
      for (const call of calls) {
        assert.ok(call.ids.length <= REFRESH_SLICE, `a slice of ${call.ids.length} sessions`);
        assert.ok(call.at >= ends && call.at <= ends + 15_000, `slice at ${call.at - ends} ms into the period`);
      }
      assert.ok((calls[1]?.at ?? 0) > (calls[0]?.at ?? 0), 'slices spread in time');
      const refreshed = calls.flatMap((call) => call.ids);
      assert.equal(refreshed.length, count, 'each session once');
      assert.deepEqual(new Set(refreshed), sessions, 'every session');
    }
    assert.equal(broker.maxInFlight, 1, 'one slice at the broker at a time');
  });

  test('a refresh the broker never answers holds the next ones for one period at most: every record outlives its ttl (fake clock)', async (t) => {
    const clock = new FakeClock();
    const broker = new RefreshLog(new MemoryBroker({ clock }), clock);
    t.after(() => broker.close());
    const hung = broker.refreshSessions.bind(broker);
    let first = true;
    broker.refreshSessions = (ids, ttl) => {
      if (!first) return hung(ids, ttl);
      first = false;
      broker.calls.push({ at: clock.now(), ids });
      return new Promise(() => undefined); // never settles (a broker that lost the request)
    };
    // Recovery window 120 s: a refresh period of 30 s, records kept 180 s past each extension.
    const fixture = await serve(t, { clock, pingInterval: 0, broker, recoveryWindow: 120_000 });
    const ids: string[] = [];
    for (let i = 0; i < REFRESH_SLICE + 10; i++) ids.push((await ProtocolClient.connect(t, fixture.wsUrl)).welcome.session);
    for (let step = 0; step < 24; step++) await clock.tickAsync(10_000); // 240 s: past the hellos' ttl
    assert.ok(broker.calls.length > 1, `${broker.calls.length} refresh call(s): the sweep went on after the unanswered one`);
    const gone: string[] = [];
    for (const id of ids) if ((await broker.inner.loadSession(id)) === undefined) gone.push(id);
    assert.deepEqual(gone, [], 'every connected session still has its record');
  });

  test('idle connected sessions outlive their record ttl with a real Redis', { skip: redisSkip }, async (t) => {
    const broker = await RedisBroker.connect({ url: redisUrl, prefix: testPrefix() });
    t.after(() => broker.close());
    // Recovery window 4 s: a refresh every 1 s, records kept 6 s beyond each extension.
    const recoveryWindow = 4_000;
    const fixture = await serve(t, { pingInterval: 0, broker, recoveryWindow });
    const ids: string[] = [];
    for (let i = 0; i < REFRESH_SLICE + 10; i++) ids.push((await ProtocolClient.connect(t, fixture.wsUrl)).welcome.session);
    const ttl = recoveryWindow + 2 * 1_000;
    await sleep(ttl + 2_000); // past the ttl of the records saved at the hellos: time itself is what is tested
    const gone: string[] = [];
    for (const id of ids) if ((await broker.loadSession(id)) === undefined) gone.push(id);
    assert.deepEqual(gone, [], 'every connected session still has its record');
  });
});
