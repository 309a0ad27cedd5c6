/**
 * Several Lifeline nodes (separate processes) over one real Redis act as one: clients spread
 * across them hear every event, a node killed mid-stream costs its clients nothing (they resume
 * their sessions on the other nodes), and a Redis restart mid-stream is survived and reported.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { LifelineClientOptions } from '../../src/client/node.js';
import { redisSkip, redisUrl, testPrefix } from '../helpers/redis.js';
import { RedisServer, redisServerSkip } from '../helpers/redis-server.js';
import { eventually, within } from '../helpers/wait.js';
import { Member, NodeProcess, type Seen } from './deployment.js';

const CHANNEL = 'chat:room';

async function deployment(t: TestContext, url: string, nodes: number, clients: number, channels: readonly string[] = [CHANNEL], options: LifelineClientOptions = {}): Promise<{ nodes: NodeProcess[]; members: Member[] }> {
  const prefix = testPrefix();
  const started = await Promise.all(Array.from({ length: nodes }, () => NodeProcess.start(url, prefix)));
  t.after(() => Promise.all(started.map((node) => node.stop())));
  const members = Array.from({ length: clients }, (_, i) => new Member(i, started, channels, options));
  t.after(() => members.forEach((member) => member.client.close()));
  await eventually(() => members.every((member) => channels.every((channel) => member.client.subscriptions.get(channel)?.state === 'subscribed')), 'every client subscribed');
  return { nodes: started, members };
}

/** Within each epoch, offsets go up by exactly one: nothing twice, nothing skipped. */
function assertContiguous(seen: readonly Seen[], who: string): void {
  let last: { epoch: string; offset: number } | undefined;
  for (const item of seen) {
    if (item.kind !== 'event') continue;
    if (last && item.epoch === last.epoch) assert.equal(item.offset, last.offset + 1, `${who}: after ${last.offset} came ${item.offset}`);
    last = item;
  }
}

describe('cluster: nodes over one Redis', { skip: redisSkip }, () => {
  test('three nodes: events published on any node reach every client on every node once, in order; a node killed mid-stream loses nothing', async (t) => {
    const { nodes, members } = await deployment(t, redisUrl, 3, 9);
    const [first, second, third] = nodes;
    assert.ok(first && second && third);
    // Phase 1: the server side of one node and the clients of all three publish.
    for (let n = 1; n <= 20; n++) await first.publish(CHANNEL, { from: 'node', n });
    const phase1 = await Promise.all(members.map((member) => member.publishSeries(CHANNEL, 3, 'one')));
    const total1 = 20 + 9 * 3;
    await eventually(() => members.every((member) => member.events().length >= total1), `${total1} events at every client`);
    assert.ok(phase1.flat().every(({ outcome }) => typeof outcome === 'number'), 'every publish acknowledged');

    // Phase 2: everyone keeps publishing while the second node is killed.
    const series = members.map((member) => member.publishSeries(CHANNEL, 15, 'two'));
    const serverSide = (async () => {
      for (let n = 21; n <= 60; n++) await third.publish(CHANNEL, { from: 'node', n });
    })();
    await eventually(() => members.every((member) => member.events().length >= total1 + 20), 'phase 2 under way');
    await second.kill();
    const phase2 = await Promise.all(series);
    await serverSide;
    const total = total1 + 40 + 9 * 15;
    await eventually(() => members.every((member) => member.events().length >= total), `${total} events at every client`, 30_000);

    for (const member of members) {
      const who = `client ${member.index}`;
      const events = member.events();
      assert.deepEqual(
        events.map((event) => event.offset),
        Array.from({ length: total }, (_, i) => i + 1),
        `${who}: every event once, in order`,
      );
      assert.equal(new Set(events.map((event) => event.epoch)).size, 1, `${who}: one history`);
      assert.ok(!member.seen.some((item) => item.kind === 'unrecovered'), `${who}: every resubscribe recovered`);
      assertContiguous(member.seen, who);
    }
    // Every client publish took effect exactly once: its payload appears once in the history.
    const history = members[0]?.events() ?? [];
    const payloads = history.map((event) => JSON.stringify(event.data));
    assert.equal(new Set(payloads).size, payloads.length, 'no event published twice');
    for (const [index, outcomes] of phase2.entries()) {
      for (const { n, outcome } of outcomes) {
        assert.equal(typeof outcome, 'number', `client ${index} publish ${n} acknowledged (got ${String(outcome)})`);
        assert.equal(JSON.stringify(history[(outcome as number) - 1]?.data), JSON.stringify({ from: index, tag: 'two', n }), `client ${index} publish ${n} is the event at its acknowledged offset`);
      }
    }
    // The killed node's clients moved and resumed their sessions elsewhere.
    const moved = members.filter((member) => member.index % 3 === 1);
    for (const member of moved) {
      // Its first retry may still pick the dying node (the kill is not yet seen here): it ends elsewhere.
      assert.notEqual(member.nodesUsed.at(-1), 1, `client ${member.index} left the dead node`);
      assert.ok(member.sessions.length >= 2, `client ${member.index} reconnected`);
      assert.ok(member.sessions.slice(1).every((session) => session.resumed && session.id === member.sessions[0]?.id), `client ${member.index} resumed its session on another node`);
    }
  });
});

