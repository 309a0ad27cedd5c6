import type { ClientRequest, IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { parseRetryAfterHeader } from '../core/retry-hint.js';

/**
 * `ws`'s WebSocket, plus what a browser cannot see: the HTTP status and Retry-After of a
 * refused handshake, so a Node client can tell 401 (refresh credentials) from 503 (come back
 * later) from 403/404/426 (give up).
 */
export class NodeWebSocket extends WebSocket {
  handshakeStatus: number | undefined;
  retryAfterMs: number | undefined;

  constructor(url: string | URL, protocols?: string | string[], options?: WebSocket.ClientOptions) {
    super(url, protocols, options);
    this.on('unexpected-response', onUnexpectedResponse);
  }
}

function onUnexpectedResponse(this: WebSocket, _request: ClientRequest, response: IncomingMessage): void {
  const socket = this as NodeWebSocket;
  socket.handshakeStatus = response.statusCode;
  // An HTTP-date Retry-After is wall-clock time, so it is read against the wall clock.
  // eslint-disable-next-line no-restricted-properties
  socket.retryAfterMs = parseRetryAfterHeader(response.headers['retry-after'], Date.now());
  response.resume();
  // Aborts the handshake; ws then reports an error and a 1006 close like any failed connect.
  socket.terminate();
}
