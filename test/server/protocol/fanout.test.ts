/**
 * The sliced fan-out (src/server/protocol/fanout.ts): a channel larger than a slice is
 * delivered over several turns, yet every member gets every event exactly once and in order;
 * events waiting together reach a member in one corked batch; a member that left is skipped,
 * one that joined after an event arrived does not get it, and a failing member does not stop
 * the others. The turns are driven by hand (an injected `defer`), so nothing depends on time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryBroker } from '../../../src/broker/memory-broker.js';
import type { Position } from '../../../src/core/position.js';
import { ChannelFanout, type FanoutMember } from '../../../src/server/protocol/fanout.js';
import type { PreparedText } from '../../../src/server/prepared-text.js';

const POLICY = { size: 100, ttl: 60_000 };

interface Recorder extends FanoutMember {
  readonly offsets: number[];
  /** Offsets per write: one array per uncorked run (or per single delivery). */
  readonly writes: number[][];
}

function recorder(): Recorder {
  let corked: number[] | undefined;
  const offsets: number[] = [];
  const writes: number[][] = [];
  return {
    offsets,
    writes,
    deliver(_message: PreparedText, position: Position) {
      offsets.push(position.offset);
      if (corked) corked.push(position.offset);
      else writes.push([position.offset]);
    },
    cork() {
      corked = [];
    },
    uncork() {
      if (corked) writes.push(corked);
      corked = undefined;
    },
  };
}

/** A fan-out whose deferred turns wait in a list until `turn()` runs them. */
function manual(slice: number): { readonly broker: MemoryBroker; readonly fanout: ChannelFanout; turn(): number } {
  const queued: (() => void)[] = [];
  const broker = new MemoryBroker();
  const fanout = new ChannelFanout(broker, { slice, defer: (fn) => queued.push(fn) });
  return {
    broker,
    fanout,
    turn() {
      const now = queued.splice(0);
      for (const fn of now) fn();
      return now.length;
    },
  };
}

function drain(turn: () => number): number {
  let turns = 0;
  while (turn() > 0) if (++turns > 10_000) throw new Error('the fan-out never finished');
  return turns;
}

test('a channel larger than a slice gets every event, in order, over several turns', async () => {
  const { broker, fanout, turn } = manual(4);
  const members = Array.from({ length: 10 }, recorder);
  for (const member of members) await fanout.join('c', member);
  await broker.publish('c', 1, POLICY);
  assert.ok(members.every((m) => m.offsets.length === 0), 'nothing goes out before a turn');
  assert.equal(fanout.backlog, 1);
  const turns = drain(turn);
  assert.ok(turns >= 3, `10 members in slices of 4 take 3 turns, took ${turns}`);
  for (const member of members) assert.deepEqual(member.offsets, [1]);
  assert.equal(fanout.backlog, 0);
});

test('events that wait together reach each member in one batch, still in order, exactly once', async () => {
  const { broker, fanout, turn } = manual(4);
  const members = Array.from({ length: 10 }, recorder);
  for (const member of members) await fanout.join('c', member);
  for (let i = 0; i < 5; i++) await broker.publish('c', i, POLICY);
  turn(); // the first slice: five events waiting, one batch
  for (let i = 5; i < 8; i++) await broker.publish('c', i, POLICY); // arrive while the batch is going out
  drain(turn);
  for (const member of members) {
    assert.deepEqual(member.offsets, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(member.writes, [
      [1, 2, 3, 4, 5],
      [6, 7, 8],
    ]);
  }
});

test('a member that left is skipped; one that joined after an event arrived gets only later ones', async () => {
  const { broker, fanout, turn } = manual(2);
  const members = Array.from({ length: 6 }, recorder);
  for (const member of members) await fanout.join('c', member);
  await broker.publish('c', 'a', POLICY);
  turn(); // members 0 and 1 have event 1
  const late = recorder();
  await fanout.join('c', late);
  await fanout.leave('c', members[5] as Recorder);
  await broker.publish('c', 'b', POLICY);
  drain(turn);
  for (const member of members.slice(0, 5)) assert.deepEqual(member.offsets, [1, 2]);
  assert.deepEqual(members[5]?.offsets, []);
  assert.deepEqual(late.offsets, [2]);
});

test('small channels are delivered at once, and a failing member does not stop the others', async () => {
  const { broker, fanout, turn } = manual(8);
  const good = recorder();
  await fanout.join('c', {
    deliver() {
      throw new Error('broken member');
    },
  });
  await fanout.join('c', good);
  await broker.publish('c', 1, POLICY);
  assert.deepEqual(good.offsets, [1], 'delivered as the event arrived');
  assert.equal(turn(), 0, 'no turn was needed');

  const big = manual(1);
  const after = recorder();
  await big.fanout.join('c', {
    deliver() {
      throw new Error('broken member');
    },
  });
  await big.fanout.join('c', after);
  await big.broker.publish('c', 1, POLICY);
  drain(big.turn);
  assert.deepEqual(after.offsets, [1]);
});
