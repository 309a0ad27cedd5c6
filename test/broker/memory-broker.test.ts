/**
 * The in-memory broker: the shared Broker contract, and what only an in-process broker promises
 * (every instance is a new epoch; a throwing listener does not stop delivery to the others).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ChannelEvent } from '../../src/broker/broker.js';
import { MemoryBroker } from '../../src/broker/memory-broker.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { brokerContract } from './contract.js';

brokerContract('MemoryBroker', async (clock) => new MemoryBroker({ clock }));

describe('MemoryBroker', () => {
  const policy = { size: 10, ttl: 60_000 };

  test('a new broker (a restart without persistence) starts every channel in a new epoch', async () => {
    const clock = new FakeClock();
    const before = new MemoryBroker({ clock });
    const { epoch } = await before.publish('room', 1, policy);
    const after = new MemoryBroker({ clock });
    const recovery = await after.recover('room', { epoch, offset: 1 }, 10);
    assert.equal(recovery.recovered, false);
    assert.notEqual(recovery.position.epoch, epoch);
    assert.equal(recovery.position.offset, 0);
  });

  test('a throwing listener does not stop delivery to the others', async () => {
    const broker = new MemoryBroker({ clock: new FakeClock() });
    const got: ChannelEvent[] = [];
    await broker.subscribe('room', () => {
      throw new Error('listener bug');
    });
    await broker.subscribe('room', (event) => got.push(event));
    await broker.publish('room', 'x', policy);
    assert.deepEqual(got.map((event) => event.data), ['x']);
  });

  test('close stops every delivery', async () => {
    const broker = new MemoryBroker({ clock: new FakeClock(), newEpoch: () => 'fixed' });
    const got: unknown[] = [];
    await broker.subscribe('room', (event) => got.push(event.data));
    await broker.subscribeDirect('s', (message) => got.push(message.data));
    await broker.close();
    const event = await broker.publish('room', 'x', policy);
    await broker.sendDirect('s', 'y', 1_000);
    assert.equal(event.epoch, 'fixed');
    assert.deepEqual(got, []);
  });
});

describe('MemoryBroker: expired entries do not pile up', () => {
  test('sessions, outboxes, presence and idle channels are swept on later writes', async () => {
    const clock = new FakeClock();
    const broker = new MemoryBroker({ clock, idleChannelTtl: 10_000 });
    for (let i = 0; i < 50; i++) {
      await broker.saveSession(`s${i}`, { user: null, window: { acked: 0, floor: 0, replies: [] } }, 1_000);
      await broker.sendDirect(`s${i}`, 'hi', 1_000);
      await broker.presenceJoin(`room${i}`, { client: `s${i}`, user: null }, 1_000);
      await broker.publish(`doc:${i}`, i, { size: 10, ttl: 1_000 });
    }
    assert.deepEqual(broker.size, { channels: 50, sessions: 50, outboxes: 50, presence: 50 });
    await clock.tickAsync(120_000);
    await broker.publish('doc:fresh', 0, { size: 10, ttl: 1_000 }); // any write sweeps
    assert.deepEqual(broker.size, { channels: 1, sessions: 0, outboxes: 0, presence: 0 });
  });

  test('an expired outbox does not bring its old messages back with the next one', async () => {
    const clock = new FakeClock();
    const broker = new MemoryBroker({ clock });
    await broker.sendDirect('s', 'old', 1_000);
    await clock.tickAsync(2_000);
    await broker.sendDirect('s', 'new', 1_000);
    assert.deepEqual((await broker.pendingDirect('s', 0)).map((m) => m.data), ['new']);
  });
});

describe('MemoryBroker: channels never published to', () => {
  test('a channel only subscribed to (and left) is forgotten once idle', async () => {
    const clock = new FakeClock();
    const broker = new MemoryBroker({ clock, idleChannelTtl: 10_000 });
    const stop = await broker.subscribe('live:user-1', () => undefined);
    await stop();
    await clock.tickAsync(120_000);
    await broker.publish('other', 0, { size: 0, ttl: 0 });
    assert.equal(broker.size.channels, 1);
  });
});
