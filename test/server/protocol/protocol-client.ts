/**
 * A small, typed `lifeline.v1` client for the protocol tests (not a test file, and deliberately
 * not the product's client): a raw `ws` socket offering the subprotocol, JSON out, and every
 * message in recorded from the start, so a test awaits "the next message matching X" with a
 * deadline and nothing slips past a listener attached too late.
 */
import type { TestContext } from 'node:test';
import WebSocket from 'ws';
import { PROTOCOL } from '../../../src/protocol/protocol-name.js';
import { within } from '../../helpers/wait.js';

/** Default deadline for anything that should happen "at once" on loopback, ms. */
export const DEADLINE = 5_000;

export interface Position {
  readonly epoch: string;
  readonly offset: number;
}

export interface Member {
  readonly client: string;
  readonly user?: unknown;
}

/** What a server sends (docs/protocol.md), by type. */
export type ServerMessage =
  | { readonly type: 'welcome'; readonly v: number; readonly session: string; readonly secret: string; readonly member: string; readonly resumed: boolean; readonly recoveryWindow: number; readonly pingInterval: number; readonly acked: number }
  | { readonly type: 'subscribed'; readonly id: number; readonly channel: string; readonly position: Position; readonly recovered: boolean }
  | { readonly type: 'unsubscribed'; readonly id: number; readonly channel: string }
  | { readonly type: 'event'; readonly channel: string; readonly epoch: string; readonly offset: number; readonly data: unknown }
  | { readonly type: 'ack'; readonly id: number; readonly position: Position }
  | { readonly type: 'result'; readonly id: number; readonly data: unknown }
  | { readonly type: 'error'; readonly code: string; readonly message: string; readonly id?: number }
  | { readonly type: 'message'; readonly seq: number; readonly data: unknown }
  | { readonly type: 'presence'; readonly channel: string; readonly join?: Member; readonly leave?: Member }
  | { readonly type: 'presence.list'; readonly id: number; readonly channel: string; readonly members: readonly Member[] }
  | { readonly type: 'ping' }
  | { readonly type: 'pong'; readonly id?: number | string };

export type ServerType = ServerMessage['type'];
export type MessageOf<T extends ServerType> = Extract<ServerMessage, { type: T }>;

/** What a client sends; loose on purpose, so tests can send malformed messages too. */
export type Outgoing = { readonly type: string; readonly [field: string]: unknown };

export interface Close {
  readonly code: number;
  readonly reason: string;
}

export interface ConnectOptions {
  /** Query string appended to the URL (e.g. credentials for an authenticate hook). */
  readonly query?: Record<string, string>;
  readonly protocols?: string | string[];
}

/** A session barrier id range that never collides with a test's own ids. */
let barrierId = 1_000_000;

export class ProtocolClient {
  readonly ws: WebSocket;
  /** Everything received, in arrival order (application pings included). */
  readonly log: ServerMessage[] = [];
  readonly closed: Promise<Close>;
  /** Received and not yet taken by {@link take}. */
  readonly #unread: ServerMessage[] = [];
  readonly #waiters = new Set<() => void>();
  #close: Close | undefined;

