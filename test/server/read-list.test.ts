import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WebSocket } from 'ws';
import { releaseReadList } from '../../src/server/read-list.js';
import { buildFrame, Opcode, RawSocket } from '../helpers/raw-socket.js';
import { serve } from './support.js';

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

test('with a real ws: frames split across reads, around the releases after each message and ping, are parsed whole and in order', async (t) => {
  const fixture = await serve(t, { pingInterval: 0 });
  fixture.server.handle('echo', (params) => params);
  const { raw } = await RawSocket.upgrade(fixture.port, { headers: { 'Sec-WebSocket-Protocol': 'lifeline.v1' } });
  t.after(() => raw.destroy());
  const text = (message: unknown): Buffer => buildFrame(Opcode.TEXT, JSON.stringify(message));
  raw.write(text({ type: 'hello', v: 1 }));
  assert.equal((JSON.parse((await raw.readFrame()).payload.toString()) as { type: string }).type, 'welcome');
  // The hello's message event found the list empty and released it: what follows lands in the new one.
  const frames = [1, 2, 3].map((id) => text({ type: 'request', id, method: 'echo', params: `${id}`.repeat(300 * id) }));
  const ping = buildFrame(Opcode.PING, 'p');
  const stream = Buffer.concat([frames[0] as Buffer, ping, frames[1] as Buffer, frames[2] as Buffer]);
  // A byte alone, a frame's end with the next one's start, a ping between, the rest.
  const cuts = [0, 1, (frames[0] as Buffer).length + 3, (frames[0] as Buffer).length + ping.length + 40, stream.length];
  for (let i = 1; i < cuts.length; i++) {
    raw.write(stream.subarray(cuts[i - 1], cuts[i]));
    await new Promise((resolve) => setImmediate(resolve));
  }
  const replies: { id: number; data: string }[] = [];
  let pongs = 0;
  while (replies.length < 3 || pongs < 1) {
    const frame = await raw.readFrame();
    if (frame.opcode === Opcode.PONG) pongs++;
    else replies.push(JSON.parse(frame.payload.toString()) as { id: number; data: string });
  }
  assert.deepEqual(
    replies.map((reply) => [reply.id, reply.data]),
    [1, 2, 3].map((id) => [id, `${id}`.repeat(300 * id)]),
  );
  assert.equal(pongs, 1, 'the ping between them answered');
});
