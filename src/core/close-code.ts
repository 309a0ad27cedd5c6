/**
 * Close codes as the client needs them: their numbers, whether one may be sent, and what the
 * reconnecting client does after each. The human descriptions live in `close-codes.ts`, which
 * builds on this, so a browser bundle carries the policy without the prose.
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

/** Codes after which the client stops for good: retrying cannot help (a protocol or data error, forbidden). */
const fatalCodes = [1002, 1003, 1007, 1008, 1009, 1010, 1015, 4403];

/**
 * The client's action after `code`: stop after 1000, 1001 and 4001 (kicked), refresh the
 * credentials after 4000 and 4401, stop with an error after the fatal codes above, leave other
 * 3000-4999 codes to the app, and reconnect after everything else (1005, 1006, 1011-1014,
 * 4002, 4408, 4429, 4503 and unknown codes). Written as tests rather than a table: it ships in
 * every browser bundle.
 */
export function closeActionOf(code: number): CloseAction {
  if (code === 1000 || code === 1001 || code === 4001) return 'stop';
  if (code === 4000 || code === 4401) return 'refresh-auth';
  if (fatalCodes.includes(code)) return 'fatal';
  return code >= 3000 && code <= 4999 && code !== 4002 && code !== 4408 && code !== 4429 && code !== 4503 ? 'app' : 'reconnect';
}

/** The constant name of each known close code (`NORMAL`, `AUTH_EXPIRED`, ...). */
export type CloseCodeName = keyof typeof CloseCode;

/**
 * The reconnect policy as a table: every code Lifeline knows, and the client's action after it,
 * read from {@link CloseCode} (the one list of codes; `close-codes.ts` keys the prose by its
 * names, and the compiler holds it to them).
 */
export const closeActions: Readonly<Record<number, CloseAction>> = /* @__PURE__ */ actionTable();

function actionTable(): Record<number, CloseAction> {
  return Object.fromEntries(Object.values(CloseCode).map((code) => [code, closeActionOf(code)]));
}

/**
 * May `code` be sent in a close frame? RFC 6455 §7.4: 1000-1003, 1007-1014 and 3000-4999.
 * 1004 is reserved, 1005/1006/1015 are for reporting only.
 */
export function isSendableCloseCode(code: number): boolean {
  return Number.isInteger(code) && ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999));
}
