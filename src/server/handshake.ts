import type { IncomingMessage } from 'node:http';
import { parse as parseCookies } from 'cookie';
import { reject, type Refusal } from '../core/handshake-policy.js';
import type { AuthRequest, Authenticate } from './options.js';
import { targetUrl } from './request-target.js';

/** The URL of an upgrade request; a garbage request-target still yields a usable path. */
export function requestUrl(request: IncomingMessage): URL {
  return targetUrl(request.url ?? '/') ?? new URL('http://localhost/');
}

/**
 * Whether a request-target is one of `paths` as it stands (a query after it allowed), read
 * without building a URL. A target that only a URL's normalization would map to an endpoint
 * (`/a/../ws`, percent-escapes) answers false: such a request takes the full path.
 */
export function isEndpointTarget(target: string | undefined, paths: readonly string[]): boolean {
  return endpointOf(target, paths) !== undefined;
}

/** The one of `paths` a request-target names as it stands (a query after it allowed), or undefined. */
export function endpointOf(target: string | undefined, paths: readonly string[]): string | undefined {
  if (target === undefined) return undefined;
  const query = target.indexOf('?');
  const path = query === -1 ? target : target.slice(0, query);
  return paths.includes(path) ? path : undefined;
}

/**
 * The paths a URL's parser leaves as they are (no dot segments, escapes or characters it would
 * encode): a request-target whose path is one of them has that path as its URL's pathname, so
 * it needs no URL to be judged. Other paths are only ever matched through a URL, as before.
 */
export function normalizedPaths(paths: readonly string[]): readonly string[] {
  return paths.filter((path) => {
    try {
      return new URL(path, 'http://localhost').pathname === path;
    } catch {
      return false;
    }
  });
}

export function authRequest(request: IncomingMessage, url: URL): AuthRequest {
  const cookieHeader = request.headers.cookie;
  return {
    headers: request.headers,
    url,
    query: url.searchParams,
    cookies: cookieHeader ? parseCookies(cookieHeader) : {},
    remoteAddress: request.socket.remoteAddress ?? '',
  };
}

/** Who a connection is, and until when. */
export interface Credentials<User> {
  readonly user: User;
  readonly expiresAt?: number;
  readonly anonymous?: boolean;
}

/**
 * Runs the app's `authenticate` hook and turns its verdict into a decision. A hook that throws
 * (or returns no verdict) is a server fault (its database is down, say), not bad credentials:
 * the peer gets 503 with Retry-After, never the error's text, and `onError` hears about it.
 */
export async function runAuthenticate<User>(
  authenticate: Authenticate<User>,
  request: AuthRequest,
  onError: (error: unknown) => void,
  retryAfterMs: number,
): Promise<Credentials<User> | { readonly rejection: Refusal }> {
  let result;
  try {
    result = await authenticate(request);
    // Untyped app code may return nothing (a missed branch): a fault of the hook, like a throw.
    if (typeof result !== 'object' || result === null) throw new TypeError(`the authenticate hook returned ${result === null ? 'null' : typeof result}, not an AuthResult`);
  } catch (error) {
    onError(error);
    return { rejection: reject('unavailable', 'authentication is unavailable', retryAfterMs) };
  }
  if (result.ok) return { user: result.user, ...(result.expiresAt === undefined ? {} : { expiresAt: result.expiresAt }), ...(result.anonymous === true ? { anonymous: true } : {}) };
  const kind = result.status === 403 ? 'forbidden' : 'unauthorized';
  const message = result.message ?? (kind === 'forbidden' ? 'forbidden' : 'authentication required');
  return { rejection: reject(kind, message) };
}
