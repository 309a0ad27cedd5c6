import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { pino } from 'pino';
import { readHistory, type HistoryOptions, type HistoryPage } from './protocol/history.js';
import { silentLogger, type LifelineLogger } from '../core/logger.js';
import { WebSocketServer, type WebSocket } from 'ws';
import { CloseCode, closeLogLevels, closeSeverity, describeCloseCode } from '../core/close-codes.js';
import { assertValidClose } from '../core/close-frame.js';
import type { Envelope } from '../core/envelope.js';
import type { HandshakeRejection } from '../core/handshake-policy.js';
import { KeepaliveSweep } from '../core/keepalive.js';
import { StateMachine } from '../core/state-machine.js';
import { Timer } from '../core/timer.js';
import { Connection, type CloseReport, type ConnectionHost } from './connection.js';
import { FirstMessageAuth } from './first-message-auth.js';
import { HandshakeGate } from './handshake-gate.js';
import { authRequest, requestUrl, runAuthenticate, type Credentials } from './handshake.js';
import type { AuthRequest } from './options.js';
import { createEndpointServer } from './http-server.js';
import { shutdownReason } from '../core/shutdown-reason.js';
import { deflateOptions, resolveServerOptions, type ResolvedServerOptions, type ServerOptions } from './options.js';
import { attachSocket, type SocketSink } from './socket-listeners.js';
import { ServerStats } from './stats.js';
import { MemoryBroker } from '../broker/memory-broker.js';
import type { Broker } from '../broker/broker.js';
import { Hub, type RequestHandler } from './protocol/hub.js';
import { PROTOCOL } from './protocol/schema.js';
import type { Position } from '../core/position.js';

export type ServerState = 'running' | 'draining' | 'closed';

export interface ServerEvents<User> {
  /** A connection passed the handshake (and first-message authentication, if configured). */
  connection: [connection: Connection<User>, request: IncomingMessage];
  /** A valid JSON envelope arrived. Listeners may be async: a throw or rejection closes with 1011. */
  message: [connection: Connection<User>, message: Envelope];
  /** A binary message arrived (when `binary: 'allow'`). */
  binary: [connection: Connection<User>, data: Buffer];
  close: [connection: Connection<User>, report: CloseReport];
  /** A handshake was refused (status, or close code in `handshakeRejection: 'close'` mode). */
  rejected: [rejection: HandshakeRejection, request: IncomingMessage];
  /** Peer errors, hook failures and throwing listeners. Never thrown: without a listener they are only logged. */
  error: [error: Error, connection: Connection<User> | undefined];
  state: [transition: { readonly from: ServerState; readonly to: ServerState }];
}

export interface CloseServerOptions {
  /** 1001 going away (clients stop) or 1012 service restart (clients come back). Default 1001. */
  readonly code?: number;
  readonly reason?: string;
  /** Deadline for clients to finish their closing handshake before they are terminated, ms. */
  readonly drainTimeout?: number;
  /** For 1012/1013: clients wait at least this long before reconnecting, ms. Default 1000. */
  readonly retryAfter?: number;
  /** For 1012/1013: and spread their return over this window, ms. Default: 2 ms per connection, 1-60 s. */
  readonly retrySpread?: number;
}

export interface ListenInfo {
  readonly host: string;
  readonly port: number;
  /** `http://host:port`. */
  readonly url: string;
}

const shutdownTransitions = { running: ['draining'], draining: ['closed'], closed: [] } as const;

/**
 * A Lifeline WebSocket server: judges every handshake, manages each connection's lifecycle
 * (keepalive, limits, close), and shuts down gracefully. Create it with {@link createServer}.
 *
 * Listeners are app code: a `connection`, `message` or `binary` listener that throws (or
 * rejects) closes that connection with 1011; a throwing `close`, `rejected` or `state`
 * listener is logged and reported as `error`. None of them can take the process down.
 */
export class LifelineServer<User = unknown> extends EventEmitter<ServerEvents<User>> implements ConnectionHost, SocketSink {
  readonly options: ResolvedServerOptions<User>;
  readonly stats = new ServerStats();
  readonly clock;
  readonly closeTimeout: number;
  readonly outboundBudget: number;
  readonly binaryPolicy: 'allow' | 'reject';
  readonly log: LifelineLogger;

