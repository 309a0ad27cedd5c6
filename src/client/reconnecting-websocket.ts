import { decideClose, type CloseInfo } from '../core/close-policy.js';
import type { CloseAction } from '../core/close-code.js';
import { readyStateOf, type ClientState } from '../core/client-state.js';
import type { TimerHandle } from '../core/clock.js';
import { ConnectionClosedError, LifelineError } from '../core/errors.js';
import { enqueue, queuedBytes, sizeOf, type OutboundData, type Queued } from '../core/outbound-queue.js';
import { nextRetry, settleAction } from '../core/reconnect-plan.js';
import { closeEvent, lifelineEvent, type ReconnectingWebSocketEventMap } from './events.js';
import { checkClose, subprotocols, WebSocketSurface, websocketUrl } from './whatwg.js';
import type { PageAwareness } from './page-awareness.js';
import type { LinkWatch } from './with-heartbeat.js';
import { Waiters, type WaitOptions } from './waiters.js';
import { resolveClientOptions, type BinaryTypeName, type ClientOptions, type ProtocolsProvider, type ResolvedClientOptions, type UrlSource, type WebSocketLike } from './options.js';

// The few codes the client itself uses, as same-file constants so a bundler inlines them
// (see close-code.ts for the table).
const NORMAL = 1000;
const ABNORMAL = 1006;
const TIMEOUT = 4408;

/** A socket's close event, as far as the client reads it. */
interface CloseLike {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

/** What `send` did with a message. */
export type SendOutcome = 'sent' | 'queued' | 'rejected';

/**
 * A drop-in for the WHATWG `WebSocket` that keeps a connection alive: it reconnects with
 * backoff and full jitter when the close-code policy says so and queues messages while not
 * connected; opt-in modules watch the link with a heartbeat (`heartbeat: withHeartbeat()`),
 * pause while the page is hidden or offline (`pageAwareness: withPageAwareness()` with
 * `environment: browserEnvironment()`) and read server retry hints (`retryHints: withRetryHints()`).
 *
 * @example
 * const ws = new ReconnectingWebSocket('wss://example.com/ws');
 * ws.onmessage = (event) => console.log(event.data);
 * ws.addEventListener('reconnecting', (e) => console.log(`retry ${e.attempt} in ${e.delay} ms`));
 * ws.send('hello'); // 'queued' until open, then flushed in order
 */
export class ReconnectingWebSocket extends WebSocketSurface<ReconnectingWebSocketEventMap> {
  readonly options: ResolvedClientOptions;
  readonly #url: UrlSource;
  readonly #protocols: string[] | ProtocolsProvider;
  /** The last negotiated subprotocol and extensions: kept after close, as WHATWG does. */
  #protocol = '';
  #extensions = '';
  /**
   * Bytes given to send() that will never go out: refused once closing or closed, or queued
   * when the client ended. WHATWG counts them in bufferedAmount (it never goes down after close);
   * reconnect() starts afresh, or an app's backpressure check would wait for ever.
   */
  #lost = 0;
  /** True while the queue is full: a spell of refusals is reported once, not per send. */
  #full = false;
  #state: ClientState;
  /** Retries since the last stable connection. */
  #attempt = 0;
  /** The count when the current attempt began: a link dropped as never connected goes back to it. */
  #began = 0;
  /** When a server's retry hint set the pending retry, its clock time: coming back must not jump it. */
  #hintedDue = 0;
  /**
   * The one pending timer: the connect timeout while connecting, the stability window while
   * open, the retry while waiting. Never two at once, so one slot holds them all.
   */
  #timer: TimerHandle | undefined;
  readonly #queue: Queued[] = [];
  readonly #heartbeat: LinkWatch | undefined;
  readonly #page: PageAwareness | undefined;
  #socket: WebSocketLike | undefined;
  /** Stamps each socket; events from a replaced socket carry an older stamp and are ignored. */
  #generation = 0;
  #binaryType: BinaryTypeName;
  #authRequired = false;
  #lastUrl = '';
  /** The origin of the current socket's URL, for `MessageEvent.origin`. */
  #origin = '';
  /** What close() asked for. */
  #closing = { code: NORMAL, reason: '' };
  /** Callers of opened(): resolved at the next open, rejected if the client ends first. */
  readonly #waiters = new Waiters<void>();
  /**
   * Schedules the pending retry in `delay` ms and reports it (`reconnecting`), unless a listener
   * changed course; set by each close that retries, run when no pause holds it back.
   */
  #retry!: (delay: number) => void;

