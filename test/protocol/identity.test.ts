/** Identities compare by value: key order does not matter, array order and every value do. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalJson, identityKey, sameIdentity } from '../../src/protocol/identity.js';

test('same identity whatever the order of object keys, at every depth', () => {
  assert.equal(sameIdentity({ sub: 'a', org: { id: 1, name: 'x' } }, { org: { name: 'x', id: 1 }, sub: 'a' }), true);
  assert.equal(sameIdentity({ sub: 'a', roles: ['x', 'y'] }, { sub: 'a', roles: ['y', 'x'] }), false);
  assert.equal(sameIdentity({ sub: 'a' }, { sub: 'b' }), false);
  assert.equal(sameIdentity(null, undefined), true, 'both anonymous');
  assert.equal(sameIdentity('ada', 'ada'), true);
  assert.equal(identityKey({ b: 1, a: 2 }), identityKey({ a: 2, b: 1 }));
  assert.equal(identityKey(null), undefined);
});

test('a __proto__ key stays a key', () => {
  const a = JSON.parse('{"__proto__":{"x":1},"sub":"a"}') as unknown;
  const b = JSON.parse('{"sub":"a","__proto__":{"x":2}}') as unknown;
  assert.equal(sameIdentity(a, b), false);
  assert.equal(canonicalJson(a), '{"__proto__":{"x":1},"sub":"a"}');
});

test('property: a value is the same identity as any reordering of its keys, and canonical text is JSON of the same value', () => {
  const reorder = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(reorder);
    if (typeof value !== 'object' || value === null) return value;
    return Object.fromEntries(Object.entries(value).reverse().map(([key, field]) => [key, reorder(field)]));
  };
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 3 }), (value) => {
      assert.equal(sameIdentity(value, reorder(value)), true);
      assert.deepEqual(JSON.parse(canonicalJson(value)), JSON.parse(JSON.stringify(value)));
    }),
    { numRuns: 100, seed: 20261206 },
  );
});
