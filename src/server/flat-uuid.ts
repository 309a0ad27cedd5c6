import { pooledRandomInto } from './random-pool.js';

/** Where an id is written: its prefix and text, then the 16 random bytes it is made of (zeroed after use). */
const scratch = Buffer.allocUnsafeSlow(128);
const RANDOM_AT = 112;
const MAX_PREFIX = RANDOM_AT - 36;
const HEX = Buffer.from('0123456789abcdef', 'latin1');

/**
 * A random (version 4) UUID, after an optional prefix, as one flat string. Node's `randomUUID()`
 * assembles its text from pieces, and V8 keeps such a string as a chain of them, about 480
 * bytes of heap instead of 56, for as long as it lives (connection and session ids live as long
 * as their connection), and flattening it made two more. Here the text is written into one
 * buffer, from the pooled random bytes (`pooledRandomInto`), and read out as one string.
 */
export function flatUuid(prefix = ''): string {
  if (prefix.length > MAX_PREFIX) return prefix + flatUuid();
  const start = prefix.length === 0 ? 0 : scratch.write(prefix, 0, 'latin1');
  pooledRandomInto(scratch, RANDOM_AT, 16);
  scratch[RANDOM_AT + 6] = ((scratch[RANDOM_AT + 6] as number) & 0x0f) | 0x40; // version 4
  scratch[RANDOM_AT + 8] = ((scratch[RANDOM_AT + 8] as number) & 0x3f) | 0x80; // RFC 4122 variant
  let at = start;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) scratch[at++] = 0x2d; // '-'
    const byte = scratch[RANDOM_AT + i] as number;
    scratch[at++] = HEX[byte >> 4] as number;
    scratch[at++] = HEX[byte & 0x0f] as number;
  }
  scratch.fill(0, RANDOM_AT, RANDOM_AT + 16);
  return scratch.toString('latin1', 0, at);
}
