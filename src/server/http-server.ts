import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { answerEndpointRequest, refuseConnect } from './http-rejection.js';

/**
 * The http server Lifeline owns when it is not attached to the app's. A request whose headers
 * do not complete within `handshakeTimeout` is dropped by Node (408) before it ever becomes an
 * upgrade: the slowloris defence for the header phase. A plain request whose body has not
 * arrived within `httpRequestTimeout` is dropped the same way (a trickled body holds no socket
 * for long). A CONNECT request is answered 501 (Node would drop it unanswered).
 */
export function createEndpointServer(options: {
  readonly handshakeTimeout: number;
  readonly httpRequestTimeout: number;
  readonly paths: readonly string[];
  readonly onRequest: ((request: IncomingMessage, response: ServerResponse) => void) | undefined;
}): Server {
  const { handshakeTimeout, httpRequestTimeout, paths, onRequest } = options;
  const server = createServer(
    {
      headersTimeout: handshakeTimeout,
      // Node wants the whole-request deadline at least as long as the headers' one.
      requestTimeout: Math.max(handshakeTimeout, httpRequestTimeout),
      connectionsCheckingInterval: Math.min(1000, handshakeTimeout),
    },
    (request, response) => {
      // Node routes a request without `Upgrade` + `Connection: upgrade` here, not to 'upgrade':
      // on an endpoint path that is a malformed handshake, answered as one.
      if (answerEndpointRequest(request, response, paths)) return;
      if (onRequest) onRequest(request, response);
      else response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
    },
  );
  server.on('connect', (_request: IncomingMessage, socket: Duplex) => refuseConnect(socket));
  return server;
}
