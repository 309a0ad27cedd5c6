import { test } from 'node:test';
import assert from 'node:assert/strict';
import { smallNumber } from '../../src/core/small-number.js';

test('smallNumber keeps the value of every number it is given', () => {
  const now = 1_765_000_000_123;
  for (const value of [0, 1, -1, 25_000, now - (now - 86_400_000), 2 ** 31 - 1, -(2 ** 31), 2 ** 31, now, now + 0.5, 0.25, -7.5, Infinity, -Infinity]) {
    assert.equal(smallNumber(value), value, String(value));
  }
  assert.ok(Number.isNaN(smallNumber(NaN)));
});
