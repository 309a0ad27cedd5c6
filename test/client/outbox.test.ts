/**
 * The client's outbox on its own (src/client/outbox.ts): the size check of what is queued.
 * The protocol around it is in lifeline-client-scripted.test.ts and lifeline-client-outbox.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Outbox, pendingMessage, type PendingMessage } from '../../src/client/outbox.js';
import { ReplyError } from '../../src/client/reply-error.js';
import { FakeClock } from '../../src/testing/fake-clock.js';

/** A pending publish whose text counts how often it is read. */
function counted(json: string, reads: { count: number }, failed: Error[] = []): PendingMessage {
  const entry = pendingMessage('publish', json, () => undefined, (error) => failed.push(error), new FakeClock(), 0);
  return Object.defineProperty(entry, 'json', {
    get: () => {
      reads.count++;
      return json;
    },
  });
}

describe('client outbox: size checks', () => {
  test('adding an entry checks its own size only: queueing n messages offline reads each text once, not n²/2 times', () => {
    const outbox = new Outbox(() => false, () => false);
    const reads = { count: 0 };
    for (let i = 0; i < 2_000; i++) assert.equal(outbox.add(counted(`{"type":"publish","data":${i}}`, reads)), true);
    assert.equal(outbox.entries.size, 2_000);
    assert.equal(reads.count, 2_000);
  });

  test("over the server's maxPayload: refused at add with too_big; a lower maxPayload learnt later drops what no longer fits", () => {
    const outbox = new Outbox(() => false, () => false);
    const reads = { count: 0 };
    const failed: Error[] = [];
    outbox.add(counted('x'.repeat(50), reads, failed));
    // 40 bytes of JSON, plus the 22 that `"id":N,` may add on the wire.
    outbox.maxPayload = 62;
    assert.equal(outbox.add(counted('y'.repeat(41), reads, failed)), false);
    assert.equal(outbox.add(counted('z'.repeat(40), reads, failed)), true);
    assert.equal(outbox.entries.size, 2, 'the one queued before the limit was known stays until the limit is applied to all');
    assert.equal(outbox.dropLarger(outbox.entries), true);
    assert.deepEqual([...outbox.entries].map((entry) => entry.json), ['z'.repeat(40)]);
    assert.deepEqual(failed.map((error) => error instanceof ReplyError && error.code), ['too_big', 'too_big']);
  });
});
