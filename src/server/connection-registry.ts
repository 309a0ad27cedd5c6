import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { CloseCode, closeLogLevels, closeSeverity, describeCloseCode } from '../core/close-codes.js';
import type { Envelope } from '../core/envelope.js';
import type { LifelineLogger } from '../core/logger.js';
import { LogThrottle } from '../core/log-throttle.js';
import { Timer } from '../core/timer.js';
import { sameIdentity } from '../protocol/identity.js';
import type { AppListeners } from './app-listeners.js';
import { Connection, type CloseReport, type ConnectionHost } from './connection.js';
import { FirstMessageAuth } from './first-message-auth.js';
import { authRequest, requestUrl, runAuthenticate, type Credentials } from './handshake.js';
import type { AuthRequest, ResolvedServerOptions } from './options.js';
import type { Hub } from './protocol/hub.js';
import { PROTOCOL } from '../protocol/protocol-name.js';
import { attachSocket } from './socket-listeners.js';
import type { ServerStats } from './stats.js';
import { flatUuid } from './flat-uuid.js';
import { prepareText, type PreparedText } from './prepared-text.js';

/** Lines a second of each warning peers can cause (an abnormal close, a protocol error, ...); the rest are counted. */
export const PEER_WARNINGS_PER_SECOND = 50;

/** What the registry works with: the server's settings, counters, log, listeners and protocol hub. */
export interface RegistryParts<User> {
  readonly options: ResolvedServerOptions<User>;
  readonly stats: ServerStats;
  readonly log: LifelineLogger;
  readonly listeners: AppListeners<User>;
  readonly hub: Hub<User>;
}

/**
 * The server's open connections: it accepts upgraded sockets, routes what they receive (to the
 * `lifeline.v1` hub or the app's listeners), hears their close, judges token refreshes and
 * tells shutdown when the last one has gone. What connections and socket listeners call back
 * into, so none of it is on the public server object.
 */
export class ConnectionRegistry<User> implements ConnectionHost {
  readonly clock;
  readonly epoch: number;
  readonly closeTimeout: number;
  readonly outboundBudget: number;
  readonly maxInvalidPerMinute: number;
  readonly maxMessageRate: number;
  readonly binaryPolicy: 'allow' | 'reject';

  readonly #parts: RegistryParts<User>;
  readonly #connections = new Set<Connection<User>>();
  readonly #emptyWaiters: (() => void)[] = [];
  /** What a token refresh needs of connections whose credentials expire. */
  readonly #refreshable = new WeakMap<Connection<User>, AuthRequest>();
  readonly #firstMessage: FirstMessageAuth<User> | undefined;
  /**
   * The warnings peers can cause (abnormal and fatal closes, protocol errors, slow consumers)
   * are logged at most {@link PEER_WARNINGS_PER_SECOND} a second each, the next line saying how
   * many were left out: a network blip that drops every connection, or a peer that reconnects
   * and misbehaves in a loop, would otherwise write a line each, in the event loop's time (a
   * log written synchronously to a pipe waits for its reader).
   */
  readonly #peerWarnings = new Map<string, LogThrottle>();

  constructor(parts: RegistryParts<User>) {
    this.#parts = parts;
    this.clock = parts.options.clock;
    this.epoch = this.clock.now();
    this.closeTimeout = parts.options.closeTimeout;
    this.outboundBudget = parts.options.outboundBudget;
    this.maxInvalidPerMinute = parts.options.maxInvalidMessages;
    this.maxMessageRate = parts.options.maxMessageRate;
    this.binaryPolicy = parts.options.binary;
    this.#firstMessage = this.#createFirstMessageAuth(parts.options);
  }

  get connections(): ReadonlySet<Connection<User>> {
    return this.#connections;
  }

  get size(): number {
    return this.#connections.size;
  }