  private constructor(url: string, protocols: string | string[]) {
    this.ws = new WebSocket(url, protocols);
    this.ws.on('error', () => undefined); // a refused or reset link: tests assert on close codes
    this.closed = new Promise((resolve) => {
      this.ws.once('close', (code: number, reason: Buffer) => {
        this.#close = { code, reason: reason.toString('utf8') };
        resolve(this.#close);
        this.#wakeAll();
      });
    });
    this.ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      if (isBinary) return; // the channel protocol sends text frames only
      const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      const message = JSON.parse(buffer.toString('utf8')) as ServerMessage;
      this.log.push(message);
      this.#unread.push(message);
      this.#wakeAll();
    });
  }

  #wakeAll(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  /** Waits for the next arrival (or close), at most `ms`. */
  async #arrival(ms: number, what: string): Promise<void> {
    let wake: (() => void) | undefined;
    const arrived = new Promise<void>((resolve) => {
      wake = resolve;
      this.#waiters.add(resolve);
    });
    try {
      await within(arrived, ms, what);
    } catch {
      // the caller re-checks its deadline
    } finally {
      if (wake) this.#waiters.delete(wake);
    }
  }

  /** Opens a connection offering `lifeline.v1` (no hello yet). */
  static async open(url: string, options: ConnectOptions = {}): Promise<ProtocolClient> {
    const query = options.query ? `?${new URLSearchParams(options.query).toString()}` : '';
    const client = new ProtocolClient(`${url}${query}`, options.protocols ?? PROTOCOL);
    const opened = new Promise<void>((resolve, reject) => {
      client.ws.once('open', () => resolve());
      client.ws.once('close', () => reject(new Error('closed before open')));
    });
    await within(opened, DEADLINE, `open of ${url}`);
    return client;
  }

  /** Opens and says hello; disposed after the test. */
  static async connect(t: TestContext, url: string, hello: { readonly session?: string; readonly secret?: string } = {}, options: ConnectOptions = {}): Promise<{ client: ProtocolClient; welcome: MessageOf<'welcome'> }> {
    const client = await ProtocolClient.open(url, options);
    t.after(() => client.dispose());
    const welcome = await client.hello(hello);
    return { client, welcome };
  }

  get protocol(): string {
    return this.ws.protocol;
  }

  send(message: Outgoing): void {
    this.ws.send(JSON.stringify(message));
  }

  sendText(text: string): void {
    this.ws.send(text);
  }

  async hello(fields: { readonly session?: string; readonly secret?: string; readonly token?: string } = {}): Promise<MessageOf<'welcome'>> {
    this.send({ type: 'hello', v: 1, ...fields });
    return this.take('welcome');
  }

  /**
   * The first unread message of `type` (matching `predicate`), waiting for it up to `ms`. It is
   * taken; other unread messages stay for later calls.
   */
  async take<T extends ServerType>(type: T, predicate: (message: MessageOf<T>) => boolean = () => true, ms = DEADLINE): Promise<MessageOf<T>> {
    const matches = (message: ServerMessage): message is MessageOf<T> => message.type === type && predicate(message as MessageOf<T>);
    const deadline = Date.now() + ms;
    for (;;) {
      const index = this.#unread.findIndex(matches);
      if (index !== -1) {
        const [found] = this.#unread.splice(index, 1);
        return found as MessageOf<T>;
      }
      if (this.#close) throw new Error(`closed (${this.#close.code} ${this.#close.reason}) while waiting for "${type}"; unread: ${JSON.stringify(this.#unread).slice(0, 400)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no "${type}" within ${ms} ms; unread: ${JSON.stringify(this.#unread).slice(0, 400)}`);
      await this.#arrival(left, `a "${type}" message`);
    }
  }

  /** The reply (any type) carrying `id`. */
  async reply(id: number, ms = DEADLINE): Promise<ServerMessage> {
    const deadline = Date.now() + ms;
    for (;;) {
      const index = this.#unread.findIndex((message) => 'id' in message && message.id === id && message.type !== 'pong');
      if (index !== -1) return this.#unread.splice(index, 1)[0] as ServerMessage;
      if (this.#close) throw new Error(`closed (${this.#close.code}) while waiting for the reply to ${id}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply to ${id} within ${ms} ms; unread: ${JSON.stringify(this.#unread).slice(0, 400)}`);
      await this.#arrival(left, `the reply to ${id}`);
    }
  }

  /** Unread messages of `type`, without taking them. */
  unread<T extends ServerType>(type: T): MessageOf<T>[] {
    return this.#unread.filter((message): message is MessageOf<T> => message.type === type);
  }

  /** Every event of `channel` received so far, in arrival order. */
  events(channel: string): MessageOf<'event'>[] {
    return this.log.filter((message): message is MessageOf<'event'> => message.type === 'event' && message.channel === channel);
  }

  async subscribe(id: number, channel: string, since?: Position): Promise<MessageOf<'subscribed'>> {
    this.send({ type: 'subscribe', id, channel, ...(since ? { since } : {}) });
    const reply = await this.reply(id);
    if (reply.type !== 'subscribed') throw new Error(`subscribe ${channel} refused: ${JSON.stringify(reply)}`);
    return reply;
  }

  async publish(id: number, channel: string, data: unknown): Promise<ServerMessage> {
    this.send({ type: 'publish', id, channel, data });
    return this.reply(id);
  }

  async request(id: number, method: string, params?: unknown): Promise<ServerMessage> {
    this.send({ type: 'request', id, method, ...(params === undefined ? {} : { params }) });
    return this.reply(id);
  }

  /**
   * A barrier through the session's queue: the server handles a session's messages one at a
   * time in arrival order, so once this (harmless) unsubscribe is answered, everything sent
   * before it has been processed and its replies have arrived.
   */
  async sync(ms = DEADLINE): Promise<void> {
    const id = barrierId++;
    this.send({ type: 'unsubscribe', id, channel: 'barrier' });
    await this.take('unsubscribed', (message) => message.id === id, ms);
  }

  /** A barrier below the application: everything the server wrote before our ping has arrived. */
  async wire(ms = DEADLINE): Promise<void> {
    const pong = new Promise<void>((resolve) => this.ws.once('pong', () => resolve()));
    this.ws.ping();
    await within(pong, ms, 'pong');
  }

  /** Stops reading the socket (a slow consumer); `resume` reads again. */
  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  /** Drops the TCP connection without a closing handshake. */
  terminate(): void {
    this.ws.terminate();
  }

  async dispose(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    if (this.ws.isPaused) this.ws.resume();
    this.ws.close();
    try {
      await within(this.closed, 1_000, 'client close');
    } catch {
      this.ws.terminate();
    }
  }
}
