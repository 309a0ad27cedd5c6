import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { sendError } from './http-json.js';
import type { RouteContext } from './router.js';

/**
 * A shared secret that guards an HTTP route. The comparison is constant-time: both sides are
 * hashed to 32 bytes first, so neither their contents nor their lengths show in the timing.
 */
export class ApiKey {
  readonly #digest: Buffer;

  constructor(key: string) {
    this.#digest = digest(key);
  }

  /** A fresh random key (32 URL-safe characters, 192 bits). */
  static generate(): string {
    return randomBytes(24).toString('base64url');
  }

  matches(candidate: string | undefined): boolean {
    if (candidate === undefined) return false;
    return timingSafeEqual(this.#digest, digest(candidate));
  }

  /** Does the request carry this key, as `Authorization: Bearer KEY` or `?key=KEY`? */
  admits(request: IncomingMessage, url: URL): boolean {
    return this.matches(presentedKey(request, url));
  }
}

/**
 * The key a request presents: the bearer token of its Authorization header, else its `key`
 * query parameter. A header of another scheme (a proxy's Basic credentials) is not ours and
 * leaves the query parameter to speak.
 */
export function presentedKey(request: IncomingMessage, url: URL): string | undefined {
  const header = request.headers.authorization;
  if (header !== undefined && /^Bearer(?:[ \t]|$)/i.test(header)) return /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header)?.[1];
  return url.searchParams.get('key') ?? undefined;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * The guard of a key-protected route: true when the request may go on; otherwise it has been
 * answered, 404 when no key is configured (the feature is off) or 401 for a missing or wrong key.
 */
export function admitted(key: ApiKey | undefined, { request, response, url }: RouteContext, what: string): boolean {
  if (!key) {
    sendError(response, 404, 'api_disabled', `${what} is disabled: set --api-key`);
    return false;
  }
  if (key.admits(request, url)) return true;
  sendError(response, 401, 'unauthorized', 'the API key is missing or wrong (Authorization: Bearer KEY, or ?key=KEY)', { 'WWW-Authenticate': 'Bearer realm="lifeline"' });
  return false;
}
