/**
 * `lifeline/client` on Node: the same API, with `ws` as the default WebSocket so refused
 * handshakes report their HTTP status and Retry-After.
 * @packageDocumentation
 */
import { ReconnectingWebSocket as BaseReconnectingWebSocket } from './reconnecting-websocket.js';
import { LifelineClient as BaseLifelineClient } from './lifeline-client.js';
import type { LifelineClientOptions } from './lifeline-client-types.js';
import { withOutbox, type OutboxOption } from './durable-outbox.js';
import { withTokenRefresh, type TokenRefreshOption } from './token-refresh.js';
import type { OutboxStore } from './outbox-store.js';
import type { ClientOptions, ProtocolsProvider, UrlSource } from './options.js';
import { nodeSocket, type SocketOptionsSource } from './node-socket-options.js';

export * from './index.js';
export { NodeWebSocket } from './node-websocket.js';
export { FileOutboxStore } from './outbox-store-file.js';
export { MemoryOutboxStore } from './outbox-store.js';
export type { SocketOptions, SocketOptionsSource } from './node-socket-options.js';

/** What the Node entry adds to a client's options. */
export interface NodeSocketOptions {
  /**
   * What `ws` is given for every attempt (headers, TLS, an agent), or a provider of it called
   * before every attempt with the URL provider's context (may be async). Not with `WebSocket`.
   */
  readonly socketOptions?: SocketOptionsSource;
}

/** The Node entry's {@link ReconnectingWebSocket} options. */
export type NodeClientOptions = ClientOptions & NodeSocketOptions;

/** {@link BaseReconnectingWebSocket} with `ws` underneath by default. */
export class ReconnectingWebSocket extends BaseReconnectingWebSocket {
  constructor(url: UrlSource, protocols?: string | string[] | ProtocolsProvider, { socketOptions, ...options }: NodeClientOptions = {}) {
    const socket = nodeSocket(url, socketOptions, options.WebSocket, options.closeTimeout);
    super(socket.url, protocols, { ...options, WebSocket: socket.WebSocket });
  }
}

/**
 * The Node entry's options: `outbox` also takes any {@link OutboxStore} as it is, `refreshToken`
 * the token provider as it is (bundle size is no concern here).
 */
export interface NodeLifelineClientOptions extends Omit<LifelineClientOptions, 'outbox' | 'refreshToken'>, NodeSocketOptions {
  readonly outbox?: OutboxOption | OutboxStore;
  readonly refreshToken?: TokenRefreshOption | (() => Promise<string>);
}

/** {@link BaseLifelineClient} with `ws` underneath by default. */
export class LifelineClient extends BaseLifelineClient {
  constructor(url: UrlSource, { outbox, refreshToken, socketOptions, ...options }: NodeLifelineClientOptions = {}) {
    const socket = nodeSocket(url, socketOptions, options.WebSocket, options.closeTimeout);
    super(socket.url, {
      ...options,
      WebSocket: socket.WebSocket,
      outbox: outbox && ('attach' in outbox ? outbox : withOutbox(outbox)),
      refreshToken: typeof refreshToken === 'function' ? withTokenRefresh(refreshToken) : refreshToken,
    });
  }
}
