/**
 * A raw TCP WebSocket peer for tests that need what a well-behaved client never does: chosen
 * (or missing) handshake headers, hand-built frames (unmasked, reserved opcodes, bad UTF-8),
 * never answering a close, or never reading at all. Every read has a deadline.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  readonly statusLine: string;
  readonly status: number;
  /** Header names lower-cased; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface Frame {
  readonly fin: boolean;
  readonly rsv: number;
  readonly opcode: number;
  readonly payload: Buffer;
}

export interface CloseFrame {
  readonly code: number | undefined;
  readonly reason: string;
}

export interface HandshakeOptions {
  readonly path?: string;
  readonly method?: string;
  /** The request line's HTTP version. Default '1.1'. */
  readonly httpVersion?: string;
  /** Headers to add or override; `undefined` removes a default header. */
  readonly headers?: Readonly<Record<string, string | undefined>>;
}

export const Opcode = { CONTINUATION: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const;

const DEFAULT_DEADLINE = 5_000;

/** A valid Sec-WebSocket-Key: base64 of 16 random bytes. */
export function randomKey(): string {
  return randomBytes(16).toString('base64');
}

/**
 * Builds one client frame by hand: FIN/RSV/opcode byte, mask bit + payload length (7, 16 or
 * 64 bit), the 4-byte masking key, then the payload XOR-ed with the key (RFC 6455 §5.2-5.3).
 */
export function buildFrame(opcode: number, payload: Buffer | string = Buffer.alloc(0), options: { fin?: boolean; masked?: boolean; rsv?: number } = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const fin = options.fin ?? true;
  const masked = options.masked ?? true;
  const first = (fin ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | (opcode & 0x0f);
  let header: Buffer;
  if (data.length < 126) {
    header = Buffer.from([first, (masked ? 0x80 : 0) | data.length]);
  } else if (data.length < 65_536) {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = (masked ? 0x80 : 0) | 126;
    header.writeUInt16BE(data.length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = (masked ? 0x80 : 0) | 127;
    header.writeBigUInt64BE(BigInt(data.length), 2);
  }
  if (!masked) return Buffer.concat([header, data]);
  const key = randomBytes(4);
  const body = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) body[i] = (data[i] ?? 0) ^ (key[i % 4] ?? 0);
  return Buffer.concat([header, key, body]);
}

/** A close frame's payload: 2-byte code + UTF-8 reason. */
export function closePayload(code: number, reason = ''): Buffer {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2, 'utf8');
  return payload;
}

export function parseClose(frame: Frame): CloseFrame {
  if (frame.payload.length < 2) return { code: undefined, reason: '' };
  return { code: frame.payload.readUInt16BE(0), reason: frame.payload.subarray(2).toString('utf8') };
}

/** Parses one server frame (unmasked) from the front of `buffer`; undefined if incomplete. */
function parseFrame(buffer: Buffer): { frame: Frame; size: number } | undefined {
  if (buffer.length < 2) return undefined;
  const b0 = buffer[0] ?? 0;
  const b1 = buffer[1] ?? 0;
  let length = b1 & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buffer.length < 4) return undefined;
    length = buffer.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return undefined;
    length = Number(buffer.readBigUInt64BE(2));
    offset = 10;
  }
  const masked = (b1 & 0x80) !== 0;
  const key = masked ? buffer.subarray(offset, offset + 4) : undefined;
  if (masked) offset += 4;
  if (buffer.length < offset + length) return undefined;
  let payload = Buffer.from(buffer.subarray(offset, offset + length));
  if (key) payload = Buffer.from(payload.map((byte, i) => byte ^ (key[i % 4] ?? 0)));
  return { frame: { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 0x07, opcode: b0 & 0x0f, payload }, size: offset + length };
}

