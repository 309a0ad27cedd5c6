/**
 * src/redis/handled-calls.ts: a client library that drops the promise of one of its own calls
 * (as the Redis Cluster client does when it resubscribes after a failover) must not end the
 * process when that promise rejects; a caller that keeps the promise still sees the rejection.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCluster } from '@redis/client';
import { handleClusterResubscribeRejections, handleDroppedRejections } from '../../src/redis/handled-calls.js';

/** Stands for the cluster client: `resubscribe` calls its own `sSubscribe` and drops the promise. */
class Library {
  readonly name = 'cluster';
  sSubscribe = async (channel: string): Promise<string> => {
    throw new TypeError(`no slot for ${channel} yet`);
  };
  subscribe(channel: string): Promise<string> {
    return Promise.resolve(`${this.name}:${channel}`);
  }
  resubscribe(channels: readonly string[]): void {
    for (const channel of channels) void this.sSubscribe(channel);
  }
}

test('a dropped rejected call leaves no unhandled rejection; a kept one still rejects; this and results are kept', async () => {
  const library = new Library();
  handleDroppedRejections(library, ['sSubscribe', 'subscribe', 'absent']);
  // Node's test runner fails the test on an unhandled rejection: none may come of these.
  library.resubscribe(['a', 'b', 'c']);
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  await assert.rejects(library.sSubscribe('d'), /no slot for d yet/);
  assert.equal(await library.subscribe('e'), 'cluster:e', 'a method on the prototype keeps its this');
});

test("the Redis Cluster client's own resubscription, rejecting while it knows no slots, leaves no unhandled rejection", async () => {
  // Not connected: no slot map, so its sSubscribe rejects (a TypeError inside the client), as it
  // did during a failover in a busy test run.
  const cluster = createCluster({ rootNodes: [{ url: 'redis://127.0.0.1:1' }] });
  handleClusterResubscribeRejections(cluster);
  const instance = (cluster as unknown as { _self: { resubscribeAllPubSubListeners(listeners: unknown): void } })._self;
  const listeners = { buffers: new Set(), strings: new Set([() => undefined]) };
  // The handler the client binds to its failover event, called with one sharded channel's listeners.
  instance.resubscribeAllPubSubListeners({ SHARDED: new Map([['room', listeners]]) });
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  await assert.rejects(cluster.sSubscribe('room', () => undefined), 'a caller that keeps the promise still sees the rejection');
});
