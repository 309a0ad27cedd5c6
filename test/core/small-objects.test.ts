import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clientTransitions, readyStateOf, type ClientState } from '../../src/core/client-state.js';
import { LifelineError } from '../../src/core/errors.js';
import { enqueue, queuedBytes, type Queued } from '../../src/core/outbound-queue.js';
import { TokenBucket } from '../../src/core/rate-limiter.js';
import { StateMachine } from '../../src/core/state-machine.js';
import { Timer } from '../../src/core/timer.js';
import { FakeClock } from '../../src/testing/fake-clock.js';

describe('StateMachine', () => {
  test('reports each move with from and to, and refuses illegal ones', () => {
    const moves: string[] = [];
    const machine = new StateMachine<ClientState>('connecting', clientTransitions, ({ from, to }) => moves.push(`${from}->${to}`));
    machine.to('open', undefined);
    machine.to('closing', undefined);
    machine.to('closed', undefined);
    assert.deepEqual(moves, ['connecting->open', 'open->closing', 'closing->closed']);
    assert.throws(() => machine.to('open', undefined), LifelineError);
  });

  test('every client state maps to its WHATWG readyState; waiting to reconnect is still CONNECTING', () => {
    const shown = Object.fromEntries((Object.keys(clientTransitions) as ClientState[]).map((state) => [state, readyStateOf(state)]));
    assert.deepEqual(shown, { connecting: 0, open: 1, closing: 2, reconnecting: 0, paused: 0, closed: 3 });
  });
});

describe('the outbound queue (enqueue)', () => {
  test('keeps order and counts bytes of UTF-8 and binary', () => {
    const queue: Queued[] = [];
    const limits = { maxMessages: 10, maxBytes: 100, overflow: 'reject' } as const;
    enqueue(queue, 'é', limits);
    enqueue(queue, new Uint8Array(5), limits);
    assert.equal(queuedBytes(queue), 7);
    assert.deepEqual(queue.map((item) => item[0]), ['é', new Uint8Array(5)]);
  });

  test("'reject' refuses the new message and keeps the old", () => {
    const queue: Queued[] = [];
    const limits = { maxMessages: 2, maxBytes: 100, overflow: 'reject' } as const;
    assert.deepEqual(enqueue(queue, 'a', limits), []);
    assert.deepEqual(enqueue(queue, 'b', limits), []);
    assert.equal(enqueue(queue, 'c', limits), false);
    assert.deepEqual(queue.map((item) => item[0]), ['a', 'b']);
  });

  test("'drop-oldest' evicts from the front until the new message fits", () => {
    const queue: Queued[] = [];
    const limits = { maxMessages: 10, maxBytes: 4, overflow: 'drop-oldest' } as const;
    enqueue(queue, 'aa', limits);
    enqueue(queue, 'bb', limits);
    assert.deepEqual(enqueue(queue, 'ccc', limits), ['aa', 'bb']);
    assert.deepEqual(queue.map((item) => item[0]), ['ccc']);
    assert.equal(enqueue(queue, 'toolong', limits), false);
  });
});

describe('TokenBucket', () => {
  test('allows a burst, then the rate, refilled by the clock', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(clock, 10, 3);
    assert.deepEqual([bucket.take(), bucket.take(), bucket.take(), bucket.take()], [true, true, true, false]);
    assert.equal(bucket.waitMs(), 100);
    clock.tick(100);
    assert.equal(bucket.take(), true);
    assert.equal(bucket.take(), false);
  });

  test('ready() says whether take() would succeed, without taking', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(clock, 10, 1);
    assert.deepEqual([bucket.ready(), bucket.ready(), bucket.take()], [true, true, true]);
    assert.deepEqual([bucket.ready(), bucket.take()], [false, false]);
    clock.tick(100);
    assert.deepEqual([bucket.ready(), bucket.take(), bucket.ready()], [true, true, false]);
    assert.equal(new TokenBucket(clock, Infinity, 1).ready(), true);
  });

  test('an infinite rate always admits', () => {
    const bucket = new TokenBucket(new FakeClock(), Infinity, 1);
    for (let i = 0; i < 100; i++) assert.equal(bucket.take(), true);
  });
});

describe('Timer and FakeClock', () => {
  test('restarting replaces the pending run; timers run in due order', () => {
    const clock = new FakeClock();
    const fired: string[] = [];
    const a = new Timer(clock, () => fired.push(`a@${clock.now()}`));
    const b = new Timer(clock, () => fired.push(`b@${clock.now()}`));
    a.start(100);
    b.start(50);
    a.start(200);
    assert.equal(clock.pending, 2);
    clock.tick(1000);
    assert.deepEqual(fired, ['b@50', 'a@200']);
    assert.equal(a.pending, false);
  });

  test('a timer scheduled while advancing runs if it falls due within the advance', () => {
    const clock = new FakeClock();
    const fired: number[] = [];
    const t = new Timer(clock, () => {
      fired.push(clock.now());
      if (fired.length < 3) t.start(10);
    });
    t.start(10);
    clock.tick(25);
    assert.deepEqual(fired, [10, 20]);
    assert.equal(clock.now(), 25);
    clock.tick(5);
    assert.deepEqual(fired, [10, 20, 30]);
  });
});

describe('systemClock', () => {
  test('a delay beyond 2^31-1 ms is clamped instead of firing at once', async () => {
    const { systemClock, MAX_TIMER_MS } = await import('../../src/core/clock.js');
    let fired = false;
    const handle = systemClock.setTimeout(() => (fired = true), 30 * 24 * 3_600_000); // 30 days
    // Unclamped, Node fires it after 1 ms; give it a few event-loop turns and 20 ms to show.
    await new Promise((resolve) => globalThis.setTimeout(resolve, 20));
    systemClock.clearTimeout(handle);
    assert.equal(fired, false);
    assert.equal(MAX_TIMER_MS, 2_147_483_647);
  });
});
