/**
 * The WHATWG `WebSocket` surface that `ReconnectingWebSocket` copies: the argument steps of the
 * constructor and of `close()` (a bad URL, subprotocol list or close code throws at once, as it
 * does for the platform's own `WebSocket`), the readyState constants and the on* handler
 * attributes.
 */
import type { CloseInfo } from '../core/close-policy.js';
import { InvalidCloseError } from '../core/errors.js';
import { utf8ByteLength } from '../core/utf8.js';
import { TypedEventTarget } from './typed-event-target.js';

const NORMAL = 1000;

/** A `SyntaxError` `DOMException` where the platform has one, else a plain `SyntaxError`. */
export function syntaxError(message: string): Error {
  return typeof DOMException === 'function' ? new DOMException(message, 'SyntaxError') : new SyntaxError(message);
}

/** The serialized URL to connect to (`http:`/`https:` become `ws:`/`wss:`), or a SyntaxError. */
export function websocketUrl(url: string | URL): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url, (globalThis as { location?: { href: string } }).location?.href);
  } catch {
    // reported below
  }
  // http: and https: become ws: and wss: (the scheme keeps its "s").
  const href = parsed?.href.replace(/^http(s?:)/, 'ws$1');
  if (!href || !/^wss?:/.test(href) || href.includes('#')) throw syntaxError(`invalid WebSocket URL: ${String(url)}`);
  return href;
}

/**
 * The subprotocol list as WHATWG converts it (a string or a sequence of strings; `null`
 * becomes "null"), checked for duplicates and for characters a header token may not hold.
 */
export function subprotocols(value: unknown): string[] {
  const list =
    value === undefined ? [] : typeof value === 'object' && value !== null && Symbol.iterator in value ? [...(value as Iterable<unknown>)].map(String) : [String(value)];
  if (new Set(list).size !== list.length || !list.every((p) => /^[\w!#$%&'*+.^`|~-]+$/.test(p))) throw syntaxError(`invalid subprotocols: ${list.join(', ')}`);
  return list;
}

/** A socket's close event, as far as the client reads it. */
export interface CloseLike {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

export function closeInfo(event: CloseLike): CloseInfo {
  return { code: event.code, reason: event.reason, wasClean: event.wasClean };
}

/** Throws {@link InvalidCloseError} for a code a client may not send or a reason over 123 bytes (WHATWG `close()` steps). */
export function checkClose(code: number, reason: string): void {
  if (code !== NORMAL && !(code >= 3000 && code <= 4999)) throw new InvalidCloseError(code, `a client may close with 1000 or 3000-4999, not ${code}`);
  if (utf8ByteLength(reason) > 123) throw new InvalidCloseError(code, 'close reason over 123 bytes');
}

/** An on* event handler attribute's value. */
export type EventHandler<E> = ((event: E) => void) | null;

/**
 * The readyState constants (read-only, on the class and its prototype) and the on* handler
 * attributes of a WebSocket, as WebIDL's [LegacyTreatNonObjectAsNull]: a non-object reads back
 * as null; an object that is not a function is kept but never called (as browsers do). The
 * handlers run as the first listeners, so a throwing handler is reported like any listener's
 * exception instead of breaking the client's own bookkeeping.
 */
export class WebSocketSurface<M extends WebSocketEventMap> extends TypedEventTarget<M> {
  declare static readonly CONNECTING: 0;
  declare static readonly OPEN: 1;
  declare static readonly CLOSING: 2;
  declare static readonly CLOSED: 3;
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;
  declare onopen: EventHandler<M['open']>;
  declare onmessage: EventHandler<M['message']>;
  declare onclose: EventHandler<M['close']>;
  declare onerror: EventHandler<M['error']>;

  /** The on* handlers, by event type. */
  #handlers: Record<string, unknown> = {};

  static {
    ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'].forEach((name, value) => {
      Object.defineProperty(this, name, { value, enumerable: true });
      Object.defineProperty(this.prototype, name, { value, enumerable: true });
    });
    for (const type of ['open', 'message', 'close', 'error']) {
      Object.defineProperty(this.prototype, `on${type}`, {
        get(this: WebSocketSurface<WebSocketEventMap>) {
          return this.#handlers[type] ?? null;
        },
        set(this: WebSocketSurface<WebSocketEventMap>, value: unknown) {
          this.#handlers[type] = typeof value === 'function' || (typeof value === 'object' && value) ? value : null;
        },
        configurable: true,
        enumerable: true,
      });
    }
  }

  constructor() {
    super();
    for (const type of ['open', 'message', 'close', 'error']) {
      this.addEventListener(type, (event) => {
        const handler = this.#handlers[type];
        if (typeof handler === 'function') (handler as (event: Event) => void).call(this, event);
      });
    }
  }
}
