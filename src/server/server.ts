import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { pino, type Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { CloseCode, describeCloseCode } from '../core/close-codes.js';
import { assertValidClose, fitCloseReason, MAX_CLOSE_REASON_BYTES } from '../core/close-frame.js';
import type { Envelope } from '../core/envelope.js';
import { closeCodeOfRejection, makeOriginRule, type HandshakeRejection } from '../core/handshake-policy.js';
import { KeepaliveSweep } from '../core/keepalive.js';
import { TokenBucket } from '../core/rate-limiter.js';
import { formatRetryHint } from '../core/retry-hint.js';
import { StateMachine } from '../core/state-machine.js';
import { Timer } from '../core/timer.js';
import { utf8ByteLength } from '../core/utf8.js';
import { Connection, type CloseReport, type ConnectionHost } from './connection.js';
import { authRequest, judgeHandshake, limitsFor, PendingHandshake, reject, requestUrl, runAuthenticate } from './handshake.js';
import { FirstMessageAuth } from './first-message-auth.js';
import { answerEndpointRequest, writeRejection } from './http-rejection.js';
import { resolveServerOptions, type ResolvedServerOptions, type ServerOptions } from './options.js';
import { attachSocket, type SocketSink } from './socket-listeners.js';
import { ServerStats } from './stats.js';

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
  /** Peer errors and handler failures. Never thrown: without a listener they are only logged. */
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
 */
export class LifelineServer<User = unknown> extends EventEmitter<ServerEvents<User>> implements ConnectionHost, SocketSink {
  readonly options: ResolvedServerOptions<User>;
  readonly stats = new ServerStats();
  readonly clock;
  readonly closeTimeout: number;
  readonly outboundBudget: number;
  readonly binaryPolicy: 'allow' | 'reject';

  readonly #log: Logger;
  readonly #http: HttpServer | HttpsServer;
  readonly #ownsHttp: boolean;
  readonly #wss: WebSocketServer;
  readonly #connections = new Set<Connection<User>>();
  readonly #pending = new Set<PendingHandshake>();
  readonly #firstMessage: FirstMessageAuth<User> | undefined;
  /** Sockets accepted only to be closed at once (`handshakeRejection: 'close'`). */
  readonly #refused = new Set<WebSocket>();
  readonly #machine: StateMachine<ServerState>;
  readonly #keepalive: KeepaliveSweep<Connection<User>>;
  readonly #admission: TokenBucket;
  readonly #originAllowed;
  readonly #emptyWaiters: (() => void)[] = [];
  #closing: Promise<void> | undefined;

  constructor(options: ServerOptions<User> = {}) {
    super();
    const resolved = resolveServerOptions(options);
    this.options = resolved;
    this.clock = resolved.clock;
    this.closeTimeout = resolved.closeTimeout;
    this.outboundBudget = resolved.outboundBudget;
    this.binaryPolicy = resolved.binary;
    this.#log = resolved.logger ?? pino({ level: 'warn', name: 'lifeline' });
    this.#originAllowed = makeOriginRule(resolved.allowedOrigins);
    this.#admission = new TokenBucket(resolved.clock, resolved.admissionRate, Math.max(1, resolved.admissionRate));
    this.#machine = new StateMachine<ServerState>('running', shutdownTransitions, ({ from, to }) => this.emit('state', { from, to }));
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: resolved.maxPayload,
      perMessageDeflate: deflateOptions(resolved.perMessageDeflate, resolved.maxPayload),
      handleProtocols: (offered) => resolved.protocols.find((p) => offered.has(p)) ?? false,
    });
    this.#keepalive = new KeepaliveSweep(resolved.clock, resolved, {
      targets: () => this.#connections.values(),
      ping: (connection) => connection.ping(resolved.appPings ? resolved.pingInterval : undefined),
      expire: (connection) => {
        this.stats.heartbeatTerminations++;
        this.#log.warn({ id: connection.id, pongTimeout: resolved.pongTimeout }, 'no pong within pongTimeout: terminating');
        connection.expire();
      },
    });
    const authenticate = resolved.authenticate;
    this.#firstMessage =
      authenticate && resolved.authenticateOn === 'first-message'
        ? new FirstMessageAuth<User>({
            clock: resolved.clock,
            deadline: resolved.handshakeTimeout,
            authenticate,
            accepted: (connection, request) => this.emit('connection', connection, request),
            deliver: (connection, item) => (Buffer.isBuffer(item) ? this.dispatchBinary(connection, item) : this.dispatchMessage(connection, item)),
          })
        : undefined;
    this.#ownsHttp = resolved.server === undefined;
    this.#http = resolved.server ?? this.#createOwnHttpServer();
    this.#http.on('upgrade', this.#onUpgrade);
    // Attached to the app's server, Lifeline serves at once and `listen()` is optional, so the
    // keepalive must not wait for it (a dead peer would never be detected).
    if (!this.#ownsHttp) this.#keepalive.start();
  }

  get state(): ServerState {
    return this.#machine.state;
  }

  /** Open connections (authenticated or awaiting first-message authentication). */
  get connections(): ReadonlySet<Connection<User>> {
    return this.#connections;
  }

  /** The underlying http(s) server (Lifeline's own, or the one it was attached to). */
  get httpServer(): HttpServer | HttpsServer {
    return this.#http;
  }

  /** Starts listening when Lifeline owns the http server; reports where. */
  async listen(): Promise<ListenInfo> {
    if (this.#ownsHttp && !this.#http.listening) {
      await new Promise<void>((resolve, reject) => {
        this.#http.once('error', reject);
        this.#http.listen(this.options.port, this.options.host, () => {
          this.#http.off('error', reject);
          resolve();
        });
      });
    }
    this.#keepalive.start();
    return this.address();
  }

  address(): ListenInfo {
    const address = this.#http.address() as AddressInfo | null;
    if (address === null) throw new Error('the server is not listening');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return { host: address.address, port: address.port, url: `http://${host}:${address.port}` };
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
   * deadline, and the promise resolves once every socket and timer is gone.
   */
  close(options: CloseServerOptions = {}): Promise<void> {
    this.#closing ??= this.#shutdown(options);
    return this.#closing;
  }

  async #shutdown(options: CloseServerOptions): Promise<void> {
    const code = options.code ?? CloseCode.GOING_AWAY;
    const reason = this.#shutdownReason(code, options);
    assertValidClose(code, reason);
    this.#machine.to('draining', undefined);
    this.#keepalive.stop();
    this.#log.info({ code, connections: this.#connections.size }, 'draining');
    for (const connection of [...this.#connections]) connection.close(code, reason);
    const drainTimeout = options.drainTimeout ?? this.options.drainTimeout;
    const drained = await this.#waitForEmpty(drainTimeout);
    if (!drained) {
      this.#log.warn({ stragglers: this.#connections.size }, 'drain deadline passed: terminating stragglers');
      for (const connection of [...this.#connections]) connection.terminateForDrain();
      await this.#waitForEmpty(Infinity);
    }
    for (const pending of this.#pending) this.#abortPending(pending);
    for (const socket of this.#refused) socket.terminate();
    this.#http.off('upgrade', this.#onUpgrade);
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    if (this.#ownsHttp && this.#http.listening) {
      await new Promise<void>((resolve) => {
        this.#http.close(() => resolve());
        this.#http.closeAllConnections();
      });
    }
    this.#machine.to('closed', undefined);
  }

  #shutdownReason(code: number, options: CloseServerOptions): string {
    const text = options.reason ?? describeCloseCode(code).name;
    if (code !== CloseCode.SERVICE_RESTART && code !== CloseCode.TRY_AGAIN_LATER) return fitCloseReason(text);
    const spread = options.retrySpread ?? Math.min(60_000, Math.max(1000, this.#connections.size * 2));
    const hint = formatRetryHint({ afterMs: options.retryAfter ?? 1000, spreadMs: spread });
    // The hint must survive the 123-byte limit, so the human part is what gets cut.
    return `${fitCloseReason(text).slice(0, Math.max(0, MAX_CLOSE_REASON_BYTES - utf8ByteLength(hint) - 2))}; ${hint}`;
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

  // ---- handshake ---------------------------------------------------------------------------

  readonly #onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = requestUrl(request);
    // Attached to someone else's server: upgrades on other paths belong to other listeners.
    if (!this.options.paths.includes(url.pathname) && !this.#ownsHttp && this.#http.listenerCount('upgrade') > 1) return;
    socket.on('error', (error) => this.#log.debug({ err: error }, 'socket error during handshake'));
    if (this.#machine.state === 'closed') {
      socket.destroy();
      return;
    }
    const pending = new PendingHandshake(request, socket);
    this.#pending.add(pending);
    pending.arm(this.clock.setTimeout(() => this.#refuse(pending, reject('timeout', 'handshake timed out', this.options.retryAfter)), this.options.handshakeTimeout));
    void this.#handshake(pending, url, head);
  };

  async #handshake(pending: PendingHandshake, url: URL, head: Buffer): Promise<void> {
    const { request } = pending;
    const decision = judgeHandshake(
      { method: request.method ?? '', path: url.pathname, headers: request.headers },
      limitsFor(this.options, this.#originAllowed, {
        draining: this.#machine.state !== 'running',
        load: this.#connections.size + this.#pending.size - 1,
        admitted: () => this.#admission.take(),
        retryAfterMs: () => this.#admission.waitMs() || this.options.retryAfter,
      }),
    );
    if (!decision.accept) return this.#refuse(pending, decision);
    let user = undefined as User;
    if (this.options.authenticate && this.options.authenticateOn === 'handshake') {
      const verdict = await runAuthenticate(this.options.authenticate, authRequest(request, url));
      if (pending.settled) return; // timed out or the peer left while the hook ran
      if ('rejection' in verdict) return this.#refuse(pending, verdict.rejection);
      user = verdict.user;
    }
    if (this.#machine.state !== 'running') {
      return this.#refuse(pending, reject('draining', 'server is shutting down', this.options.retryAfter));
    }
    this.#upgrade(pending, head, (socket) => this.#accept(socket, request, user));
  }

  #upgrade(pending: PendingHandshake, head: Buffer, then: (socket: WebSocket) => void): void {
    const timer = pending.settle();
    if (timer !== undefined) this.clock.clearTimeout(timer);
    this.#pending.delete(pending);
    if (pending.socket.destroyed) return;
    this.#wss.handleUpgrade(pending.request, pending.socket, head, then);
  }

  #refuse(pending: PendingHandshake, rejection: HandshakeRejection): void {
    if (pending.settled) return;
    this.stats.countHandshake(rejection.status);
    this.emit('rejected', rejection, pending.request);
    const closeCode = this.options.handshakeRejection === 'close' ? closeCodeOfRejection[rejection.kind] : undefined;
    if (closeCode !== undefined) {
      // Browsers cannot read a refused handshake's status, so accept and close at once with
      // an application code (and the retry hint in the reason) they can read.
      const hint = rejection.retryAfterMs === undefined ? '' : `; ${formatRetryHint({ afterMs: rejection.retryAfterMs, spreadMs: rejection.retryAfterMs })}`;
      this.#upgrade(pending, Buffer.alloc(0), (socket) => this.#closeRefused(socket, closeCode, fitCloseReason(`${rejection.message}${hint}`)));
      return;
    }
    const timer = pending.settle();
    if (timer !== undefined) this.clock.clearTimeout(timer);
    this.#pending.delete(pending);
    writeRejection(pending.socket, rejection);
  }

  /** Accept-then-close: the socket is ours until it is gone, on our clock, and shutdown ends it. */
  #closeRefused(socket: WebSocket, code: number, reason: string): void {
    this.#refused.add(socket);
    const deadline = new Timer(this.clock, () => socket.terminate());
    socket.on('error', (error) => this.#log.debug({ err: error }, 'error on a refused socket'));
    socket.once('close', () => {
      deadline.stop();
      this.#refused.delete(socket);
    });
    deadline.start(this.closeTimeout);
    socket.close(code, reason);
  }

  #abortPending(pending: PendingHandshake): void {
    const timer = pending.settle();
    if (timer !== undefined) this.clock.clearTimeout(timer);
    this.#pending.delete(pending);
    pending.socket.destroy();
  }

  #accept(socket: WebSocket, request: IncomingMessage, user: User): void {
    this.stats.countHandshake(101);
    const firstMessage = this.#firstMessage;
    const connection = new Connection<User>(socket, this, {
      id: randomUUID(),
      user,
      remoteAddress: request.socket.remoteAddress ?? '',
      protocol: socket.protocol,
      authenticating: firstMessage !== undefined,
      maxMessageRate: this.options.maxMessageRate,
      maxInvalidPerMinute: this.options.maxInvalidMessages,
    });
    this.#connections.add(connection);
    attachSocket(socket, connection as Connection<unknown>, this);
    if (firstMessage) firstMessage.begin(connection, request);
    else this.emit('connection', connection, request);
  }

  // ---- SocketSink: what socket listeners call ------------------------------------------------

  firstMessage(connection: Connection<unknown>, message: Envelope | undefined, binary?: Buffer): void {
    this.#firstMessage?.message(connection as Connection<User>, message, binary);
  }

  dispatchMessage(connection: Connection<unknown>, message: Envelope): void {
    this.stats.messagesIn++;
    for (const listener of this.listeners('message')) {
      this.#guard(connection, () => listener.call(this, connection as Connection<User>, message));
    }
  }

  dispatchBinary(connection: Connection<unknown>, data: Buffer): void {
    this.stats.messagesIn++;
    for (const listener of this.listeners('binary')) {
      this.#guard(connection, () => listener.call(this, connection as Connection<User>, data));
    }
  }

  /** A throwing or rejecting handler is the server's fault: close 1011, log, never leak details. */
  #guard(connection: Connection<unknown>, run: () => unknown): void {
    const fail = (error: unknown): void => {
      this.#log.error({ err: error, id: connection.id }, 'message handler failed');
      this.#emitError(error instanceof Error ? error : new Error(String(error)), connection);
      if (connection.state === 'open') connection.close(CloseCode.INTERNAL_ERROR, 'internal error');
    };
    try {
      const result = run();
      if (result instanceof Promise) result.catch(fail);
    } catch (error) {
      fail(error);
    }
  }

  invalidMessage(connection: Connection<unknown>, code: string, detail: string): void {
    this.stats.invalidMessages++;
    if (!connection.admitInvalid()) {
      connection.close(CloseCode.POLICY_VIOLATION, 'too many invalid messages');
      return;
    }
    connection.send({ type: 'error', code, message: detail });
  }

  socketError(connection: Connection<unknown>, error: Error): void {
    this.#log.warn({ id: connection.id, err: error }, 'peer protocol error');
    this.#emitError(error, connection);
  }

  countIn(bytes: number): void {
    this.stats.bytesIn += bytes;
  }

  // ---- ConnectionHost: what connections call ---------------------------------------------------

  onSlowConsumer(connection: Connection<unknown>): void {
    this.stats.slowConsumerCloses++;
    this.#log.warn({ id: connection.id, buffered: connection.bufferedAmount }, 'slow consumer: outbound budget exceeded');
  }

  onClosed(connection: Connection<unknown>, report: CloseReport): void {
    const conn = connection as Connection<User>;
    this.#connections.delete(conn);
    this.#firstMessage?.forget(conn);
    this.stats.countClose(report.code);
    const normal = report.code === CloseCode.NORMAL || report.code === CloseCode.GOING_AWAY || report.code === CloseCode.NO_STATUS;
    if (!normal || !report.wasClean) {
      this.#log.warn({ id: conn.id, code: report.code, reason: report.reason, wasClean: report.wasClean, duration: report.duration }, 'abnormal close');
    }
    this.emit('close', conn, report);
    if (this.#connections.size === 0) for (const wake of this.#emptyWaiters.splice(0)) wake();
  }

  onCleanupError(connection: Connection<unknown>, error: unknown): void {
    this.#log.error({ id: connection.id, err: error }, 'connection cleanup failed');
  }

  #emitError(error: Error, connection: Connection<unknown> | undefined): void {
    if (this.listenerCount('error') > 0) this.emit('error', error, connection as Connection<User> | undefined);
  }

  #createOwnHttpServer(): HttpServer {
    const { handshakeTimeout, onRequest } = this.options;
    // A request whose headers do not complete within handshakeTimeout is dropped by Node
    // (408) before it ever becomes an upgrade: the slowloris defence for the header phase.
    return createHttpServer(
      {
        headersTimeout: handshakeTimeout,
        requestTimeout: Math.max(handshakeTimeout, 300_000),
        connectionsCheckingInterval: Math.min(1000, handshakeTimeout),
      },
      (request, response) => {
        // Node routes a request without `Upgrade` + `Connection: upgrade` here, not to
        // 'upgrade': on an endpoint path that is a malformed handshake, answered as one.
        if (answerEndpointRequest(request, response, this.options.paths)) return;
        if (onRequest) onRequest(request, response);
        else response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
      },
    );
  }
}

function deflateOptions(option: ResolvedServerOptions<unknown>['perMessageDeflate'], maxPayload: number): false | object {
  if (option === false) return false;
  const custom = option === true ? {} : option;
  return {
    threshold: custom.threshold ?? 1024,
    concurrencyLimit: custom.concurrencyLimit ?? 10,
    zlibDeflateOptions: { level: custom.level ?? 3 },
    // Inflated size is bounded by maxPayload (ws checks it while inflating: zip-bomb safe).
    zlibInflateOptions: { maxOutputLength: maxPayload },
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
  };
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