/** Decodes a complete chunked body at the front of `buffer`; undefined while incomplete. */
function decodeChunked(buffer: Buffer): { body: Buffer; size: number } | undefined {
  const parts: Buffer[] = [];
  let offset = 0;
  for (let i = 0; i < 10_000; i++) {
    const lineEnd = buffer.indexOf('\r\n', offset);
    if (lineEnd === -1) return undefined;
    const length = parseInt(buffer.subarray(offset, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(length)) throw new Error('bad chunk size');
    const start = lineEnd + 2;
    if (length === 0) {
      if (buffer.length < start + 2) return undefined;
      return { body: Buffer.concat(parts), size: start + 2 };
    }
    if (buffer.length < start + length + 2) return undefined;
    parts.push(buffer.subarray(start, start + length));
    offset = start + length + 2;
  }
  throw new Error('too many chunks');
}

export class RawSocket {
  readonly socket: Socket;
  /** Resolves once the TCP connection is fully closed (by either side). */
  readonly closed: Promise<void>;
  #buffer: Buffer = Buffer.alloc(0);
  #ended = false;
  #wake: (() => void) | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      this.#wake?.();
    });
    socket.on('end', () => {
      this.#ended = true;
      this.#wake?.();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.#ended = true;
        this.#wake?.();
        resolve();
      });
    });
  }

  /** Connects to 127.0.0.1:`port`. */
  static async open(port: number, host = '127.0.0.1'): Promise<RawSocket> {
    const socket = connect({ port, host });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawSocket(socket);
  }

  /** Connects and sends an opening handshake request (see {@link RawSocket.handshake}). */
  static async request(port: number, options: HandshakeOptions = {}): Promise<RawSocket> {
    const raw = await RawSocket.open(port);
    raw.handshake(options);
    return raw;
  }

  /** Connects, completes a valid handshake, and checks it got 101. */
  static async upgrade(port: number, options: HandshakeOptions = {}): Promise<{ raw: RawSocket; response: RawResponse }> {
    const raw = await RawSocket.request(port, options);
    const response = await raw.readResponse();
    if (response.status !== 101) {
      raw.destroy();
      throw new Error(`expected 101, got ${response.statusLine}: ${response.body}`);
    }
    return { raw, response };
  }

  get port(): number {
    return this.socket.remotePort ?? 0;
  }

  /** Bytes received and not yet consumed by a read. */
  get unread(): number {
    return this.#buffer.length;
  }

  /**
   * Writes a handshake request: GET `path` with Host, Upgrade, Connection, Sec-WebSocket-Key
   * and Sec-WebSocket-Version 13 by default; `headers` adds, overrides or (undefined) removes.
   */
  handshake(options: HandshakeOptions = {}): void {
    const headers: Record<string, string | undefined> = {
      Host: `127.0.0.1:${this.port}`,
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': randomKey(),
      'Sec-WebSocket-Version': '13',
    };
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      const existing = Object.keys(headers).find((key) => key.toLowerCase() === name.toLowerCase());
      if (existing !== undefined) delete headers[existing];
      headers[name] = value;
    }
    const lines = [`${options.method ?? 'GET'} ${options.path ?? '/ws'} HTTP/${options.httpVersion ?? '1.1'}`];
    for (const [name, value] of Object.entries(headers)) if (value !== undefined) lines.push(`${name}: ${value}`);
    this.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  sendFrame(opcode: number, payload: Buffer | string = Buffer.alloc(0), options: { fin?: boolean; masked?: boolean; rsv?: number } = {}): void {
    this.socket.write(buildFrame(opcode, payload, options));
  }

  sendText(text: string): void {
    this.sendFrame(Opcode.TEXT, text);
  }

  sendClose(code: number, reason = ''): void {
    this.sendFrame(Opcode.CLOSE, closePayload(code, reason));
  }

  /** Reads the HTTP response head; for anything but 101, the body too (Content-Length or EOF). */
  async readResponse(ms = DEFAULT_DEADLINE): Promise<RawResponse> {
    const deadline = Date.now() + ms;
    const headEnd = await this.#waitFor(() => {
      const index = this.#buffer.indexOf('\r\n\r\n');
      return index === -1 ? undefined : index;
    }, deadline, 'an HTTP response head');
    const head = this.#buffer.subarray(0, headEnd).toString('latin1');
    this.#buffer = this.#buffer.subarray(headEnd + 4);
    const [statusLine = '', ...lines] = head.split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon === -1) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const status = Number(statusLine.split(' ')[1]);
    let body = '';
    if (status !== 101) {
      if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
        const decoded = await this.#waitFor(() => decodeChunked(this.#buffer), deadline, 'a chunked HTTP response body');
        body = decoded.body.toString('utf8');
        this.#buffer = this.#buffer.subarray(decoded.size);
      } else {
        const length = headers['content-length'] === undefined ? undefined : Number(headers['content-length']);
        const size = await this.#waitFor(() => {
          if (length !== undefined) return this.#buffer.length >= length ? length : undefined;
          return this.#ended ? this.#buffer.length : undefined;
        }, deadline, 'an HTTP response body');
        body = this.#buffer.subarray(0, size).toString('utf8');
        this.#buffer = this.#buffer.subarray(size);
      }
    }
    return { statusLine, status, headers, body };
  }

  /** Reads the next frame the server sent. */
  async readFrame(ms = DEFAULT_DEADLINE): Promise<Frame> {
    const parsed = await this.#waitFor(() => parseFrame(this.#buffer), Date.now() + ms, 'a frame');
    this.#buffer = this.#buffer.subarray(parsed.size);
    return parsed.frame;
  }

  /** Reads frames until a close frame (at most `maxFrames`), returning it and what came before. */
  async readUntilClose(ms = DEFAULT_DEADLINE, maxFrames = 100_000): Promise<{ close: CloseFrame; before: Frame[] }> {
    const deadline = Date.now() + ms;
    const before: Frame[] = [];
    for (let i = 0; i < maxFrames; i++) {
      const frame = await this.readFrame(Math.max(1, deadline - Date.now()));
      if (frame.opcode === Opcode.CLOSE) return { close: parseClose(frame), before };
      before.push(frame);
    }
    throw new Error(`no close frame within ${maxFrames} frames`);
  }

  /** Waits until the server has closed the TCP connection. */
  async waitClosed(ms = DEFAULT_DEADLINE): Promise<void> {
    await this.#waitFor(() => (this.socket.destroyed || this.#ended ? true : undefined), Date.now() + ms, 'the socket to close');
    await this.closed;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Re-checks `probe` on every received chunk (and at end) until it yields a value or `deadline` passes. */
  async #waitFor<T>(probe: () => T | undefined, deadline: number, what: string): Promise<T> {
    for (let round = 0; round < 1_000_000; round++) {
      const value = probe();
      if (value !== undefined) return value;
      if (this.#ended) throw new Error(`connection ended while waiting for ${what} (unread: ${JSON.stringify(this.#buffer.toString('latin1').slice(0, 200))})`);
      const left = deadline - Date.now();
      if (left <= 0) break;
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#wake = undefined;
    }
    throw new Error(`timed out waiting for ${what}`);
  }
}
