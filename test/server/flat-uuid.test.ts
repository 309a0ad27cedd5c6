import assert from 'node:assert/strict';
import { test } from 'node:test';
import { flatUuid } from '../../src/server/flat-uuid.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('flatUuid gives a version-4 UUID after its prefix, a new one each time', () => {
  const plain = flatUuid();
  assert.match(plain, UUID);
  const prefixed = flatUuid('s-');
  assert.ok(prefixed.startsWith('s-'));
  assert.match(prefixed.slice(2), UUID);
  const seen = new Set(Array.from({ length: 100 }, () => flatUuid()));
  assert.equal(seen.size, 100);
});
