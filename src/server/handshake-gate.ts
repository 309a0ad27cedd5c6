import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { LifelineLogger } from '../core/logger.js';
import type { WebSocket, WebSocketServer } from 'ws';
import { fitCloseReason } from '../core/close-frame.js';
import type { Clock, Rng, TimerHandle } from '../core/clock.js';
import { busyRefusal, capacityRefusal, closeCodeOfRejection, judgeHandshake, makeOriginRule, rateRefusal, reject, type HandshakeLimits, type HandshakeRejection } from '../core/handshake-policy.js';
import { TokenBucket } from '../core/rate-limiter.js';
import { formatRetryHint } from '../core/retry-hint.js';
import { Timer } from '../core/timer.js';
import { authRequest, isEndpointTarget, requestUrl, runAuthenticate, type Credentials } from './handshake.js';
import { PreparedRejections, writeRejection, writeResponse } from './http-rejection.js';
import type { ResolvedServerOptions } from './options.js';

/** The shortest hint while the event loop is behind, ms, and how many whole seconds it is spread over. */
const BUSY_RETRY_AFTER_MS = 1_000;
const BUSY_RETRY_STEPS = 3;
/**
 * Refusals by upgrade-then-close (`handshakeRejection: 'close'`) still closing at once, at most
 * (and at most `maxConnections`): each holds its socket until its peer answers the close frame or
 * `closeTimeout`, so peers that never answer would otherwise make a node hold without bound.
 */
const MAX_CLOSING_REFUSALS = 1_024;

/** What the gate needs from the server it guards. */
export interface GateHost<User> {
  readonly options: ResolvedServerOptions<User>;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly log: LifelineLogger;
  running(): boolean;
  openConnections(): number;
  /** Whether the event loop is behind (`maxEventLoopDelay`): new handshakes are refused while it is. */
  behind(): boolean;
  /** A handshake passed every check: the socket is upgraded. */
  accept(socket: WebSocket, request: IncomingMessage, credentials: Credentials<User>): void;
  /** A handshake was refused (HTTP status, or close code in close mode). */
  refused(rejection: HandshakeRejection, request: IncomingMessage): void;
  /** The app's `authenticate` hook threw. */
  hookFailed(error: unknown): void;
}

/** One opening handshake in flight, with its deadline and the listener that frees its slot. */
interface Pending {
  readonly request: IncomingMessage;
  readonly socket: Duplex;
  timer: TimerHandle | undefined;
  /** The peer left (its socket closed, or it ended its side): the slot is freed and the socket ended. */
  readonly onPeerGone: () => void;
}

/**
 * The opening handshake, from 'upgrade' to an upgraded socket or one refusal (RFC 6455 §4.2):
 * the pure judge, then the `authenticate` hook, under one deadline. A handshake waiting for the
 * hook holds a capacity slot, and every way out (accepted, refused, timed out, peer gone,
 * shutdown) goes through {@link release}, so no slot outlives its socket; one without a hook is
 * decided in the turn it arrived in and holds none.
 */
export class HandshakeGate<User> {
  readonly #pending = new Set<Pending>();
  /** Sockets accepted only to be closed at once (`handshakeRejection: 'close'`). */
  readonly #refused = new Set<WebSocket>();
  /** Shut down: a socket refused now is ended at once. */
  #closed = false;
  /** How many refused sockets may be closing at once; past it a refusal is answered over HTTP. */
  readonly #closingCap: number;
  readonly #admission: TokenBucket;
  readonly #originAllowed;
  readonly #prepared = new PreparedRejections();
  /** The server's limits as the judge reads them, live: one object for every handshake. */
  readonly #limits: HandshakeLimits;
  /**
   * How the upgrade under way answers when ws refuses it itself (a header ws reads and the judge
   * does not: `Sec-WebSocket-Protocol`, `Sec-WebSocket-Extensions`, an `Upgrade` list). Set only
   * for the synchronous `handleUpgrade` call, which reports such a refusal before it returns.
   */
  #upgradeRefused: ((message: string) => void) | undefined;

