import { EventEmitter } from 'node:events';
import { Server as PlainHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { pino } from 'pino';
import { WebSocketServer } from 'ws';
import { CloseCode } from '../core/close-codes.js';
import { assertValidClose } from '../core/close-frame.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { Envelope } from '../core/envelope.js';
import { LifelineError } from '../core/errors.js';
import { KeepaliveSweep } from '../core/keepalive.js';
import { silentLogger, type LifelineLogger } from '../core/logger.js';
import type { Position } from '../core/position.js';
import { shutdownReason } from '../core/shutdown-reason.js';
import { StateMachine } from '../core/state-machine.js';
import { MemoryBroker } from '../broker/memory-broker.js';
import type { Broker } from '../broker/broker.js';
import { AppListeners } from './app-listeners.js';
import type { Connection } from './connection.js';
import { ConnectionRegistry } from './connection-registry.js';
import { HandshakeGate } from './handshake-gate.js';
import { LoopDelayMonitor } from './loop-delay-monitor.js';
import { endpointOf, normalizedPaths, requestUrl } from './handshake.js';
import { hasDotSegment, rawPath } from './request-target.js';
import { createEndpointServer, serveWithoutUpgrade, upgradesToWebSocket } from './http-server.js';
import { deflateOptions, resolveServerOptions, type ResolvedServerOptions, type ServerOptions } from './options.js';
import { readHistory, type HistoryOptions, type HistoryPage } from './protocol/history.js';
import { Hub, type RequestHandler } from './protocol/hub.js';
import { PROTOCOL } from '../protocol/protocol-name.js';
import type { ServerEvents, ServerState } from './server-events.js';
import { drainAndClose } from './server-shutdown.js';
import { ServerStats } from './stats.js';

export type { ServerEvents, ServerState } from './server-events.js';

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
 * rejects) closes that connection with 1011; a throwing `disconnect`, `rejected` or `state`
 * listener is logged and reported as `error`. None of them can take the process down.
 *
 * This class is the façade: connections live in a {@link ConnectionRegistry}, listeners are
 * called by {@link AppListeners}, shutdown runs in {@link drainAndClose}, `lifeline.v1` in the hub.
 */
export class LifelineServer<User = unknown> extends EventEmitter<ServerEvents<User>> {
  readonly options: ResolvedServerOptions<User>;
  readonly stats = new ServerStats();
  readonly clock: Clock;
  readonly log: LifelineLogger;

  readonly #http: HttpServer | HttpsServer;
  readonly #ownsHttp: boolean;
  readonly #wss: WebSocketServer;
  readonly #gate: HandshakeGate<User>;
  readonly #registry: ConnectionRegistry<User>;
  readonly #listeners: AppListeners<User>;
  readonly #machine: StateMachine<ServerState>;
  readonly #keepalive: KeepaliveSweep<Connection<User>>;
  /** Samples the event loop's delay for `maxEventLoopDelay` (idle when it is off). */
  readonly #loop: LoopDelayMonitor;
  readonly #hub: Hub<User>;
  readonly #broker: Broker;
  readonly #ownsBroker: boolean;
  /** The endpoint paths a URL leaves as they are: a target naming one is served without parsing it. */
  readonly #endpoints: readonly string[];
  #closing: Promise<void> | undefined;
  /** The pending bind of Lifeline's own http server, which shutdown must wait for. */
  #listening: Promise<void> | undefined;

