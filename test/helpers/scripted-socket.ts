import type { OutboundData } from '../../src/core/outbound-queue.js';
import type { WebSocketConstructor, WebSocketLike } from '../../src/client/options.js';

interface CloseLike {
  code: number;
  reason: string;
  wasClean: boolean;
}

/**
 * A stand-in for the platform WebSocket, driven by the test: it lets the client's reconnect
 * policy run on a fake clock. Real-socket behaviour is covered by the integration tests.
 */
export class ScriptedSocket implements WebSocketLike {
  readyState = 0;
  protocol = '';
  extensions = '';
  bufferedAmount = 0;
  binaryType = 'blob';
  handshakeStatus: number | undefined;
  retryAfterMs: number | undefined;
  onopen: ((event: never) => void) | null = null;
  onmessage: ((event: never) => void) | null = null;
  onclose: ((event: never) => void) | null = null;
  onerror: ((event: never) => void) | null = null;
  readonly sent: OutboundData[] = [];
  closedWith: { code?: number; reason?: string } | undefined;

  constructor(
    readonly url: string,
    readonly protocols?: string | string[],
  ) {}

  send(data: OutboundData): void {
    if (this.readyState !== 1) throw new Error(`send in readyState ${this.readyState}`);
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    if (this.readyState <= 1) this.readyState = 2;
  }

  // ---- what the test does as the network / server ----
  open(): void {
    this.readyState = 1;
    (this.onopen as ((e: Event) => void) | null)?.(new Event('open'));
  }

  receive(data: string): void {
    (this.onmessage as ((e: { data: unknown }) => void) | null)?.({ data });
  }

  drop(code = 1006, reason = '', wasClean = false): void {
    this.readyState = 3;
    (this.onclose as ((e: CloseLike) => void) | null)?.({ code, reason, wasClean });
  }

  refuse(status: number, retryAfterMs?: number): void {
    this.handshakeStatus = status;
    this.retryAfterMs = retryAfterMs;
    (this.onerror as ((e: Event) => void) | null)?.(new Event('error'));
    this.drop(1006);
  }
}

/** A WebSocket class whose instances the test can reach, newest last. */
export function scriptedSockets(): { readonly WebSocket: WebSocketConstructor; readonly sockets: ScriptedSocket[]; latest(): ScriptedSocket } {
  const sockets: ScriptedSocket[] = [];
  class Scripted extends ScriptedSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      sockets.push(this);
    }
  }
  return {
    WebSocket: Scripted,
    sockets,
    latest() {
      const socket = sockets.at(-1);
      if (!socket) throw new Error('no socket was created');
      return socket;
    },
  };
}
