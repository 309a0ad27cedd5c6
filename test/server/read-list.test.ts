import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WebSocket } from 'ws';
import { releaseReadList } from '../../src/server/read-list.js';

const socketWith = (receiver: object | undefined): WebSocket => ({ _receiver: receiver }) as unknown as WebSocket;

test('releaseReadList gives an empty read list a new one, and leaves a list with unparsed chunks as it is', () => {
  const empty: unknown[] = [Buffer.from('x')];
  empty.shift();
  const drained = { _buffers: empty };
  assert.equal(releaseReadList(socketWith(drained)), true);
  assert.notEqual(drained._buffers, empty);
  assert.deepEqual(drained._buffers, []);

  const chunk = Buffer.from([0x81, 0x05]);
  const unparsed = [chunk];
  const busy = { _buffers: unparsed };
  assert.equal(releaseReadList(socketWith(busy)), false);
  assert.equal(busy._buffers, unparsed);
  assert.deepEqual(busy._buffers, [chunk]);
});

test('releaseReadList leaves a socket without such a receiver alone', () => {
  assert.equal(releaseReadList(socketWith(undefined)), false);
  const other = { _buffers: 'not a list' };
  assert.equal(releaseReadList(socketWith(other)), false);
  assert.equal(other._buffers, 'not a list');
});