  /** A socket passed the handshake: it becomes a connection, announced now or after its first message. */
  accept(socket: WebSocket, request: IncomingMessage, { user, expiresAt, anonymous }: Credentials<User>): void {
    const { stats, hub, listeners } = this.#parts;
    stats.countHandshake(101);
    const firstMessage = this.#firstMessage;
    const connection = new Connection<User>(socket, this, {
      id: flatUuid(),
      user,
      anonymous: anonymous === true,
      remoteAddress: request.socket.remoteAddress ?? '',
      authenticating: firstMessage !== undefined,
      // The upgraded socket itself; frames prepared once may go straight to it (no extension to apply).
      ...(socket.extensions === '' ? { transport: request.socket } : {}),
    });
    this.#connections.add(connection);
    attachSocket(socket, connection as Connection<unknown>);
    if (expiresAt !== undefined) {
      connection.expireAt(expiresAt);
      // A refresh is judged by the same hook, with the handshake's request and the new token.
      this.#refreshable.set(connection, authRequest(request, requestUrl(request)));
    }
    if (connection.protocol === PROTOCOL) hub.attach(connection);
    if (firstMessage) firstMessage.begin(connection, request);
    else listeners.notify('connection', [connection, request], connection);
  }

  /**
   * Sends a serialized message to every open connection; returns how many got it. Framed once,
   * at the first open connection: every uncompressed connection writes the same frame.
   */
  broadcast(text: string): number {
    let sent = 0;
    let prepared: PreparedText | undefined;
    for (const connection of this.#connections) {
      if (connection.state === 'open' && connection.sendPrepared((prepared ??= prepareText(text))).ok) sent++;
    }
    return sent;
  }

