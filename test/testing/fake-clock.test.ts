/**
 * The fake clock users get from `lifeline/testing`: no I/O, no real time.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_TIMER_MS } from '../../src/core/clock.js';
import { FakeClock } from '../../src/testing/fake-clock.js';

describe('FakeClock', () => {
  test('timers scheduled from timers run within the same advance, at their own due time', () => {
    const clock = new FakeClock();
    const ran: string[] = [];
    clock.setTimeout(() => {
      ran.push(`a@${clock.now()}`);
      clock.setTimeout(() => ran.push(`b@${clock.now()}`), 5);
    }, 10);
    clock.tick(15);
    assert.deepEqual(ran, ['a@10', 'b@15']);
    assert.equal(clock.pending, 0);
  });

  test('a delay that is not a number runs at once, as platform timers do, and stalls no other timer', () => {
    const clock = new FakeClock();
    const ran: string[] = [];
    clock.setTimeout(() => ran.push('nan'), Number.NaN);
    clock.setTimeout(() => ran.push('five'), 5);
    assert.equal(clock.nextDue, 0);
    clock.tick(10);
    assert.deepEqual(ran, ['nan', 'five']);
    assert.equal(clock.pending, 0);
  });

  test('a delay longer than platform timers allow is clamped, as the system clock does', () => {
    const clock = new FakeClock();
    let ran = 0;
    clock.setTimeout(() => ran++, Number.POSITIVE_INFINITY);
    assert.equal(clock.nextDue, MAX_TIMER_MS);
    clock.tick(MAX_TIMER_MS);
    assert.equal(ran, 1);
  });
});

describe("FakeClock: the platform timers' edge cases", () => {
  test('clearTimeout of undefined, null, a number or a handle it never gave is a no-op, as the platform does', () => {
    const clock = new FakeClock();
    let ran = 0;
    const handle = clock.setTimeout(() => ran++, 10);
    const other = new FakeClock();
    other.setTimeout(() => undefined, 5);
    for (const unknown of [undefined, null, 1, 'x', {}, { id: 1 }, other.setTimeout(() => undefined, 5)]) {
      assert.doesNotThrow(() => clock.clearTimeout(unknown as never), `clearTimeout(${String(unknown)})`);
    }
    // Nothing of this clock's was cleared by a handle from another clock with the same number.
    assert.equal(clock.pending, 1);
    assert.equal(other.pending, 2);
    clock.tick(10);
    assert.equal(ran, 1);
    // A handle whose timer ran, cleared again: still a no-op.
    assert.doesNotThrow(() => clock.clearTimeout(handle));
  });

  test('a delay given as undefined or an object that is no number runs at once, as platform timers do, and stalls no other timer', () => {
    const clock = new FakeClock();
    const ran: string[] = [];
    clock.setTimeout(() => ran.push('undefined'), undefined as unknown as number);
    clock.setTimeout(() => ran.push('object'), {} as unknown as number);
    clock.setTimeout(() => ran.push('five'), 5);
    assert.equal(clock.nextDue, 0);
    clock.tick(10);
    assert.deepEqual(ran, ['undefined', 'object', 'five']);
  });

  test('a callback that is not a function is refused at once with a TypeError, as Node does, not when it falls due', () => {
    const clock = new FakeClock();
    assert.throws(() => clock.setTimeout('ran()' as unknown as () => void, 5), TypeError);
    assert.equal(clock.pending, 0);
    assert.doesNotThrow(() => clock.tick(10));
  });
});

describe('FakeClock: time only moves forward', () => {
  test('an advance that overlaps another, longer one does not take time back', async () => {
    const clock = new FakeClock();
    const short = clock.tickAsync(100); // waits a turn before it runs anything
    clock.tick(1_000);
    await short;
    assert.equal(clock.now(), 1_000);
  });

  test('a timer that advances the clock itself does not see time go back when its tick ends', () => {
    const clock = new FakeClock();
    clock.setTimeout(() => clock.tick(100), 5);
    clock.tick(10);
    assert.equal(clock.now(), 105);
  });

  test('an advance by a negative or non-finite amount is refused and changes nothing', async () => {
    const clock = new FakeClock(50);
    let ran = 0;
    clock.setTimeout(() => ran++, 10);
    for (const ms of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => clock.tick(ms), RangeError);
      await assert.rejects(clock.tickAsync(ms), RangeError);
    }
    assert.equal(clock.now(), 50);
    assert.equal(ran, 0);
    clock.tick(10);
    assert.equal(ran, 1);
  });
});

describe('FakeClock: a timer that throws', () => {
  /** Three timers due within 30 ms, the first two throwing; what ran and when. */
  function throwingTimers(clock: FakeClock): string[] {
    const ran: string[] = [];
    clock.setTimeout(() => {
      ran.push(`first@${clock.now()}`);
      throw new Error('first');
    }, 10);
    clock.setTimeout(() => {
      ran.push(`second@${clock.now()}`);
      throw new Error('second');
    }, 20);
    clock.setTimeout(() => ran.push(`third@${clock.now()}`), 30);
    clock.setTimeout(() => ran.push(`later@${clock.now()}`), 100);
    return ran;
  }

  test('tick() runs every other timer due and reaches its target, then throws the first error', () => {
    const clock = new FakeClock();
    const ran = throwingTimers(clock);
    assert.throws(() => clock.tick(50), { message: 'first' });
    assert.deepEqual(ran, ['first@10', 'second@20', 'third@30']);
    assert.equal(clock.now(), 50);
    assert.equal(clock.pending, 1, 'the timer due after the target still waits');
    clock.tick(50);
    assert.deepEqual(ran.at(-1), 'later@100');
  });

  test('tickAsync() runs every other timer due and reaches its target, then rejects with the first error', async () => {
    const clock = new FakeClock();
    const ran = throwingTimers(clock);
    await assert.rejects(clock.tickAsync(50), { message: 'first' });
    assert.deepEqual(ran, ['first@10', 'second@20', 'third@30']);
    assert.equal(clock.now(), 50);
    assert.equal(clock.pending, 1);
  });

  test('whatever the timer threw is thrown again, even undefined', () => {
    const clock = new FakeClock();
    let after = 0;
    clock.setTimeout(() => {
      throw undefined;
    }, 1);
    clock.setTimeout(() => after++, 2);
    let caught: unknown = 'nothing';
    try {
      clock.tick(5);
    } catch (error) {
      caught = error;
    }
    assert.equal(caught, undefined, 'thrown again as it was');
    assert.equal(after, 1);
    assert.equal(clock.now(), 5);
  });
});
