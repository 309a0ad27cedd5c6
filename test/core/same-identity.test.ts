import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sameIdentity } from '../../src/core/same-identity.js';

describe('sameIdentity', () => {
  test('objects with the same keys and values match whatever their key order', () => {
    assert.equal(sameIdentity({ id: 'ada', org: 'acme' }, { org: 'acme', id: 'ada' }), true);
    assert.equal(sameIdentity({ id: 'ada', roles: ['a', 'b'], meta: { x: 1, y: 2 } }, { meta: { y: 2, x: 1 }, roles: ['a', 'b'], id: 'ada' }), true);
  });

  test('another value, a missing or an extra key, another array order: another identity', () => {
    assert.equal(sameIdentity({ id: 'ada' }, { id: 'bob' }), false);
    assert.equal(sameIdentity({ id: 'ada' }, { id: 'ada', admin: true }), false);
    assert.equal(sameIdentity({ id: 'ada', admin: undefined }, { id: 'ada', other: undefined }), false);
    assert.equal(sameIdentity({ roles: ['a', 'b'] }, { roles: ['b', 'a'] }), false);
    assert.equal(sameIdentity(['a'], { 0: 'a' }), false);
  });

  test('primitives by value; undefined and null are different users', () => {
    assert.equal(sameIdentity('ada', 'ada'), true);
    assert.equal(sameIdentity(42, 42), true);
    assert.equal(sameIdentity(NaN, NaN), true);
    assert.equal(sameIdentity('42', 42), false);
    assert.equal(sameIdentity(undefined, null), false);
    assert.equal(sameIdentity(undefined, undefined), true);
  });

  test('class instances match only themselves', () => {
    const date = new Date(0);
    assert.equal(sameIdentity(date, date), true);
    assert.equal(sameIdentity(new Date(0), new Date(0)), false);
  });
});
