import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { judgeHandshake, makeOriginRule, reject, type HandshakeRejection } from '../core/handshake-policy.js';
import { requestUrl } from './handshake.js';

/**
 * The one place a refused handshake becomes bytes: a complete HTTP/1.1 response with a short
 * plain-text body, then the socket is ended (RFC 6455 §4.2.1: "the server MUST ... return an
 * appropriate HTTP error code").
 */
export function writeRejection(socket: Duplex, rejection: HandshakeRejection): void {
  writeResponse(socket, rejectionBytes(rejection));
}

/** A refusal's whole response, status line to body. */
export function rejectionBytes(rejection: Pick<HandshakeRejection, 'status' | 'message' | 'headers'>): Buffer {
  const { body, headers } = responseOf(rejection);
  const lines = [`HTTP/1.1 ${rejection.status} ${STATUS_CODES[rejection.status] ?? 'Error'}`, ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'utf8');
}

let connectRefusal: Buffer | undefined;

/**
 * Answers a CONNECT request: 501, this server is no proxy. Node hands CONNECT to the server's
 * 'connect' event, never to the request handler, and without a listener drops the socket with
 * no answer at all.
 */
export function refuseConnect(socket: Duplex): void {
  socket.on('error', () => socket.destroy()); // a peer gone before the answer is nothing to report
  connectRefusal ??= rejectionBytes({ status: 501, message: 'CONNECT is not supported: this server is not a proxy', headers: {} });
  writeResponse(socket, connectRefusal);
}

/** Writes a complete response and ends the socket. */
export function writeResponse(socket: Duplex, bytes: Buffer): void {
  if (socket.destroyed) return;
  socket.end(bytes);
  // A peer that never reads must not hold the socket open: end() flushes, destroySoon-like.
  socket.once('finish', () => socket.destroy());
}

/**
 * The responses of the refusals a flood gets (over capacity, over the admission rate), built
 * once per status, message and `Retry-After` value: refusing the next handshake of a flood
 * writes bytes that already exist.
 */
export class PreparedRejections {
  readonly #bytes = new Map<string, Buffer>();

  bytesOf(rejection: HandshakeRejection): Buffer {
    const key = `${rejection.status} ${rejection.message} ${rejection.headers['Retry-After'] ?? ''}`;
    let bytes = this.#bytes.get(key);
    if (bytes === undefined) {
      bytes = rejectionBytes(rejection);
      this.#bytes.set(key, bytes);
    }
    return bytes;
  }
}

function responseOf(rejection: Pick<HandshakeRejection, 'message' | 'headers'>): { body: string; headers: Record<string, string> } {
  const body = `${rejection.message}\n`;
  return {
    body,
    headers: {
      Connection: 'close',
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(body)),
      ...rejection.headers,
    },
  };
}

const anyOrigin = makeOriginRule('*');

/**
 * A plain HTTP request (no `Upgrade`) on a WebSocket endpoint path reaches Node's request
 * handler, not 'upgrade'. It is a malformed opening handshake, so it gets the handshake judge's
 * answer (400, or 426 for a wrong version), whoever handles the server's other requests.
 * @returns true when the request was on an endpoint path and has been answered.
 */
export function answerEndpointRequest(request: IncomingMessage, response: ServerResponse, paths: readonly string[]): boolean {
  const url = requestUrl(request);
  if (!paths.includes(url.pathname)) return false;
  const decision = judgeHandshake(
    { method: request.method ?? '', httpVersion: request.httpVersion, path: url.pathname, headers: request.headers },
    { paths, originAllowed: anyOrigin, draining: false, connections: 0, maxConnections: Infinity, behind: false, admitted: true, retryAfterMs: 0, busyRetryAfterMs: 0 },
  );
  const rejection = decision.accept ? reject('malformed', 'missing or invalid Upgrade header') : decision;
  const { body, headers } = responseOf(rejection);
  response.writeHead(rejection.status, headers).end(body);
  return true;
}
