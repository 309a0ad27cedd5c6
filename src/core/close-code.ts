/**
 * Close codes as the client needs them: their numbers, whether one may be sent, and what the
 * reconnecting client does after each. The human descriptions live in `close-codes.ts`, which
 * builds on this, so a browser bundle carries the policy without the prose (one table with the
 * prose in it would add about 300 bytes min+gz to a client that only reconnects). The compiler
 * holds the three tables to the same codes.
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

/** The constant name of each known close code (`NORMAL`, `AUTH_EXPIRED`, ...). */
export type CloseCodeName = keyof typeof CloseCode;

/** A close code Lifeline knows (an entry of {@link CloseCode}). */
export type KnownCloseCode = (typeof CloseCode)[CloseCodeName];

/**
 * The reconnect policy table: every code of {@link CloseCode}, and the client's action after it.
 * Its type holds it to exactly those codes (one missing or one extra does not compile), as the
 * people's table in `close-codes.ts` is held to their names: three views of one set of codes.
 */
export const closeActions: { readonly [C in KnownCloseCode]: CloseAction } = {
  1000: 'stop',
  1001: 'stop',
  1002: 'fatal',
  1003: 'fatal',
  1005: 'reconnect',
  1006: 'reconnect',
  1007: 'fatal',
  1008: 'fatal',
  1009: 'fatal',
  1010: 'fatal',
  1011: 'reconnect',
  1012: 'reconnect',
  1013: 'reconnect',
  1014: 'reconnect',
  1015: 'fatal',
  4000: 'refresh-auth',
  4001: 'stop',
  4002: 'reconnect',
  4401: 'refresh-auth',
  4403: 'fatal',
  4408: 'reconnect',
  4429: 'reconnect',
  4503: 'reconnect',
};

/** The client's action after `code`: the table, else by range (3000-4999 go to the app). */
export function closeActionOf(code: number): CloseAction {
  return (closeActions as Readonly<Record<number, CloseAction | undefined>>)[code] ?? (code >= 3000 && code <= 4999 ? 'app' : 'reconnect');
}

/**
 * May `code` be sent in a close frame? RFC 6455 §7.4: 1000-1003, 1007-1014 and 3000-4999.
 * 1004 is reserved, 1005/1006/1015 are for reporting only.
 */
export function isSendableCloseCode(code: number): boolean {
  return Number.isInteger(code) && ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999));
}
