import { InvalidOptionError } from '../core/errors.js';
import { NodeWebSocket, type NodeWebSocketOptions } from './node-websocket.js';
import type { UrlContext, UrlSource, WebSocketConstructor } from './options.js';
import { websocketUrl } from './whatwg.js';

/**
 * What `ws` is given for every attempt of a Node client: handshake `headers` (an
 * `Authorization`, a `Cookie`), TLS (`ca`, `cert`, `key`, `servername`, `rejectUnauthorized`),
 * an `agent` (a proxy), `family`, `localAddress`, ...
 */
export type SocketOptions = NodeWebSocketOptions;

/**
 * Fixed {@link SocketOptions}, or a provider called before every attempt with the URL
 * provider's context, and awaited (a fresh token when `authRequired` says the last one was
 * refused, say).
 */
export type SocketOptionsSource = SocketOptions | ((context: UrlContext) => SocketOptions | Promise<SocketOptions>);

/**
 * The URL and the WebSocket class a Node client connects with, given its `socketOptions` and
 * `closeTimeout`: a `NodeWebSocket` that hands them to `ws` (the client's `closeTimeout` as ws's
 * own, how long a closing handshake may take before the TCP connection is cut; socket options may
 * set another). A provider runs beside the URL provider (the URL
 * becomes one when it was fixed, checked here first as the constructor would): it may be async,
 * and a provider that throws or rejects fails the attempt as a URL provider's failure does
 * (an `error` event, then a retry).
 */
export function nodeSocket(url: UrlSource, source: SocketOptionsSource | undefined, WebSocket: WebSocketConstructor | undefined, closeTimeout?: number): { url: UrlSource; WebSocket: WebSocketConstructor } {
  if (source === undefined && (WebSocket !== undefined || closeTimeout === undefined)) return { url, WebSocket: WebSocket ?? NodeWebSocket };
  if (WebSocket !== undefined) throw new InvalidOptionError('socketOptions', 'not with a WebSocket class of your own (give it its options itself)');
  if (source !== undefined && typeof source !== 'function' && (typeof source !== 'object' || source === null)) throw new InvalidOptionError('socketOptions', 'must be ws client options or a function returning them');
  let current: SocketOptions | undefined = typeof source === 'function' ? undefined : source;
  class Configured extends NodeWebSocket {
    constructor(target: string, protocols?: string | string[]) {
      super(target, protocols, { closeTimeout, ...current });
    }
  }
  if (typeof source !== 'function') return { url, WebSocket: Configured };
  if (typeof url !== 'function') websocketUrl(url);
  return {
    WebSocket: Configured,
    url: async (context) => {
      const [target, options] = await Promise.all([typeof url === 'function' ? url(context) : url, source(context)]);
      current = options;
      return target;
    },
  };
}
