/**
 * `lifeline/server`: the Node WebSocket server with the whole connection lifecycle managed.
 * @packageDocumentation
 */
export { createServer, LifelineServer, type CloseServerOptions, type ListenInfo, type ServerEvents, type ServerState } from './server.js';
export { Connection, type CloseReport, type ConnectionState, type SendFailure, type SendResult } from './connection.js';
export type { AuthRequest, AuthResult, Authenticate, DeflateOptions, ResolvedServerOptions, ServerOptions } from './options.js';
export { ServerStats } from './stats.js';
export { CloseCode, closeCodes, describeCloseCode, isSendableCloseCode, type CloseAction, type CloseCodeInfo } from '../core/close-codes.js';
export { formatRetryHint, parseRetryHint, type RetryHint } from '../core/retry-hint.js';
export type { Envelope } from '../core/envelope.js';
export type { HandshakeRejection, RejectionKind } from '../core/handshake-policy.js';
export * from '../core/errors.js';
