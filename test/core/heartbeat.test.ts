import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { heartbeat as createHeartbeat, type HeartbeatOptions } from '../../src/core/heartbeat.js';
import { steadyEnvironment } from '../../src/client/environment.js';
import { withHeartbeat } from '../../src/client/with-heartbeat.js';
import { InvalidOptionError } from '../../src/core/errors.js';
import { FakeClock } from '../../src/testing/fake-clock.js';

function setup(options: Partial<HeartbeatOptions>) {
  const clock = new FakeClock();
  const state = { hidden: false, pings: 0, dead: [] as number[] };
  const heartbeat = createHeartbeat(
    clock,
    { watchdog: 0, pingInterval: 0, maxMissed: 3, probeTimeout: 5000, ...options },
    (data) => data === '{"type":"ping"}' && state.pings++,
    () => state.dead.push(clock.now()),
    () => state.hidden,
  );
  /** Starts the heartbeat, hides the page for `ms` (no traffic), shows it again and runs 100 ms: what a tab switch does. */
  const hiddenFor = (ms: number): void => {
    heartbeat.start();
    state.hidden = true;
    clock.tick(ms);
    state.hidden = false;
    heartbeat.visible();
    clock.tick(100);
  };
  return { clock, heartbeat, state, hiddenFor };
}

describe('Heartbeat', () => {
  test('watchdog: dead after a full watchdog period without traffic, counted from the last message', () => {
    const { clock, heartbeat, state } = setup({ watchdog: 35_000 });
    heartbeat.start(); // t=0
    clock.tick(20_000);
    heartbeat.saw('{}'); // t=20
    clock.tick(15_000); // t=35: only 15 s quiet, re-armed for t=55
    assert.deepEqual(state.dead, []);
    clock.tick(20_000); // t=55
    assert.deepEqual(state.dead, [55_000]);
    assert.equal(clock.pending, 0);
  });

  test('client pings: dead after maxMissed pings with no traffic between', () => {
    const { clock, heartbeat, state } = setup({ pingInterval: 30_000, maxMissed: 3 });
    heartbeat.start();
    clock.tick(90_000); // pings at 30, 60, 90
    assert.equal(state.pings, 3);
    assert.deepEqual(state.dead, []);
    clock.tick(30_000); // t=120: third ping unanswered for a full interval
    assert.deepEqual(state.dead, [120_000]);
  });

  test('traffic resets the missed count', () => {
    const { clock, heartbeat, state } = setup({ pingInterval: 30_000, maxMissed: 2 });
    heartbeat.start();
    for (let i = 0; i < 10; i++) {
      clock.tick(30_000);
      heartbeat.saw('{}');
    }
    assert.deepEqual(state.dead, []);
    assert.equal(state.pings, 10);
    heartbeat.stop();
  });

  test('maxMissed 0 counts as 1: a link with traffic lives, one unanswered ping ends a silent one (it died at the first ping, whatever the traffic)', () => {
    const { clock, heartbeat, state } = setup({ pingInterval: 30_000, maxMissed: 0 });
    heartbeat.start();
    for (let i = 0; i < 300; i++) {
      clock.tick(1_000);
      heartbeat.saw('{}'); // a message every second
    }
    assert.deepEqual(state.dead, [], 'traffic all along');
    const quiet = clock.now();
    clock.tick(60_000); // a ping at +30 s (traffic came since the last one), unanswered at +60 s
    assert.deepEqual(state.dead, [quiet + 60_000]);
  });

  test('while hidden the verdict waits; on visible a silent link is probed and dies if the probe goes unanswered', () => {
    const { clock, heartbeat, state } = setup({ watchdog: 35_000, probeTimeout: 5_000 });
    heartbeat.start();
    state.hidden = true;
    clock.tick(120_000); // throttled background tab: no verdict
    assert.deepEqual(state.dead, []);
    state.hidden = false;
    heartbeat.visible(); // t=120: quiet 120 s -> probe
    assert.equal(state.pings, 1);
    clock.tick(5_000);
    assert.deepEqual(state.dead, [125_000]);
  });

  test('probeTimeout 0: no probe on visible (it declared the link dead at once, before any answer could come); the watchdog decides', () => {
    const { clock, heartbeat, state, hiddenFor } = setup({ watchdog: 35_000, probeTimeout: 0 });
    hiddenFor(60_000);
    assert.deepEqual(state.dead, [], 'not dead 100 ms after becoming visible');
    heartbeat.saw('{}'); // the link was alive
    clock.tick(30_000);
    assert.deepEqual(state.dead, []);
    clock.tick(40_000); // silent for longer than the watchdog
    assert.equal(state.dead.length, 1);
  });

  test('on visible, an answered probe keeps the link', () => {
    const { clock, heartbeat, state, hiddenFor } = setup({ watchdog: 35_000, probeTimeout: 5_000 });
    hiddenFor(60_000);
    heartbeat.saw('{}');
    clock.tick(5_000);
    assert.deepEqual(state.dead, []);
    heartbeat.stop();
    assert.equal(clock.pending, 0);
  });
});

