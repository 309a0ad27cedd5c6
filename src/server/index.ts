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
export { RequestError } from './protocol/request-error.js';
export type { RequestContext, RequestHandler, ChannelHooks, HookVerdict } from './protocol/hub.js';
export type { ChannelOptions, ChannelsConfig } from './protocol/channels.js';
export type { HistoryOptions, HistoryPage } from './protocol/history.js';
export { silentLogger, type LifelineLogger } from '../core/logger.js';
export { PROTOCOL } from '../protocol/protocol-name.js';
export { MemoryBroker, type MemoryBrokerOptions } from '../broker/memory-broker.js';
export type { Broker, ChannelEvent, ControlNotice, DirectListener, DirectMessage, HistoryPolicy, ImmediateExchanges, KeyOrigin, PresenceMember, PublishOrigin, Recovery, SessionOrigin, SessionRecord, Unsubscribe } from '../broker/broker.js';
export type { Position } from '../core/position.js';
export type { RequestWindow, RequestWindowState, WindowVerdict } from '../core/request-window.js';
