// Shutdown of a `lifeline serve --redis` node (docs/operations: SIGTERM): every session is parked
// in Redis before the broker closes, so none is lost ("parking the session failed") and each
// resumes on another node, with its request-id window.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { RedisServer, redisServerSkip } from '../helpers/redis-server.js';
import { ProtocolClient } from '../server/protocol/protocol-client.js';
import { startServe, stopAll } from './harness.js';
import { within } from '../helpers/wait.js';

after(stopAll);

const SESSIONS = 200;
const BATCH = 20;

/** Runs `work` for 0..count-1, `BATCH` at a time (a busy 2-core machine). */
async function inBatches<T>(count: number, work: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let start = 0; start < count; start += BATCH) {
    results.push(...(await Promise.all(Array.from({ length: Math.min(BATCH, count - start) }, (_, offset) => work(start + offset)))));
  }
  return results;
}

describe('lifeline serve --redis: SIGTERM', { skip: redisServerSkip }, () => {
  test(`${SESSIONS} sessions are all parked before Redis is let go, and each resumes on another node`, async (t) => {
    const redis = await RedisServer.start();
    t.after(() => redis.kill());
    const args = ['--port', '0', '--allow-anonymous', '--redis', redis.url, '--ping-interval', '0', '--channels', JSON.stringify({ chat: { history: { size: 10, ttl: 60_000 }, presence: true } })];
    const [a, b] = await Promise.all([startServe(args), startServe(args)]);
    const sessions = await inBatches(SESSIONS, async (index) => {
      const { client, welcome } = await ProtocolClient.connect(t, a.wsUrl());
      await client.subscribe(1, 'chat:lobby');
      const ack = await client.publish(2, `chat:s${index}`, index);
      assert.equal(ack.type, 'ack');
      return { client, welcome };
    });

    a.child.kill('SIGTERM');
    const exit = await within(a.exited, 30_000, 'node a to exit after SIGTERM');
    assert.equal(exit.code, 0, a.stderr().slice(-2_000));
    await within(Promise.all(sessions.map(({ client }) => client.closed)), 10_000, 'every client to see its close');
    assert.doesNotMatch(a.stderr(), /parking the session failed/);
    assert.doesNotMatch(a.stderr(), /The client is closed/);

    const resumed = await inBatches(SESSIONS, async (index) => {
      const { welcome } = sessions[index] ?? assert.fail('no session');
      const { client, welcome: again } = await ProtocolClient.connect(t, b.wsUrl(), { session: welcome.session, secret: welcome.secret });
      // The publish of id 2 is answered from the session's window: stored once.
      const repeat = await client.publish(2, `chat:s${index}`, index);
      await client.dispose();
      return { resumed: again.resumed && again.session === welcome.session && again.acked === 2, repeat: repeat.type === 'ack' && repeat.position.offset === 1 };
    });
    assert.equal(resumed.filter((r) => r.resumed).length, SESSIONS, 'every session resumed on node b');
    assert.equal(resumed.filter((r) => r.repeat).length, SESSIONS, 'every resend answered with the stored ack');
  });
});
