import { timingSafeEqual } from 'node:crypto';
import { sha256, sha256Bytes } from '../sha256.js';

/** SHA-256 (hex) of a secret or a body: what a broker stores instead of the text itself. */
export function digestOf(text: string): string {
  return sha256(text, 'hex');
}

/** Whether `presented` is the secret whose digest is `stored`, compared in constant time. */
export function matchesSecret(presented: string | undefined, stored: string | undefined): boolean {
  if (presented === undefined || stored === undefined) return false;
  const expected = Buffer.from(stored, 'hex');
  const actual = sha256Bytes(presented);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
