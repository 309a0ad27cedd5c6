/**
 * `lifeline/client`: the isomorphic client (browser entry; Node gets `./node.js`).
 * @packageDocumentation
 */
export { ReconnectingWebSocket, type SendOutcome } from './reconnecting-websocket.js';
export * from './events.js';
export type { WaitOptions } from './waiters.js';
export type { BinaryTypeName, ClientOptions, ProtocolsProvider, ResolvedClientOptions, UrlContext, UrlSource, WebSocketConstructor, WebSocketLike } from './options.js';
export { browserEnvironment, steadyEnvironment, type ClientEnvironment } from './environment.js';
export { CloseCode, closeActionOf, isSendableCloseCode, type CloseAction } from '../core/close-code.js';
export { closeCodes, closeSeverity, describeCloseCode, type CloseCodeInfo, type CloseSeverity } from '../core/close-codes.js';
export { classifyClose, type CloseDecision, type CloseInfo } from '../core/close-policy.js';
export type { ClientState } from '../core/client-state.js';
export type { HeartbeatOptions } from '../core/heartbeat.js';
export { withHeartbeat, type LinkWatch, type LinkWatchHost, type LinkWatchPlugin } from './with-heartbeat.js';
export { withPageAwareness, type PageAwareness, type PageAwarenessPlugin } from './page-awareness.js';
export type { QueueLimits, OutboundData } from '../core/outbound-queue.js';
export type { BackoffOptions } from '../core/backoff.js';
export { formatRetryHint, parseRetryHint, withRetryHints, type RetryHint, type RetryHintParser } from '../core/retry-hint.js';
export { ConnectionClosedError, InvalidCloseError, InvalidOptionError, LifelineError, type LifelineErrorCode } from '../core/errors.js';
export { LifelineClient } from './lifeline-client.js';
export type { LifelineClientOptions, LifelineClientState, LifelineClientEventMap, ReadyEvent, SessionEvent, DirectMessageEvent, LifelineStateEvent, OutboxEvent, PublishOptions, RequestOptions } from './lifeline-client-types.js';
export type { OutboxStore, OutboxEntry, OutboxSnapshot } from './outbox-store.js';
export { withOutbox, type OutboxOption } from './durable-outbox.js';
export { withTokenRefresh, type TokenRefreshOption } from './token-refresh.js';
export { IndexedDbOutboxStore } from './outbox-store-indexeddb.js';
export { Subscription, type SubscriptionState, type SubscriptionEventMap, type SubscriptionHandlers, type SubscribeOptions, type PresenceMember, type ChannelEventEvent, type SubscribedEvent, type SubscriptionStateEvent, type PresenceEvent, type SubscriptionErrorEvent, type SubscriptionRetryEvent, type SubscriptionRetry, type CaughtUpEvent } from './subscription.js';
export { ReplyError } from './reply-error.js';
export type { Position } from '../core/position.js';
export type { RewindSpec } from '../core/rewind.js';
