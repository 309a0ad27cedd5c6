import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultBackoff } from '../../src/core/backoff.js';
import { environmentStep, nextRetry, settleAction } from '../../src/core/reconnect-plan.js';

const drop = { code: 1006, reason: '', wasClean: false };
// rng 0.5: full jitter gives half the ceiling, so every delay below is exact.
const settings = { ...defaultBackoff, rng: () => 0.5 };

describe('settleAction', () => {
  test('the policy stands unless the app answers; booleans mean reconnect or stop; an undecided app code reconnects', () => {
    assert.equal(settleAction('fatal', undefined), 'fatal');
    assert.equal(settleAction('fatal', true), 'reconnect');
    assert.equal(settleAction('reconnect', false), 'stop');
    assert.equal(settleAction('stop', 'refresh-auth'), 'refresh-auth');
    assert.equal(settleAction('app', undefined), 'reconnect');
    assert.equal(settleAction('stop', 'app'), 'reconnect');
  });
});

describe('nextRetry', () => {
  test('counts retries with growing jittered delays and gives up after maxAttempts', () => {
    const three = { ...settings, maxAttempts: 3 };
    assert.deepEqual(nextRetry(three, 0, drop, undefined), { attempt: 1, delay: 500, hinted: false });
    assert.deepEqual(nextRetry(three, 1, drop, undefined), { attempt: 2, delay: 1_000, hinted: false });
    assert.deepEqual(nextRetry(three, 2, drop, undefined), { attempt: 3, delay: 2_000, hinted: false });
    assert.equal(nextRetry(three, 3, drop, undefined), undefined);
  });

  test("a server's 1013 never gives up: past the budget it waits at the longest delay", () => {
    const one = { ...settings, maxAttempts: 1 };
    const later = { code: 1013, reason: '', wasClean: true };
    assert.deepEqual(nextRetry(one, 0, later, undefined), { attempt: 1, delay: 500, hinted: false });
    assert.deepEqual(nextRetry(one, 1, later, undefined), { attempt: 1, delay: 15_000, hinted: false });
    // A local verdict with the same code is not the server asking: it gives up.
    assert.equal(nextRetry(one, 1, { ...later, local: 'heartbeat' }, undefined), undefined);
  });

  test('maxAttempts 0 never retries, not even after a 1013', () => {
    const none = { ...settings, maxAttempts: 0 };
    assert.equal(nextRetry(none, 0, { code: 1013, reason: '', wasClean: true }, undefined), undefined);
    assert.equal(nextRetry(none, 0, drop, undefined), undefined);
  });

  test("a server's hint sets the delay (after plus a share of spread); Retry-After spreads over one backoff delay", () => {
    assert.deepEqual(nextRetry(settings, 0, drop, { afterMs: 2_000, spreadMs: 1_000 }), { attempt: 1, delay: 2_500, hinted: true });
    // Attempt 2: backoff 1 000 (half of 2 000), so 3 000 + 0.5 * 1 000.
    assert.deepEqual(nextRetry(settings, 1, drop, undefined, 3_000), { attempt: 2, delay: 3_500, hinted: true });
  });

  test("the app's override wins when it answers, and sees the attempt number; its delay is no server hint", () => {
    const seen: number[] = [];
    const hint = { afterMs: 9_000, spreadMs: 0 };
    // The app decided the delay: page awareness must not hold it as a hint when the page is back.
    assert.deepEqual(
      nextRetry(settings, 0, drop, hint, undefined, (attempt) => (seen.push(attempt), 42)),
      { attempt: 1, delay: 42, hinted: false },
    );
    assert.deepEqual(nextRetry(settings, 0, drop, undefined, 3_000, () => 42), { attempt: 1, delay: 42, hinted: false });
    // An override that does not answer leaves the hint in force, and hinted.
    assert.deepEqual(nextRetry(settings, 0, drop, hint, undefined, () => undefined), { attempt: 1, delay: 9_000, hinted: true });
    assert.deepEqual(nextRetry(settings, 1, drop, undefined, undefined, () => undefined), { attempt: 2, delay: 1_000, hinted: false });
    assert.deepEqual(seen, [1]);
  });
});

describe('environmentStep', () => {
  test('going away pauses a pending retry; coming back connects at once', () => {
    assert.equal(environmentStep('reconnecting', true, 0, 100), 'pause');
    assert.equal(environmentStep('paused', false, 0, 100), 0);
    assert.equal(environmentStep('reconnecting', false, 0, 100), 0);
  });

  test("coming back still honours a server's hint: the rest of the wait, then connect once it has passed", () => {
    // A retry hinted due at t=10 000.
    assert.equal(environmentStep('paused', false, 10_000, 4_000), 6_000);
    assert.equal(environmentStep('reconnecting', false, 10_000, 10_000), 0);
  });

  test('changes outside a wait ask for nothing', () => {
    for (const state of ['connecting', 'open', 'closing', 'closed'] as const) {
      assert.equal(environmentStep(state, true, 0, 0), undefined);
      assert.equal(environmentStep(state, false, 0, 0), undefined);
    }
    assert.equal(environmentStep('paused', true, 0, 0), undefined);
  });
});
