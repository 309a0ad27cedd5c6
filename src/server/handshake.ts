import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { parse as parseCookies } from 'cookie';
import { judgeHandshake, reject, type HandshakeLimits, type HandshakeRejection, type Refusal } from '../core/handshake-policy.js';
import type { TimerHandle } from '../core/clock.js';
import type { AuthRequest, Authenticate, ResolvedServerOptions } from './options.js';

/** The URL of an upgrade request; a garbage request-target still yields a usable path. */
export function requestUrl(request: IncomingMessage): URL {
  try {
    return new URL(request.url ?? '/', 'http://localhost');
  } catch {
    return new URL('http://localhost/');
  }
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

/** Runs the app's `authenticate` hook and turns its verdict (or its exception) into a decision. */
export async function runAuthenticate<User>(
  authenticate: Authenticate<User>,
  request: AuthRequest,
): Promise<{ readonly user: User } | { readonly rejection: Refusal }> {
  let result;
  try {
    result = await authenticate(request);
  } catch {
    // The hook's error text stays on the server; the peer learns only that it was refused.
    return { rejection: reject('unauthorized', 'authentication failed') };
  }
  if (result.ok) return { user: result.user };
  const kind = result.status === 403 ? 'forbidden' : 'unauthorized';
  const message = result.message ?? (kind === 'forbidden' ? 'forbidden' : 'authentication required');
  return { rejection: reject(kind, message) };
}

/**
 * One opening handshake in flight: it owns a deadline (slowloris defence for a hook that
 * hangs) and settles exactly once, either accepted or refused.
 */
export class PendingHandshake {
  #timer: TimerHandle | undefined;
  #settled = false;

  constructor(
    readonly request: IncomingMessage,
    readonly socket: Duplex,
  ) {}

  get settled(): boolean {
    return this.#settled || this.socket.destroyed;
  }

  arm(timer: TimerHandle): void {
    this.#timer = timer;
  }

  /** Marks the handshake finished; returns the deadline timer to clear (once). */
  settle(): TimerHandle | undefined {
    this.#settled = true;
    const timer = this.#timer;
    this.#timer = undefined;
    return timer;
  }
}

export function limitsFor<User>(
  options: ResolvedServerOptions<User>,
  originAllowed: HandshakeLimits['originAllowed'],
  state: { draining: boolean; load: number; admitted: () => boolean; retryAfterMs: () => number },
): HandshakeLimits {
  return {
    paths: options.paths,
    originAllowed,
    draining: state.draining,
    connections: state.load,
    maxConnections: options.maxConnections,
    get admitted() {
      return state.admitted();
    },
    // Read after the admission check, so a rate refusal carries the limiter's fresh wait.
    get retryAfterMs() {
      return state.retryAfterMs();
    },
  };
}

export { judgeHandshake, reject, type HandshakeRejection };
