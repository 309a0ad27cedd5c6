// Test tokens: HS256 JWTs, the kind `lifeline serve --jwt-secret` and the standalone JWT auth accept.
import { SignJWT, type JWTPayload } from 'jose';

/** The secret test tokens are signed with unless a test names another (HS256 wants 32 bytes or more). */
export const JWT_SECRET = 'serve-test-secret-0123456789-abcdefgh';

/** A JWT of `claims`, signed with HS256 under `secret` (text or bytes). */
export function hs256(claims: JWTPayload, secret: string | Uint8Array = JWT_SECRET): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(typeof secret === 'string' ? new TextEncoder().encode(secret) : secret);
}