  constructor(options: ServerOptions<User> = {}) {
    super();
    const resolved = resolveServerOptions(options);
    this.options = resolved;
    this.clock = resolved.clock;
    this.#endpoints = normalizedPaths(resolved.paths);
    this.log = resolved.logger === false ? silentLogger : (resolved.logger ?? pino({ level: 'warn', name: 'lifeline' }));
    this.#listeners = new AppListeners<User>(this, this.log);
    this.#machine = new StateMachine<ServerState>('running', shutdownTransitions, ({ from, to }) => this.#listeners.notify('state', [{ from, to }]));
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: resolved.maxPayload,
      // Pings are answered by the connection, counted against the message rate (ws's own
      // answer ends a flood by dropping the TCP connection with no close code).
      autoPong: false,
      // A close the peer started is ended by ws's timer (Lifeline hears nothing between the
      // peer's close frame and the end of the socket): closeTimeout, not ws's 30 s. It runs on
      // real time, so with an injected clock (tests) it stays at ws's default and only the
      // clock-driven timer for closes the server starts follows closeTimeout.
      ...(resolved.clock === systemClock ? { closeTimeout: resolved.closeTimeout } : {}),
      perMessageDeflate: deflateOptions(resolved.perMessageDeflate, resolved.maxPayload),
      // The channel protocol first: a client that offers it is a Lifeline client.
      handleProtocols: (offered) => [PROTOCOL, ...resolved.protocols].find((p) => offered.has(p)) ?? false,
    });
    this.#ownsBroker = resolved.broker === undefined;
    this.#broker = resolved.broker ?? new MemoryBroker({ clock: resolved.clock, historyBudget: resolved.historyBudget, maxIdempotencyKeys: resolved.maxIdempotencyKeys, maxKeysPerUser: resolved.maxKeysPerUser, idleChannelTtl: resolved.idleChannelTtl, positionTtl: resolved.recoveryWindow });
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
      invalid: (connection, code, detail, id) => this.#registry.invalidMessage(connection, code, detail, id),
      limits: {
        helloTimeout: resolved.helloTimeout,
        maxSubscriptions: resolved.maxSubscriptions,
        maxSessionsPerUser: resolved.maxSessionsPerUser,
        maxChannels: resolved.maxChannels,
        maxPresenceMembers: resolved.maxPresenceMembers,
        maxQueuedMessages: resolved.maxQueuedMessages,
        maxReplayRate: resolved.maxReplayRate,
        maxPendingDirect: resolved.maxPendingDirect,
      },
      refresh: (connection, token) => this.#registry.refresh(connection, token),
    });
    this.#registry = new ConnectionRegistry<User>({ options: resolved, stats: this.stats, log: this.log, listeners: this.#listeners, hub: this.#hub });
    this.#loop = new LoopDelayMonitor(resolved.clock, resolved.maxEventLoopDelay);
    this.#gate = this.#createGate(resolved);
    this.#keepalive = this.#createKeepalive(resolved);
    this.#ownsHttp = resolved.server === undefined;
    this.#http = resolved.server ?? createEndpointServer(resolved);
    this.#http.on('upgrade', this.#onUpgrade);
    // Attached to the app's server, Lifeline serves at once and `listen()` is optional, so the
    // keepalive must not wait for it (a dead peer would never be detected).
    if (!this.#ownsHttp) this.#startTimers();
  }

  get state(): ServerState {
    return this.#machine.state;
  }

  /** Running and its broker can serve: what `/readyz` reports. */
  get ready(): boolean {
    return this.state === 'running' && (this.#broker.isReady?.() ?? true);
  }

  /** The broker this server uses (the embedded in-memory one unless `broker` was given). */
  get broker(): Broker {
    return this.#broker;
  }

  /** Open connections (authenticated or awaiting first-message authentication). */
  get connections(): ReadonlySet<Connection<User>> {
    return this.#registry.connections;
  }

  /** The underlying http(s) server (Lifeline's own, or the one it was attached to). */
  get httpServer(): HttpServer | HttpsServer {
    return this.#http;
  }

  /**
   * Starts listening when Lifeline owns the http server; reports where. Throws a `LifelineError`
   * (`ERR_SERVER_CLOSED`) once closing; a bind that fails (`EADDRINUSE`) rejects with Node's
   * error, and a later call binds again.
   */
  async listen(): Promise<ListenInfo> {
    this.#assertRunning();
    if (this.#ownsHttp && !this.#http.listening) {
      this.#listening ??= new Promise<void>((resolve, reject) => {
        const failed = (error: Error): void => {
          this.#listening = undefined; // a later listen() tries again (the port may be free by then)
          reject(error);
        };
        this.#http.once('error', failed);
        this.#http.listen(this.options.port, this.options.host, () => {
          this.#http.off('error', failed);
          resolve();
        });
      });
      await this.#listening;
    }
    // close() may have run while the port was being bound: then nothing may start again.
    this.#assertRunning();
    this.#startTimers();
    return this.address();
  }

  /** Where the server listens. Throws a `LifelineError` (`ERR_NOT_LISTENING`) before it does. */
  address(): ListenInfo {
    const address = this.#http.address() as AddressInfo | null;
    if (address === null) throw new LifelineError('ERR_NOT_LISTENING', 'the server is not listening');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return { host: address.address, port: address.port, url: `http://${host}:${address.port}` };
  }

  /** The keepalive sweep and the loop delay sampling run while the server serves. */
  #startTimers(): void {
    this.#keepalive.start();
    this.#loop.start();
  }

  #assertRunning(): void {
    if (this.#machine.state !== 'running') throw new LifelineError('ERR_SERVER_CLOSED', `the server is ${this.#machine.state}`);
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

  /**
   * Sends to one session, kept until the client acknowledges it (for the recovery window). False
   * if the session is unknown, or if its outbox already holds `maxPendingDirect` unacknowledged
   * messages (then nothing is stored; `loadSession` on the broker tells the two apart).
   */
  sendTo(session: string, data: unknown): Promise<boolean> {
    return this.#hub.sendTo(session, data);
  }

  /** Sends to every session of `user` (as `authenticate` named it), on any node; resolves with how many took it (a full outbox does not). */
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
    for (const session of this.#hub.sessions.values()) map.set(session.connection, { session: session.id, subscriptions: session.subscriptionCount });
    return map;
  }

  /** Sends to every open connection; the message is serialized and framed once. Returns how many got it. */
  broadcast(message: Envelope | string): number {
    return this.#registry.broadcast(typeof message === 'string' ? message : JSON.stringify(message));
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
      reason = shutdownReason(code, options, this.#registry.size);
      assertValidClose(code, reason);
    } catch (error) {
      return Promise.reject(error);
    }
    // #closing is set before the shutdown runs a single line, so a listener of the 'state'
    // change it announces that calls close() again gets this same promise.
    let settle!: { resolve: () => void; reject: (error: unknown) => void };
    this.#closing = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    this.#loop.stop(); // a draining server refuses every handshake anyway
    this.#machine.to('draining', undefined);
    drainAndClose(
      {
        log: this.log,
        clock: this.clock,
        stopKeepalive: () => this.#keepalive.stop(),
        registry: this.#registry,
        gate: this.#gate,
        hub: this.#hub,
        ownedBroker: this.#ownsBroker ? this.#broker : undefined,
        wss: this.#wss,
        http: this.#http,
        ownsHttp: this.#ownsHttp,
        detachUpgrade: () => this.#http.off('upgrade', this.#onUpgrade),
        listening: this.#listening,
      },
      code,
      reason,
      options.drainTimeout ?? this.options.drainTimeout,
    ).then(() => {
      this.#machine.to('closed', undefined);
      settle.resolve();
    }, settle.reject);
    return this.#closing;
  }

  readonly #onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (this.#gate.shed(request, socket)) return; // a flood's refusals first, before any other work
    // The target as it stands when it names an endpoint (what a URL would make of it), else parsed.
    const endpoint = endpointOf(request.url, this.#endpoints);
    const url = endpoint === undefined ? requestUrl(request) : undefined;
    // A target with dot segments names no endpoint: resolved, `/x/../ws` would be `/ws`, which a
    // proxy guarding `/ws` by path never saw.
    const path = endpoint ?? (hasDotSegment(request.url ?? '/') ? rawPath(request.url ?? '/') : (url as URL).pathname);
    if (endpoint === undefined && !this.options.paths.includes(path)) {
      // Attached to someone else's server: upgrades on other paths belong to other listeners.
      if (!this.#ownsHttp && this.#http.listenerCount('upgrade') > 1) return;
      // An upgrade to another protocol (h2c) off the endpoints is a request for the app's routes.
      if (!upgradesToWebSocket(request) && this.#http instanceof PlainHttpServer && !('encrypted' in socket)) return serveWithoutUpgrade(this.#http, request, socket, head);
    }
    if (this.#machine.state === 'closed') {
      socket.destroy();
      return;
    }
    this.#gate.handle(request, socket, head, path, url);
  };

  #createGate(resolved: ResolvedServerOptions<User>): HandshakeGate<User> {
    return new HandshakeGate<User>(
      {
        options: resolved,
        clock: resolved.clock,
        rng: resolved.rng,
        log: this.log,
        running: () => this.#machine.state === 'running',
        openConnections: () => this.#registry.size,
        behind: () => this.#loop.behind(),
        accept: (socket, request, credentials) => this.#registry.accept(socket, request, credentials),
        refused: (rejection, request) => {
          this.stats.countHandshake(rejection.status);
          this.stats.countRefusal(rejection.kind);
          this.#listeners.notify('rejected', [rejection, request]);
        },
        hookFailed: (error) => this.#listeners.failed(error, 'authenticate hook failed', undefined),
      },
      this.#wss,
    );
  }

  #createKeepalive(resolved: ResolvedServerOptions<User>): KeepaliveSweep<Connection<User>> {
    return new KeepaliveSweep(resolved.clock, resolved, {
      targets: () => this.#registry.connections.values(),
      ping: (connection, fresh) => connection.ping(resolved.appPings, fresh),
      expire: (connection) => {
        this.stats.heartbeatTerminations++;
        this.log.warn({ id: connection.id, pongTimeout: resolved.pongTimeout }, 'no pong within pongTimeout: terminating');
        connection.expire();
      },
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
