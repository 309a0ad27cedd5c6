import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { pooledRandomBytes } from '../../src/server/random-pool.js';
import { sha256, sha256Bytes } from '../../src/server/sha256.js';

test('pooled random bytes: the size asked for, never the same bytes twice, across refills', () => {
  const seen = new Set<string>();
  // 300 secrets of 32 bytes span three fills of the 4 kB pool.
  for (let i = 0; i < 300; i++) {
    const bytes = pooledRandomBytes(32);
    assert.equal(bytes.length, 32);
    seen.add(bytes.toString('hex'));
  }
  assert.equal(seen.size, 300);
  assert.equal(pooledRandomBytes(1).length, 1);
  assert.equal(pooledRandomBytes(10_000).length, 10_000, 'past the pool: drawn on its own');
});

test('pooled random bytes are copies: changing one changes no other', () => {
  const first = pooledRandomBytes(16);
  const second = pooledRandomBytes(16);
  const kept = Buffer.from(second);
  first.fill(0);
  assert.deepEqual(second, kept);
  assert.notDeepEqual(pooledRandomBytes(16), Buffer.alloc(16));
});

test('sha256 gives what createHash gives', () => {
  for (const text of ['', 'secret', 'é ✓ 🎉', 'x'.repeat(10_000)]) {
    assert.equal(sha256(text, 'hex'), createHash('sha256').update(text).digest('hex'));
    assert.equal(sha256(text, 'base64url'), createHash('sha256').update(text).digest('base64url'));
    assert.deepEqual(sha256Bytes(text), createHash('sha256').update(text).digest());
  }
});
