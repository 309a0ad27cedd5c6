// The benchmark's own WebSocket client: a TCP socket, a hand-written upgrade and the frame
// reader, nothing else. Thousands of them fit in one process and they cost the client side
// little CPU, so a measurement shows the server's limit rather than the clients'.
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { acceptKey, clientFrame, FrameReader, Opcode } from './frame.js';

export interface LeanConnectOptions {
  readonly host: string;
  readonly port: number;
  /** Request target, query included. */
  readonly path: string;
  /** Offered subprotocol, if any. */
  readonly protocol?: string;
  /** Source address: spreading clients over 127.x.y.z keeps each address's port range fresh. */
  readonly localAddress?: string;
  readonly timeoutMs: number;
  /** Keepalive at the application level (Socket.IO's "2" -> "3"): a reply frame, or undefined for an ordinary message. */
  readonly autoReply?: (payload: Buffer) => Buffer | undefined;
}

interface Waiter {
  readonly accept: (text: string) => boolean;
  readonly resolve: (text: string) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

const EMPTY = Buffer.alloc(0);

type Handler = (opcode: number, payload: Buffer) => void;

export class LeanSocket {
  onClose: () => void = () => undefined;
  #closed = false;
  /** The server's close frame (`code reason`), when it sent one: what a waiter's error says. */
  #closedWith: string | undefined;
  readonly #waiters: Waiter[] = [];
  /** Data frames that arrived before anyone listened (a server may speak right after the 101). */
  readonly #backlog: [number, Buffer][] = [];
  #handler: Handler | undefined;
  readonly #reader = new FrameReader((opcode, payload) => this.#frame(opcode, payload));

  private constructor(
    private readonly socket: Socket,
    private readonly autoReply: LeanConnectOptions['autoReply'],
  ) {
    socket.on('data', (chunk: Buffer) => this.#reader.push(chunk));
    socket.on('close', () => this.#ended());
    socket.on('error', () => undefined); // 'close' follows and reports it
  }

  /** Opens the TCP connection and completes the opening handshake (RFC 6455 §4.1). */
  static connect(options: LeanConnectOptions): Promise<LeanSocket> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: options.host, port: options.port, localAddress: options.localAddress, noDelay: true });
      const key = randomBytes(16).toString('base64');
      let head = '';
      const fail = (error: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      const timer = setTimeout(() => fail(new Error(`handshake timed out after ${options.timeoutMs} ms`)), options.timeoutMs);
      const onError = (error: Error): void => fail(error);
      const onClose = (): void => fail(new Error('closed during the handshake'));
      const onData = (chunk: Buffer): void => {
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return;
        socket.off('data', onData).off('error', onError).off('close', onClose);
        const lines = head.slice(0, end).split('\r\n');
        if (!/^HTTP\/1\.1 101 /.test(lines[0] ?? '')) return fail(new Error(`handshake refused: ${lines[0] ?? ''}`));
        const accept = lines.find((line) => line.toLowerCase().startsWith('sec-websocket-accept:'));
        if (accept?.slice(accept.indexOf(':') + 1).trim() !== acceptKey(key)) return fail(new Error('bad Sec-WebSocket-Accept'));
        clearTimeout(timer);
        const lean = new LeanSocket(socket, options.autoReply);
        const rest = Buffer.from(head.slice(end + 4), 'latin1');
        if (rest.length > 0) lean.#reader.push(rest);
        resolve(lean);
      };
      socket.on('data', onData).on('error', onError).on('close', onClose);
      socket.once('connect', () => {
        const protocol = options.protocol === undefined ? '' : `Sec-WebSocket-Protocol: ${options.protocol}\r\n`;
        socket.write(
          `GET ${options.path} HTTP/1.1\r\nHost: ${options.host}:${options.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${protocol}\r\n`,
        );
      });
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  sendText(text: string): void {
    this.write(clientFrame(Opcode.TEXT, Buffer.from(text)));
  }

  /** Writes a pre-built frame (or several, concatenated). */
  write(frames: Buffer): void {
    if (!this.#closed) this.socket.write(frames);
  }

  /** Every data frame (text or binary) from now on, starting with those that waited; `next()` waiters come first. */
  listen(handler: Handler): void {
    this.#handler = handler;
    for (const [opcode, payload] of this.#backlog.splice(0)) handler(opcode, payload);
  }

  /** The next text message that `accept` takes (others go to the listener); rejects on timeout or close. */
  next(accept: (text: string) => boolean, timeoutMs: number): Promise<string> {
    const waiting = this.#backlog.findIndex(([opcode, payload]) => opcode === Opcode.TEXT && accept(payload.toString('utf8')));
    if (waiting !== -1) {
      const [entry] = this.#backlog.splice(waiting, 1);
      return Promise.resolve(entry ? entry[1].toString('utf8') : '');
    }
    if (this.#closed) return Promise.reject(new Error('the socket is closed'));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        accept,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          reject(new Error(`no matching message within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.#waiters.push(waiter);
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  #frame(opcode: number, payload: Buffer): void {
    if (opcode === Opcode.PING) return this.write(clientFrame(Opcode.PONG, Buffer.from(payload)));
    if (opcode === Opcode.PONG) return;
    if (opcode === Opcode.CLOSE) {
      this.#closedWith = payload.length >= 2 ? `${payload.readUInt16BE(0)} ${payload.subarray(2).toString('utf8')}`.trim() : 'no code';
      // §5.5.1: answer with a close frame carrying the same code, then end the TCP connection.
      this.write(clientFrame(Opcode.CLOSE, payload.length >= 2 ? Buffer.from(payload.subarray(0, 2)) : EMPTY));
      this.socket.end();
      return;
    }
    const reply = this.autoReply?.(payload);
    if (reply) return this.write(reply);
    if (this.#waiters.length > 0) {
      const text = payload.toString('utf8');
      const index = this.#waiters.findIndex((waiter) => waiter.accept(text));
      if (index !== -1) {
        const [waiter] = this.#waiters.splice(index, 1);
        if (waiter) {
          clearTimeout(waiter.timer);
          waiter.resolve(text);
        }
        return;
      }
    }
    if (this.#handler) this.#handler(opcode, payload);
    else this.#backlog.push([opcode, payload]);
  }

  #ended(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error(this.#closedWith === undefined ? 'the socket closed without a close frame' : `the socket closed (${this.#closedWith})`));
    }
    this.onClose();
  }
}
