import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KeepaliveSweep, type KeepaliveTarget } from '../../src/core/keepalive.js';
import { FakeClock } from '../../src/testing/fake-clock.js';

interface Peer extends KeepaliveTarget {
  name: string;
}

function setup(pingInterval: number, pongTimeout: number, slice?: number) {
  const clock = new FakeClock();
  const peers = new Set<Peer>();
  const pinged: string[] = [];
  const expired: string[] = [];
  const sweep = new KeepaliveSweep<Peer>(clock, { pingInterval, pongTimeout }, {
    targets: () => peers.values(),
    ping: (p, fresh) => pinged.push(`${clock.now()}:${p.name}${fresh ? '' : ' (again)'}`),
    expire: (p) => {
      expired.push(`${clock.now()}:${p.name}`);
      peers.delete(p);
    },
  }, slice);
  const add = (name: string): Peer => {
    const peer = { name, awaitingPong: false, pingSentAt: 0 };
    peers.add(peer);
    return peer;
  };
  return { clock, sweep, add, pinged, expired };
}

describe('KeepaliveSweep', () => {
  test('pings every interval and expires a peer silent for pongTimeout after its ping', () => {
    const { clock, sweep, add, pinged, expired } = setup(25_000, 10_000);
    const a = add('a');
    add('b');
    sweep.start();
    clock.tick(25_000); // t=25 s: ping a, b
    assert.deepEqual(pinged, ['25000:a', '25000:b']);
    clock.tick(3_000); // t=28 s: a answers
    a.awaitingPong = false;
    clock.tick(7_000); // t=35 s: b's deadline
    assert.deepEqual(expired, ['35000:b']);
    clock.tick(15_000); // t=50 s: next sweep pings a only
    assert.deepEqual(pinged.slice(2), ['50000:a']); // b was expired at t=35
  });

  test('a pongTimeout longer than the interval keeps the first deadline while the peer is pinged again', () => {
    const { clock, sweep, add, pinged, expired } = setup(5_000, 12_000);
    add('slow');
    sweep.start();
    clock.tick(16_999); // a fresh ping at t=5; at t=10 and t=15 it is pinged again, deadline still 5 + 12
    assert.deepEqual(pinged, ['5000:slow', '10000:slow (again)', '15000:slow (again)']);
    assert.deepEqual(expired, []);
    clock.tick(1); // t=17 = 5 + 12
    assert.deepEqual(expired, ['17000:slow']);
  });

  test('holds a single timer for any number of peers and none once stopped', () => {
    const { clock, sweep, add } = setup(1000, 500);
    for (let i = 0; i < 100; i++) add(`p${i}`);
    sweep.start();
    clock.tick(1000);
    assert.equal(clock.pending, 1);
    sweep.stop();
    assert.equal(clock.pending, 0);
  });

  test('a sweep larger than a slice goes on over several turns, and its deadline counts from its end', () => {
    // A clock whose timers run only when the test says, one turn at a time.
    let now = 0;
    const timers = new Set<{ readonly fn: () => void; readonly at: number }>();
    const clock = {
      now: () => now,
      setTimeout: (fn: () => void, ms: number) => {
        const timer = { fn, at: now + ms };
        timers.add(timer);
        return timer;
      },
      clearTimeout: (timer: unknown) => void timers.delete(timer as { fn: () => void; at: number }),
    };
    const turn = (): void => {
      for (const timer of [...timers].filter((x) => x.at <= now)) {
        timers.delete(timer);
        timer.fn();
      }
    };
    const peers = Array.from({ length: 7 }, (_, i) => ({ name: `p${i}`, awaitingPong: false, pingSentAt: 0 }));
    const expired: string[] = [];
    let pings = 0;
    const sweep = new KeepaliveSweep(clock, { pingInterval: 1000, pongTimeout: 500 }, { targets: () => peers.values(), ping: () => pings++, expire: (p) => expired.push(p.name) }, 3);
    sweep.start();
    now = 1000;
    const perTurn: number[] = [];
    for (let i = 0; i < 3; i++) {
      turn();
      perTurn.push(pings);
      pings = 0;
      now += 1; // time passes between turns
    }
    assert.deepEqual(perTurn, [3, 3, 1]);
    for (const peer of peers.slice(1)) peer.awaitingPong = false;
    now = 1002 + 499; // the sweep ended at t=1002
    turn();
    assert.deepEqual(expired, []);
    now = 1002 + 500;
    turn();
    assert.deepEqual(expired, ['p0']);
    sweep.stop();
    assert.equal(timers.size, 0);
  });

  test('pingInterval 0 disables keepalive', () => {
    const { clock, sweep } = setup(0, 1000);
    sweep.start();
    assert.equal(sweep.running, false);
    assert.equal(clock.pending, 0);
  });
});