  constructor(url: UrlSource, protocols?: string | string[] | ProtocolsProvider, options: ClientOptions = {}) {
    super();
    const resolved = (this.options = resolveClientOptions(options));
    this.#url = url;
    this.#protocols = typeof protocols === 'function' ? protocols : subprotocols(protocols);
    this.#binaryType = resolved.binaryType;
    // As the WHATWG constructor does: a bad URL or subprotocol list throws here, synchronously.
    if (typeof url !== 'function') this.#lastUrl = websocketUrl(url);
    const { startClosed } = resolved;
    this.#state = startClosed ? 'closed' : 'connecting';
    this.#heartbeat = resolved.heartbeat?.(
      this,
      (data) => this.#socket?.readyState === 1 && this.#socket.send(data),
      (local) => this.#abandon(local),
    );
    this.#page = resolved.pageAwareness?.(
      this,
      (step) => {
        this.#stop();
        if (step === 'pause') this.#move('paused');
        else if (this.#move('reconnecting')) this.#retry(step);
      },
      () => this.#hintedDue,
      () => this.#heartbeat?.visible(),
    );
    // The first attempt starts once the caller's synchronous code has run, so listeners added
    // after the constructor hear everything it reports (as with the WHATWG WebSocket).
    if (!startClosed) queueMicrotask(() => !this.#generation && this.#connect());
  }

  // ---- WHATWG surface -------------------------------------------------------------------------

