/**
 * The Redis broker's ordered feed on its own (no Redis): pub/sub items in, every item once and in
 * order out, holes filled from a durable copy the test controls.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OrderedFeed, type Numbered } from '../../src/redis/ordered-feed.js';
import { FakeClock } from '../../src/testing/fake-clock.js';

interface Item extends Numbered {
  readonly data: string;
}

const item = (epoch: string, n: number): Item => ({ epoch, n, data: `${epoch}/${n}` });

/** A durable copy: per epoch, items 1..head; the newest epoch is the current one. */
class Copy {
  readonly epochs = new Map<string, number>();
  current = '';
  /** Calls to refill, and a gate each one waits on when set. */
  readonly asked: Numbered[] = [];
  gate: Promise<void> | undefined;
  /** The copy no longer has what is asked for. */
  gone = false;
  /** The copy cannot be read (its server is unreachable): refill throws. */
  down = false;

  append(epoch: string, head: number): void {
    this.epochs.set(epoch, head);
    this.current = epoch;
  }

  refill = async (after: Numbered): Promise<readonly Item[] | undefined> => {
    this.asked.push(after);
    if (this.down) throw new Error('unreachable');
    if (this.gone) return undefined;
    const head = this.epochs.get(this.current) ?? 0;
    const from = after.epoch === this.current ? after.n : 0;
    const items = Array.from({ length: head - from }, (_, i) => item(this.current, from + i + 1));
    // What was read is answered only once the gate opens (a slow read).
    if (this.gate) await this.gate;
    return items;
  };
}

function feed(copy: Copy): { readonly order: OrderedFeed<Item>; readonly out: string[] } {
  const out: string[] = [];
  return { order: new OrderedFeed<Item>(copy.refill, (each) => out.push(each.data)), out };
}

/** Lets pending promise callbacks run (bounded). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

test('a hole is filled from the copy, in order, and a repeat is dropped', async () => {
  const copy = new Copy();
  copy.append('a', 4);
  const { order, out } = feed(copy);
  order.startAt({ epoch: 'a', n: 1 });
  order.push(item('a', 4));
  await settle();
  order.push(item('a', 3));
  assert.deepEqual(out, ['a/2', 'a/3', 'a/4']);
});

test('a new epoch that shows past its first item: its first items are fetched, not skipped', async () => {
  const copy = new Copy();
  copy.append('a', 3);
  const { order, out } = feed(copy);
  order.startAt({ epoch: 'a', n: 3 });
  copy.append('b', 3);
  order.push(item('b', 3));
  await settle();
  assert.deepEqual(out, ['b/1', 'b/2', 'b/3']);
});

test('a resync after a new epoch with no later item delivers the new epoch from its first item', async () => {
  const copy = new Copy();
  copy.append('a', 2);
  const { order, out } = feed(copy);
  order.startAt({ epoch: 'a', n: 2 });
  copy.append('b', 2);
  await order.resync();
  assert.deepEqual(out, ['b/1', 'b/2']);
});

test('a resync asked while a fill runs is not lost: another fill follows and catches what came after the first read', async () => {
  const copy = new Copy();
  copy.append('a', 2);
  const { order, out } = feed(copy);
  order.startAt({ epoch: 'a', n: 0 });
  let open: () => void = () => undefined;
  copy.gate = new Promise<void>((resolve) => (open = resolve));
  const first = order.resync();
  await settle();
  // The subscription came back only now; 3 was published after the running fill's read.
  order.resync();
  copy.append('a', 3);
  copy.gate = undefined;
  open();
  await first;
  await settle();
  assert.deepEqual(out, ['a/1', 'a/2', 'a/3']);
  assert.equal(copy.asked.length, 2);
});

test('a new epoch whose first items are gone is delivered as it comes (the receiver sees the new epoch)', async () => {
  const copy = new Copy();
  copy.append('a', 1);
  copy.gone = true;
  const { order, out } = feed(copy);
  order.startAt({ epoch: 'a', n: 1 });
  order.push(item('b', 5));
  await settle();
  assert.deepEqual(out, ['b/5']);
});

test('an item that arrives during a fill past what the fill read is not delivered with a hole: the copy is read once more', async () => {
  const copy = new Copy();
  copy.append('a', 1);
  const { order, out } = feed(copy);
  order.startAt({ epoch: 'a', n: 0 });
  let open: () => void = () => undefined;
  copy.gate = new Promise<void>((resolve) => (open = resolve));
  const filled = order.resync();
  await settle();
  // 2 and 3 were published after the read; only 3 reached the subscription.
  copy.append('a', 3);
  order.push(item('a', 3));
  copy.gate = undefined;
  open();
  await filled;
  await settle();
  assert.deepEqual(out, ['a/1', 'a/2', 'a/3']);
});

test('catchUp: a source past the last item (items never heard) is read; a source level or behind is not', async () => {
  const copy = new Copy();
  copy.append('a', 2);
  const { order, out } = feed(copy);
  order.startAt({ epoch: 'a', n: 0 });
  order.push(item('a', 1));
  order.push(item('a', 2));
  await order.catchUp({ epoch: 'a', n: 2 });
  await order.catchUp({ epoch: 'a', n: 1 });
  assert.equal(copy.asked.length, 0, 'level or behind: nothing read');
  copy.append('a', 4);
  await order.catchUp({ epoch: 'a', n: 4 });
  assert.deepEqual(out, ['a/1', 'a/2', 'a/3', 'a/4']);
  // A new epoch with items: read from its first one.
  copy.append('b', 1);
  await order.catchUp({ epoch: 'b', n: 1 });
  assert.deepEqual(out, ['a/1', 'a/2', 'a/3', 'a/4', 'b/1']);
  // A new epoch without items yet: nothing to read.
  const asked = copy.asked.length;
  await order.catchUp({ epoch: 'c', n: 0 });
  assert.equal(copy.asked.length, asked);
});

test('catchUp before the feed started does nothing', async () => {
  const copy = new Copy();
  copy.append('a', 3);
  const { order, out } = feed(copy);
  await order.catchUp({ epoch: 'a', n: 3 });
  assert.deepEqual(out, []);
  assert.equal(copy.asked.length, 0);
});

/** A feed on a fake clock whose failed refills are retried for `retryFor` ms. */
function retrying(copy: Copy, retryFor: number): { readonly order: OrderedFeed<Item>; readonly out: string[]; readonly clock: FakeClock } {
  const out: string[] = [];
  const clock = new FakeClock();
  return { order: new OrderedFeed<Item>(copy.refill, (each) => out.push(each.data), { clock, retryFor }), out, clock };
}

