import type { ClientRequest, IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { parseRetryAfterHeader } from '../core/retry-hint.js';

/** How long a closing handshake may take, ms: the client's `closeTimeout` default (options.ts), not ws's 30 s. */
const defaultCloseTimeout = 5_000;

/** Keep this much of a refusal's body: the server's reason fits easily. */
const BODY_LIMIT = 512;

/** `ws`'s client options, with the one its types do not name yet (ws >= 8.23 reads it). */
export type NodeWebSocketOptions = WebSocket.ClientOptions & {
  /** How long a closing handshake may take before the TCP connection is cut, ms. Default 5 000 (ws's own: 30 000). */
  readonly closeTimeout?: number;
};

/**
 * `ws`'s WebSocket, plus what a browser cannot see: the HTTP status, Retry-After and reason
 * (the start of the body) of a refused handshake, so a Node client can tell 401 (refresh
 * credentials) from 503 (come back later) from 403/404/426 (give up), and say why.
 */
export class NodeWebSocket extends WebSocket {
  handshakeStatus: number | undefined;
  retryAfterMs: number | undefined;
  /** The refusal's body, trimmed (servers put their reason there); set before the close is reported. */
  handshakeReason: string | undefined;

  /** `options.closeTimeout` defaults to the client's (5 s), not ws's 30 s. */
  constructor(url: string | URL, protocols?: string | string[], options?: NodeWebSocketOptions) {
    super(url, protocols, withCloseTimeout(options));
    this.on('unexpected-response', onUnexpectedResponse);
    this.on('error', onFailed);
  }

  /**
   * The client has closed this socket and waits for nothing from it: the process need not wait
   * either. After `close()`, ws keeps the TCP socket and a timer of up to 5 s (its
   * `closeTimeout`) for the server's answer, which a dead link never sends; both stop holding the
   * process. (ws's own fields: it has no public way to do this.)
   */
  unref(): void {
    const internals = this as unknown as { _socket?: { unref(): void } | null; _closeTimer?: { unref?(): void } | null };
    internals._socket?.unref();
    internals._closeTimer?.unref?.();
  }
}

/** `options` with the client's default `closeTimeout` where they set none (ws's types do not name it yet). */
function withCloseTimeout(options: NodeWebSocketOptions | undefined): WebSocket.ClientOptions {
  const settings: NodeWebSocketOptions = { ...options, closeTimeout: options?.closeTimeout ?? defaultCloseTimeout };
  return settings;
}

/**
 * An error while open or closing fails the connection (RFC 6455 §7.1.7): a malformed frame from
 * the server makes ws send a 1002/1007 close and stop reading, then wait up to closeTimeout for the
 * server to end the TCP connection; a server that sends garbage rarely does. The link is over,
 * so the socket is ended now: the client reports the close (1006, the error's message as the
 * error event's cause) and reconnects at once instead of sitting "open" meanwhile.
 */
function onFailed(this: WebSocket): void {
  if (this.readyState === WebSocket.CLOSING) this.terminate();
}

function onUnexpectedResponse(this: WebSocket, _request: ClientRequest, response: IncomingMessage): void {
  const socket = this as NodeWebSocket;
  socket.handshakeStatus = response.statusCode;
  // An HTTP-date Retry-After is wall-clock time, so it is read against the wall clock.
  // eslint-disable-next-line no-restricted-properties
  socket.retryAfterMs = parseRetryAfterHeader(response.headers['retry-after'], Date.now());
  let body = '';
  let done = false;
  const finish = (): void => {
    if (done) return;
    done = true;
    const reason = body.slice(0, BODY_LIMIT).trim();
    if (reason !== '') socket.handshakeReason = reason;
    response.resume();
    // Aborts the handshake; ws then reports an error and a 1006 close like any failed connect.
    socket.terminate();
  };
  // A body that never ends is cut by the client's connect timeout, which aborts the request.
  response.setEncoding('utf8');
  response.on('data', (chunk: string) => {
    body += chunk;
    if (body.length >= BODY_LIMIT) finish();
  });
  response.once('end', finish);
  response.once('error', finish);
  response.once('close', finish);
}