  /**
   * While connecting or open, the socket's own: CLOSING once the server's close frame came (no
   * event says so; its close event follows when the TCP connection ends), CLOSED in the error
   * event that precedes the close event.
   */
  get readyState(): 0 | 1 | 2 | 3 {
    const ready = readyStateOf(this.#state);
    return ready < 2 ? ((this.#socket?.readyState ?? ready) as 0 | 1 | 2 | 3) : ready;
  }

  /** The URL of the current (or last) socket. */
  get url(): string {
    return this.#lastUrl;
  }

  get protocol(): string {
    return this.#protocol;
  }

  get extensions(): string {
    return this.#extensions;
  }

  /** Bytes buffered by the socket, waiting in the reconnect queue, and (as WHATWG) sent once closing or closed. */
  get bufferedAmount(): number {
    return (this.#socket?.bufferedAmount ?? 0) + queuedBytes(this.#queue) + this.#lost;
  }

  get binaryType(): BinaryTypeName {
    return this.#binaryType;
  }

  /** `'blob'` or `'arraybuffer'`; any other value is ignored, as WHATWG says. */
  set binaryType(value: string) {
    if (value !== 'blob' && value !== 'arraybuffer') return;
    this.#binaryType = value;
    if (this.#socket) this.#socket.binaryType = value;
  }

  /** Lifeline's richer state (see the state diagram in the docs). */
  get state(): ClientState {
    return this.#state;
  }

  /** Retries made since the last stable connection. */
  get attempt(): number {
    return this.#attempt;
  }

  /** Messages waiting for a connection. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Sends now when open; queues while connecting or reconnecting (bounded, flushed in order on
   * the next open); refuses once closed or closing, or when the queue is full.
   */
  send(data: OutboundData): SendOutcome {
    const state = this.#state;
    const socket = this.#socket;
    // The client closing or closed; a socket the server is closing queues for the next connection.
    if (readyStateOf(state) > 1) return (this.#lost += sizeOf(data)), 'rejected';
    if (state === 'open' && socket?.readyState === 1) {
      socket.send(data);
      return 'sent';
    }
    if (!this.options.queueing) return 'rejected';
    const evicted = enqueue(this.#queue, data, this.options.queue);
    const full = !evicted || evicted.length > 0;
    const report = full && !this.#full;
    // Set before reporting, so a listener that sends again is not reported twice.
    this.#full = full;
    if (report) this.#error(new LifelineError('ERR_QUEUE_FULL', 'queue full'));
    return evicted ? 'queued' : 'rejected';
  }

  /**
   * Closes for good: never reconnects afterwards (until `reconnect()`); the queue is cleared.
   * Throws {@link InvalidCloseError} for a code a client may not send (browsers allow 1000 and
   * 3000-4999) or a reason over 123 bytes, before anything changes. As WHATWG: the reason is a
   * string (`null` is "null"), and one given without a code closes with 1000.
   */
  close(code?: number, reason?: string): void {
    const text = reason === undefined ? '' : `${reason}`;
    // null is a code (0 for WHATWG, so refused), not an absent one.
    checkClose(code === undefined ? NORMAL : code, text);
    const state = this.#state;
    // Closing or closed already; a socket the server is closing still has its reconnect stopped.
    if (readyStateOf(state) > 1) return;
    this.#stop();
    // The queue is dropped: its messages never go out (bufferedAmount counts them, see #lost).
    this.#lost += queuedBytes(this.#queue.splice(0));
    const socket = this.#socket;
    // A new generation: whatever was under way (a URL provider, a dispatch) stops where it is.
    const generation = ++this.#generation;
    if (state === 'connecting') {
      // As WHATWG says: the attempt fails, and once the caller's code has run, readyState is
      // CLOSED, then an error and a 1006 close are reported (by reconnect() too, if it comes
      // first: no close frame went out). The socket's own late events belong to an old generation.
      this.#closing = { code: ABNORMAL, reason: '' };
      socket?.close();
      this.#move('closing');
      queueMicrotask(
        () =>
          generation === this.#generation &&
          this.#move('closed') &&
          this.#error(new LifelineError('ERR_SOCKET', 'closed while connecting')) &&
          this.#finish({ ...this.#closing, wasClean: false }, 'stop'),
      );
      return;
    }
    this.#closing = { code: code ?? NORMAL, reason: text };
    if (socket && socket.readyState < 3) {
      // Open, or closing already (the server's close frame came, its close event not yet): the
      // close event reports the closing handshake as it was, the server's code if it began it.
      socket.onclose = (event: CloseLike) => generation === this.#generation && this.#finish(event, 'stop');
      // Neither code nor reason: no arguments at all (Chromium reads an explicit undefined code as
      // 0); a reason alone goes with 1000 (ws and undici would send neither). On a closing
      // socket close() does nothing (WHATWG) or ends the connection sooner (ws).
      if (code === undefined && reason === undefined) socket.close();
      else socket.close(code ?? NORMAL, text);
      // A server that never answers (a dead link) is waited for no longer than closeTimeout. The
      // timer does not hold a Node process (the socket does, until dispose() lets go of it).
      this.#wait(this.options.closeTimeout, () => generation === this.#generation && (socket.terminate?.(), this.#finish({ code: ABNORMAL, reason: 'close timeout', wasClean: false }, 'stop')));
      this.#move('closing');
    } else this.#finish({ ...this.#closing, wasClean: true }, 'stop');
  }

  /**
   * Starts over now: a fresh attempt budget, whether it was open, waiting, given up, closed or
   * constructed with `startClosed`. An open socket is closed with `code` and `reason`
   * (default 1000 "reconnect"; checked as for `close`).
   */
  reconnect(code: number = NORMAL, reason = 'reconnect'): void {
    // A string, as close() takes it (null would reach the socket half let go: ws throws there).
    reason = `${reason}`;
    checkClose(code, reason);
    // A close() still waiting for the server's answer is reported now: its socket is let go.
    if (this.#state === 'closing' && !this.#finish({ ...this.#closing, wasClean: false }, 'stop')) return;
    this.#attempt = this.#lost = 0;
    this.#drop(code, reason);
    this.#connect();
  }

  /**
   * Resolves at the next open (now, if open); rejects if the client closes or gives up first, or
   * with `signal`'s reason when it aborts. Calls without a signal share one pending promise.
   */
  opened({ signal }: WaitOptions = {}): Promise<void> {
    const state = this.#state;
    return state === 'open' ? Promise.resolve() : state === 'closed' ? Promise.reject(new ConnectionClosedError(NORMAL, '')) : this.#waiters.wait(signal);
  }

  /** Removes and returns the messages waiting for a connection, oldest first (to store or resend them elsewhere). */
  drainQueuedMessages(): OutboundData[] {
    this.#full = false;
    return this.#queue.splice(0).map((item) => item[0]);
  }

  /**
   * Releases the page-awareness listeners too; the object is done after this. On Node the socket
   * it closes no longer holds the process: a script may end before the server answers the close.
   */
  dispose(): void {
    this.close(NORMAL);
    this.#socket?.unref?.();
    this.#page?.dispose();
  }

  // ---- connecting ---------------------------------------------------------------------------------
  // Every step that can run app code (an event, a hook, a URL provider) is followed by a check
  // that the generation it started in is still current: a listener may have called close() or
  // reconnect(), and the rest of the step then belongs to nobody.

  #connect(): void {
    const generation = ++this.#generation;
    const attempt = (this.#began = this.#attempt);
    if (!this.#move('connecting') || !this.#dispatch(lifelineEvent('connecting', { attempt }))) return;
    // Cleared only once an attempt opens: one that failed before (a provider that could not
    // fetch a token, a timeout) leaves the credentials as stale as they were.
    const authRequired = this.#authRequired;
    this.#wait(this.options.connectTimeout, () => this.#abandon('connect-timeout'));
    const source = this.#url;
    const failed = (error: unknown) => this.#failed(generation, error, 'URL');
    let resolved: string | URL | Promise<string | URL>;
    try {
      resolved = typeof source === 'function' ? source({ attempt, authRequired }) : source;
    } catch (error) {
      return void failed(error);
    }
    // A provider that closed or restarted the client made a newer generation: #open ignores it.
    if (typeof (resolved as Promise<string | URL>)?.then !== 'function') this.#open(generation, resolved as string | URL);
    else (resolved as Promise<string | URL>).then((url) => this.#open(generation, url), failed);
  }

  #open(generation: number, source: string | URL): void {
    if (generation !== this.#generation) return;
    const provider = this.#protocols;
    let protocols: unknown;
    try {
      protocols = typeof provider === 'function' ? provider() : provider;
    } catch (error) {
      return void this.#failed(generation, error, 'protocols');
    }
    let socket: WebSocketLike;
    try {
      const url = (this.#lastUrl = websocketUrl(source));
      this.#origin = new URL(url).origin;
      socket = new this.options.WebSocket(url, subprotocols(protocols));
    } catch (error) {
      // A malformed URL or a refused option cannot get better by retrying.
      this.#stop();
      if (this.#error(error)) this.#finish({ code: ABNORMAL, reason: (error as Error)?.message ?? String(error), wasClean: false }, 'fatal');
      return;
    }
    this.#socket = socket;
    socket.binaryType = this.#binaryType;
    socket.onopen = () => generation === this.#generation && this.#opened(socket);
    socket.onmessage = ({ data }: { data: unknown }) =>
      generation === this.#generation &&
      // With the heartbeat on, Lifeline's ping/pong control messages are link traffic, not app data.
      !this.#heartbeat?.saw(data) &&
      this.#dispatch(new MessageEvent('message', { data, origin: this.#origin }));
    // Never detached (a ws socket without an error listener would crash Node); stale ones are ignored.
    // Its `cause`: the platform's own error where it gives one (ws does: a refused certificate, ECONNREFUSED); browsers give none.
    // (An implementation that calls it with no event gives no cause.)
    socket.onerror = (event?: { error?: unknown }) => generation === this.#generation && this.#error(new LifelineError('ERR_SOCKET', 'WebSocket error', { cause: event?.error }));
    socket.onclose = ({ code, reason, wasClean }: CloseLike) => {
      const status = socket.handshakeStatus;
      if (generation === this.#generation)
        this.#closed(
          status === undefined ? { code, reason, wasClean } : { code: ABNORMAL, reason: `handshake refused: HTTP ${status}`, wasClean: false, local: 'handshake-refused', status },
          socket.retryAfterMs,
        );
    };
  }

  /**
   * A URL or protocols provider threw or rejected: as a failed attempt (reported, then the close
   * policy retries it), since what it reads may be back by the next attempt. A value it gives
   * that is no URL or subprotocol list is another matter: fatal, in #open.
   */
  #failed(generation: number, error: unknown, provider: string): void {
    if (generation === this.#generation && this.#error(error)) this.#closed({ code: ABNORMAL, reason: `${provider} provider failed`, wasClean: false });
  }

  #opened(socket: WebSocketLike): void {
    this.#authRequired = false;
    // Once the connection has lasted the stability window, the attempt count resets.
    this.#wait(this.options.stabilityWindow, () => (this.#attempt = 0));
    this.#heartbeat?.start();
    this.#protocol = socket.protocol;
    this.#extensions = socket.extensions;
    // Flush before any listener hears of the open, so queued messages go out before anything
    // sent from a listener: the queue keeps its place in line.
    if (socket.readyState === 1) for (const data of this.drainQueuedMessages()) socket.send(data);
    this.#settle();
    if (this.#move('open')) this.#dispatch(new Event('open'));
  }

  /**
   * A local verdict that the link is dead: drop the socket (late events are ignored) and report
   * 1006. `local` is what the link watch handed `dead()`: only 'connect-timeout' says more than
   * "dead", anything else (an error from `promise.catch(dead)`, say) is a heartbeat timeout.
   */
  #abandon(local: unknown): void {
    const never = local === 'connect-timeout';
    const reason = `${never ? 'connect' : 'heartbeat'} timeout`;
    // Never connected (a link watch found no greeting in time, LifelineClient's welcome): the
    // stability window that ran meanwhile does not count, so the backoff keeps growing.
    if (never) this.#attempt = this.#began;
    // Tell the server why, if the link still carries anything; never as 1000.
    this.#drop(TIMEOUT, reason);
    this.#closed({ code: ABNORMAL, reason, wasClean: false, local: never ? local : 'heartbeat' });
  }

  /**
   * Lets the socket go (closed with `code` if still connecting or open): its late events are
   * ignored, and on Node it no longer holds the process (a dead link never answers the close).
   */
  #drop(code: number, reason: string): void {
    const socket = this.#socket;
    this.#stop();
    this.#socket = undefined;
    this.#generation++;
    if (socket && socket.readyState < 2) socket.close(code, reason);
    socket?.unref?.();
  }

  // ---- closing and the reconnect decision -------------------------------------------------------

  #closed(close: CloseInfo, retryAfterMs?: number): void {
    this.#stop();
    this.#socket = undefined;
    const generation = this.#generation;
    const { options } = this;
    const decision = decideClose(close, options.retryHints);
    const action = settleAction(decision.action, this.#hook(() => options.shouldReconnect?.(close, decision)));
    if (generation !== this.#generation) return; // the shouldReconnect hook took over
    if (action === 'stop' || action === 'fatal') return void this.#finish(close, action);
    const { code, reason } = close;
    if (action === 'refresh-auth') {
      this.#authRequired = true;
      if (!this.#dispatch(lifelineEvent('authRequired', { code: close.status ?? code }))) return;
    }
    const retry = nextRetry(options, this.#attempt, close, decision.hint, retryAfterMs, (attempt) => this.#hook(() => options.reconnectDelay?.(attempt, close)));
    if (!retry) {
      if (this.#finish(close, action)) this.#dispatch(lifelineEvent('giveup', { attempts: this.#attempt, code, reason }));
      return;
    }
    if (generation !== this.#generation) return; // the reconnectDelay hook took over
    const { attempt, delay } = retry;
    this.#attempt = attempt;
    this.#hintedDue = retry.hinted ? options.clock.now() + delay : 0;
    this.#retry = (ms) => this.#dispatch(lifelineEvent('reconnecting', { attempt, delay: ms, code, reason })) && this.#state === 'reconnecting' && this.#wait(ms, () => this.#connect(), true);
    if (!this.#move(this.#page?.away() ? 'paused' : 'reconnecting') || !this.#dispatch(closeEvent(close, true, action))) return;
    // Paused (by now, or already), nothing is scheduled: the page's return schedules it.
    if (this.#state === 'reconnecting') this.#retry(delay);
  }

  /** Ends in `closed` and reports it; true when no listener started something new meanwhile. */
  #finish(close: CloseInfo, action: CloseAction): boolean {
    this.#generation++;
    this.#stop();
    // Let go of here, it no longer holds the process (a close() that reconnect() cuts short waits for nothing more).
    this.#socket?.unref?.();
    this.#socket = undefined;
    // Ending (close, a fatal code, give-up) drops what waited for a connection: send() refuses
    // from here on, so nothing stale goes out after a much later reconnect(). Its bytes stay in
    // bufferedAmount, as WHATWG counts what was sent after close.
    this.#lost += queuedBytes(this.#queue.splice(0));
    this.#settle(new ConnectionClosedError(close.code, close.reason));
    return this.#move('closed') && this.#dispatch(closeEvent(close, false, action));
  }

  /**
   * (Re)starts the one timer. `keepAlive` for the retry: a script awaiting the next open during
   * a backoff must not see its process end.
   */
  #wait(ms: number, fire: () => void, keepAlive?: boolean): void {
    this.#stop();
    // A negative delay (from a reconnectDelay hook) runs at once, as platform timers do.
    this.#timer = this.options.clock.setTimeout(fire, ms, keepAlive);
  }

  /** Stops the timer and the heartbeat: the link ended, or the client closes or restarts. */
  #stop(): void {
    // A timer that already ran is harmless to clear.
    if (this.#timer !== undefined) this.options.clock.clearTimeout(this.#timer);
    this.#heartbeat?.stop();
  }

  /** Resolves (no error) or rejects what waits in opened(). */
  #settle(error?: Error): void {
    this.#waiters.settle(!error, error);
  }

  /** Runs an app hook; one that throws is reported as `error` and leaves the default in force. */
  #hook<T>(run: () => T | undefined): T | undefined {
    try {
      return run();
    } catch (error) {
      this.#error(error);
      return undefined;
    }
  }

  // ---- events: each returns whether the generation survived the listeners ----------------------

  #move(to: ClientState): boolean {
    const from = this.#state;
    this.#state = to;
    return from === to || this.#dispatch(lifelineEvent('statechange', { from, to }));
  }

  #error(error: unknown): boolean {
    return this.#dispatch(lifelineEvent('error', { error: error instanceof Error ? error : new Error(String(error)) }));
  }

  #dispatch(event: Event): boolean {
    const generation = this.#generation;
    this.options.debug?.(event);
    this.dispatchEvent(event);
    return generation === this.#generation;
  }
}