test('a refill that fails (the copy unreachable, as in a failover) is tried again with growing waits; once the copy answers, the gap is filled: no hole', async () => {
  const copy = new Copy();
  copy.append('a', 5);
  copy.down = true;
  const { order, out, clock } = retrying(copy, 20_000);
  order.startAt({ epoch: 'a', n: 1 });
  order.push(item('a', 4));
  await settle();
  assert.equal(copy.asked.length, 1);
  // Items heard while the gap waits are held behind it, not delivered with the hole.
  order.push(item('a', 5));
  const waits: number[] = [];
  for (let i = 0; i < 5; i++) {
    const due = clock.nextDue;
    assert.ok(due !== undefined, 'a retry is scheduled');
    waits.push(due - clock.now());
    await clock.tickAsync(due - clock.now());
    await settle();
  }
  assert.deepEqual(waits, [100, 200, 400, 800, 1_600]);
  assert.equal(copy.asked.length, 6);
  assert.deepEqual(out, [], 'nothing delivered while the gap is open');
  copy.down = false;
  await clock.tickAsync(clock.nextDue! - clock.now());
  await settle();
  assert.deepEqual(out, ['a/2', 'a/3', 'a/4', 'a/5']);
  assert.equal(clock.pending, 0, 'no retry left scheduled');
});

test('a refill that keeps failing is given up after retryFor: the items are delivered with the hole, and not before', async () => {
  const copy = new Copy();
  copy.append('a', 4);
  copy.down = true;
  const { order, out, clock } = retrying(copy, 5_000);
  order.startAt({ epoch: 'a', n: 1 });
  order.push(item('a', 4));
  await settle();
  await clock.tickAsync(4_999);
  await settle();
  assert.deepEqual(out, []);
  const asked = copy.asked.length;
  assert.ok(asked >= 5 && asked <= 8, `tried ${asked} times in 5 s (100 ms doubling to 2 s)`);
  await clock.tickAsync(1);
  await settle();
  assert.deepEqual(out, ['a/4'], 'the hole is given up: the receiver sees it');
  assert.equal(copy.asked.length, asked + 1, 'one last try when the time is up, and no second read of a copy that cannot be read');
  assert.equal(clock.pending, 0);
});

