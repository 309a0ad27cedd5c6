import * as nodeHttp from 'node:http';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { hasToken } from '../core/handshake-policy.js';
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
  /** Answers not finished yet, for {@link endKeepAlive}. */
  const inFlight = new Set<ServerResponse>();
  const server = createServer(
    {
      headersTimeout: handshakeTimeout,
      // Node wants the whole-request deadline at least as long as the headers' one.
      requestTimeout: Math.max(handshakeTimeout, httpRequestTimeout),
      connectionsCheckingInterval: Math.min(1000, handshakeTimeout),
    },
    (request, response) => {
      // Closing (no longer listening): the answer ends its connection, which a client would
      // otherwise keep for its next request (and the close wait for the keep-alive timeout).
      if (!server.listening) response.shouldKeepAlive = false;
      else {
        inFlight.add(response);
        response.once('close', () => inFlight.delete(response));
      }
      // Node routes a request without `Upgrade` + `Connection: upgrade` here, not to 'upgrade':
      // on an endpoint path that is a malformed handshake, answered as one.
      if (answerEndpointRequest(request, response, paths)) return;
      if (onRequest) onRequest(request, response);
      else response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
    },
  );
  server.on('connect', (_request: IncomingMessage, socket: Duplex) => refuseConnect(socket));
  inFlightAnswers.set(server, inFlight);
  return server;
}

/** Per server Lifeline made, its answers not finished yet. */
const inFlightAnswers = new WeakMap<Server, Set<ServerResponse>>();

/**
 * At shutdown, once `server` stopped listening: the answers still to come end their connections
 * (`Connection: close`) instead of keeping them for another request. Node's `close()` ends only
 * the connections idle when it is called; one whose answer came later stayed open until its
 * keep-alive timeout (5 s), and a client reusing it held the shutdown until the drain deadline.
 * Answers whose head is out already are left as they are.
 */
export function endKeepAlive(server: Server): void {
  for (const response of inFlightAnswers.get(server) ?? []) if (!response.headersSent) response.shouldKeepAlive = false;
}

/** Whether an upgrade request asks for WebSocket (else it names another protocol: `h2c`, ...). */
export function upgradesToWebSocket(request: IncomingMessage): boolean {
  return hasToken(request.headers.upgrade, 'websocket');
}

/**
 * Serves an upgrade to another protocol than WebSocket as the plain HTTP/1.1 request it also is
 * (a server may ignore an Upgrade it does not take, RFC 9110 §7.8): `Upgrade: h2c` from
 * `curl --http2` or Java's HttpClient on `http://`. Node hands every request carrying an Upgrade
 * to the 'upgrade' listener once there is one, so such a request never reached the request
 * handler. Its head goes back in front of the socket without the upgrade, and the socket to
 * Node's own HTTP handling of the server again: the request handler gets it with its body,
 * deadlines and keep-alive as any other. Only that listener is run, not the server's
 * 'connection' event: the app's own listeners on its server (attached) have seen this socket
 * once already. Only for a plain (not TLS) `http.Server`.
 */
export function serveWithoutUpgrade(server: Server, request: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.unshift(Buffer.concat([headWithoutUpgrade(request), head]));
  if (httpConnectionListener) httpConnectionListener.call(server, socket);
  else server.emit('connection', socket); // a runtime without it: every listener, as before
}

/**
 * Node's listener that reads HTTP from a server's connection (the one `http.Server` adds to its
 * own 'connection' event), exported by `node:http` since its first versions, though
 * undocumented.
 */
const httpConnectionListener = (nodeHttp as unknown as { readonly _connectionListener?: (this: Server, socket: Duplex) => void })._connectionListener;

/** The request line and headers as received (Node reads them as latin1), less the upgrade. */
function headWithoutUpgrade(request: IncomingMessage): Buffer {
  const lines = [`${request.method ?? 'GET'} ${request.url ?? '/'} HTTP/${request.httpVersion}`];
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (lower === 'upgrade') continue;
    if (lower === 'connection') {
      const tokens = value.split(',').map((token) => token.trim()).filter((token) => token !== '' && token.toLowerCase() !== 'upgrade');
      if (tokens.length > 0) lines.push(`${name}: ${tokens.join(', ')}`);
      continue;
    }
    lines.push(`${name}: ${value}`);
  }
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}
