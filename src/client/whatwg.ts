/**
 * The WHATWG `WebSocket` surface that `ReconnectingWebSocket` copies: the argument steps of the
 * constructor and of `close()` (a bad URL, subprotocol list or close code throws at once, as it
 * does for the platform's own `WebSocket`), the readyState constants and the on* handler
 * attributes.
 */
import { InvalidCloseError } from '../core/errors.js';
import { utf8ByteLength } from '../core/utf8.js';
import { TypedEventTarget } from './typed-event-target.js';

/** A `SyntaxError` `DOMException` (every supported platform has one: browsers, Node >= 17). */
function syntaxError(message: string): Error {
  return new DOMException(message, 'SyntaxError');
}

/** The serialized URL to connect to (`http:`/`https:` become `ws:`/`wss:`), or a SyntaxError. */
export function websocketUrl(url: string | URL): string {
  let href = '';
  try {
    // http: and https: become ws: and wss: (the scheme keeps its "s").
    href = new URL(url, (globalThis as { location?: { href: string } }).location?.href).href.replace(/^http(s?:)/, 'ws$1');
  } catch {
    // reported below
  }
  if (!/^wss?:[^#]*$/.test(href)) throw syntaxError(`invalid WebSocket URL: ${String(url)}`);
  return href;
}

/**
 * The subprotocol list as WHATWG converts it (a string or a sequence of strings; `null`
 * becomes "null"), checked for duplicates and for characters a header token may not hold.
 */
export function subprotocols(value: unknown): string[] {
  const list = value === undefined ? [] : value && typeof value === 'object' && Symbol.iterator in value ? [...(value as Iterable<unknown>)].map(String) : [String(value)];
  if (new Set(list).size !== list.length || !list.every((p) => /^[\w!#$%&'*+.^`|~-]+$/.test(p))) throw syntaxError(`invalid subprotocols: ${list.join(', ')}`);
  return list;
}

/**
 * Throws {@link InvalidCloseError} for a code a client may not send (1000 and 3000-4999 only)
 * or a reason over 123 bytes (WHATWG `close()` steps).
 */
export function checkClose(code: number, reason: string): void {
  if ((code !== 1000 && !(code >= 3000 && code <= 4999)) || utf8ByteLength(reason) > 123) throw new InvalidCloseError(code, 'close code 1000 or 3000-4999, reason <= 123 bytes');
}

/** The events every WebSocket dispatches (the DOM lib's `WebSocketEventMap`, which a Node project compiled without it lacks). */
export type SocketEventMap = Record<'open' | 'message' | 'close' | 'error', Event>;

/** An on* event handler attribute's value. */
export type EventHandler<E> = ((event: E) => void) | null;

const handlerTypes = ['open', 'message', 'close', 'error'];

/**
 * The readyState constants (read-only, on the class and its prototype) and the on* handler
 * attributes of a WebSocket, as WebIDL's [LegacyTreatNonObjectAsNull]: a non-object reads back
 * as null; an object that is not a function is kept but never called (as browsers do). The
 * handlers run as the first listeners, so a throwing handler is reported like any listener's
 * exception instead of breaking the client's own bookkeeping.
 */
export class WebSocketSurface<M extends SocketEventMap> extends TypedEventTarget<M> {
  declare static readonly CONNECTING: 0;
  declare static readonly OPEN: 1;
  declare static readonly CLOSING: 2;
  declare static readonly CLOSED: 3;
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;
  // The close and error handlers take the platform's events, with the client's own members
  // optional: the events dispatched carry them all, and a client then fits where a DOM
  // `WebSocket` is expected (its handlers are typed for a plain `CloseEvent` and `Event`).
  declare onopen: EventHandler<M['open']>;
  declare onmessage: EventHandler<M['message']>;
  declare onclose: EventHandler<Event & { readonly code: number; readonly reason: string; readonly wasClean: boolean } & Partial<M['close']>>;
  declare onerror: EventHandler<Event & Partial<M['error']>>;

  /** The on* handlers, by event type. */
  #handlers: Record<string, unknown> = {};

  static {
    const proto = this.prototype;
    const constants = Object.fromEntries(['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'].map((name, value) => [name, { value, enumerable: true }]));
    Object.defineProperties(this, constants);
    Object.defineProperties(proto, constants);
    for (const type of handlerTypes) {
      Object.defineProperty(proto, `on${type}`, {
        get(this: WebSocketSurface<SocketEventMap>) {
          return this.#handlers[type] ?? null;
        },
        set(this: WebSocketSurface<SocketEventMap>, value: unknown) {
          this.#handlers[type] = typeof value === 'function' || (typeof value === 'object' && value) ? value : null;
        },
        configurable: true,
        enumerable: true,
      });
    }
  }

  constructor() {
    super();
    for (const type of handlerTypes) {
      this.addEventListener(type, (event) => {
        const handler = this.#handlers[type];
        if (typeof handler === 'function') (handler as (event: Event) => void).call(this, event);
      });
    }
  }
}
