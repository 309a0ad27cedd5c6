/**
 * The opening handshake judged as data (RFC 6455 §4.2.1): a request description goes in, a
 * decision comes out. The server adapter turns a rejection into one HTTP response; nothing here
 * touches a socket.
 */

export type HeaderValue = string | readonly string[] | undefined;

export interface HandshakeRequest {
  readonly method: string;
  /** The request line's HTTP version (Node's `httpVersion`: '1.1'); unknown when absent. */
  readonly httpVersion?: string;
  /** Path without the query string. */
  readonly path: string;
  /** Lower-cased header names, as Node's `IncomingMessage.headers` has them. */
  readonly headers: Readonly<Record<string, HeaderValue>>;
}

export interface HandshakeLimits {
  /** Endpoint paths served. */
  readonly paths: readonly string[];
  readonly originAllowed: (origin: string | undefined, host: string | undefined) => boolean;
  readonly draining: boolean;
  readonly connections: number;
  readonly maxConnections: number;
  /** True while the server's event loop is behind (`maxEventLoopDelay`). */
  readonly behind: boolean;
  /** False when the admission rate limiter refuses one more handshake now. */
  readonly admitted: boolean;
  /** Hint sent with a 503, ms. */
  readonly retryAfterMs: number;
  /** Hint sent with a 503 while the event loop is behind, ms (short: a loop catches up in moments). */
  readonly busyRetryAfterMs: number;
}

/** Why a handshake was refused; each maps to one HTTP status and one accept-then-close code. */
export type RejectionKind =
  | 'malformed'
  | 'unauthorized'
  | 'forbidden'
  | 'origin'
  | 'not-found'
  | 'version'
  | 'capacity'
  | 'draining'
  | 'rate'
  /** The server's event loop is behind (`maxEventLoopDelay`): new handshakes wait until it catches up. */
  | 'busy'
  | 'timeout'
  /** The app's `authenticate` hook failed (threw): a server fault, not bad credentials. */
  | 'unavailable';

export interface HandshakeRejection {
  readonly kind: RejectionKind;
  readonly status: number;
  /** Short plain-text body; never internal details. */
  readonly message: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly retryAfterMs?: number;
}

export type Refusal = { readonly accept: false } & HandshakeRejection;
export type HandshakeDecision = { readonly accept: true } | Refusal;

const statusOf: Readonly<Record<RejectionKind, number>> = {
  malformed: 400,
  unauthorized: 401,
  forbidden: 403,
  origin: 403,
  'not-found': 404,
  version: 426,
  capacity: 503,
  draining: 503,
  rate: 503,
  busy: 503,
  timeout: 503,
  unavailable: 503,
};

/** Accept-then-close codes for browsers, which cannot read a refused handshake's status. */
export const closeCodeOfRejection: Readonly<Partial<Record<RejectionKind, number>>> = {
  unauthorized: 4401,
  forbidden: 4403,
  origin: 4403,
  capacity: 4503,
  draining: 4503,
  busy: 4503,
  timeout: 4503,
  unavailable: 4503,
  rate: 4429,
};

export function reject(kind: RejectionKind, message: string, retryAfterMs?: number): Refusal {
  const headers: Record<string, string> = {};
  if (kind === 'version') headers['Sec-WebSocket-Version'] = '13';
  if (retryAfterMs !== undefined) headers['Retry-After'] = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
  return retryAfterMs === undefined
    ? { accept: false, kind, status: statusOf[kind], message, headers }
    : { accept: false, kind, status: statusOf[kind], message, headers, retryAfterMs };
}

/** Over `maxConnections`. */
export function capacityRefusal(retryAfterMs: number): Refusal {
  return reject('capacity', 'server is at capacity', retryAfterMs);
}

/** Over the admission rate. */
export function rateRefusal(retryAfterMs: number): Refusal {
  return reject('rate', 'too many connection attempts', retryAfterMs);
}

/** While the event loop is behind (`maxEventLoopDelay`). */
export function busyRefusal(retryAfterMs: number): Refusal {
  return reject('busy', 'server is busy', retryAfterMs);
}

function single(value: HeaderValue): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Whether a header's comma-separated list holds `token` (lower-case), ignoring case. */
export function hasToken(value: HeaderValue, token: string): boolean {
  const text = single(value);
  if (text === undefined) return false;
  if (text.length === token.length && text.toLowerCase() === token) return true; // the usual one-token header, no list made
  return text.split(',').some((part) => part.trim().toLowerCase() === token);
}

/** A valid Sec-WebSocket-Key is base64 of 16 bytes: 22 chars + "==" (§4.1 item 7). */
const keyPattern = /^[+/0-9A-Za-z]{22}==$/;

/** Checks the request's shape and the server's limits. Authentication runs after this. */
export function judgeHandshake(request: HandshakeRequest, limits: HandshakeLimits): HandshakeDecision {
  if (!limits.paths.includes(request.path)) return reject('not-found', 'no WebSocket endpoint at this path');
  if (request.method !== 'GET') return reject('malformed', 'the opening handshake must be a GET request');
  // RFC 6455 §4.1: "the HTTP version MUST be at least 1.1" (HTTP/1.0 has no Upgrade).
  if (Number(request.httpVersion) < 1.1) return reject('malformed', 'the opening handshake must be HTTP/1.1 or later');
  const { headers } = request;
  if (!hasToken(headers.upgrade, 'websocket')) return reject('malformed', 'missing or invalid Upgrade header');
  if (!hasToken(headers.connection, 'upgrade')) return reject('malformed', 'missing or invalid Connection header');
  const key = single(headers['sec-websocket-key']);
  if (key === undefined || !keyPattern.test(key.trim())) return reject('malformed', 'missing or invalid Sec-WebSocket-Key');
  const version = single(headers['sec-websocket-version']);
  if (version === undefined) return reject('malformed', 'missing Sec-WebSocket-Version');
  if (version.trim() !== '13') return reject('version', 'unsupported WebSocket version; this server speaks version 13');
  if (!limits.originAllowed(single(headers.origin), single(headers.host))) {
    return reject('origin', 'Origin not allowed');
  }
  if (limits.draining) return reject('draining', 'server is shutting down', limits.retryAfterMs);
  if (limits.connections >= limits.maxConnections) return capacityRefusal(limits.retryAfterMs);
  if (limits.behind) return busyRefusal(limits.busyRetryAfterMs);
  if (!limits.admitted) return rateRefusal(limits.retryAfterMs);
  return { accept: true };
}

/**
 * The Origin rule. With an allow-list (the recommended setting), a browser page is let in only
 * from an origin on it: the Host header is not trusted, so a DNS-rebinding page (whose Host and
 * Origin are both the attacker's name) is refused. Without one, a page on the same origin
 * (Origin's host equals Host) is allowed. A non-browser client (no Origin header) is always
 * allowed; `'*'` allows every origin. Cross-site WebSocket hijacking relies on the browser
 * sending cookies from another site's page; checking Origin is the defence (RFC 6455 §10.2).
 */
export function makeOriginRule(allowed: readonly string[] | '*'): (origin: string | undefined, host: string | undefined) => boolean {
  if (allowed === '*') return () => true;
  const set = new Set(allowed.map((o) => o.toLowerCase().replace(/\/$/, '')));
  return (origin, host) => {
    if (origin === undefined) return true;
    const normalized = origin.toLowerCase();
    if (set.size > 0) return set.has(normalized);
    if (host === undefined) return false;
    try {
      return new URL(normalized).host === host.toLowerCase();
    } catch {
      return false;
    }
  };
}