  readonly #http: HttpServer | HttpsServer;
  readonly #ownsHttp: boolean;
  readonly #wss: WebSocketServer;
  readonly #gate: HandshakeGate<User>;
  readonly #connections = new Set<Connection<User>>();
  readonly #firstMessage: FirstMessageAuth<User> | undefined;
  readonly #machine: StateMachine<ServerState>;
  readonly #keepalive: KeepaliveSweep<Connection<User>>;
  readonly #emptyWaiters: (() => void)[] = [];
  /** What a token refresh needs of connections whose credentials expire. */
  readonly #refreshable = new WeakMap<Connection<User>, AuthRequest>();
  readonly #hub: Hub<User>;
  readonly #broker: Broker;
  readonly #ownsBroker: boolean;
  #closing: Promise<void> | undefined;
  /** The pending bind of Lifeline's own http server, which shutdown must wait for. */
  #listening: Promise<void> | undefined;

  constructor(options: ServerOptions<User> = {}) {
    super();
    const resolved = resolveServerOptions(options);
    this.options = resolved;
    this.clock = resolved.clock;
    this.closeTimeout = resolved.closeTimeout;
    this.outboundBudget = resolved.outboundBudget;
    this.binaryPolicy = resolved.binary;
    this.log = resolved.logger === false ? silentLogger : (resolved.logger ?? pino({ level: 'warn', name: 'lifeline' }));
    this.#machine = new StateMachine<ServerState>('running', shutdownTransitions, ({ from, to }) => this.#notify('state', [{ from, to }]));
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: resolved.maxPayload,
      perMessageDeflate: deflateOptions(resolved.perMessageDeflate, resolved.maxPayload),
      // The channel protocol first: a client that offers it is a Lifeline client.
      handleProtocols: (offered) => [PROTOCOL, ...resolved.protocols].find((p) => offered.has(p)) ?? false,
    });
    this.#ownsBroker = resolved.broker === undefined;
    this.#broker = resolved.broker ?? new MemoryBroker({ clock: resolved.clock, historyBudget: resolved.historyBudget, idleChannelTtl: resolved.idleChannelTtl });
    this.#hub = new Hub<User>({
      broker: this.#broker,
      channels: resolved.channels,
      recoveryWindow: resolved.recoveryWindow,
      requestTimeout: resolved.requestTimeout,
      windowSize: resolved.replyWindow,
      pingInterval: resolved.pingInterval,
      maxPayload: resolved.maxPayload,
      presenceGrace: resolved.presenceGrace,
      idempotencyWindow: resolved.idempotencyWindow,
      randomBytes: resolved.randomBytes,
      canSubscribe: resolved.canSubscribe,
      canPublish: resolved.canPublish,
      presenceUser: resolved.presenceUser,
      clock: resolved.clock,
      log: this.log,
      stats: this.stats,
      invalid: (connection, code, detail, id) => this.invalidMessage(connection, code, detail, id),
      limits: {
        helloTimeout: resolved.helloTimeout,
        maxSubscriptions: resolved.maxSubscriptions,
        maxSessionsPerUser: resolved.maxSessionsPerUser,
        maxChannels: resolved.maxChannels,
        maxPresenceMembers: resolved.maxPresenceMembers,
      },
      refresh: (connection, token) => this.#refresh(connection, token),
    });
    this.#gate = this.#createGate(resolved);
    this.#keepalive = this.#createKeepalive(resolved);
    this.#firstMessage = this.#createFirstMessageAuth(resolved);
    this.#ownsHttp = resolved.server === undefined;
    this.#http = resolved.server ?? createEndpointServer(resolved);
    this.#http.on('upgrade', this.#onUpgrade);
    // Attached to the app's server, Lifeline serves at once and `listen()` is optional, so the
    // keepalive must not wait for it (a dead peer would never be detected).
    if (!this.#ownsHttp) this.#keepalive.start();
  }

  get state(): ServerState {
    return this.#machine.state;
  }

  /** Open connections (authenticated or awaiting first-message authentication). */
  /** Running and its broker can serve: what `/readyz` reports. */
  get ready(): boolean {
    return this.state === 'running' && (this.#broker.isReady?.() ?? true);
  }

  /** The broker this server uses (the embedded in-memory one unless `broker` was given). */
  get broker(): Broker {
    return this.#broker;
  }

  get connections(): ReadonlySet<Connection<User>> {
    return this.#connections;
  }

  /** The underlying http(s) server (Lifeline's own, or the one it was attached to). */
  get httpServer(): HttpServer | HttpsServer {
    return this.#http;
  }

  /** Starts listening when Lifeline owns the http server; reports where. */
  async listen(): Promise<ListenInfo> {
    if (this.#machine.state !== 'running') throw new Error(`the server is ${this.#machine.state}`);
    if (this.#ownsHttp && !this.#http.listening) {
      this.#listening ??= new Promise<void>((resolve, reject) => {
        this.#http.once('error', reject);
        this.#http.listen(this.options.port, this.options.host, () => {
          this.#http.off('error', reject);
          resolve();
        });
      });
      await this.#listening;
    }
    // close() may have run while the port was being bound: then nothing may start again.
    if (this.#machine.state !== 'running') throw new Error(`the server is ${this.#machine.state}`);
    this.#keepalive.start();
    return this.address();
  }

  address(): ListenInfo {
    const address = this.#http.address() as AddressInfo | null;
    if (address === null) throw new Error('the server is not listening');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return { host: address.address, port: address.port, url: `http://${host}:${address.port}` };
  }

  /**
   * Publishes to a channel (for `lifeline.v1` subscribers on every node); resolves with the
   * event's position once it is in history. With `idempotencyKey`, a publish under a key used
   * within `idempotencyWindow` resolves with the first one's position and stores nothing; the
   * same key with different data rejects with an `IdempotencyConflictError`.
   */
  publish(channel: string, data: unknown, options: { readonly idempotencyKey?: string } = {}): Promise<Position> {
    return this.#hub.publish(channel, data, options);
  }

  /**
   * A page of a channel's history, in process (the events a subscriber recovering from `since`
   * would get): at most `limit` events after `since`, oldest first, with `more` when the next
   * page (after the last event's position) has more. Without `since`: the newest `limit` kept.
   */
  history(channel: string, options?: HistoryOptions): Promise<HistoryPage> {
    return readHistory(this.broker, this.options.channels, channel, options);
  }

  /**
   * Answers `request` messages for `method`. The handler's return value is the result; throw a
   * `RequestError(code, message)` to refuse with your own code. Each request id runs once per
   * session, even when the client resends it after a reconnect.
   */
  handle(method: string, handler: RequestHandler<User>): void {
    this.#hub.handle(method, handler);
  }

  /** Sends to one session, kept until the client acknowledges it (for the recovery window). False if the session is unknown. */
  sendTo(session: string, data: unknown): Promise<boolean> {
    return this.#hub.sendTo(session, data);
  }

  /** Sends to every session of `user` (as `authenticate` named it), on any node; resolves with how many. */
  sendToUser(user: User, data: unknown): Promise<number> {
    return this.#hub.sendToUser(user, data);
  }

  /** Sessions of `lifeline.v1` clients connected to this node, and local subscribers per channel. */
  get realtime(): { readonly sessions: number; readonly channels: ReadonlyMap<string, number> } {
    return { sessions: this.#hub.sessions.size, channels: this.#hub.channelCounts() };
  }

  /** Per connection on this node: its `lifeline.v1` session and how many channels that session is subscribed to (for admin views; O(sessions)). */
  sessionsByConnection(): Map<Connection<User>, { readonly session: string; readonly subscriptions: number }> {
    const map = new Map<Connection<User>, { readonly session: string; readonly subscriptions: number }>();
    for (const session of this.#hub.sessions.values()) map.set(session.connection, { session: session.id, subscriptions: session.subscriptions.size });
    return map;
  }

  /** Sends to every open connection; the message is serialized once. Returns how many got it. */
  broadcast(message: Envelope | string): number {
    const text = typeof message === 'string' ? message : JSON.stringify(message);
    let sent = 0;
    for (const connection of this.#connections) {
      if (connection.state === 'open' && connection.send(text).ok) sent++;
    }
    return sent;
  }

  /**
   * Graceful shutdown (RUNNING -> DRAINING -> CLOSED): new handshakes get 503, every client is
   * closed with `code` (and a retry hint for 1012/1013), stragglers are terminated at the drain
   * deadline, and the promise resolves once every socket and timer is gone. A code that may not
   * be sent rejects at once and leaves the server running, so a corrected call can follow.
   */
  close(options: CloseServerOptions = {}): Promise<void> {
    if (this.#closing) return this.#closing;
    const code = options.code ?? CloseCode.GOING_AWAY;
    let reason: string;
    try {
      reason = shutdownReason(code, options, this.#connections.size);
      assertValidClose(code, reason);
    } catch (error) {
      return Promise.reject(error);
    }
    // #closing is set before the shutdown runs a single line, so a listener of the 'state'
    // change it announces that calls close() again gets this same promise.
    let settle!: { resolve: () => void; reject: (error: unknown) => void };
    this.#closing = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    this.#shutdown(code, reason, options.drainTimeout ?? this.options.drainTimeout).then(settle.resolve, settle.reject);
    return this.#closing;
  }

  async #shutdown(code: number, reason: string, drainTimeout: number): Promise<void> {
    this.#machine.to('draining', undefined);
    this.#keepalive.stop();
    this.log.info({ code, connections: this.#connections.size }, 'draining');
    for (const connection of [...this.#connections]) connection.close(code, reason);
    const drained = await this.#waitForEmpty(drainTimeout);
    if (!drained) {
      this.log.warn({ stragglers: this.#connections.size }, 'drain deadline passed: terminating stragglers');
      for (const connection of [...this.#connections]) connection.terminateForDrain();
      await this.#waitForEmpty(Infinity);
    }
    await this.#gate.close();
    // Every session must be parked in the broker before it may close: a client resumes it elsewhere.
    await this.#hub.parked();
    this.#hub.close();
    if (this.#ownsBroker) await this.#broker.close();
    this.#http.off('upgrade', this.#onUpgrade);
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    await this.#listening?.catch(() => undefined);
    if (this.#ownsHttp && this.#http.listening) {
      await new Promise<void>((resolve) => {
        this.#http.close(() => resolve());
        this.#http.closeAllConnections();
      });
    }
    this.#machine.to('closed', undefined);
  }

  #waitForEmpty(timeout: number): Promise<boolean> {
    if (this.#connections.size === 0) return Promise.resolve(true);
    if (timeout <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const deadline = Number.isFinite(timeout) ? new Timer(this.clock, () => resolve(false)) : undefined;
      deadline?.start(timeout);
      this.#emptyWaiters.push(() => {
        deadline?.stop();
        resolve(true);
      });
    });
  }

  readonly #onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = requestUrl(request);
    // Attached to someone else's server: upgrades on other paths belong to other listeners.
    if (!this.options.paths.includes(url.pathname) && !this.#ownsHttp && this.#http.listenerCount('upgrade') > 1) return;
    if (this.#machine.state === 'closed') {
      socket.destroy();
      return;
    }
    this.#gate.handle(request, socket, head, url);
  };

  #accept(socket: WebSocket, request: IncomingMessage, { user, expiresAt, anonymous }: Credentials<User>): void {
    this.stats.countHandshake(101);
    const firstMessage = this.#firstMessage;
    const connection = new Connection<User>(socket, this, {
      id: randomUUID(),
      user,
      anonymous: anonymous === true,
      remoteAddress: request.socket.remoteAddress ?? '',
      protocol: socket.protocol,
      authenticating: firstMessage !== undefined,
      maxMessageRate: this.options.maxMessageRate,
      maxInvalidPerMinute: this.options.maxInvalidMessages,
      // The upgraded socket itself; frames prepared once may go straight to it (no extension to apply).
      ...(socket.extensions === '' ? { transport: request.socket } : {}),
    });
    this.#connections.add(connection);
    attachSocket(socket, connection as Connection<unknown>, this);
    if (expiresAt !== undefined) {
      connection.expireAt(expiresAt);
      // A refresh is judged by the same hook, with the handshake's request and the new token.
      this.#refreshable.set(connection, authRequest(request, requestUrl(request)));
    }
    if (connection.protocol === PROTOCOL) this.#hub.attach(connection);
    if (firstMessage) firstMessage.begin(connection, request);
    else this.#notify('connection', [connection, request], connection);
  }

  // ---- SocketSink: what socket listeners call ------------------------------------------------

  firstMessage(connection: Connection<unknown>, message: Envelope | undefined, binary?: Buffer): void {
    this.#firstMessage?.message(connection as Connection<User>, message, binary);
  }

  dispatchMessage(connection: Connection<unknown>, message: Envelope): void {
    this.stats.messagesIn++;
    if (connection.protocol === PROTOCOL) this.#hub.message(connection as Connection<User>, message);
    else this.#notify('message', [connection as Connection<User>, message], connection);
  }

  dispatchBinary(connection: Connection<unknown>, data: Buffer): void {
    this.stats.messagesIn++;
    this.#notify('binary', [connection as Connection<User>, data], connection);
  }

  invalidMessage(connection: Connection<unknown>, code: string, detail: string, id?: number): void {
    this.stats.invalidMessages++;
    if (!connection.admitInvalid()) {
      connection.close(CloseCode.POLICY_VIOLATION, 'too many invalid messages');
      return;
    }
    connection.send(id === undefined ? { type: 'error', code, message: detail } : { type: 'error', id, code, message: detail });
  }

  socketError(connection: Connection<unknown>, error: Error): void {
    this.log.warn({ id: connection.id, err: error }, 'peer protocol error');
    this.#emitError(error, connection);
  }

  countIn(bytes: number): void {
    this.stats.bytesIn += bytes;
  }

  countOut(bytes: number): void {
    this.stats.countOut(bytes);
  }

  // ---- ConnectionHost: what connections call ---------------------------------------------------

  onSlowConsumer(connection: Connection<unknown>): void {
    this.stats.slowConsumerCloses++;
    this.log.warn({ id: connection.id, buffered: connection.bufferedAmount }, 'slow consumer: outbound budget exceeded');
  }

  onClosed(connection: Connection<unknown>, report: CloseReport): void {
    const conn = connection as Connection<User>;
    this.#connections.delete(conn);
    this.#firstMessage?.forget(conn);
    if (conn.protocol === PROTOCOL) this.#hub.detach(conn).catch((error: unknown) => this.log.error({ err: error, id: conn.id }, 'parking the session failed'));
    this.stats.countClose(report.code);
    // The level follows the close-code table: fatal and abnormal closes warn, expected ones
    // (4000 credentials expired, a restart, a kick) are info, normal ones debug.
    const severity = closeSeverity(report.code, report.wasClean);
    const { name } = describeCloseCode(report.code);
    this.log[closeLogLevels[severity]]({ id: conn.id, code: report.code, name, reason: report.reason, wasClean: report.wasClean, duration: report.duration }, `${severity} close`);
    this.#notify('close', [conn, report]);
    if (this.#connections.size === 0) for (const wake of this.#emptyWaiters.splice(0)) wake();
  }

  onCleanupError(connection: Connection<unknown>, error: unknown): void {
    this.log.error({ id: connection.id, err: error }, 'connection cleanup failed');
  }

  /**
   * A `refresh` on a live connection: the `authenticate` hook judges the new token; it must name
   * the same user. Success moves the expiry; failure leaves the old expiry in force.
   */
  async #refresh(connection: Connection<User>, token: string): Promise<{ readonly expiresAt: number } | { readonly error: string }> {
    const request = this.#refreshable.get(connection);
    const authenticate = this.options.authenticate;
    if (!request || !authenticate) return { error: 'this connection has no expiring credentials to refresh' };
    const verdict = await runAuthenticate(authenticate, { ...request, token }, (error) => this.#failed(error, 'authenticate hook failed', undefined), this.options.retryAfter);
    if ('rejection' in verdict) return { error: verdict.rejection.message };
    if (JSON.stringify(verdict.user ?? null) !== JSON.stringify(connection.user ?? null)) return { error: 'a refresh must keep the same user' };
    if (verdict.expiresAt === undefined) return { error: 'the refreshed credentials carry no expiry' };
    connection.expireAt(verdict.expiresAt);
    return { expiresAt: verdict.expiresAt };
  }

  // ---- app code: listeners are called here, and only here ---------------------------------------

  /**
   * Calls every listener of `event` (raw listeners, so `once` works), catching what they throw
   * or reject. A failure on behalf of `connection` closes it with 1011: the server's fault,
   * logged, never sent to the peer.
   */
  #notify<K extends keyof ServerEvents<User>>(event: K, args: ServerEvents<User>[K], connection?: Connection<unknown>): void {
    for (const listener of this.rawListeners(event) as ((...a: ServerEvents<User>[K]) => unknown)[]) {
      try {
        const result = listener.apply(this, args);
        if (result instanceof Promise) result.catch((error: unknown) => this.#failed(error, `${String(event)} listener failed`, connection));
      } catch (error) {
        this.#failed(error, `${String(event)} listener failed`, connection);
      }
    }
  }

  #failed(error: unknown, what: string, connection: Connection<unknown> | undefined): void {
    this.log.error({ err: error, id: connection?.id }, what);
    this.#emitError(error instanceof Error ? error : new Error(String(error)), connection);
    const state = connection?.state;
    if (connection && (state === 'open' || state === 'authenticating')) connection.close(CloseCode.INTERNAL_ERROR, 'internal error');
  }

  #emitError(error: Error, connection: Connection<unknown> | undefined): void {
    for (const listener of this.rawListeners('error') as ((e: Error, c: Connection<User> | undefined) => unknown)[]) {
      try {
        listener.call(this, error, connection as Connection<User> | undefined);
      } catch (thrown) {
        this.log.error({ err: thrown }, 'error listener failed');
      }
    }
  }

  #createGate(resolved: ResolvedServerOptions<User>): HandshakeGate<User> {
    return new HandshakeGate<User>(
      {
        options: resolved,
        clock: resolved.clock,
        log: this.log,
        running: () => this.#machine.state === 'running',
        openConnections: () => this.#connections.size,
        accept: (socket, request, credentials) => this.#accept(socket, request, credentials),
        refused: (rejection, request) => {
          this.stats.countHandshake(rejection.status);
          this.#notify('rejected', [rejection, request]);
        },
        hookFailed: (error) => this.#failed(error, 'authenticate hook failed', undefined),
      },
      this.#wss,
    );
  }

  #createKeepalive(resolved: ResolvedServerOptions<User>): KeepaliveSweep<Connection<User>> {
    return new KeepaliveSweep(resolved.clock, resolved, {
      targets: () => this.#connections.values(),
      ping: (connection, fresh) => connection.ping(resolved.appPings, fresh),
      expire: (connection) => {
        this.stats.heartbeatTerminations++;
        this.log.warn({ id: connection.id, pongTimeout: resolved.pongTimeout }, 'no pong within pongTimeout: terminating');
        connection.expire();
      },
    });
  }

  #createFirstMessageAuth(resolved: ResolvedServerOptions<User>): FirstMessageAuth<User> | undefined {
    const authenticate = resolved.authenticate;
    if (!authenticate || resolved.authenticateOn !== 'first-message') return undefined;
    return new FirstMessageAuth<User>({
      clock: resolved.clock,
      deadline: resolved.handshakeTimeout,
      authenticate,
      retryAfter: resolved.retryAfter,
      hookFailed: (error) => this.#failed(error, 'authenticate hook failed', undefined),
      accepted: (connection, request) => {
        // Expiring credentials from the first message are refreshed like the handshake's.
        if (connection.expiresAt !== undefined) this.#refreshable.set(connection, authRequest(request, requestUrl(request)));
        this.#notify('connection', [connection, request], connection);
      },
      deliver: (connection, item) => (Buffer.isBuffer(item) ? this.dispatchBinary(connection, item) : this.dispatchMessage(connection, item)),
    });
  }
}

/**
 * Creates a server. It listens once you call `listen()` (or attaches to `options.server`).
 *
 * @example
 * const server = createServer({ port: 0 });
 * server.on('message', (conn, msg) => conn.send({ type: 'echo', msg }));
 * const { url } = await server.listen();
 */
export function createServer<User = unknown>(options: ServerOptions<User> = {}): LifelineServer<User> {
  return new LifelineServer<User>(options);
}
