import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_JSON_DEPTH, nestedDeeperThan } from '../../src/core/json-depth.js';

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { k: value };
  return value;
}

test('depth counts arrays and objects; scalars are depth 0', () => {
  assert.equal(nestedDeeperThan('text'), false);
  assert.equal(nestedDeeperThan(null), false);
  assert.equal(nestedDeeperThan(nested(MAX_JSON_DEPTH)), false, 'exactly the limit is allowed');
  assert.equal(nestedDeeperThan(nested(MAX_JSON_DEPTH + 1)), true);
  assert.equal(nestedDeeperThan({ a: [1, 2, { b: nested(3) }] }, 6), false, 'six levels: object, array, object, then three');
  assert.equal(nestedDeeperThan({ a: [1, 2, { b: nested(3) }] }, 5), true);
});

test('no recursion: a value nested 1,000,000 deep is judged without overflowing the stack', () => {
  const text = `${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}`;
  assert.equal(nestedDeeperThan(JSON.parse(text) as unknown), true);
});
