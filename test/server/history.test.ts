import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { startServer } from '../../src/testing/server-fixture.js';

test('server.history pages a channel in process: oldest first, `more` until the head, recovered: false past what is kept', async () => {
  const fixture = await startServer({ channels: { chat: { history: { size: 200, ttl: 300_000 } } } });
  try {
    const { server } = fixture;
    let head = await server.publish('chat:a', 1);
    for (let n = 2; n <= 250; n++) head = await server.publish('chat:a', n);
    const { epoch } = head;
    const offsets = (events: readonly { offset: number }[]) => events.map((event) => event.offset);
    const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

    const first = await server.history('chat:a', { since: { epoch, offset: 50 }, limit: 100 });
    assert.deepEqual(offsets(first.events), range(51, 150));
    assert.deepEqual([first.recovered, first.more, first.head], [true, true, head]);
    const last = first.events.at(-1);
    assert.ok(last);
    const second = await server.history('chat:a', { since: { epoch, offset: last.offset }, limit: 100 });
    assert.deepEqual(offsets(second.events), range(151, 250));
    assert.deepEqual(second.events.map((event) => event.data), range(151, 250), 'each event carries what was published');
    assert.equal(second.more, false);

    const newest = await server.history('chat:a', { limit: 10 });
    assert.deepEqual(offsets(newest.events), range(241, 250));

    const gone = await server.history('chat:a', { since: { epoch, offset: 10 } });
    assert.deepEqual([gone.recovered, gone.events.length], [false, 0], 'older than the kept history');
    const otherEpoch = await server.history('chat:a', { since: { epoch: 'other', offset: 249 } });
    assert.equal(otherEpoch.recovered, false);
    await assert.rejects(server.history('chat:a', { limit: 0 }), { name: 'InvalidOptionError' });
  } finally {
    await fixture.close();
  }
});

test('server.history of a channel with a fractional history size (its whole part is kept) gives the newest kept events', async () => {
  const fixture = await startServer({ channels: { half: { history: { size: 2.5, ttl: 300_000 } } } });
  try {
    const { server } = fixture;
    for (let n = 1; n <= 5; n++) await server.publish('half:a', n);
    const newest = await server.history('half:a');
    assert.deepEqual([newest.recovered, newest.events.map((event) => event.offset)], [true, [4, 5]]);
    assert.deepEqual((await server.history('half:a', { limit: 1 })).events.map((event) => event.offset), [5]);
  } finally {
    await fixture.close();
  }
});

test('server.history without since gives the newest events still kept when older ones aged out or were evicted (fake clock)', async () => {
  const clock = new FakeClock();
  const fixture = await startServer({ clock, pingInterval: 0, channels: { chat: { history: { size: 200, ttl: 60_000 } } } });
  try {
    const { server } = fixture;
    for (let n = 1; n <= 20; n++) await server.publish('chat:a', n);
    clock.tick(60_001); // the first 20 age out
    let head = await server.publish('chat:a', 21);
    for (let n = 22; n <= 25; n++) head = await server.publish('chat:a', n);

    const page = await server.history('chat:a', { limit: 10 });
    assert.deepEqual(
      page.events.map((event) => event.offset),
      [21, 22, 23, 24, 25],
      'the five still kept, though the head is 25 and the limit 10',
    );
    assert.deepEqual([page.recovered, page.more, page.head], [true, false, head]);
    const newest = await server.history('chat:a', { limit: 3 });
    assert.deepEqual(
      newest.events.map((event) => event.offset),
      [23, 24, 25],
    );
    assert.equal(newest.recovered, true);

    clock.tick(60_001); // everything ages out: an empty page at the head
    const empty = await server.history('chat:a');
    assert.deepEqual([empty.events.length, empty.recovered, empty.more, empty.head], [0, true, false, head]);
  } finally {
    await fixture.close();
  }
});
