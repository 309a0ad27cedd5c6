import { randomUUID } from 'node:crypto';

/**
 * A random UUID, after an optional prefix, as one flat string. Node assembles `randomUUID()`'s
 * text from pieces, and V8 keeps such a string as a chain of them, about 480 bytes of heap
 * instead of 56, for as long as it lives: connection and session ids live as long as their
 * connection.
 */
export function flatUuid(prefix = ''): string {
  return Buffer.from(prefix + randomUUID(), 'latin1').toString('latin1');
}
