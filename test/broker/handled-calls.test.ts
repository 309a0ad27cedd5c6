/**
 * src/redis/handled-calls.ts: a client library that drops the promise of one of its own calls
 * (as the Redis Cluster client does when it resubscribes after a failover) must not end the
 * process when that promise rejects; a caller that keeps the promise still sees the rejection.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { handleDroppedRejections } from '../../src/redis/handled-calls.js';

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
