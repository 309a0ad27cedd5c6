import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { formatRetryHint, parseRetryAfterHeader, parseRetryHint } from '../../src/core/retry-hint.js';

describe('retry hints', () => {
  test('property: format then parse gives the hint back, with any text around it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 99_999_999 }), fc.integer({ min: 0, max: 99_999_999 }), fc.string({ maxLength: 20 }), (afterMs, spreadMs, prefix) => {
        const parsed = parseRetryHint(`${prefix.replace(/retry after/g, '')}; ${formatRetryHint({ afterMs, spreadMs })}`);
        return parsed !== undefined && parsed.afterMs === afterMs && parsed.spreadMs === spreadMs;
      }),
      { numRuns: 1000, seed: 5 },
    );
  });

  test('a reason without a hint has none', () => {
    assert.equal(parseRetryHint('going away'), undefined);
  });

  test('Retry-After as seconds or an HTTP date', () => {
    assert.equal(parseRetryAfterHeader('5', 0), 5000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfterHeader('Thu, 01 Jan 2026 00:00:10 GMT', now), 10_000);
    assert.equal(parseRetryAfterHeader('soon', now), undefined);
    assert.equal(parseRetryAfterHeader(undefined, now), undefined);
  });
});