test('retryFor 0: a failed refill gives the hole up at once', async () => {
  const copy = new Copy();
  copy.append('a', 4);
  copy.down = true;
  const { order, out, clock } = retrying(copy, 0);
  order.startAt({ epoch: 'a', n: 1 });
  order.push(item('a', 4));
  await settle();
  assert.deepEqual(out, ['a/4']);
  assert.equal(copy.asked.length, 1);
  assert.equal(clock.pending, 0);
});

test('close() while a failed refill waits to be tried again: no more tries, nothing delivered, later items ignored', async () => {
  const copy = new Copy();
  copy.append('a', 4);
  copy.down = true;
  const { order, out, clock } = retrying(copy, 20_000);
  order.startAt({ epoch: 'a', n: 1 });
  order.push(item('a', 4));
  await settle();
  assert.equal(clock.pending, 1);
  order.close();
  await settle();
  assert.equal(clock.pending, 0, 'the retry is cancelled');
  copy.down = false;
  order.push(item('a', 5));
  await order.resync();
  await clock.tickAsync(30_000);
  await settle();
  assert.deepEqual(out, []);
  assert.equal(copy.asked.length, 1);
});

test('a hole given up in a new epoch, then a late item of the old epoch: the old item is dropped and the new epoch goes on without refilling from its first item', async () => {
  const copy = new Copy();
  copy.append('a', 5);
  const { order, out, clock } = retrying(copy, 1_000);
  order.startAt({ epoch: 'a', n: 5 });
  // Redis came back empty: epoch b; 1 and 2 were never heard and the copy cannot be read.
  copy.append('b', 3);
  copy.down = true;
  order.push(item('b', 3));
  await settle();
  for (let i = 0; i < 20 && out.length === 0; i++) {
    await clock.tickAsync((clock.nextDue ?? clock.now() + 1) - clock.now());
    await settle();
  }
  assert.deepEqual(out, ['b/3'], 'the hole is given up');
  copy.down = false;
  // Published in epoch a before the restart, heard only now (another connection's late message).
  order.push(item('a', 6));
  await settle();
  copy.append('b', 4);
  order.push(item('b', 4));
  await settle();
  assert.deepEqual(out, ['b/3', 'b/4'], 'no item of epoch a after b, and no item of b twice');
  assert.deepEqual(order.last, { epoch: 'b', n: 4 });
});

test('an item of the old epoch held behind a fill that moved to a new epoch is dropped, not delivered after the new epoch', async () => {
  const copy = new Copy();
  copy.append('a', 5);
  const { order, out } = feed(copy);
  order.startAt({ epoch: 'a', n: 5 });
  // a/6 and a/7 were lost with Redis's data; it restarted empty and b/1, b/2 were published.
  copy.append('b', 2);
  order.push(item('a', 7));
  await settle();
  copy.append('b', 3);
  order.push(item('b', 3));
  await settle();
  assert.deepEqual(out, ['b/1', 'b/2', 'b/3']);
});

test('the copy back in an epoch the feed left (an older copy restored): its items are taken from the copy, the feed does not go silent', async () => {
  const copy = new Copy();
  copy.append('a', 5);
  const { order, out } = feed(copy);
  order.startAt({ epoch: 'a', n: 5 });
  copy.append('b', 2);
  order.push(item('b', 1));
  order.push(item('b', 2));
  // The older copy, still in epoch a, is restored and publishing goes on there.
  copy.append('a', 7);
  order.push(item('a', 7));
  await settle();
  copy.append('a', 8);
  order.push(item('a', 8));
  await settle();
  assert.deepEqual(out, ['b/1', 'b/2', 'a/1', 'a/2', 'a/3', 'a/4', 'a/5', 'a/6', 'a/7', 'a/8']);
});

test('items of two epochs held behind a fill are delivered each epoch in order (no hole opened by a mixed sort)', async () => {
  const copy = new Copy();
  copy.append('b', 2);
  const { order, out } = retrying(copy, 0);
  order.startAt({ epoch: 'b', n: 2 });
  let open: () => void = () => undefined;
  copy.gate = new Promise<void>((resolve) => (open = resolve));
  const filled = order.resync();
  await settle();
  // Heard while the fill runs, out of order, with a newer epoch's first item between them.
  order.push(item('b', 4));
  order.push(item('c', 1));
  order.push(item('b', 3));
  // The copy becomes unreadable after the first read: what waits is delivered as it is.
  copy.down = true;
  copy.gate = undefined;
  open();
  await filled;
  await settle();
  assert.deepEqual(out, ['b/3', 'b/4', 'c/1']);
});
