/**
 * WebSocket close codes as data: their names, what they mean to a person, whether they may be
 * sent in a close frame, and what a Lifeline client does when it sees them.
 *
 * RFC 6455 §7.4.1 defines 1000-1015; 1005, 1006 and 1015 are reserved for reporting and MUST
 * NOT be sent in a close frame (§7.4.1, §7.1.5). 3000-3999 are registered for libraries and
 * 4000-4999 are private use (§7.4.2). Lifeline's own codes live in 4000-4999 and mirror the
 * HTTP status they stand for where one exists (4401, 4403, 4429, 4503).
 */

import { CloseCode, closeActionOf, isSendableCloseCode, type CloseAction, type CloseCodeName } from './close-code.js';

export { CloseCode, closeActionOf, closeActions, isSendableCloseCode, type CloseAction, type CloseCodeName } from './close-code.js';

export interface CloseCodeInfo {
  readonly code: number;
  readonly name: string;
  readonly meaning: string;
  /** May this code appear in a close frame on the wire? */
  readonly sendable: boolean;
  readonly action: CloseAction;
}

/** Names and meanings, for people (logs, the CLI, the demo page and the docs): one per entry of the close-code table. */
const descriptions: { readonly [N in CloseCodeName]: readonly [name: string, meaning: string] } = {
  NORMAL: ['normal closure', 'the connection did what it was for and was closed on purpose'],
  GOING_AWAY: ['going away', 'the peer is going away (server shutting down or page navigating away)'],
  PROTOCOL_ERROR: ['protocol error', 'a peer broke the WebSocket protocol; a client bug, not a network problem'],
  UNSUPPORTED_DATA: ['unsupported data', 'the peer sent a kind of data this endpoint does not accept (e.g. binary on a text-only endpoint)'],
  NO_STATUS: ['no status received', 'the close frame carried no code (never sent on the wire)'],
  ABNORMAL: ['abnormal closure', 'the connection dropped without a close handshake (network loss, crash, or killed); never sent on the wire'],
  INVALID_PAYLOAD: ['invalid payload', 'a text message was not valid UTF-8, or data was inconsistent with its type'],
  POLICY_VIOLATION: ['policy violation', 'the peer broke a policy of the endpoint (rate limit, repeated invalid messages)'],
  MESSAGE_TOO_BIG: ['message too big', 'a message exceeded the size limit'],
  MANDATORY_EXTENSION: ['mandatory extension', 'the client required an extension the server did not negotiate'],
  INTERNAL_ERROR: ['internal error', 'the server hit an unexpected condition; try again'],
  SERVICE_RESTART: ['service restart', 'the server is restarting; reconnect (after the retry hint, if any)'],
  TRY_AGAIN_LATER: ['try again later', 'the server is overloaded; reconnect later (after the retry hint, if any)'],
  BAD_GATEWAY: ['bad gateway', 'a gateway or proxy got a bad answer from upstream; try again'],
  TLS_HANDSHAKE: ['TLS handshake failure', 'the TLS handshake failed (never sent on the wire)'],
  AUTH_EXPIRED: ['auth expired', 'the session credentials expired; get a fresh token and reconnect'],
  KICKED: ['kicked', 'the server disconnected this client on purpose; do not reconnect'],
  SLOW_CONSUMER: ['slow consumer', 'the client fell behind its outbound budget; reconnect and catch up from history'],
  UNAUTHORIZED: ['unauthorized', 'authentication required or failed; get credentials and reconnect'],
  FORBIDDEN: ['forbidden', 'the server refuses this client (e.g. Origin not allowed); do not retry'],
  TIMEOUT: ['timeout', 'the link was declared dead (heartbeat or connect timeout); reconnect'],
  RATE_LIMITED: ['rate limited', 'too many connection attempts; retry after the hint'],
  UNAVAILABLE: ['unavailable', 'the server is over capacity or draining; retry after the hint'],
};

/** Every code Lifeline knows, in code order. */
export const closeCodes: readonly CloseCodeInfo[] = (Object.entries(descriptions) as [CloseCodeName, readonly [string, string]][])
  .map(([constant, [name, meaning]]) => {
    const code = CloseCode[constant];
    return { code, name, meaning, sendable: isSendableCloseCode(code), action: closeActionOf(code) };
  })
  .sort((a, b) => a.code - b.code);

const byCode = new Map<number, CloseCodeInfo>(closeCodes.map((info) => [info.code, info]));

/** Information about a close code; unknown codes get a generic description by range. */
export function describeCloseCode(code: number): CloseCodeInfo {
  const known = byCode.get(code);
  if (known) return known;
  const [name, meaning] =
    code >= 4000 && code <= 4999
      ? ['application code', 'an application-defined close code']
      : code >= 3000 && code <= 3999
        ? ['registered code', 'a code registered for a library or framework']
        : ['unknown code', 'a code outside the ranges RFC 6455 allows'];
  return { code, name, meaning, sendable: isSendableCloseCode(code), action: closeActionOf(code) };
}

/**
 * How much a close matters to whoever runs the server: `normal` (1000, 1001, a close without a
 * code), `expected` (a close the protocol plans for: credentials expired, kicked, a restart, a
 * slow consumer, timeouts, app codes), `abnormal` (no close handshake, or the server failed:
 * 1011, 1014) and `fatal` (a code after which the client gives up: a protocol or policy breach).
 */
export type CloseSeverity = 'normal' | 'expected' | 'abnormal' | 'fatal';

/** The severity of a close, from the close-code table (and whether the handshake completed). */
export function closeSeverity(code: number, wasClean: boolean): CloseSeverity {
  if (!wasClean) return 'abnormal';
  if (code === 1000 || code === 1001 || code === 1005) return 'normal';
  if (code === 1011 || code === 1014) return 'abnormal';
  return closeActionOf(code) === 'fatal' ? 'fatal' : 'expected';
}

/** The log level each severity is logged at: fatal and abnormal at warn, expected at info. */
export const closeLogLevels: Readonly<Record<CloseSeverity, 'debug' | 'info' | 'warn'>> = {
  normal: 'debug',
  expected: 'info',
  abnormal: 'warn',
  fatal: 'warn',
};
