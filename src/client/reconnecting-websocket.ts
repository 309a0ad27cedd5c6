import { Backoff, jittered } from '../core/backoff.js';
import { CloseCode, type CloseAction } from '../core/close-code.js';
import { classifyClose, type CloseDecision, type CloseInfo } from '../core/close-policy.js';
import { clientTransitions, readyStateOf, type ClientState } from '../core/client-state.js';
import { controlType, PING } from '../core/envelope.js';
import { ConnectionClosedError, InvalidCloseError, LifelineError } from '../core/errors.js';
import { utf8ByteLength } from '../core/utf8.js';
import { Heartbeat } from '../core/heartbeat.js';
import { OutboundQueue, type OutboundData } from '../core/outbound-queue.js';
import { StateMachine } from '../core/state-machine.js';
import { Timer } from '../core/timer.js';
import { lifelineEvent, type LifelineCloseEvent, type LifelineErrorEvent, type ReconnectingWebSocketEventMap } from './events.js';
import { resolveClientOptions, type ClientOptions, type ResolvedClientOptions, type UrlSource, type WebSocketLike } from './options.js';

// The few codes the client itself uses, as same-file constants so a bundler inlines them
// (see close-code.ts for the table).
const NORMAL = 1000;
const ABNORMAL = 1006;
const TIMEOUT = 4408;

/** What `send` did with a message. */
export type SendOutcome = 'sent' | 'queued' | 'rejected';

type Handler<E> = ((event: E) => void) | null;

interface CloseLike {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

/**
 * A drop-in for the WHATWG `WebSocket` that keeps a connection alive: it reconnects with
 * backoff and full jitter when the close-code policy says so, queues messages while not
 * connected, watches the link with a heartbeat, and pauses while the page is hidden or offline.
 *
 * @example
 * const ws = new ReconnectingWebSocket('wss://example.com/ws');
 * ws.onmessage = (event) => console.log(event.data);
 * ws.addEventListener('reconnecting', (e) => console.log(`retry ${e.attempt} in ${e.delay} ms`));
 * ws.send('hello'); // 'queued' until open, then flushed in order
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- the interface below only adds typed overloads of EventTarget's own methods
export class ReconnectingWebSocket extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;

  onopen: Handler<Event> = null;
  onmessage: Handler<MessageEvent> = null;
  onclose: Handler<LifelineCloseEvent> = null;
  onerror: Handler<LifelineErrorEvent> = null;

  readonly options: ResolvedClientOptions;
  readonly #url: UrlSource;
  readonly #protocols: string | string[] | undefined;
  readonly #machine: StateMachine<ClientState>;
  readonly #backoff: Backoff;
  readonly #queue: OutboundQueue;
  readonly #heartbeat: Heartbeat | undefined;
  readonly #connectTimer: Timer;
  readonly #stableTimer: Timer;
  readonly #retryTimer: Timer;
  readonly #unsubscribe: () => void;
  #socket: WebSocketLike | undefined;
  /** Stamps each socket; events from a replaced socket carry an older stamp and are ignored. */
  #generation = 0;
  #binaryType: string;
  #authRequired = false;
  /** When a server retry hint set the pending retry, its clock time: coming back must not jump it. */
  #hintedRetryAt: number | undefined;
  #lastUrl = '';
  #waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];

