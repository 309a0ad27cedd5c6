import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LoopMeter, loopSampling } from '../../src/core/loop-delay.js';
import { FakeClock } from '../../src/testing/fake-clock.js';

/** One sample whose timer fires `lateMs` after it was due (the loop was busy that long). */
function sample(clock: FakeClock, meter: LoopMeter, lateMs: number): void {
  clock.tick(meter.arm() + lateMs);
  meter.tick();
}

describe('loopSampling', () => {
  test('samples every half threshold within 5-50 ms and holds late samples for ten samples, at least 100 ms', () => {
    assert.deepEqual(loopSampling(100), { intervalMs: 50, holdMs: 500 });
    assert.deepEqual(loopSampling(40), { intervalMs: 20, holdMs: 200 });
    assert.deepEqual(loopSampling(1000), { intervalMs: 50, holdMs: 500 });
    assert.deepEqual(loopSampling(4), { intervalMs: 5, holdMs: 100 });
  });
});

describe('LoopMeter', () => {
  const sampling = { intervalMs: 10, holdMs: 100 };

  test('a loop whose samples are on time, or late by at most the threshold, is not behind', () => {
    const clock = new FakeClock();
    const meter = new LoopMeter(clock, 20, sampling);
    assert.equal(meter.behind(), false);
    for (const late of [0, 1, 5, 20, 3, 20]) {
      sample(clock, meter, late);
      assert.equal(meter.behind(), false, `late ${late}`);
      assert.equal(meter.lastDelay, late);
    }
  });

  test('one late sample alone is not behind (a collection, a descheduled process); a second within holdMs is', () => {
    const clock = new FakeClock();
    const meter = new LoopMeter(clock, 20, sampling);
    sample(clock, meter, 200);
    assert.equal(meter.behind(), false, 'one late sample');
    assert.equal(meter.lastDelay, 200);
    clock.tick(90);
    sample(clock, meter, 21); // due 100 after the first: outside its hold
    assert.equal(meter.behind(), false, 'a second one due after the first one\'s hold');
    sample(clock, meter, 21); // due 10 after the second
    assert.equal(meter.behind(), true, 'a second one within the hold');
    // On-time samples within the hold do not end it: the verdict does not follow every sample.
    for (let i = 0; i < 8; i++) {
      sample(clock, meter, 0);
      assert.equal(meter.behind(), true, `on-time sample ${i} within the hold`);
    }
    clock.tick(100 - 8 * 10 - 1); // 1 ms before the hold ends
    assert.equal(meter.behind(), true);
    clock.tick(1);
    assert.equal(meter.behind(), false);
  });

  test('each further late sample extends the hold from that sample', () => {
    const clock = new FakeClock();
    const meter = new LoopMeter(clock, 20, sampling);
    sample(clock, meter, 50);
    sample(clock, meter, 50);
    assert.equal(meter.behind(), true);
    clock.tick(60);
    sample(clock, meter, 300); // a stall longer than the hold, due 70 after the last late one
    const extendedFrom = clock.now();
    clock.tick(99);
    assert.equal(meter.behind(), true);
    assert.equal(clock.now() - extendedFrom, 99);
    clock.tick(1);
    assert.equal(meter.behind(), false);
  });

  test('a sample overdue by more than the threshold is behind before it can fire (a stall in progress)', () => {
    const clock = new FakeClock();
    const meter = new LoopMeter(clock, 20, sampling);
    meter.arm();
    clock.tick(10 + 20);
    assert.equal(meter.behind(), false, 'overdue by exactly the threshold');
    clock.tick(1);
    assert.equal(meter.behind(), true, 'overdue by more than the threshold');
    meter.tick(); // the stall ends: one late sample, reported
    assert.equal(meter.lastDelay, 21);
    assert.equal(meter.behind(), false, 'a stall that is over, alone, is not behind');
  });

  test('stop: nothing is due and the verdict is cleared; a tick without an armed sample records nothing', () => {
    const clock = new FakeClock();
    const meter = new LoopMeter(clock, 20, sampling);
    sample(clock, meter, 200);
    sample(clock, meter, 200);
    assert.equal(meter.behind(), true);
    meter.arm();
    meter.stop();
    assert.equal(meter.behind(), false);
    clock.tick(1_000);
    assert.equal(meter.behind(), false, 'a stopped meter is never overdue');
    meter.tick();
    assert.equal(meter.behind(), false);
    assert.equal(meter.lastDelay, 200);
  });

  test('a clock that steps back gives a lateness of 0, not a negative one', () => {
    let now = 1_000;
    const clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => undefined };
    const meter = new LoopMeter(clock, 20, sampling);
    meter.arm();
    now = 500;
    meter.tick();
    assert.equal(meter.lastDelay, 0);
    assert.equal(meter.behind(), false);
  });
});