describe('cluster: a Redis restart mid-stream', { skip: redisServerSkip }, () => {
  test('nodes stay up and report not ready while Redis is down; afterwards clients are told recovered: false, nothing acknowledged is silently lost', async (t) => {
    const redis = await RedisServer.start();
    t.after(() => redis.kill());
    const { nodes, members } = await deployment(t, redis.url, 2, 4);
    const series = members.map((member) => member.publishSeries(CHANNEL, 40, 'r'));
    await eventually(() => members.every((member) => member.events().length >= 20), 'publishing under way');
    await redis.kill();
    await eventually(async () => !(await nodes[0]?.ready()) && !(await nodes[1]?.ready()), 'both nodes not ready');
    // Redis stays down until a publisher has felt it (or every series has ended), not for a fixed time.
    await eventually(() => members.some((member) => member.refused > 0) || members.every((member) => member.seriesDone), 'a publish refused while Redis is down');
    await redis.restart();
    await eventually(async () => (await nodes[0]?.ready()) === true && (await nodes[1]?.ready()) === true, 'both nodes ready again');
    const outcomes = (await Promise.all(series)).flat();
    assert.ok(nodes.every((node) => node.alive), 'no node crashed');
    // After the restart the channel lives on in a new epoch: the first new event tells each node
    // its history is gone (its clients resubscribe and learn recovered: false); later ones flow.
    let published = 0;
    await eventually(async () => {
      if (members.every((member) => member.events().some((event) => (event.data as { after?: boolean }).after === true))) return true;
      await nodes[0]?.publish(CHANNEL, { from: 'node', after: true, n: ++published });
      return false;
    }, 'a post-restart event at every client');

    const acked = outcomes.filter(({ outcome }) => typeof outcome === 'number');
    const refused = outcomes.filter(({ outcome }) => typeof outcome !== 'number');
    assert.ok(acked.length > 0, 'publishes before and after the outage were acknowledged');
    for (const { outcome } of refused) assert.ok(['unavailable', 'outcome_unknown'].includes(outcome as string), `a refused publish says why (got ${String(outcome)})`);
    for (const member of members) {
      const who = `client ${member.index}`;
      assertContiguous(member.seen, who);
      const epochs = [...new Set(member.events().map((event) => event.epoch))];
      assert.ok(epochs.length >= 2, `${who}: heard the old and the new history`);
      // The history was lost with Redis: the client was told so, not left with a silent gap.
      assert.ok(member.seen.some((item) => item.kind === 'unrecovered'), `${who}: told recovered: false`);
    }
  });
});