  constructor(url: UrlSource, protocols?: string | string[], options: ClientOptions = {}) {
    super();
    this.options = resolveClientOptions(options);
    this.#url = url;
    this.#protocols = protocols;
    this.#binaryType = this.options.binaryType;
    if (typeof url !== 'function') this.#lastUrl = String(url);
    const { clock } = this.options;
    this.#machine = new StateMachine<ClientState>('connecting', clientTransitions);
    this.#backoff = new Backoff(this.options, this.options.rng);
    this.#queue = new OutboundQueue(this.options.queue);
    this.#connectTimer = new Timer(clock, () => this.#abandon('connect-timeout', 'connect timeout'));
    this.#stableTimer = new Timer(clock, () => this.#backoff.reset());
    // Kept alive: a script awaiting opened() during a backoff must not see its process end.
    this.#retryTimer = new Timer(clock, () => this.#connect(), true);
    const heartbeat = this.options.heartbeat;
    this.#heartbeat = heartbeat
      ? new Heartbeat(clock, heartbeat, {
          sendPing: () => this.#socket?.readyState === 1 && this.#socket.send(PING),
          dead: () => this.#abandon('heartbeat', 'heartbeat timeout'),
          hidden: () => this.options.environment.hidden(),
        })
      : undefined;
    // The on* handlers run as the first listeners, so a throwing handler is reported like any
    // listener's exception instead of breaking the client's own bookkeeping.
    for (const type of ['open', 'message', 'close', 'error'] as const) {
      this.addEventListener(type, (event) => (this[`on${type}`] as Handler<Event>)?.call(this, event));
    }
    this.#unsubscribe = this.options.environment.subscribe(() => this.#environmentChanged());
    // The first attempt starts once the caller's synchronous code has run, so listeners added
    // after the constructor hear everything it reports (as with the WHATWG WebSocket).
    const first = this.#generation;
    queueMicrotask(() => first === this.#generation && this.#connect());
  }

  // ---- WHATWG surface -------------------------------------------------------------------------

  get readyState(): 0 | 1 | 2 | 3 {
    return readyStateOf[this.#machine.state];
  }

  /** The URL of the current (or last) socket. */
  get url(): string {
    return this.#lastUrl;
  }

  get protocol(): string {
    return this.#socket?.protocol ?? '';
  }

  get extensions(): string {
    return this.#socket?.extensions ?? '';
  }

  /** Bytes buffered by the socket plus bytes waiting in the reconnect queue. */
  get bufferedAmount(): number {
    return (this.#socket?.bufferedAmount ?? 0) + this.#queue.bytes;
  }

  get binaryType(): string {
    return this.#binaryType;
  }

  set binaryType(value: string) {
    this.#binaryType = value;
    if (this.#socket) this.#socket.binaryType = value;
  }

  /** Lifeline's richer state (see the state diagram in the docs). */
  get state(): ClientState {
    return this.#machine.state;
  }

  /** Retries made since the last stable connection. */
  get attempt(): number {
    return this.#backoff.attempt;
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
    const state = this.#machine.state;
    if (state === 'closed' || state === 'closing') return 'rejected';
    const socket = this.#socket;
    if (state === 'open' && socket && socket.readyState === 1) {
      socket.send(data);
      return 'sent';
    }
    if (!this.options.queueing) return 'rejected';
    const evicted = this.#queue.push(data);
    if (evicted === false) {
      this.#error(new LifelineError('ERR_QUEUE_FULL', 'outbound queue full: message rejected'));
      return 'rejected';
    }
    if (evicted.length > 0) this.#error(new LifelineError('ERR_QUEUE_FULL', `outbound queue full: ${evicted.length} oldest message(s) dropped`));
    return 'queued';
  }

  /**
   * Closes for good: never reconnects afterwards (until `reconnect()`); the queue is cleared.
   * Throws {@link InvalidCloseError} for a code a client may not send (browsers allow 1000 and
   * 3000-4999) or a reason over 123 bytes, before anything changes.
   */
  close(code: number = NORMAL, reason = ''): void {
    if (code !== NORMAL && !(code >= 3000 && code <= 4999)) throw new InvalidCloseError(code, `a client may close with 1000 or 3000-4999, not ${code}`);
    if (utf8ByteLength(reason) > 123) throw new InvalidCloseError(code, 'close reason over 123 bytes');
    const state = this.#machine.state;
    if (state === 'closed' || state === 'closing') return;
    this.#stopTimers();
    this.#queue.clear();
    const socket = this.#socket;
    // A new generation: whatever was under way (a URL provider, a dispatch) stops where it is.
    const generation = ++this.#generation;
    if (socket && (socket.readyState === 0 || socket.readyState === 1)) {
      socket.onclose = (event: CloseLike) => generation === this.#generation && this.#finish(closeInfo(event), 'stop');
      socket.close(code, reason);
      this.#move('closing');
      return;
    }
    this.#finish({ code, reason, wasClean: true }, 'stop');
  }

  /** Starts over now: a fresh attempt budget, whether it was open, waiting, given up or closed. */
  reconnect(): void {
    this.#backoff.reset();
    this.#stopTimers();
    const socket = this.#socket;
    this.#socket = undefined;
    this.#generation++;
    if (socket && (socket.readyState === 0 || socket.readyState === 1)) socket.close(NORMAL, 'reconnect');
    this.#connect();
  }

  /** Resolves at the next open (now, if open); rejects if the client closes or gives up first. */
  opened(): Promise<void> {
    if (this.#machine.state === 'open') return Promise.resolve();
    if (this.#machine.state === 'closed') return Promise.reject(new ConnectionClosedError(NORMAL, 'the client is closed'));
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Releases the environment listeners too; the object is done after this. */
  dispose(): void {
    this.close();
    this.#unsubscribe();
  }

  // ---- connecting ---------------------------------------------------------------------------------
  // Every step that can run app code (an event, a hook, a URL provider) is followed by a check
  // that the generation it started in is still current: a listener may have called close() or
  // reconnect(), and the rest of the step then belongs to nobody.

  #connect(): void {
    const generation = ++this.#generation;
    const attempt = this.#backoff.attempt;
    if (!this.#move('connecting') || !this.#dispatch(lifelineEvent('connecting', { attempt }))) return;
    const authRequired = this.#authRequired;
    this.#authRequired = false;
    this.#connectTimer.start(this.options.connectTimeout);
    const source = this.#url;
    let resolved: string | URL | Promise<string | URL>;
    try {
      resolved = typeof source === 'function' ? source({ attempt, authRequired }) : source;
    } catch (error) {
      this.#providerFailed(generation, error);
      return;
    }
    if (generation !== this.#generation) return; // the provider closed or restarted the client
    if (typeof (resolved as Promise<string | URL>)?.then !== 'function') this.#open(generation, String(resolved));
    else (resolved as Promise<string | URL>).then((url) => this.#open(generation, String(url)), (error: unknown) => this.#providerFailed(generation, error));
  }

  #open(generation: number, url: string): void {
    if (generation !== this.#generation) return;
    this.#lastUrl = url;
    let socket: WebSocketLike;
    try {
      socket = new this.options.WebSocket(url, this.#protocols);
    } catch (error) {
      // A malformed URL cannot get better by retrying.
      this.#connectTimer.stop();
      if (this.#error(error)) this.#finish({ code: ABNORMAL, reason: 'invalid URL', wasClean: false }, 'fatal');
      return;
    }
    this.#socket = socket;
    socket.binaryType = this.#binaryType;
    socket.onopen = () => generation === this.#generation && this.#opened();
    socket.onmessage = (event: { data: unknown }) => generation === this.#generation && this.#received(event.data);
    // Never detached (a ws socket without an error listener would crash Node); stale ones are ignored.
    socket.onerror = () => generation === this.#generation && this.#error(new LifelineError('ERR_SOCKET', 'WebSocket error'));
    socket.onclose = (event: CloseLike) => {
      if (generation !== this.#generation) return;
      const refused = socket.handshakeStatus;
      this.#closed(
        refused === undefined
          ? closeInfo(event)
          : { code: ABNORMAL, reason: `handshake refused: HTTP ${refused}`, wasClean: false, local: 'handshake-refused', status: refused },
        socket.retryAfterMs,
      );
    };
  }

  #providerFailed(generation: number, error: unknown): void {
    if (generation !== this.#generation || !this.#error(error)) return;
    this.#closed({ code: ABNORMAL, reason: 'URL provider failed', wasClean: false }, undefined);
  }

  #opened(): void {
    this.#connectTimer.stop();
    const from = this.#machine.state;
    this.#machine.to('open', undefined);
    this.#stableTimer.start(this.options.stabilityWindow);
    this.#heartbeat?.start();
    const socket = this.#socket;
    // Flush before any listener hears of the open, so queued messages go out before anything
    // sent from a listener: the queue keeps its place in line.
    if (socket && socket.readyState === 1) for (const data of this.#queue.drain()) socket.send(data);
    for (const waiter of this.#waiters.splice(0)) waiter.resolve();
    if (this.#dispatch(lifelineEvent('statechange', { from, to: 'open' }))) this.#dispatch(new Event('open'));
  }

  #received(data: unknown): void {
    const heartbeat = this.#heartbeat;
    if (heartbeat) {
      heartbeat.sawTraffic();
      // With the heartbeat on, Lifeline's ping/pong control messages are link traffic, not app data.
      if (typeof data === 'string' && controlType(data) !== undefined) return;
    }
    this.#dispatch(new MessageEvent('message', { data }));
  }

  /** A local verdict that the link is dead: drop the socket (late events are ignored) and report 1006. */
  #abandon(local: 'heartbeat' | 'connect-timeout', reason: string): void {
    const socket = this.#socket;
    this.#socket = undefined;
    this.#generation++;
    // Tell the server why, if the link still carries anything; never as 1000.
    if (socket && (socket.readyState === 0 || socket.readyState === 1)) socket.close(TIMEOUT, reason);
    this.#closed({ code: ABNORMAL, reason, wasClean: false, local }, undefined);
  }

  // ---- closing and the reconnect decision -------------------------------------------------------

  #closed(close: CloseInfo, retryAfterMs: number | undefined): void {
    this.#stopTimers();
    this.#socket = undefined;
    const generation = this.#generation;
    const action = this.#decide(close);
    if (generation !== this.#generation) return; // the shouldReconnect hook took over
    if (action === 'stop' || action === 'fatal') {
      this.#finish(close, action);
      return;
    }
    if (action === 'refresh-auth') {
      this.#authRequired = true;
      if (!this.#dispatch(lifelineEvent('authRequired', { code: close.status ?? close.code }))) return;
    }
    this.#schedule(close, action, retryAfterMs);
  }

  #decide(close: CloseInfo): CloseAction {
    const decision: CloseDecision = classifyClose(close);
    const custom = this.#hook(() => this.options.shouldReconnect?.(close, decision));
    if (custom === undefined) return decision.action === 'app' ? 'reconnect' : decision.action;
    if (typeof custom === 'boolean') return custom ? 'reconnect' : 'stop';
    return custom === 'app' ? 'reconnect' : custom;
  }

  #schedule(close: CloseInfo, action: CloseAction, retryAfterMs: number | undefined): void {
    // A server's 1013 (try again later: e.g. its broker is unreachable) is the server asking the
    // client back, not a dead end: it never exhausts the attempt budget (the delay stays at its ceiling).
    const backoffDelay = this.#backoff.next() ?? (close.code === CloseCode.TRY_AGAIN_LATER && close.local === undefined ? jittered(this.options, this.options.maxDelay, this.options.rng) : undefined);
    if (backoffDelay === undefined) {
      if (this.#finish(close, action)) this.#dispatch(lifelineEvent('giveup', { attempts: this.#backoff.attempt, code: close.code, reason: close.reason }));
      return;
    }
    const attempt = this.#backoff.attempt;
    const hint = classifyClose(close).hint ?? (retryAfterMs === undefined ? undefined : { afterMs: retryAfterMs, spreadMs: backoffDelay });
    const generation = this.#generation;
    const custom = this.#hook(() => this.options.reconnectDelay?.(attempt, close));
    if (generation !== this.#generation) return; // the hook took over
    const delay = custom ?? (hint ? hint.afterMs + this.options.rng() * hint.spreadMs : backoffDelay);
    this.#hintedRetryAt = hint ? this.options.clock.now() + delay : undefined;
    const { environment } = this.options;
    if (!this.#move(environment.hidden() || !environment.online() ? 'paused' : 'reconnecting')) return;
    if (!this.#dispatch(closeEvent(close, true, action))) return;
    if (!this.#dispatch(lifelineEvent('reconnecting', { attempt, delay, code: close.code, reason: close.reason }))) return;
    if (this.#machine.state === 'reconnecting') this.#retryTimer.start(delay);
  }

  /** Ends in `closed` and reports it; true when no listener started something new meanwhile. */
  #finish(close: CloseInfo, action: CloseAction): boolean {
    this.#generation++;
    this.#stopTimers();
    this.#socket = undefined;
    // Ending (close, a fatal code, give-up) drops what waited for a connection: send() refuses
    // from here on, so nothing stale goes out after a much later reconnect().
    this.#queue.clear();
    const error = new ConnectionClosedError(close.code, close.reason);
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
    if (!this.#move('closed')) return false;
    return this.#dispatch(closeEvent(close, false, action));
  }

  #environmentChanged(): void {
    const { environment } = this.options;
    const away = environment.hidden() || !environment.online();
    const state = this.#machine.state;
    if (!environment.hidden()) this.#heartbeat?.visible();
    if (away && state === 'reconnecting') {
      this.#retryTimer.stop();
      this.#move('paused');
    } else if (!away && (state === 'paused' || state === 'reconnecting')) {
      // Back online or visible again: retry at once instead of waiting out our own backoff,
      // but a server's retry hint still holds, or a tab switch would undo its crowd spreading.
      this.#retryTimer.stop();
      const wait = (this.#hintedRetryAt ?? 0) - this.options.clock.now();
      if (wait <= 0) this.#connect();
      else if (this.#move('reconnecting')) this.#retryTimer.start(wait);
    }
  }

  #stopTimers(): void {
    this.#connectTimer.stop();
    this.#stableTimer.stop();
    this.#retryTimer.stop();
    this.#heartbeat?.stop();
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
    const from = this.#machine.state;
    if (from === to) return true;
    this.#machine.to(to, undefined);
    return this.#dispatch(lifelineEvent('statechange', { from, to }));
  }

  #error(error: unknown): boolean {
    return this.#dispatch(lifelineEvent('error', { error: error instanceof Error ? error : new Error(String(error)) }));
  }

  #dispatch(event: Event): boolean {
    const generation = this.#generation;
    this.dispatchEvent(event);
    return generation === this.#generation;
  }
}

function closeInfo(event: CloseLike): CloseInfo {
  return { code: event.code, reason: event.reason, wasClean: event.wasClean };
}

function closeEvent(close: CloseInfo, willReconnect: boolean, action: CloseAction): LifelineCloseEvent {
  return lifelineEvent('close', { code: close.code, reason: close.reason, wasClean: close.wasClean, willReconnect, action });
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- typed overloads for the events above; no new members
export interface ReconnectingWebSocket {
  addEventListener<K extends keyof ReconnectingWebSocketEventMap>(
    type: K,
    listener: (event: ReconnectingWebSocketEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof ReconnectingWebSocketEventMap>(
    type: K,
    listener: (event: ReconnectingWebSocketEventMap[K]) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}