  constructor(
    private readonly host: GateHost<User>,
    private readonly wss: WebSocketServer,
  ) {
    const { options } = host;
    this.#admission = new TokenBucket(host.clock, options.admissionRate, Math.max(1, options.admissionRate));
    this.#originAllowed = makeOriginRule(options.allowedOrigins);
    this.#limits = this.#liveLimits();
    this.#closingCap = Math.min(options.maxConnections, MAX_CLOSING_REFUSALS);
    // ws answers these itself unless someone listens: its response would bypass the `rejected`
    // event and the counters (and in close mode skip the close code).
    wss.on('wsClientError', this.#onUpgradeRefused);
  }

  /**
   * Getters, read by the judge only when the checks before them passed: the limiter is asked
   * last, so a rate refusal carries its fresh wait. A handshake is judged before it takes a slot.
   */
  #liveLimits(): HandshakeLimits {
    const { host } = this;
    const { options } = host;
    const admission = this.#admission;
    const pending = this.#pending;
    const spendBusy = (): number => this.#spendBusy();
    return {
      paths: options.paths,
      originAllowed: this.#originAllowed,
      get draining() {
        return !host.running();
      },
      get connections() {
        return host.openConnections() + pending.size;
      },
      maxConnections: options.maxConnections,
      get behind() {
        return host.behind();
      },
      get admitted() {
        return admission.take();
      },
      get retryAfterMs() {
        return admission.waitMs() || options.retryAfter;
      },
      // Read only for a busy refusal, which spends a token like the fast lane's (#spendBusy).
      get busyRetryAfterMs() {
        return spendBusy();
      },
    };
  }

  /** Handshakes in flight (each holds a capacity slot). */
  get inFlight(): number {
    return this.#pending.size;
  }

  /**
   * One listener for every socket (it stays on the socket for the connection's life): a closure
   * made here per handshake would keep the request and its headers alive as long (about 2 kB).
   */
  readonly #onSocketError = (error: Error): void => this.host.log.debug({ err: error }, 'socket error during handshake');

