// The close counts a peer can steer: each close code is a metrics series, and a peer picks the
// code it closes with (3000-4999), so the codes outside Lifeline's table are bounded.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_OTHER_CLOSE_CODES, OTHER_CLOSE_CODE, ServerStats } from '../../src/server/stats.js';

test('closes: every code of the table and the first 32 others count apart; further codes count under 0 (other)', () => {
  const stats = new ServerStats();
  stats.countClose(1000);
  stats.countClose(4002);
  for (let code = 3000; code < 3000 + MAX_OTHER_CLOSE_CODES + 8; code++) stats.countClose(code);
  stats.countClose(3000); // already kept apart: still its own
  stats.countClose(1001); // in the table: its own, whatever came before
  assert.equal(stats.closes.get(1000), 1);
  assert.equal(stats.closes.get(4002), 1);
  assert.equal(stats.closes.get(1001), 1);
  assert.equal(stats.closes.get(3000), 2);
  assert.equal(stats.closes.get(3000 + MAX_OTHER_CLOSE_CODES - 1), 1);
  assert.equal(stats.closes.has(3000 + MAX_OTHER_CLOSE_CODES), false);
  assert.equal(stats.closes.get(OTHER_CLOSE_CODE), 8);
  assert.equal(stats.closes.size, 3 + MAX_OTHER_CLOSE_CODES + 1);
});
