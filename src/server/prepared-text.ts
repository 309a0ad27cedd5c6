/**
 * A text message serialized and framed once, for sending the same bytes to many connections
 * (a channel event to its subscribers): the UTF-8 payload and the complete unmasked RFC 6455
 * frame (FIN, opcode 1), built once and shared by every write.
 */
export interface PreparedText {
  readonly text: string;
  /** The whole frame: header and payload. */
  readonly frame: Buffer;
  /** Payload bytes. */
  readonly bytes: number;
}

export function prepareText(text: string): PreparedText {
  const length = Buffer.byteLength(text, 'utf8');
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  // One buffer, header and payload: one allocation, one encoding, one write per socket.
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = 0x81; // FIN + text
  if (length < 126) frame[1] = length;
  else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  frame.write(text, headerLength, 'utf8');
  return { text, frame, bytes: length };
}
