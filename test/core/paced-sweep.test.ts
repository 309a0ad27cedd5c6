import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PacedSweep } from '../../src/core/paced-sweep.js';
import { FakeClock } from '../../src/testing/fake-clock.js';

/** A sweep whose slices are answered when the test says (a broker call in flight). */
function setup(slice: number, patience?: number) {
  const clock = new FakeClock();
  const slices: { readonly at: number; readonly items: readonly string[] }[] = [];
  const pending: (() => void)[] = [];
  const sweep = new PacedSweep<string>(
    clock,
    slice,
    (items) => {
      slices.push({ at: clock.now(), items });
      return new Promise<void>((resolve) => pending.push(resolve));
    },
    patience,
  );
  /** Answers the slice in flight and lets its continuation run. */
  const answer = async (): Promise<void> => {
    pending.shift()?.();
    await clock.tickAsync(0);
  };
  return { clock, sweep, slices, answer };
}

const items = (n: number): string[] => Array.from({ length: n }, (_, i) => String.fromCharCode(65 + i));

describe('PacedSweep', () => {
  test('slices spread evenly over the span, one in flight at a time (fake clock)', async () => {
    const { clock, sweep, slices, answer } = setup(2);
    sweep.start(items(6), 9_000);
    assert.deepEqual(slices, [{ at: 0, items: ['A', 'B'] }]);
    await clock.tickAsync(5_000);
    assert.equal(slices.length, 1, 'the next slice waits for the answer of the one in flight');
    await answer(); // late: 2 s past its turn at 3 s
    assert.deepEqual(slices[1], { at: 5_000, items: ['C', 'D'] }, 'a late slice goes at once');
    await answer();
    await clock.tickAsync(999);
    assert.equal(slices.length, 2);
    await clock.tickAsync(1);
    assert.deepEqual(slices[2], { at: 6_000, items: ['E', 'F'] }, 'back on its turn');
    assert.equal(sweep.running, true);
    await answer();
    assert.equal(sweep.running, false);
  });

  test('a sweep asked for while one is under way follows it; stop drops both, and a new one waits for the slice in flight', async () => {
    const { clock, sweep, slices, answer } = setup(1);
    sweep.start(['A', 'B'], 1_000);
    sweep.start(['C'], 0);
    await answer();
    await clock.tickAsync(1_000);
    await answer();
    assert.deepEqual(slices.map((s) => s.items[0]), ['A', 'B', 'C'], 'queued, then run after');

    sweep.stop();
    sweep.start(['D', 'E'], 0);
    sweep.stop();
    sweep.start(['F'], 0);
    assert.equal(slices.length, 3, 'C still in flight');
    await answer();
    assert.deepEqual(slices.map((s) => s.items[0]), ['A', 'B', 'C', 'F'], 'the stopped sweep dropped, the new one run');
    await answer();
    assert.equal(sweep.running, false);
  });

  test('a slice never answered holds the sweep only for its patience, and its late answer changes nothing (fake clock)', async () => {
    const { clock, sweep, slices, answer } = setup(1, 5_000);
    sweep.start(['A', 'B', 'C'], 2_000);
    await clock.tickAsync(4_999);
    assert.equal(slices.length, 1, 'B waits for A within its patience');
    await clock.tickAsync(1);
    assert.deepEqual(slices[1], { at: 5_000, items: ['B'] }, 'A given up on: B goes');
    await answer(); // A's late answer: not B's, which is still in flight
    assert.equal(slices.length, 2, 'one slice waited for at a time');
    await answer(); // B
    assert.deepEqual(slices[2], { at: 5_000, items: ['C'] });
    await answer();
    assert.equal(sweep.running, false);
    sweep.start(['D'], 0);
    assert.deepEqual(slices[3], { at: 5_000, items: ['D'] }, 'a new sweep is not held by the slice given up on');
    await answer();
    assert.equal(clock.pending, 0, 'no timer left behind');
  });

  test('stopped with a slice in flight, no timer is left; a sweep started then waits for that slice within the patience (fake clock)', async () => {
    const { clock, sweep, slices, answer } = setup(1, 5_000);
    sweep.start(['A', 'B'], 1_000);
    sweep.stop();
    assert.equal(clock.pending, 0, 'no timer left behind by a stopped sweep');
    await clock.tickAsync(60_000);
    sweep.start(['C'], 0);
    assert.equal(slices.length, 1, 'C waits for A, still in flight');
    await clock.tickAsync(5_000);
    assert.deepEqual(slices[1], { at: 65_000, items: ['C'] }, 'A given up on: C goes');
    await answer(); // A, late
    await answer(); // C
    assert.equal(sweep.running, false);
    assert.equal(clock.pending, 0);
  });
});