describe('cluster: Redis killed while clients resubscribe', { skip: redisServerSkip }, () => {
  const HELD = 'chat:held';
  const OUTAGE_PUBLISHES = 3;

  test('nodes drop every link, Redis dies while the clients resubscribe and publish, then comes back: every subscription is retried until live and told recovered: false, every publish acknowledged exactly once', async (t) => {
    const redis = await RedisServer.start();
    t.after(() => redis.kill());
    // Publishes refused with `unavailable` are resent under their ids for as long as this test may take.
    const { nodes, members } = await deployment(t, redis.url, 3, 6, [CHANNEL, HELD], { retry: { initialDelay: 50, maxDelay: 500 }, retryDeadline: 120_000 });
    const [first] = nodes;
    assert.ok(first);
    for (let n = 1; n <= 5; n++) {
      await first.publish(CHANNEL, { from: 'node', n });
      await first.publish(HELD, { from: 'node', n });
    }
    await eventually(() => members.every((member) => member.events(CHANNEL).length === 5 && member.events(HELD).length === 5), 'five events on each channel at every client');

    // Every node cuts its links; the clients come back (their sessions resume), resubscribe to
    // CHANNEL and stop at HELD: the node holds that subscribe until Redis is gone.
    await Promise.all(nodes.map((node) => node.hold(HELD)));
    await Promise.all(nodes.map((node) => node.drop()));
    await eventually(() => nodes.reduce((sum, node) => sum + node.held, 0) >= members.length, 'every client resubscribing (held)', 30_000);
    await redis.kill();
    await eventually(async () => (await Promise.all(nodes.map((node) => node.ready()))).every((ready) => !ready), 'every node sees Redis gone');
    // Publishes made during the outage, several in flight per client.
    const outage = members.map((member) =>
      Promise.all(
        Array.from({ length: OUTAGE_PUBLISHES }, (_, i) =>
          within(member.client.publish(CHANNEL, { from: member.index, tag: 'outage', n: i + 1 }), 90_000, `client ${member.index} outage publish ${i + 1}`).then(
            (position) => ({ n: i + 1, position }),
            (error: unknown) => ({ n: i + 1, error: String(error) }),
          ),
        ),
      ),
    );
    await Promise.all(nodes.map((node) => node.release()));
    // Redis stays down until every held resubscribe was refused for now (a `retrying` event) and
    // every client's publishes were refused by the broker at least once (then resent).
    await eventually(() => members.every((member) => member.journal(HELD).some((item) => item.kind === 'retrying')), 'every held resubscribe retrying', 30_000);
    const expected = members.length * OUTAGE_PUBLISHES;
    await eventually(async () => (await Promise.all(nodes.map((node) => node.publishFailures()))).reduce((a, b) => a + b, 0) >= expected, `${expected} publishes refused by the broker`, 30_000);
    await redis.restart();
    await eventually(async () => (await Promise.all(nodes.map((node) => node.ready()))).every(Boolean), 'every node ready again', 30_000);

    const outcomes = await Promise.all(outage);
    assert.ok(nodes.every((node) => node.alive), 'no node crashed');
    // Every subscription is live again: a new event on each channel reaches every client.
    let published = 0;
    await eventually(
      async () => {
        const missing = [CHANNEL, HELD].filter((channel) => !members.every((member) => member.events(channel).some((event) => (event.data as { after?: boolean }).after === true)));
        for (const channel of missing) await first.publish(channel, { from: 'node', after: true, n: ++published });
        return missing.length === 0;
      },
      'a post-restart event on each channel at every client',
      30_000,
    );
    for (const member of members) {
      const who = `client ${member.index}`;
      // The session resumed after the drop, and again after its node's resync (1013) once Redis
      // was back empty: the node wrote its record back before closing.
      assert.ok(member.sessions.length >= 3, `${who}: reconnected after the drop and after the resync`);
      assert.ok(member.sessions.slice(1).every((session) => session.resumed && session.id === member.sessions[0]?.id), `${who}: resumed its session every time`);
      for (const channel of [CHANNEL, HELD]) {
        const journal = member.journal(channel);
        assertContiguous(journal, `${who} ${channel}`);
        assert.equal(member.client.subscriptions.get(channel)?.state, 'subscribed', `${who} ${channel}: live`);
        // Redis restarted empty: the client was told its history is gone, not left with a silent gap.
        assert.ok(journal.some((item) => item.kind === 'unrecovered'), `${who} ${channel}: told recovered: false`);
        const payloads = member.events(channel).map((event) => JSON.stringify(event.data));
        assert.equal(new Set(payloads).size, payloads.length, `${who} ${channel}: no event twice`);
      }
      const retries = member.journal(HELD).filter((item) => item.kind === 'retrying');
      assert.ok(retries.every((item) => item.kind === 'retrying' && item.code === 'unavailable'), `${who}: retried because Redis was unavailable`);
    }

    // Each outage publish was resent under its id until the broker took it: acknowledged (its
    // session resumed across the resync, its record written back first), and its acknowledged
    // position holds exactly that event, once.
    const all = outcomes.flat();
    const acked = all.filter((outcome) => 'position' in outcome);
    t.diagnostic(`outage publishes: ${acked.length} acknowledged of ${all.length}; retrying events: ${members.map((m) => m.journal(HELD).filter((item) => item.kind === 'retrying').length).join(',')}`);
    for (const outcome of all) assert.ok('position' in outcome, `an outage publish acknowledged (got ${'error' in outcome ? outcome.error : ''})`);
    const epoch = acked[0]?.position.epoch ?? '';
    assert.ok(acked.every(({ position }) => position.epoch === epoch), 'acknowledged in the new history');
    const page = await first.history(CHANNEL, epoch);
    const stored = page.events.map((event) => JSON.stringify(event.data));
    for (const [index, series] of outcomes.entries()) {
      for (const outcome of series) {
        const payload = JSON.stringify({ from: index, tag: 'outage', n: outcome.n });
        if (!('position' in outcome)) continue;
        assert.equal(stored.filter((data) => data === payload).length, 1, `client ${index} outage publish ${outcome.n} stored once`);
        assert.equal(JSON.stringify(page.events.find((event) => event.offset === outcome.position.offset)?.data), payload, `client ${index} outage publish ${outcome.n} is the event at its acknowledged position`);
      }
    }
  });
});
