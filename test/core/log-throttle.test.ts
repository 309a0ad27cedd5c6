import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LogThrottle } from '../../src/core/log-throttle.js';
import { FakeClock } from '../../src/testing/fake-clock.js';

test('LogThrottle: the first occurrence is logged, then at most one line per period, counting what happened since', () => {
  const clock = new FakeClock();
  const throttle = new LogThrottle(clock, 10_000);
  assert.equal(throttle.take(), 1);
  assert.deepEqual([throttle.take(), throttle.take()], [0, 0], 'within the period: no line');
  clock.tick(9_999);
  assert.equal(throttle.take(), 0);
  clock.tick(1);
  assert.equal(throttle.take(), 4, 'the three held back and this one');
  clock.tick(60_000);
  assert.equal(throttle.take(), 1, 'after a quiet spell: this one alone');
});

test('LogThrottle with a burst: that many lines per period, then the first line of the next period counts what was held back', () => {
  const clock = new FakeClock();
  const throttle = new LogThrottle(clock, 1_000, 3);
  assert.deepEqual([throttle.take(), throttle.take(), throttle.take()], [1, 1, 1], 'the burst: each line for itself');
  assert.deepEqual([throttle.take(), throttle.take()], [0, 0], 'past the burst: held back');
  clock.tick(999);
  assert.equal(throttle.take(), 0, 'still the same period');
  clock.tick(1);
  assert.equal(throttle.take(), 4, 'the three held back and this one');
  assert.deepEqual([throttle.take(), throttle.take(), throttle.take()], [1, 1, 0], 'the rest of the new burst');
});