  readonly #onUpgradeRefused = (error: Error, socket: Duplex): void => {
    const refused = this.#upgradeRefused;
    this.#upgradeRefused = undefined;
    if (refused === undefined) socket.destroy();
    else refused(error.message);
  };

  /**
   * The hint of a refusal while the event loop is behind: 1, 2 or 3 s, drawn per refusal, so the
   * refused crowd comes back spread over a short window (a loop catches up in moments; a longer
   * hint would leave it idle). Three values: the prepared responses stay three buffers.
   */
  #busyRetryAfter(): number {
    return BUSY_RETRY_AFTER_MS * (1 + Math.floor(this.host.rng() * BUSY_RETRY_STEPS));
  }

  /**
   * The hint of a refusal while the event loop is behind, after spending an admission token if
   * there is one: time spent behind must not save up a burst that a storm would spend the moment
   * the loop has caught up (the burst is what puts it behind again), so after a stall handshakes
   * are admitted at the bucket's rate, not all at once.
   */
  #spendBusy(): number {
    this.#admission.take();
    return this.#busyRetryAfter();
  }

  /**
   * A flood's fast lane: a handshake on an endpoint path over `maxConnections`, while the event
   * loop is behind (`maxEventLoopDelay`), or over the admission rate is refused before anything
   * else is done for it (no URL, no header object, no deadline, no slot): the counters and the
   * 'rejected' event hear of it, the peer gets the prepared 503 with `Retry-After`. Such a handshake is not judged further, so a malformed one or one from a
   * refused Origin gets 503 too (it would be refused again on its return). Close mode, which
   * must upgrade to close with a code, takes the full path while it may hold one more closing
   * refusal (past that its refusals are HTTP ones anyway); a draining server always does.
   * @returns true when the handshake was refused here.
   */
  shed(request: IncomingMessage, socket: Duplex): boolean {
    const { host } = this;
    const { options } = host;
    if (!host.running() || this.#closesRefusals()) return false;
    let rejection: HandshakeRejection;
    if (host.openConnections() + this.#pending.size >= options.maxConnections) rejection = capacityRefusal(options.retryAfter);
    else if (host.behind()) rejection = busyRefusal(this.#busyRetryAfter());
    else if (!this.#admission.ready()) rejection = rateRefusal(this.#admission.waitMs() || options.retryAfter);
    else return false;
    if (!isEndpointTarget(request.url, options.paths)) return false;
    if (rejection.kind === 'busy') this.#admission.take(); // see #spendBusy
    socket.on('error', this.#onSocketError);
    host.refused(rejection, request);
    writeResponse(socket, this.#prepared.bytesOf(rejection));
    return true;
  }

  /**
   * Judges a handshake on an endpoint `path` (`url`: its parsed target, when the caller had to
   * build one; otherwise built here only if the `authenticate` hook needs it). Without a hook it
   * is decided in this turn, holding no slot, deadline or close listener: those are for a
   * handshake still in flight.
   */
  handle(request: IncomingMessage, socket: Duplex, head: Buffer, path: string, url?: URL): void {
    socket.on('error', this.#onSocketError);
    try {
      const decision = judgeHandshake({ method: request.method ?? '', httpVersion: request.httpVersion, path, headers: request.headers }, this.#limits);
      if (!decision.accept) return this.#refuse(request, socket, decision);
      const { options } = this.host;
      if (options.authenticate && options.authenticateOn === 'handshake') return this.#authenticate(request, socket, head, url ?? requestUrl(request), options.authenticate);
      this.#admit(request, socket, head, { user: undefined as User });
    } catch (error) {
      this.#failed(socket, error);
    }
  }

  /**
   * Shutdown: refuse handshakes in flight as any handshake is while draining (503, 4503 in close
   * mode: not dropped unanswered, so the peer gets its `Retry-After`) and end refused sockets
   * still closing; resolves when those are gone. A socket refused after this (the upgrade
   * listener stays until the sessions are parked) is ended at once, not left to its close deadline.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const draining = reject('draining', 'server is shutting down', this.host.options.retryAfter);
    for (const pending of [...this.#pending]) this.#refusePending(pending, draining);
    const closing = [...this.#refused].map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())));
    for (const socket of this.#refused) socket.terminate();
    await Promise.all(closing);
  }

  /** The `authenticate` hook's wait: the handshake holds a capacity slot, under one deadline, until it is decided. */
  #authenticate(request: IncomingMessage, socket: Duplex, head: Buffer, url: URL, authenticate: NonNullable<ResolvedServerOptions<User>['authenticate']>): void {
    const { host } = this;
    const pending: Pending = {
      request,
      socket,
      timer: undefined,
      onPeerGone: () => {
        this.#release(pending);
        socket.destroy();
      },
    };
    this.#pending.add(pending);
    // A peer that leaves frees its slot at once: one that resets the connection closes the
    // socket; one that closes it normally (FIN) only ends its side, which no WebSocket client
    // does before the answer (the server's socket allows half-open connections, so it would
    // stay open until the hook or the deadline).
    socket.once('close', pending.onPeerGone);
    socket.once('end', pending.onPeerGone);
    const { handshakeTimeout, retryAfter } = host.options;
    pending.timer = host.clock.setTimeout(() => this.#refusePending(pending, reject('timeout', 'handshake timed out', retryAfter)), handshakeTimeout);
    runAuthenticate(authenticate, authRequest(request, url), (error) => host.hookFailed(error), retryAfter)
      .then((verdict) => {
        if (!this.#pending.has(pending)) return; // timed out, or the peer left while the hook ran
        if ('rejection' in verdict) return this.#refusePending(pending, verdict.rejection);
        if (!this.#release(pending)) return;
        this.#admit(request, socket, head, verdict);
      })
      .catch((error: unknown) => {
        this.#release(pending);
        this.#failed(socket, error);
      });
  }

  /** Passed every check: upgraded, unless shutdown began meanwhile (a hook may have run). */
  #admit(request: IncomingMessage, socket: Duplex, head: Buffer, credentials: Credentials<User>): void {
    const { host } = this;
    if (!host.running()) return this.#refuse(request, socket, reject('draining', 'server is shutting down', host.options.retryAfter));
    this.#upgrade(
      request,
      socket,
      head,
      (upgraded) => host.accept(upgraded, request, credentials),
      (message) => this.#refuse(request, socket, reject('malformed', message)),
    );
  }

  #failed(socket: Duplex, error: unknown): void {
    this.host.log.error({ err: error }, 'handshake failed');
    socket.destroy();
  }

  /** The one way out for a pending handshake: its deadline cleared, its slot freed (idempotent). */
  #release(pending: Pending): boolean {
    if (!this.#pending.delete(pending)) return false;
    if (pending.timer !== undefined) this.host.clock.clearTimeout(pending.timer);
    pending.socket.off('close', pending.onPeerGone);
    pending.socket.off('end', pending.onPeerGone);
    return true;
  }

  /** Upgrades the socket, then `then`; `refused` answers instead when ws refuses the request. */
  #upgrade(request: IncomingMessage, socket: Duplex, head: Buffer, then: (socket: WebSocket) => void, refused: (message: string) => void): void {
    if (socket.destroyed) return;
    this.#upgradeRefused = refused;
    try {
      this.wss.handleUpgrade(request, socket, head, (upgraded) => {
        // ws hears the socket's errors from here on: ours would stay as one more listener per connection.
        socket.off('error', this.#onSocketError);
        then(upgraded);
      });
    } finally {
      this.#upgradeRefused = undefined;
    }
  }

  /** Refuses a handshake still pending (the hook's verdict, its deadline), once. */
  #refusePending(pending: Pending, rejection: HandshakeRejection): void {
    if (!this.#pending.has(pending)) return;
    this.host.refused(rejection, pending.request);
    this.#release(pending);
    this.#answerRefusal(pending.request, pending.socket, rejection);
  }

  /** Refuses a handshake that holds no slot (decided in the turn it arrived, or after its hook). */
  #refuse(request: IncomingMessage, socket: Duplex, rejection: HandshakeRejection): void {
    this.host.refused(rejection, request);
    this.#answerRefusal(request, socket, rejection);
  }

  /** Whether a refusal now is an upgrade-then-close: close mode, and fewer closing than the cap. */
  #closesRefusals(): boolean {
    return this.host.options.handshakeRejection === 'close' && this.#refused.size < this.#closingCap;
  }

  /**
   * Answers a refusal: in close mode by upgrade-then-close while fewer than the cap are closing,
   * otherwise (and for the refusals that have no close code) with the HTTP status and its
   * `Retry-After`, as status mode does.
   */
  #answerRefusal(request: IncomingMessage, socket: Duplex, rejection: HandshakeRejection): void {
    const closeCode = this.#closesRefusals() ? closeCodeOfRejection[rejection.kind] : undefined;
    if (closeCode !== undefined) {
      // Browsers cannot read a refused handshake's status, so accept and close at once with
      // an application code (and the retry hint in the reason) they can read.
      const hint = rejection.retryAfterMs === undefined ? '' : `; ${formatRetryHint({ afterMs: rejection.retryAfterMs, spreadMs: rejection.retryAfterMs })}`;
      // A request ws will not upgrade gets the refusal's status instead (counted once, above).
      this.#upgrade(
        request,
        socket,
        Buffer.alloc(0),
        (upgraded) => this.#closeRefused(upgraded, closeCode, fitCloseReason(`${rejection.message}${hint}`)),
        () => writeRejection(socket, rejection),
      );
      return;
    }
    writeRejection(socket, rejection);
  }

  /** Accept-then-close: the socket is ours until it is gone, on our clock, and shutdown ends it. */
  #closeRefused(socket: WebSocket, code: number, reason: string): void {
    if (this.#closed) {
      // Shutting down: the close frame goes out, but no close handshake is awaited.
      socket.close(code, reason);
      socket.terminate();
      return;
    }
    this.#refused.add(socket);
    const deadline = new Timer(this.host.clock, () => socket.terminate());
    socket.on('error', (error) => this.host.log.debug({ err: error }, 'error on a refused socket'));
    socket.once('close', () => {
      deadline.stop();
      this.#refused.delete(socket);
    });
    deadline.start(this.host.options.closeTimeout);
    socket.close(code, reason);
  }
}
