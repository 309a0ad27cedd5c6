import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { HandshakeRejection } from '../core/handshake-policy.js';

/**
 * The one place a refused handshake becomes bytes: a complete HTTP/1.1 response with a short
 * plain-text body, then the socket is ended (RFC 6455 §4.2.1: "the server MUST ... return an
 * appropriate HTTP error code").
 */
export function writeRejection(socket: Duplex, rejection: HandshakeRejection): void {
  if (socket.destroyed) return;
  const body = `${rejection.message}\n`;
  const lines = [
    `HTTP/1.1 ${rejection.status} ${STATUS_CODES[rejection.status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(rejection.headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
  // A peer that never reads must not hold the socket open: end() flushes, destroySoon-like.
  socket.once('finish', () => socket.destroy());
}
