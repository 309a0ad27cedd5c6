// WebSocket framing (RFC 6455 §5.2), only as much as the benchmark's own clients and the
// net-socket floor server need: unfragmented frames, no extensions. Kept apart from sockets so
// the lean client and the floor server share it.
import { createHash } from 'node:crypto';

export const Opcode = { CONTINUATION: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const;

/** RFC 6455 §1.3: the GUID appended to Sec-WebSocket-Key before hashing. */
const HANDSHAKE_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function acceptKey(key: string): string {
  return createHash('sha1').update(key + HANDSHAKE_GUID).digest('base64');
}

function header(opcode: number, length: number, masked: boolean): Buffer {
  const maskBit = masked ? 0x80 : 0;
  const maskBytes = masked ? 4 : 0;
  let head: Buffer;
  if (length < 126) {
    head = Buffer.alloc(2 + maskBytes);
    head[1] = maskBit | length;
  } else if (length < 65_536) {
    head = Buffer.alloc(4 + maskBytes);
    head[1] = maskBit | 126;
    head.writeUInt16BE(length, 2);
  } else {
    head = Buffer.alloc(10 + maskBytes);
    head[1] = maskBit | 127;
    head.writeBigUInt64BE(BigInt(length), 2);
  }
  head[0] = 0x80 | opcode; // FIN: every frame here is a whole message
  return head; // a masked header ends in a zero masking key (Buffer.alloc zero-fills)
}

/**
 * A client frame (§5.3: clients must mask). The masking key is all zeros, which XORs to the
 * payload itself: the server still runs its unmasking, the client saves the work, and a frame
 * can be built once and written many times.
 */
export function clientFrame(opcode: number, payload: Buffer): Buffer {
  return Buffer.concat([header(opcode, payload.length, true), payload]);
}

export function clientText(text: string): Buffer {
  return clientFrame(Opcode.TEXT, Buffer.from(text));
}

/** A server frame: unmasked. */
export function serverFrame(opcode: number, payload: Buffer): Buffer {
  return Buffer.concat([header(opcode, payload.length, false), payload]);
}

export type FrameHandler = (opcode: number, payload: Buffer) => void;

/**
 * Splits a byte stream into frames and hands each payload (unmasked, a view into the chunk, not
 * a copy) to `onFrame`. A frame split across chunks waits for the rest.
 */
export class FrameReader {
  #pending: Buffer | undefined;

  constructor(private readonly onFrame: FrameHandler) {}

  push(chunk: Buffer): void {
    const buffer = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
    let offset = 0;
    for (;;) {
      const available = buffer.length - offset;
      if (available < 2) break;
      const first = buffer[offset] as number;
      const second = buffer[offset + 1] as number;
      const masked = (second & 0x80) !== 0;
      let length = second & 0x7f;
      let headerLength = 2;
      if (length === 126) {
        if (available < 4) break;
        length = buffer.readUInt16BE(offset + 2);
        headerLength = 4;
      } else if (length === 127) {
        if (available < 10) break;
        length = Number(buffer.readBigUInt64BE(offset + 2));
        headerLength = 10;
      }
      if (masked) headerLength += 4;
      if (available < headerLength + length) break;
      const start = offset + headerLength;
      const payload = buffer.subarray(start, start + length);
      if (masked) unmask(payload, buffer, start - 4);
      offset = start + length;
      this.onFrame(first & 0x0f, payload);
    }
    this.#pending = offset < buffer.length ? buffer.subarray(offset) : undefined;
  }
}

function unmask(payload: Buffer, buffer: Buffer, keyAt: number): void {
  const k0 = buffer[keyAt] as number;
  const k1 = buffer[keyAt + 1] as number;
  const k2 = buffer[keyAt + 2] as number;
  const k3 = buffer[keyAt + 3] as number;
  // No shortcut for an all-zero key: real clients send random keys, so the floor does the work.
  const key = [k0, k1, k2, k3];
  for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] as number) ^ (key[i & 3] as number);
}

/** True when `payload` starts with `prefix` (a cheap look at a message's kind without parsing it). */
export function startsWith(payload: Buffer, prefix: Buffer): boolean {
  if (payload.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (payload[i] !== prefix[i]) return false;
  return true;
}
