import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultBackoff } from '../../src/core/backoff.js';
import { ReconnectPlan, settleAction, type ReconnectSettings } from '../../src/core/reconnect-plan.js';
import { FakeClock } from '../../src/testing/fake-clock.js';

const drop = { code: 1006, reason: '', wasClean: false };

function plan(overrides: Partial<ReconnectSettings> = {}): { plan: ReconnectPlan; clock: FakeClock; retries: number[] } {
  const clock = new FakeClock();
  const retries: number[] = [];
  // rng 0.5: full jitter gives half the ceiling, so every delay below is exact.
  const settings = { ...defaultBackoff, clock, rng: () => 0.5, stabilityWindow: 5_000, ...overrides };
  return { plan: new ReconnectPlan(settings, () => retries.push(clock.now())), clock, retries };
}

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

describe('ReconnectPlan', () => {
  test('counts retries with growing jittered delays and gives up after maxAttempts', () => {
    const { plan: p } = plan({ maxAttempts: 3 });
    assert.deepEqual(p.next(drop, undefined), { attempt: 1, delay: 500 });
    assert.deepEqual(p.next(drop, undefined), { attempt: 2, delay: 1_000 });
    assert.deepEqual(p.next(drop, undefined), { attempt: 3, delay: 2_000 });
    assert.equal(p.next(drop, undefined), undefined);
    assert.equal(p.attempt, 3);
  });

  test("a server's 1013 never gives up: past the budget it waits at the longest delay", () => {
    const { plan: p } = plan({ maxAttempts: 1 });
    const later = { code: 1013, reason: '', wasClean: true };
    assert.deepEqual(p.next(later, undefined), { attempt: 1, delay: 500 });
    assert.deepEqual(p.next(later, undefined), { attempt: 1, delay: 15_000 });
    // A local verdict with the same code is not the server asking: it gives up.
    assert.equal(p.next({ ...later, local: 'heartbeat' }, undefined), undefined);
  });

  test("a server's hint sets the delay (after plus a share of spread); Retry-After spreads over one backoff delay", () => {
    const { plan: p } = plan();
    assert.deepEqual(p.next(drop, { afterMs: 2_000, spreadMs: 1_000 }), { attempt: 1, delay: 2_500 });
    // Attempt 2: backoff 1 000 (half of 2 000), so 3 000 + 0.5 * 1 000.
    assert.deepEqual(p.next(drop, undefined, 3_000), { attempt: 2, delay: 3_500 });
  });

  test("the app's override wins when it answers, and sees the attempt number", () => {
    const { plan: p } = plan();
    const seen: number[] = [];
    assert.deepEqual(p.next(drop, { afterMs: 9_000, spreadMs: 0 }, undefined, (attempt) => (seen.push(attempt), 42)), { attempt: 1, delay: 42 });
    assert.deepEqual(p.next(drop, undefined, undefined, () => undefined), { attempt: 2, delay: 1_000 });
    assert.deepEqual(seen, [1]);
  });

  test('the retry fires after its wait on the clock; stop() cancels it', () => {
    const { plan: p, clock, retries } = plan();
    p.wait(700);
    clock.tick(699); // t=699: not yet
    assert.deepEqual(retries, []);
    clock.tick(1); // t=700: due
    assert.deepEqual(retries, [700]);
    p.wait(100);
    p.stop();
    clock.tick(1_000);
    assert.deepEqual(retries, [700]);
  });

  test('an open connection resets the attempt count once it has lasted the stability window', () => {
    const { plan: p, clock } = plan();
    p.next(drop, undefined);
    p.next(drop, undefined);
    p.opened();
    clock.tick(4_999); // t=4999: still counted
    assert.equal(p.attempt, 2);
    clock.tick(1); // t=5000: stable
    assert.equal(p.attempt, 0);
    // A link that drops before the window keeps its count.
    p.next(drop, undefined);
    p.opened();
    clock.tick(1_000);
    p.stop();
    clock.tick(10_000);
    assert.equal(p.attempt, 1);
  });

  test('going away pauses a pending retry; coming back connects at once', () => {
    const { plan: p, clock, retries } = plan();
    p.wait(p.next(drop, undefined)!.delay);
    assert.equal(p.environment('reconnecting', true), 'pause');
    clock.tick(60_000); // the paused retry never fires
    assert.deepEqual(retries, []);
    assert.equal(p.environment('paused', false), 'connect');
  });

  test("coming back still honours a server's hint: the rest of the wait, then connect once it has passed", () => {
    const { plan: p, clock } = plan();
    const { delay } = p.next(drop, { afterMs: 10_000, spreadMs: 0 })!; // t=0: retry due at 10 000
    assert.equal(delay, 10_000);
    clock.tick(4_000); // t=4000
    assert.equal(p.environment('paused', false), 6_000);
    clock.tick(6_000); // t=10000
    assert.equal(p.environment('reconnecting', false), 'connect');
  });

  test('changes outside a wait ask for nothing', () => {
    const { plan: p } = plan();
    for (const state of ['connecting', 'open', 'closing', 'closed'] as const) {
      assert.equal(p.environment(state, true), undefined);
      assert.equal(p.environment(state, false), undefined);
    }
    assert.equal(p.environment('paused', true), undefined);
  });
});
