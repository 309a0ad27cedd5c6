import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Backoff, backoffCeiling, defaultBackoff, jittered, type BackoffOptions } from '../../src/core/backoff.js';
import { seededRng } from '../../src/core/clock.js';

describe('Backoff', () => {
  test('ceilings grow as initial * factor^(attempt-1) and stop at maxDelay', () => {
    const ceilings = Array.from({ length: 8 }, (_, i) => backoffCeiling(defaultBackoff, i + 1));
    assert.deepEqual(ceilings, [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });

  test('a jitter that is not a number (plain JS: a typo) gives the ceilings, never NaN (a NaN delay fires at once)', () => {
    for (const jitter of ['equal', Number.NaN, undefined] as unknown as BackoffOptions['jitter'][]) {
      const backoff = new Backoff({ ...defaultBackoff, jitter }, seededRng(1));
      const delays = Array.from({ length: 3 }, () => backoff.next());
      assert.deepEqual(delays, [1000, 2000, 4000], `jitter ${String(jitter)}`);
    }
  });

  test('with jitter none the delays are exactly the ceilings', () => {
    const backoff = new Backoff({ ...defaultBackoff, jitter: 'none' }, seededRng(1));
    const delays = Array.from({ length: 6 }, () => backoff.next());
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 30000]);
  });

  test('full jitter draws each delay uniformly below its ceiling (seeded, reproducible)', () => {
    const a = new Backoff(defaultBackoff, seededRng(42));
    const b = new Backoff(defaultBackoff, seededRng(42));
    const first = Array.from({ length: 10 }, () => a.next());
    const again = Array.from({ length: 10 }, () => b.next());
    assert.deepEqual(first, again);
    first.forEach((delay, i) => {
      assert.ok(delay !== undefined && delay >= 0 && delay <= backoffCeiling(defaultBackoff, i + 1), `attempt ${i + 1}: ${delay}`);
    });
    // A crowd spreads on its first retry: 1000 clients' first delays cover the whole window.
    const rng = seededRng(7);
    const firsts = Array.from({ length: 1000 }, () => new Backoff(defaultBackoff, rng).next() ?? -1);
    assert.ok(Math.min(...firsts) < 100 && Math.max(...firsts) > 900);
  });

  test('gives up after maxAttempts and starts again after reset', () => {
    const backoff = new Backoff({ ...defaultBackoff, maxAttempts: 3 }, seededRng(3));
    assert.ok(backoff.next() !== undefined && backoff.next() !== undefined && backoff.next() !== undefined);
    assert.equal(backoff.next(), undefined);
    assert.equal(backoff.exhausted, true);
    backoff.reset();
    assert.equal(backoff.attempt, 0);
    assert.notEqual(backoff.next(), undefined);
  });

  test('property: every delay lies in [ceiling*(1-jitter), ceiling] and never above maxDelay', () => {
    const options = fc.record<BackoffOptions>({
      initialDelay: fc.integer({ min: 0, max: 10_000 }),
      factor: fc.double({ min: 1, max: 10, noNaN: true }),
      maxDelay: fc.integer({ min: 0, max: 120_000 }),
      maxAttempts: fc.constant(Infinity),
      jitter: fc.oneof(fc.constant<'full'>('full'), fc.constant<'none'>('none'), fc.double({ min: 0, max: 1, noNaN: true })),
    });
    fc.assert(
      fc.property(options, fc.integer({ min: 1, max: 2000 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (opts, attempt, r) => {
        const ceiling = backoffCeiling(opts, attempt);
        const delay = jittered(opts, ceiling, () => r);
        const share = opts.jitter === 'full' ? 1 : opts.jitter === 'none' ? 0 : opts.jitter;
        return ceiling <= opts.maxDelay && delay <= ceiling + 1e-9 && delay >= ceiling * (1 - share) - 1e-9 && Number.isFinite(delay);
      }),
      { numRuns: 2000, seed: 20261122 },
    );
  });
});
