import { STATUS_CODES } from 'node:http';
import type { CloseAction } from '../core/close-code.js';
import { classifyClose } from '../core/close-policy.js';

/**
 * A refused opening handshake explained: what the HTTP status means for a WebSocket endpoint
 * (the handshake table of RFC 6455 §4.2.1 and the server's own refusals) and what a client
 * should do. The decision itself is the client's: `classifyClose` with the status, so the
 * advice printed here is what a Lifeline client actually does.
 */
export interface RefusalInfo {
  readonly status: number;
  /** `Service Unavailable`. */
  readonly statusText: string;
  readonly meaning: string;
  /** The reconnect policy's verdict for this status. */
  readonly action: CloseAction;
  /** What a client should do, in words. */
  readonly advice: string;
}

/** Statuses a WebSocket server answers a handshake with, in words a person can act on. */
const meanings: Readonly<Record<number, string>> = {
  400: 'the server found the opening handshake malformed (not a GET, or a missing or invalid Upgrade, Connection or Sec-WebSocket-Key header)',
  401: 'authentication is required, or the credentials sent were refused',
  403: 'the server refuses this client: its Origin is not allowed (cross-site hijacking defence) or its credentials lack permission',
  404: 'there is no WebSocket endpoint at this path',
  408: 'the opening handshake took too long to arrive (a slow or lossy link)',
  426: 'the server speaks another WebSocket version (see Sec-WebSocket-Version), or this URL wants a protocol upgrade the request did not ask for',
  429: 'too many connection attempts from this client',
  503: 'the server is over capacity, shutting down, or limiting how fast new connections are admitted',
};

const advice: Readonly<Record<CloseAction, string>> = {
  'refresh-auth': 'get fresh credentials (a new token: --token, or a header: --header), then connect again',
  reconnect: 'come back later: wait as long as Retry-After says (if sent), then retry with backoff; a Lifeline client does this by itself',
  fatal: 'do not retry: the same request fails the same way; fix the URL, the client or the proxy in between',
  stop: 'nothing to do',
  app: 'the application decides',
};

/** Tailored advice where the status says more than its action does. */
const specific: Readonly<Record<number, string>> = {
  403: 'do not retry as is: send an allowed Origin (--origin) or credentials with the right permission',
  404: 'do not retry: check the path of the URL (a Lifeline server serves /ws by default)',
  426: 'do not retry: the client must speak the version the server names in Sec-WebSocket-Version (13 is the standard one)',
};

/** A status by its class, for codes the table does not list. */
function genericMeaning(status: number): string {
  if (status >= 200 && status < 300) return 'the server answered like an ordinary web page, not with 101 Switching Protocols: this URL is not a WebSocket endpoint';
  if (status >= 300 && status < 400) return 'the endpoint redirects elsewhere (see the Location header); WebSocket clients do not follow redirects by default';
  if (status >= 400 && status < 500) return 'the server refused the request as a client error';
  if (status >= 500 && status < 600) return 'the server (or a proxy in front of it) failed to handle the handshake';
  return 'the server answered with a status outside the HTTP ranges';
}

export function describeRefusal(status: number): RefusalInfo {
  const { action } = classifyClose({ code: 1006, reason: '', wasClean: false, local: 'handshake-refused', status });
  const redirect = status >= 300 && status < 400;
  return {
    status,
    statusText: STATUS_CODES[status] ?? 'Unknown',
    meaning: meanings[status] ?? genericMeaning(status),
    action,
    advice: specific[status] ?? (redirect ? 'connect to the URL in the Location header instead' : advice[action]),
  };
}
