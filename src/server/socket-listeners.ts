import type { WebSocket } from 'ws';
import { CloseCode } from '../core/close-codes.js';
import { controlType, decodeEnvelope, type Envelope } from '../core/envelope.js';
import type { Connection } from './connection.js';

/**
 * What a socket's listeners call back into. Listeners are module-level functions bound to the
 * ws socket (`this`), so accepting a connection allocates no closures per event.
 */
export interface SocketSink {
  readonly binaryPolicy: 'allow' | 'reject';
  dispatchMessage(connection: Connection<unknown>, message: Envelope): void;
  dispatchBinary(connection: Connection<unknown>, data: Buffer): void;
  /** A message while authenticating: the credentials, or (binary) what came behind them. */
  firstMessage(connection: Connection<unknown>, message: Envelope | undefined, binary?: Buffer): void;
  invalidMessage(connection: Connection<unknown>, code: string, detail: string): void;
  socketError(connection: Connection<unknown>, error: Error): void;
  countIn(bytes: number): void;
}

/** The socket's connection, kept on the socket itself (no link record per connection); its host is the sink. */
const kLink = Symbol('lifeline.link');
type LinkedSocket = WebSocket & { [kLink]?: Connection<unknown> };

/**
 * ws closes the connection itself on these receiver errors and sends the close code RFC 6455
 * prescribes; this table (keyed by ws's documented error codes) lets the report name it.
 */
const wsErrorCloseCodes: Readonly<Record<string, number>> = {
  WS_ERR_INVALID_UTF8: CloseCode.INVALID_PAYLOAD,
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: CloseCode.MESSAGE_TOO_BIG,
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: CloseCode.MESSAGE_TOO_BIG,
  /** A message in too many fragments (ws's own limit). */
  WS_ERR_TOO_MANY_BUFFERED_PARTS: CloseCode.POLICY_VIOLATION,
};

/**
 * The close code ws sends for one of its errors: the code it attached to the error (its
 * `status-code` symbol) when there is one, else its own codes from the table, zlib's (a
 * message that does not inflate) 1007, the rest 1002.
 */
export function closeCodeOfWsError(error: Error & { code?: string }): number {
  const attached = Object.getOwnPropertySymbols(error).find((symbol) => symbol.description === 'status-code');
  const status = attached === undefined ? undefined : (error as unknown as Record<symbol, unknown>)[attached];
  if (typeof status === 'number' && status >= 1000 && status <= 4999) return status;
  const { code } = error;
  if (code === undefined) return CloseCode.PROTOCOL_ERROR;
  if (code.startsWith('Z_')) return CloseCode.INVALID_PAYLOAD;
  return wsErrorCloseCodes[code] ?? CloseCode.PROTOCOL_ERROR;
}

/** Routes the socket's events to its connection and the connection's host (the {@link SocketSink}). */
export function attachSocket(socket: WebSocket, connection: Connection<unknown>): void {
  (socket as LinkedSocket)[kLink] = connection;
  socket.on('message', socketOnMessage);
  socket.on('ping', socketOnPing);
  socket.on('pong', socketOnPong);
  socket.on('error', socketOnError);
  socket.on('close', socketOnClose);
}

function linkOf(socket: WebSocket): Connection<unknown> | undefined {
  return (socket as LinkedSocket)[kLink];
}

function socketOnMessage(this: WebSocket, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
  const connection = linkOf(this);
  if (!connection) return;
  connection.readSome();
  const sink = connection.host;
  const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  sink.countIn(buffer.length);
  connection.sawTraffic();
  if (connection.state === 'closing' || connection.state === 'closed') return;
  if (!connection.admitMessage()) {
    connection.close(CloseCode.POLICY_VIOLATION, 'message rate exceeded');
    return;
  }
  if (isBinary) {
    if (sink.binaryPolicy === 'reject') {
      connection.close(CloseCode.UNSUPPORTED_DATA, 'binary messages are not accepted');
      return;
    }
    if (connection.state === 'authenticating') {
      sink.firstMessage(connection, undefined, buffer);
      return;
    }
    sink.dispatchBinary(connection, buffer);
    return;
  }
  // ws has already validated UTF-8 (invalid text closes with 1007 before we see it).
  const text = buffer.toString('utf8');
  const control = controlType(text);
  if (control === 'pong') return;
  // A heartbeat ping is answered even before first-message credentials: it is never credentials.
  if (control === 'ping' && (connection.state === 'open' || connection.state === 'authenticating')) {
    answerPing(connection, text);
    return;
  }
  const decoded = decodeEnvelope(text);
  if (!decoded.ok) {
    sink.invalidMessage(connection, decoded.code, decoded.detail);
    return;
  }
  if (connection.state === 'authenticating') sink.firstMessage(connection, decoded.message);
  else sink.dispatchMessage(connection, decoded.message);
}

/** Application ping: answer with a pong that echoes the ping's `id`, if it had one. */
function answerPing(connection: Connection<unknown>, text: string): void {
  if (text === '{"type":"ping"}') {
    connection.send('{"type":"pong"}');
    return;
  }
  const decoded = decodeEnvelope(text);
  const id = decoded.ok ? decoded.message.id : undefined;
  connection.send(typeof id === 'string' || typeof id === 'number' ? { type: 'pong', id } : { type: 'pong' });
}

/** A protocol ping (ws's automatic pong is off: the connection answers it within its limits). */
function socketOnPing(this: WebSocket, data: Buffer): void {
  const connection = linkOf(this);
  connection?.readSome();
  connection?.pinged(data);
}

function socketOnPong(this: WebSocket): void {
  const connection = linkOf(this);
  connection?.readSome();
  connection?.sawPong();
}

function socketOnError(this: WebSocket, error: Error & { code?: string }): void {
  const connection = linkOf(this);
  if (!connection) return;
  const code = closeCodeOfWsError(error);
  connection.protocolError(code, '');
  connection.host.socketError(connection, error);
}

function socketOnClose(this: WebSocket, code: number, reason: Buffer): void {
  const connection = linkOf(this);
  if (!connection) return;
  (this as LinkedSocket)[kLink] = undefined;
  connection.socketClosed(code, reason.toString('utf8'));
}