test('withHeartbeat refuses a negative setting (maxMissed -1 ended a link with traffic at its first ping) or one that is no number; 0 keeps its meaning', () => {
  for (const name of ['watchdog', 'pingInterval', 'maxMissed', 'probeTimeout'] as const) {
    for (const value of [-1, -30_000, Number.NaN, '5000']) {
      assert.throws(() => withHeartbeat({ [name]: value as number }), (error: unknown) => error instanceof InvalidOptionError && error.option === `heartbeat.${name}`, `${name}: ${value}`);
    }
  }
  const clock = new FakeClock();
  const dead: number[] = [];
  const watch = withHeartbeat({ watchdog: 0, pingInterval: 0, maxMissed: 0, probeTimeout: 0 })({ options: { clock, environment: steadyEnvironment } }, () => undefined, () => dead.push(clock.now()));
  assert.ok(watch);
  watch.start();
  clock.tick(600_000);
  assert.deepEqual(dead, [], 'watchdog and pings off');
  watch.stop();
});

test('saw: every inbound message counts as traffic; only ping and pong are link control', () => {
  const { clock, heartbeat, state } = setup({ watchdog: 35_000 });
  heartbeat.start();
  clock.tick(30_000);
  assert.equal(heartbeat.saw('{"type":"pong"}'), true);
  assert.equal(heartbeat.saw('{"type":"ping"}'), true);
  assert.equal(heartbeat.saw('{"type":"event"}'), false);
  assert.equal(heartbeat.saw(new ArrayBuffer(2)), false);
  clock.tick(30_000); // t=60: 30 s quiet since the last message, within the watchdog
  assert.deepEqual(state.dead, []);
  heartbeat.stop();
});

test('withHeartbeat: a hidden page holds the verdict even when the client was given no environment (timers are throttled there all the same)', (t) => {
  const page = { visibilityState: 'hidden', addEventListener: () => undefined, removeEventListener: () => undefined };
  const globals = globalThis as { document?: unknown; addEventListener?: unknown };
  const saved = { document: globals.document, addEventListener: globals.addEventListener };
  t.after(() => Object.assign(globals, saved));
  Object.assign(globals, { document: page, addEventListener: () => undefined });
  const clock = new FakeClock();
  const dead: number[] = [];
  const watch = withHeartbeat({ watchdog: 35_000, pingInterval: 0 })({ options: { clock, environment: steadyEnvironment } }, () => undefined, () => dead.push(clock.now()));
  assert.ok(watch);
  watch.start();
  clock.tick(120_000);
  assert.deepEqual(dead, [], 'no verdict while the page is hidden');
  page.visibilityState = 'visible';
  clock.tick(35_000);
  assert.equal(dead.length, 1, 'a silent link is judged once the page is visible');
  watch.stop();
});