  /** Starts the closing handshake of every connection. */
  closeAll(code: number, reason: string): void {
    for (const connection of [...this.#connections]) connection.close(code, reason);
  }

  /** Ends every connection still open at the drain deadline. */
  terminateAll(): void {
    for (const connection of [...this.#connections]) connection.terminateForDrain();
  }

  /** Resolves true once no connection is left, false if `timeout` ms pass first. */
  waitForEmpty(timeout: number): Promise<boolean> {
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

  /**
   * A `refresh` on a live connection: the `authenticate` hook judges the new token; it must name
   * the same user. Success moves the expiry; failure leaves the old expiry in force.
   */
  async refresh(connection: Connection<User>, token: string): Promise<{ readonly expiresAt: number } | { readonly error: string }> {
    const { options, listeners } = this.#parts;
    const request = this.#refreshable.get(connection);
    const authenticate = options.authenticate;
    if (!request || !authenticate) return { error: 'this connection has no expiring credentials to refresh' };
    const verdict = await runAuthenticate(authenticate, { ...request, token }, (error) => listeners.failed(error, 'authenticate hook failed', undefined), options.retryAfter);
    if ('rejection' in verdict) return { error: verdict.rejection.message };
    if (!sameIdentity(verdict.user, connection.user)) return { error: 'a refresh must keep the same user' };
    if (verdict.expiresAt === undefined) return { error: 'the refreshed credentials carry no expiry' };
    connection.expireAt(verdict.expiresAt);
    return { expiresAt: verdict.expiresAt };
  }

  // ---- SocketSink: what socket listeners call ------------------------------------------------

  firstMessage(connection: Connection<unknown>, message: Envelope | undefined, binary?: Buffer): void {
    this.#firstMessage?.message(connection as Connection<User>, message, binary);
  }

  dispatchMessage(connection: Connection<unknown>, message: Envelope): void {
    this.#parts.stats.messagesIn++;
    if (connection.protocol === PROTOCOL) this.#parts.hub.message(connection as Connection<User>, message);
    else this.#parts.listeners.notify('message', [connection as Connection<User>, message], connection);
  }

  dispatchBinary(connection: Connection<unknown>, data: Buffer): void {
    this.#parts.stats.messagesIn++;
    this.#parts.listeners.notify('binary', [connection as Connection<User>, data], connection);
  }

  invalidMessage(connection: Connection<unknown>, code: string, detail: string, id?: number): void {
    this.#parts.stats.invalidMessages++;
    if (!connection.admitInvalid()) {
      connection.close(CloseCode.POLICY_VIOLATION, 'too many invalid messages');
      return;
    }
    connection.send(id === undefined ? { type: 'error', code, message: detail } : { type: 'error', id, code, message: detail });
  }

  socketError(connection: Connection<unknown>, error: Error): void {
    this.#warn({ id: connection.id, err: error }, 'peer protocol error');
    this.#parts.listeners.emitError(error, connection);
  }

  countIn(bytes: number): void {
    this.#parts.stats.bytesIn += bytes;
  }

  // ---- ConnectionHost: what connections call ---------------------------------------------------

  countOut(bytes: number): void {
    this.#parts.stats.countOut(bytes);
  }

  onSlowConsumer(connection: Connection<unknown>): void {
    this.#parts.stats.slowConsumerCloses++;
    this.#warn({ id: connection.id, buffered: connection.bufferedAmount }, 'slow consumer: outbound budget exceeded');
  }

  onClosed(connection: Connection<unknown>, report: CloseReport): void {
    const { stats, log, hub, listeners } = this.#parts;
    const conn = connection as Connection<User>;
    this.#connections.delete(conn);
    this.#firstMessage?.forget(conn);
    if (conn.protocol === PROTOCOL) hub.detach(conn).catch((error: unknown) => log.error({ err: error, id: conn.id }, 'parking the session failed'));
    stats.countClose(report.code);
    // The level follows the close-code table: fatal and abnormal closes warn, expected ones
    // (4000 credentials expired, a restart, a kick) are info, normal ones debug.
    const severity = closeSeverity(report.code, report.wasClean);
    const level = closeLogLevels[severity];
    const fields = { id: conn.id, code: report.code, name: describeCloseCode(report.code).name, reason: report.reason, wasClean: report.wasClean, duration: report.duration };
    if (level === 'warn') this.#warn(fields, `${severity} close`);
    else log[level](fields, `${severity} close`);
    listeners.notify('disconnect', [conn, report]);
    if (this.#connections.size === 0) for (const wake of this.#emptyWaiters.splice(0)) wake();
  }

  /** A warning a peer caused: logged within its message's budget, with how many were left out before it. */
  #warn(fields: Record<string, unknown>, message: string): void {
    let throttle = this.#peerWarnings.get(message);
    if (throttle === undefined) this.#peerWarnings.set(message, (throttle = new LogThrottle(this.clock, 1_000, PEER_WARNINGS_PER_SECOND)));
    const count = throttle.take();
    if (count > 0) this.#parts.log.warn(count > 1 ? { ...fields, suppressed: count - 1 } : fields, message);
  }

  onCleanupError(connection: Connection<unknown>, error: unknown): void {
    this.#parts.log.error({ id: connection.id, err: error }, 'connection cleanup failed');
  }

  #createFirstMessageAuth(options: ResolvedServerOptions<User>): FirstMessageAuth<User> | undefined {
    const authenticate = options.authenticate;
    if (!authenticate || options.authenticateOn !== 'first-message') return undefined;
    const { listeners } = this.#parts;
    return new FirstMessageAuth<User>({
      clock: options.clock,
      deadline: options.handshakeTimeout,
      authenticate,
      retryAfter: options.retryAfter,
      hookFailed: (error) => listeners.failed(error, 'authenticate hook failed', undefined),
      accepted: (connection, request) => {
        // Expiring credentials from the first message are refreshed like the handshake's.
        if (connection.expiresAt !== undefined) this.#refreshable.set(connection, authRequest(request, requestUrl(request)));
        listeners.notify('connection', [connection, request], connection);
      },
      deliver: (connection, item) => (Buffer.isBuffer(item) ? this.dispatchBinary(connection, item) : this.dispatchMessage(connection, item)),
    });
  }
}
