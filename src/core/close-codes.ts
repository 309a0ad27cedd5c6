/**
 * WebSocket close codes as data: their names, what they mean to a person, whether they may be
 * sent in a close frame, and what a Lifeline client does when it sees them.
 *
 * RFC 6455 §7.4.1 defines 1000-1015; 1005, 1006 and 1015 are reserved for reporting and MUST
 * NOT be sent in a close frame (§7.4.1, §7.1.5). 3000-3999 are registered for libraries and
 * 4000-4999 are private use (§7.4.2). Lifeline's own codes live in 4000-4999 and mirror the
 * HTTP status they stand for where one exists (4401, 4403, 4429, 4503).
 */

/** What the reconnecting client does after a close. */
export type CloseAction =
  /** Do not reconnect: the close was intended (unless the app asks otherwise). */
  | 'stop'
  /** Reconnect with backoff (honouring a retry hint if the server sent one). */
  | 'reconnect'
  /** Do not reconnect; report as a fatal error with the reason. */
  | 'fatal'
  /** Ask the app for fresh credentials, then reconnect. */
  | 'refresh-auth'
  /** An application code: the app's handler decides; without one, reconnect. */
  | 'app';

export interface CloseCodeInfo {
  readonly code: number;
  readonly name: string;
  readonly meaning: string;
  /** May this code appear in a close frame on the wire? */
  readonly sendable: boolean;
  readonly action: CloseAction;
}

export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  NO_STATUS: 1005,
  ABNORMAL: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  MANDATORY_EXTENSION: 1010,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  BAD_GATEWAY: 1014,
  TLS_HANDSHAKE: 1015,
  /** Lifeline: the session's credentials expired; refresh them and reconnect. */
  AUTH_EXPIRED: 4000,
  /** Lifeline: the server disconnected this client on purpose (kick). */
  KICKED: 4001,
  /** Lifeline: the connection fell behind its outbound budget (slow consumer). */
  SLOW_CONSUMER: 4002,
  /** Lifeline: authentication required or failed (accept-then-close mode of a 401). */
  UNAUTHORIZED: 4401,
  /** Lifeline: forbidden, e.g. Origin not allowed (accept-then-close mode of a 403). */
  FORBIDDEN: 4403,
  /** Lifeline: the link was declared dead locally (heartbeat or connect timeout). */
  TIMEOUT: 4408,
  /** Lifeline: admission rate exceeded; retry after the hint (accept-then-close of a 503). */
  RATE_LIMITED: 4429,
  /** Lifeline: over capacity or draining; retry after the hint (accept-then-close of a 503). */
  UNAVAILABLE: 4503,
} as const;

const table: readonly CloseCodeInfo[] = [
  { code: 1000, name: 'normal closure', meaning: 'the connection did what it was for and was closed on purpose', sendable: true, action: 'stop' },
  { code: 1001, name: 'going away', meaning: 'the peer is going away (server shutting down or page navigating away)', sendable: true, action: 'stop' },
  { code: 1002, name: 'protocol error', meaning: 'a peer broke the WebSocket protocol; a client bug, not a network problem', sendable: true, action: 'fatal' },
  { code: 1003, name: 'unsupported data', meaning: 'the peer sent a kind of data this endpoint does not accept (e.g. binary on a text-only endpoint)', sendable: true, action: 'fatal' },
  { code: 1005, name: 'no status received', meaning: 'the close frame carried no code (never sent on the wire)', sendable: false, action: 'reconnect' },
  { code: 1006, name: 'abnormal closure', meaning: 'the connection dropped without a close handshake (network loss, crash, or killed); never sent on the wire', sendable: false, action: 'reconnect' },
  { code: 1007, name: 'invalid payload', meaning: 'a text message was not valid UTF-8, or data was inconsistent with its type', sendable: true, action: 'fatal' },
  { code: 1008, name: 'policy violation', meaning: 'the peer broke a policy of the endpoint (rate limit, repeated invalid messages)', sendable: true, action: 'fatal' },
  { code: 1009, name: 'message too big', meaning: 'a message exceeded the size limit', sendable: true, action: 'fatal' },
  { code: 1010, name: 'mandatory extension', meaning: 'the client required an extension the server did not negotiate', sendable: true, action: 'fatal' },
  { code: 1011, name: 'internal error', meaning: 'the server hit an unexpected condition; try again', sendable: true, action: 'reconnect' },
  { code: 1012, name: 'service restart', meaning: 'the server is restarting; reconnect (after the retry hint, if any)', sendable: true, action: 'reconnect' },
  { code: 1013, name: 'try again later', meaning: 'the server is overloaded; reconnect later (after the retry hint, if any)', sendable: true, action: 'reconnect' },
  { code: 1014, name: 'bad gateway', meaning: 'a gateway or proxy got a bad answer from upstream; try again', sendable: true, action: 'reconnect' },
  { code: 1015, name: 'TLS handshake failure', meaning: 'the TLS handshake failed (never sent on the wire)', sendable: false, action: 'fatal' },
  { code: 4000, name: 'auth expired', meaning: 'the session credentials expired; get a fresh token and reconnect', sendable: true, action: 'refresh-auth' },
  { code: 4001, name: 'kicked', meaning: 'the server disconnected this client on purpose; do not reconnect', sendable: true, action: 'stop' },
  { code: 4002, name: 'slow consumer', meaning: 'the client fell behind its outbound budget; reconnect and catch up from history', sendable: true, action: 'reconnect' },
  { code: 4401, name: 'unauthorized', meaning: 'authentication required or failed; get credentials and reconnect', sendable: true, action: 'refresh-auth' },
  { code: 4403, name: 'forbidden', meaning: 'the server refuses this client (e.g. Origin not allowed); do not retry', sendable: true, action: 'fatal' },
  { code: 4408, name: 'timeout', meaning: 'the link was declared dead (heartbeat or connect timeout); reconnect', sendable: true, action: 'reconnect' },
  { code: 4429, name: 'rate limited', meaning: 'too many connection attempts; retry after the hint', sendable: true, action: 'reconnect' },
  { code: 4503, name: 'unavailable', meaning: 'the server is over capacity or draining; retry after the hint', sendable: true, action: 'reconnect' },
];

const byCode = new Map<number, CloseCodeInfo>(table.map((info) => [info.code, info]));

/** Every code Lifeline knows, in code order. */
export const closeCodes: readonly CloseCodeInfo[] = table;

/** Information about a close code; unknown codes get a generic description by range. */
export function describeCloseCode(code: number): CloseCodeInfo {
  const known = byCode.get(code);
  if (known) return known;
  if (code >= 4000 && code <= 4999) {
    return { code, name: 'application code', meaning: 'an application-defined close code', sendable: true, action: 'app' };
  }
  if (code >= 3000 && code <= 3999) {
    return { code, name: 'registered code', meaning: 'a code registered for a library or framework', sendable: true, action: 'app' };
  }
  return { code, name: 'unknown code', meaning: 'a code outside the ranges RFC 6455 allows', sendable: false, action: 'reconnect' };
}

/**
 * May `code` be sent in a close frame? RFC 6455 §7.4: 1000-1003, 1007-1014 and 3000-4999.
 * 1004 is reserved, 1005/1006/1015 are for reporting only.
 */
export function isSendableCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 3000 && code <= 4999) return true;
  const known = byCode.get(code);
  return known !== undefined && known.sendable;
}
