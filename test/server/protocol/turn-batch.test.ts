import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TurnBatch, type Corkable } from '../../../src/server/protocol/turn-batch.js';

function corkable(): Corkable & { depth: number; uncorks: number } {
  return {
    depth: 0,
    uncorks: 0,
    cork() {
      this.depth++;
    },
    uncork() {
      this.depth--;
      this.uncorks++;
    },
  };
}

test('a connection is corked once per turn and uncorked once when the turn is flushed', () => {
  const deferred: (() => void)[] = [];
  const batch = new TurnBatch((fn) => deferred.push(fn));
  const a = corkable();
  const b = corkable();
  batch.hold(a);
  batch.hold(a);
  batch.hold(b);
  assert.equal(deferred.length, 1, 'one flush per turn');
  assert.deepEqual([a.depth, b.depth], [1, 1]);
  deferred.shift()?.();
  assert.deepEqual([a.depth, b.depth, a.uncorks, b.uncorks], [0, 0, 1, 1]);
  batch.hold(a);
  assert.equal(deferred.length, 1, 'the next turn schedules its own flush');
  deferred.shift()?.();
  assert.equal(a.depth, 0);
});

test('a released connection is uncorked at once, and not again at the flush', () => {
  const deferred: (() => void)[] = [];
  const batch = new TurnBatch((fn) => deferred.push(fn));
  const a = corkable();
  batch.hold(a);
  batch.release(a);
  assert.deepEqual([a.depth, a.uncorks], [0, 1]);
  batch.release(a);
  batch.hold(a);
  assert.equal(a.depth, 1, 'held again in the same turn');
  for (const flush of deferred.splice(0)) flush();
  assert.deepEqual([a.depth, a.uncorks], [0, 2], 'each hold uncorked once');
});
