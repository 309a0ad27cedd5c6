import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { answerEndpointRequest } from './http-rejection.js';

/**
 * The http server Lifeline owns when it is not attached to the app's. A request whose headers
 * do not complete within `handshakeTimeout` is dropped by Node (408) before it ever becomes an
 * upgrade: the slowloris defence for the header phase.
 */
export function createEndpointServer(options: {
  readonly handshakeTimeout: number;
  readonly paths: readonly string[];
  readonly onRequest: ((request: IncomingMessage, response: ServerResponse) => void) | undefined;
}): Server {
  const { handshakeTimeout, paths, onRequest } = options;
  return createServer(
    {
      headersTimeout: handshakeTimeout,
      requestTimeout: Math.max(handshakeTimeout, 300_000),
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
}
