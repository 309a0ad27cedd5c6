/**
 * `lifeline/client` on Node: the same API, with `ws` as the default WebSocket so refused
 * handshakes report their HTTP status and Retry-After.
 * @packageDocumentation
 */
import { ReconnectingWebSocket as BaseReconnectingWebSocket } from './reconnecting-websocket.js';
import { LifelineClient as BaseLifelineClient } from './lifeline-client.js';
import type { LifelineClientOptions } from './lifeline-client-types.js';
import { NodeWebSocket } from './node-websocket.js';
import type { ClientOptions, ProtocolsProvider, UrlSource } from './options.js';

export * from './index.js';
export { NodeWebSocket } from './node-websocket.js';
export { FileOutboxStore } from './outbox-store-file.js';
export { MemoryOutboxStore } from './outbox-store.js';

/** {@link BaseReconnectingWebSocket} with `ws` underneath by default. */
export class ReconnectingWebSocket extends BaseReconnectingWebSocket {
  constructor(url: UrlSource, protocols?: string | string[] | ProtocolsProvider, options: ClientOptions = {}) {
    super(url, protocols, { WebSocket: NodeWebSocket, ...options });
  }
}

/** {@link BaseLifelineClient} with `ws` underneath by default. */
export class LifelineClient extends BaseLifelineClient {
  constructor(url: UrlSource, options: LifelineClientOptions = {}) {
    super(url, { WebSocket: NodeWebSocket, ...options });
  }
}
