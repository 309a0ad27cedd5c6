// The benchmark's own WebSocket framing: its lean clients count events by these frames, so a
// frame split across reads or a long length must come out whole.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptKey, clientFrame, FrameReader, Opcode, serverFrame, startsWith } from '../../bench/wire/frame.js';

function readAll(chunks: readonly Buffer[]): [number, string][] {
  const frames: [number, string][] = [];
  const reader = new FrameReader((opcode, payload) => frames.push([opcode, payload.toString('latin1')]));
  for (const chunk of chunks) reader.push(chunk);
  return frames;
}

describe('bench frame codec', () => {
  test('the accept key is the one RFC 6455 §1.3 gives for its sample nonce', () => {
    assert.equal(acceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  test('masked and unmasked frames of every length class decode to their payload', () => {
    for (const length of [0, 1, 125, 126, 65_535, 65_536]) {
      const payload = Buffer.alloc(length, 'a');
      for (const frame of [clientFrame(Opcode.TEXT, payload), serverFrame(Opcode.BINARY, payload)]) {
        const [decoded] = readAll([frame]);
        assert.equal(decoded?.[1].length, length, `length ${length}`);
      }
    }
  });

  test('frames split at every byte boundary, and several in one chunk, come out whole and in order', () => {
    const stream = Buffer.concat([serverFrame(Opcode.TEXT, Buffer.from('{"type":"event","n":1}')), clientFrame(Opcode.PING, Buffer.from('p')), serverFrame(Opcode.TEXT, Buffer.alloc(300, 'z'))]);
    for (let cut = 1; cut < stream.length; cut++) {
      const frames = readAll([stream.subarray(0, cut), stream.subarray(cut)]);
      assert.deepEqual(
        frames.map(([opcode, text]) => [opcode, text.length]),
        [
          [Opcode.TEXT, 22],
          [Opcode.PING, 1],
          [Opcode.TEXT, 300],
        ],
        `cut at ${cut}`,
      );
    }
  });

  test('a real masking key is removed', () => {
    const masked = Buffer.from([0x81, 0x82, 1, 2, 3, 4, 'h'.charCodeAt(0) ^ 1, 'i'.charCodeAt(0) ^ 2]);
    assert.deepEqual(readAll([masked]), [[Opcode.TEXT, 'hi']]);
  });

  test('startsWith looks at the first bytes only', () => {
    assert.equal(startsWith(Buffer.from('{"type":"event","x":1}'), Buffer.from('{"type":"event"')), true);
    assert.equal(startsWith(Buffer.from('{"type":"ev'), Buffer.from('{"type":"event"')), false);
    assert.equal(startsWith(Buffer.from('42["event",{}]'), Buffer.from('{"type":"event"')), false);
  });
});
