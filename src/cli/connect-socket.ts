import { randomBytes } from 'node:crypto';
import { NodeWebSocket } from '../client/node-websocket.js';
import type { WebSocketConstructor } from '../client/options.js';

/**
 * The sockets under a `connect` session. The reconnecting client makes a new socket for every
 * attempt through the constructor given here, which adds the handshake headers (`--header`,
 * `--token`) and keeps hold of the newest socket, for what the WHATWG surface cannot do: send
 * a protocol ping (RFC 6455 §5.5.2), and tell why an attempt failed (ECONNREFUSED, a status).
 */
export class SocketWatch {
  /** Give this to the client as its `WebSocket` option. */
  readonly WebSocket: WebSocketConstructor;
  #socket: NodeWebSocket | undefined;
  #error: Error | undefined;
  #headers: Record<string, string>;

  constructor(headers: Readonly<Record<string, string>>) {
    this.#headers = { ...headers };
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the class below reports to this watch
    const watch = this;
    this.WebSocket = class extends NodeWebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, { headers: { ...watch.#headers } });
        watch.#attach(this);
      }
    };
  }

  /** Sends `Authorization: Bearer TOKEN` from the next attempt on (a `--token-command`'s fresh token). */
  authorize(token: string): void {
    const headers = Object.fromEntries(Object.entries(this.#headers).filter(([name]) => name.toLowerCase() !== 'authorization'));
    this.#headers = { ...headers, Authorization: `Bearer ${token}` };
  }

  /** The socket of the current (or last) attempt. */
  get socket(): NodeWebSocket | undefined {
    return this.#socket;
  }

  /** The newest socket's last error (ws words it: `connect ECONNREFUSED 127.0.0.1:9`). */
  get lastError(): Error | undefined {
    return this.#error;
  }

  /** Sends a ping frame and resolves with the round trip in ms once its pong is back. */
  ping(timeoutMs: number): Promise<number> {
    const socket = this.#socket;
    if (!socket || socket.readyState !== NodeWebSocket.OPEN) return Promise.reject(new Error('not connected'));
    // A payload of our own, so an unsolicited pong (RFC 6455 §5.5.3 allows them) is not taken for ours.
    const payload = randomBytes(8);
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const done = (): void => {
        clearTimeout(timer);
        socket.off('pong', onPong);
        socket.off('close', onClose);
      };
      const onPong = (data: Buffer): void => {
        if (!data.equals(payload)) return;
        done();
        resolve(performance.now() - started);
      };
      const onClose = (): void => {
        done();
        reject(new Error('the connection closed before the pong came back'));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no pong within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.on('pong', onPong);
      socket.on('close', onClose);
      socket.ping(payload);
    });
  }

  #attach(socket: NodeWebSocket): void {
    this.#socket = socket;
    this.#error = undefined;
    socket.on('error', (error: Error) => {
      if (this.#socket === socket) this.#error = error;
    });
  }
}
