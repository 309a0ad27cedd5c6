import { browserEnvironment, type ClientEnvironment, type WebSocketConstructor, type WebSocketLike } from '../client/index.js';

/** What the page hears from its sockets, before the client does. */
export interface NetworkTap {
  /** The pong to the last ping came back after `ms`. */
  pong(ms: number): void;
  /** A ping got no pong: another ping went out, or the client gave up on the socket, first. */
  lost(): void;
  /** A text frame arrived (the client sees it next). */
  frame(text: string): void;
}

type Handler = ((event: never) => void) | null;

/** A ping still unanswered when its socket is given up counts as lost only if it was out this long (else it was just in flight), ms. */
const IN_FLIGHT_MS = 1000;

/**
 * The page's network, as the client sees it: a WebSocket class (handed to the client through its
 * `WebSocket` option) that times heartbeat round trips and can be silenced, and a
 * `ClientEnvironment` that reports the simulated "offline" along with the browser's own.
 *
 * Going offline here is a simulation, and the page says so: every socket open now goes silent
 * (nothing in, nothing out, as when a cable is pulled: no close event comes), the client is told
 * the device is offline, and a socket opened while offline fails at once. The client must find
 * the dead link itself, with its heartbeat, and then waits for the network instead of retrying.
 */
export class DemoNetwork {
  readonly environment: ClientEnvironment;
  readonly WebSocket: WebSocketConstructor;
  #online = true;
  readonly #live = new Set<{ silence(): void }>();
  readonly #listeners = new Set<() => void>();

  constructor(tap: NetworkTap) {
    const base = browserEnvironment();
    this.environment = {
      hidden: () => base.hidden(),
      online: () => this.#online && base.online(),
      subscribe: (onChange) => {
        const off = base.subscribe(onChange);
        this.#listeners.add(onChange);
        return () => {
          off();
          this.#listeners.delete(onChange);
        };
      },
    };
    this.WebSocket = tappedSocketClass(this, tap, this.#live);
  }

  get online(): boolean {
    return this.#online;
  }

  setOnline(online: boolean): void {
    if (online === this.#online) return;
    this.#online = online;
    if (!online) for (const socket of this.#live) socket.silence();
    for (const listener of [...this.#listeners]) listener();
  }
}

function tappedSocketClass(network: DemoNetwork, tap: NetworkTap, live: Set<{ silence(): void }>): WebSocketConstructor {
  return class TappedSocket implements WebSocketLike {
    onopen: Handler = null;
    onmessage: Handler = null;
    onclose: Handler = null;
    onerror: Handler = null;
    readonly #real: WebSocket | undefined;
    #silent = false;
    #failed = false;
    /** The client called close(): it waits for this socket's close event. */
    #closeAsked = false;
    #pingAt: number | undefined;
    #binaryType = 'arraybuffer';

    constructor(url: string, protocols?: string | string[]) {
      if (!network.online) {
        // No network: the attempt fails the way a browser reports it, with 1006 and no reason.
        this.#real = undefined;
        this.#failed = true;
        setTimeout(() => this.onclose?.({ code: 1006, reason: '', wasClean: false } as never), 0);
        return;
      }
      const real = new WebSocket(url, protocols);
      this.#real = real;
      const self = { silence: () => (this.#silent = true) };
      live.add(self);
      real.onopen = (event) => !this.#silent && this.onopen?.(event as never);
      real.onerror = (event) => !this.#silent && this.onerror?.(event as never);
      real.onclose = (event) => {
        live.delete(self);
        if (!this.#silent) this.onclose?.(event as never);
        // Silent, a socket's close never comes, except one the client asked for and waits on (the
        // Close button while offline): a browser gives up on a close handshake nobody answers and
        // reports 1006, not clean. (Withheld, the page would sit in "closing" for good.)
        else if (this.#closeAsked) this.onclose?.({ code: 1006, reason: '', wasClean: false } as never);
      };
      real.onmessage = (event: MessageEvent) => {
        if (this.#silent) return;
        const data: unknown = event.data;
        if (typeof data === 'string') this.#inbound(data);
        this.onmessage?.(event as never);
      };
    }

    get readyState(): number {
      return this.#real?.readyState ?? (this.#failed ? 3 : 0);
    }

    get protocol(): string {
      return this.#real?.protocol ?? '';
    }

    get extensions(): string {
      return this.#real?.extensions ?? '';
    }

    get bufferedAmount(): number {
      return this.#real?.bufferedAmount ?? 0;
    }

    get binaryType(): string {
      return this.#binaryType;
    }

    set binaryType(value: string) {
      this.#binaryType = value;
      if (this.#real && (value === 'arraybuffer' || value === 'blob')) this.#real.binaryType = value;
    }

    send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
      if (typeof data === 'string' && data.startsWith('{"type":"ping"')) {
        if (this.#pingAt !== undefined) tap.lost();
        this.#pingAt = performance.now();
      }
      // Silent: the bytes go nowhere, as on a dead link.
      if (!this.#silent) this.#real?.send(data as string);
    }

    close(code?: number, reason?: string): void {
      if (this.#pingAt !== undefined && performance.now() - this.#pingAt > IN_FLIGHT_MS) tap.lost();
      this.#pingAt = undefined;
      this.#closeAsked = true;
      // The client gave up on this socket; the real one is released either way.
      this.#real?.close(code, reason);
    }

    #inbound(text: string): void {
      if (text.startsWith('{"type":"pong"') && this.#pingAt !== undefined) {
        tap.pong(performance.now() - this.#pingAt);
        this.#pingAt = undefined;
      }
      tap.frame(text);
    }
  };
}
