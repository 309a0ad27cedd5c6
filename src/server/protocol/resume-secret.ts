import { createHash, timingSafeEqual } from 'node:crypto';

/** SHA-256 (hex) of a secret or a body: what a broker stores instead of the text itself. */
export function digestOf(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Whether `presented` is the secret whose digest is `stored`, compared in constant time. */
export function matchesSecret(presented: string | undefined, stored: string | undefined): boolean {
  if (presented === undefined || stored === undefined) return false;
  const expected = Buffer.from(stored, 'hex');
  const actual = createHash('sha256').update(presented).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
