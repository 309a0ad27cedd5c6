/**
 * A live session's message queue: work starts at once when nothing is queued (a message the
 * in-memory broker answers is handled in its own turn), and otherwise waits for what was queued
 * before it, in order, whatever that work's outcome.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RequestWindow } from '../../../src/core/request-window.js';
import type { Connection } from '../../../src/server/connection.js';
import { LiveSession } from '../../../src/server/protocol/live-session.js';
import { FakeClock } from '../../../src/testing/fake-clock.js';

function session(connection = {} as Connection<string>, maxQueuedMessages = 64): LiveSession<string> {
  return new LiveSession<string>('s-1', 'u', new RequestWindow<unknown>(10), connection, { secret: 'x', anonymous: false }, { clock: new FakeClock(), requestTimeout: 1_000, windowSize: 10, maxQueuedMessages, directMessage: () => undefined, windowMade: () => undefined }, 0);
}

test('with nothing queued, work starts before enqueue returns; behind unfinished work it waits, in order', async () => {
  const live = session();
  const ran: string[] = [];
  void live.enqueue(async () => void ran.push('first'));
  assert.deepEqual(ran, ['first'], 'started at once');
  let release = (): void => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  void live.enqueue(async () => {
    ran.push('second');
    await held;
    ran.push('second done');
  });
  void live.enqueue(async () => void ran.push('third'));
  // 'second' waits for 'first' to settle (a turn later), 'third' for 'second' to finish.
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(ran, ['first', 'second']);
  release();
  await live.drained();
  assert.deepEqual(ran, ['first', 'second', 'second done', 'third']);
  void live.enqueue(async () => void ran.push('idle again'));
  assert.equal(ran.at(-1), 'idle again', 'drained: the next work starts at once again');
});

test('work done in its own turn (it returns no promise) leaves the queue idle: the next work starts at once too', async () => {
  const live = session();
  const ran: string[] = [];
  live.enqueue(() => void ran.push('first'));
  live.enqueue(() => {
    throw new Error('thrown in its turn');
  });
  live.enqueue(() => void ran.push('second'));
  assert.deepEqual(ran, ['first', 'second'], 'each started and finished before enqueue returned');
  let release = (): void => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  live.enqueue(() => held);
  live.enqueue(() => void ran.push('behind a promise'));
  assert.deepEqual(ran, ['first', 'second'], 'work behind unfinished work waits');
  release();
  await live.drained();
  assert.deepEqual(ran, ['first', 'second', 'behind a promise']);
});

test('past maxQueuedMessages waiting, the connection is not read until half of them have run', async () => {
  const input: string[] = [];
  const connection = { pauseInput: () => void input.push('pause'), resumeInput: () => void input.push('resume') } as unknown as Connection<string>;
  const live = session(connection, 4);
  const gates: (() => void)[] = [];
  const slow = (): Promise<void> => new Promise<void>((resolve) => gates.push(resolve));
  for (let n = 1; n <= 4; n++) void live.enqueue(slow);
  assert.deepEqual(input, [], 'four queued: still read');
  void live.enqueue(slow);
  assert.deepEqual(input, ['pause'], 'the fifth stops the reading');
  void live.enqueue(slow); // one more that the read in progress brought: no second pause
  assert.deepEqual(input, ['pause']);
  /** Lets the `n`-th work finish once it has started (each starts when the one before it is done). */
  const finish = async (n: number): Promise<void> => {
    for (let turn = 0; turn < 100 && gates[n] === undefined; turn++) await new Promise((resolve) => setImmediate(resolve));
    gates[n]?.();
    await new Promise((resolve) => setImmediate(resolve));
  };
  for (let n = 0; n < 3; n++) await finish(n);
  assert.deepEqual(input, ['pause'], 'three left');
  await finish(3);
  assert.deepEqual(input, ['pause', 'resume'], 'two left (half of four): read again');
  await finish(4);
  await finish(5);
  await live.drained();
  assert.deepEqual(input, ['pause', 'resume'], 'idle: nothing more');
});

test('work that throws or rejects does not stop the queue', async () => {
  const live = session();
  const ran: string[] = [];
  void live.enqueue(() => {
    throw new Error('thrown before its promise');
  });
  void live.enqueue(() => Promise.reject(new Error('rejected')));
  void live.enqueue(async () => void ran.push('after'));
  await live.drained();
  assert.deepEqual(ran, ['after']);
});

test('a session that remembers nothing makes its window at its first publish, and tells its host once', () => {
  const made: RequestWindow<unknown>[] = [];
  const live = new LiveSession<string>('s-1', 'u', undefined, {} as Connection<string>, { secret: 'x', anonymous: false }, { clock: new FakeClock(), requestTimeout: 1_000, windowSize: 10, maxQueuedMessages: 64, directMessage: () => undefined, windowMade: (_, window) => void made.push(window) }, 0);
  assert.equal(live.madeWindow, undefined, 'an idle session holds no window');
  assert.equal(live.acked, 0);
  assert.deepEqual(live.windowState(), { acked: 0, floor: 0, replies: [] });
  assert.equal(made.length, 0, 'reading its state makes none');
  assert.deepEqual(live.publish(1, 'room'), [{ kind: 'check', id: 1 }]);
  assert.equal(made.length, 1);
  assert.equal(live.madeWindow, made[0]);
  assert.equal(made[0]?.capacity, 10, 'of the configured size');
  live.publish(2, 'room');
  assert.equal(made.length, 1, 'made once');
});
