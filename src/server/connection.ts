import type { Writable } from 'node:stream';
import { withBit } from '../core/bit-flags.js';
import type { WebSocket } from 'ws';
import { CloseCode } from '../core/close-codes.js';
import { assertValidClose } from '../core/close-frame.js';
import type { Clock } from '../core/clock.js';
import { encodeEnvelope, type Envelope } from '../core/envelope.js';
import type { KeepaliveTarget } from '../core/keepalive.js';
import { refilled, TokenBucket } from '../core/rate-limiter.js';
import { checkedMove } from '../core/state-machine.js';
import { smallNumber } from '../core/small-number.js';
import { Timer } from '../core/timer.js';
import { prepareText, type PreparedText } from './prepared-text.js';
import { releaseReadList } from './read-list.js';
import type { SocketSink } from './socket-listeners.js';

export type ConnectionState = 'authenticating' | 'open' | 'closing' | 'closed';

const transitions: { readonly [S in ConnectionState]: readonly ConnectionState[] } = {
  authenticating: ['open', 'closing', 'closed'],
  open: ['closing', 'closed'],
  closing: ['closed'],
  closed: [],
};

/**
 * The keepalive's frames, built once for every connection (a sweep allocates no frame per
 * connection): a ping (FIN, opcode 9, no payload, unmasked: the bytes ws writes for `ping()`),
 * the app ping's text frame, and both in one buffer.
 */
const PING_FRAME = Buffer.from([0x89, 0x00]);
const APP_PING = prepareText('{"type":"ping"}');
const PING_AND_APP_PING = Buffer.concat([PING_FRAME, APP_PING.frame]);

/** A connection's yes/no state, as bits of one number. */
const ANONYMOUS = 1;
const AWAITING_PONG = 2;

/**
 * Why the connection is not read (TCP backpressure), as bits of the same number: each holder
 * lifts only its own hold, and the socket is read again once none is left. Without that, the end
 * of one hold (a hello answered) resumed reading under another (a session's full queue).
 */
export const InputHold = {
  /** First-message credentials are being checked. */
  AUTH: 4,
  /** A hello waits on the broker. */
  HELLO: 8,
  /** A session has `maxQueuedMessages` waiting. */
  QUEUE: 16,
} as const;
export type InputHold = (typeof InputHold)[keyof typeof InputHold];
const HOLDS = InputHold.AUTH | InputHold.HELLO | InputHold.QUEUE;

/** The state, as two bits of the same number (a field of its own held 8 bytes more per connection). */
const STATES: readonly ConnectionState[] = ['authenticating', 'open', 'closing', 'closed'];
const STATE_SHIFT = 5;
const STATE_BITS = 3 << STATE_SHIFT;
/** ws's read list is to be released when next found empty (see {@link Connection.readSome}). */
const READ_LIST_DUE = 128;

/** Why `send` did not send. */
export type SendFailure = 'closing' | 'closed' | 'slow-consumer';
export type SendResult = { readonly ok: true } | { readonly ok: false; readonly reason: SendFailure };

const SENT: SendResult = Object.freeze({ ok: true });
const failures: { readonly [F in SendFailure]: SendResult } = {
  closing: Object.freeze({ ok: false, reason: 'closing' }),
  closed: Object.freeze({ ok: false, reason: 'closed' }),
  'slow-consumer': Object.freeze({ ok: false, reason: 'slow-consumer' }),
};

/** How a connection ended, as reported in the server's `disconnect` event. */
export interface CloseReport {
  readonly code: number;
  readonly reason: string;
  /** True when both close frames were exchanged; false for drops and terminations. */
  readonly wasClean: boolean;
  /** Milliseconds from open to close. */
  readonly duration: number;
  /** Set when the server ended the link itself without a handshake. */
  readonly terminated?: 'heartbeat' | 'close-timeout' | 'drain-timeout' | 'terminate';
}

const terminatedReasons: { readonly [T in NonNullable<CloseReport['terminated']>]: string } = {
  heartbeat: 'heartbeat timeout',
  'close-timeout': 'close timeout',
  'drain-timeout': 'drain timeout',
  terminate: 'terminated',
};

/**
 * @internal What the server gives a connection: its limits and callbacks, shared by all
 * connections; it also hears the connection's socket events.
 */
export interface ConnectionHost extends SocketSink {
  readonly clock: Clock;
  /**
   * A clock reading taken before any of its connections opened: each keeps its open time as the
   * milliseconds since, a small integer for 24 days (a clock reading is a 16-byte heap number).
   */
  readonly epoch: number;
  readonly closeTimeout: number;
  readonly outboundBudget: number;
  /** Invalid messages a connection may send per minute before it is closed. */
  readonly maxInvalidPerMinute: number;
  /** Messages per second a connection may send, in bursts of as many (at least 1); `Infinity`: no limit. */
  readonly maxMessageRate: number;
  onSlowConsumer(connection: Connection<unknown>): void;
  /** A message of `bytes` was handed to the socket. */
  countOut(bytes: number): void;
  onClosed(connection: Connection<unknown>, report: CloseReport): void;
  onCleanupError(connection: Connection<unknown>, error: unknown): void;
}

/** @internal */
export interface ConnectionInit<User> {
  readonly id: string;
  readonly user: User;
  /** The user was made up for this connection (`AuthResult.anonymous`). */
  readonly anonymous?: boolean;
  readonly remoteAddress: string;
  readonly authenticating: boolean;
  /**
   * The connection's own transport (the upgraded TCP or TLS socket), when no extension was
   * negotiated: prepared frames are written to it directly, the same bytes ws would write.
   */
  readonly transport?: Writable;
}

/** What few connections need, made at the first need (a close, credentials that expire, an invalid message). */
interface Uncommon {
  /** Made when a close starts (most connections live long and close once). */
  closeTimer: Timer | undefined;
  invalidRate: TokenBucket | undefined;
  terminated: CloseReport['terminated'];
  /** The close frame we sent, if we started the closing handshake. */
  sent: { readonly code: number; readonly reason: string } | undefined;
  expiresAt: number | undefined;
  expiry: Timer | undefined;
}

/**
 * One accepted WebSocket: its state, identity and resources. `send` never throws on a closing
 * or closed socket; it says why it did not send. Everything registered with {@link own} is
 * released exactly once when the connection closes, whatever the cause.
 *
 * @example
 * server.on('connection', (conn) => {
 *   const timer = setInterval(() => conn.send({ type: 'tick' }), 1000);
 *   conn.own(() => clearInterval(timer));
 * });
 */
export class Connection<User = unknown> implements KeepaliveTarget {
  readonly id: string;
  readonly remoteAddress: string;
  user: User;

  /** Last measured protocol ping round trip, ms (undefined until the first pong). */
  rtt: number | undefined;
  /** @internal The channel protocol's phase of this connection (its hub's to read and write). */
  protocolPhase: unknown = undefined;

  /** Its open time, ms after its host's epoch (see {@link openedAt}). */
  readonly #opened: number;
  /** When its oldest unanswered ping was sent, ms after its host's epoch (see {@link pingSentAt}). */
  #pingSent = 0;
  readonly #socket: WebSocket;
  readonly #transport: Writable | undefined;
  readonly #host: ConnectionHost;
  /** Made at the first cleanup: most idle connections register none. */
  #cleanups: (() => void)[] | undefined;
  /**
   * Its message-rate bucket (the host's `maxMessageRate`) as two numbers of its own, not a
   * {@link TokenBucket}: the tokens left, and when they were counted, ms after the host's epoch.
   * Small integers at whole rates: no object and no heap number per idle connection.
   */
  #rateTokens: number;
  #rateAt: number;
  /** Six fields in one record made at their first use: memory per idle connection. */
  #uncommon: Uncommon | undefined;
  /** ANONYMOUS, AWAITING_PONG, the input holds and the state: one field (memory per idle connection). */
  #flags: number;

  // Its helper methods are TypeScript-private, not `#` methods: V8 stamps every instance of a
  // class with `#` methods with a brand (8 bytes per idle connection).

  /** @internal Connections are made by the server. */
  constructor(socket: WebSocket, host: ConnectionHost, init: ConnectionInit<User>) {
    this.#socket = socket;
    this.#transport = init.transport;
    this.#host = host;
    this.id = init.id;
    this.user = init.user;
    this.#flags = (init.anonymous === true ? ANONYMOUS : 0) | (STATES.indexOf(init.authenticating ? 'authenticating' : 'open') << STATE_SHIFT) | READ_LIST_DUE;
    this.remoteAddress = init.remoteAddress;
    this.#opened = smallNumber(host.clock.now() - host.epoch);
    this.#rateTokens = Number.isFinite(host.maxMessageRate) ? Math.max(1, host.maxMessageRate) : 0;
    this.#rateAt = this.#opened;
  }

  /** The state, moved only along `transitions`: bits of {@link #flags} (not a field or a machine object: memory per connection). */
  get state(): ConnectionState {
    return STATES[(this.#flags & STATE_BITS) >> STATE_SHIFT] as ConnectionState;
  }

  /** Clock time it was accepted at, ms. */
  get openedAt(): number {
    return this.#host.epoch + this.#opened;
  }

  /**
   * Keepalive bookkeeping, driven by the server's sweep (and `awaitingPong`): clock time of the
   * oldest unanswered ping (the host's epoch before the first). Kept as ms after the epoch, a small
   * integer, as the open time is: an idle connection is pinged every interval.
   */
  get pingSentAt(): number {
    return this.#host.epoch + this.#pingSent;
  }

  set pingSentAt(at: number) {
    this.#pingSent = smallNumber(at - this.#host.epoch);
  }

  /** The negotiated subprotocol, or '' when none (the socket's: not kept twice). */
  get protocol(): string {
    return this.#socket.protocol;
  }

  /** The user was made up for this connection (`AuthResult.anonymous`): it may resume an anonymous session. */
  get anonymous(): boolean {
    return (this.#flags & ANONYMOUS) !== 0;
  }

  set anonymous(anonymous: boolean) {
    this.#flags = withBit(this.#flags, ANONYMOUS, anonymous);
  }

  /** True from a ping until any inbound traffic (a pong or a message) arrives. */
  get awaitingPong(): boolean {
    return (this.#flags & AWAITING_PONG) !== 0;
  }

  set awaitingPong(awaiting: boolean) {
    this.#flags = withBit(this.#flags, AWAITING_PONG, awaiting);
  }

  /** @internal The server's side of this connection (it also hears the socket's events). */
  get host(): ConnectionHost {
    return this.#host;
  }

  private rare(): Uncommon {
    return (this.#uncommon ??= { closeTimer: undefined, invalidRate: undefined, terminated: undefined, sent: undefined, expiresAt: undefined, expiry: undefined });
  }

  private move(next: ConnectionState): void {
    this.#flags = (this.#flags & ~STATE_BITS) | (STATES.indexOf(checkedMove(transitions, this.state, next)) << STATE_SHIFT);
  }

  /** Bytes queued in user space for this peer (ws's buffer plus the socket's). */
  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  /**
   * Sends a message: an envelope (serialized here), a pre-serialized JSON text, or binary.
   * Never throws for a closing or closed socket. Over the outbound budget the connection is
   * closed as a slow consumer (4002) and the result says so.
   */
  send(message: Envelope | string | Uint8Array): SendResult {
    const refused = this.refusal();
    if (refused) return refused;
    const data = typeof message === 'string' || message instanceof Uint8Array ? message : encodeEnvelope(message);
    // Framed here as one buffer: one write where ws would make two (header, payload).
    if (typeof data === 'string' && this.#transport) return this.write(prepareText(data));
    this.#socket.send(data);
    this.#host.countOut(typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength);
    return SENT;
  }

  /**
   * @internal Sends a text message serialized and framed once for many connections (the fan-out
   * fast path, which only the hub takes: `PreparedText` is not public): its frame is written as it is, with no copy, unless an extension (compression) is
   * in use, when ws frames it. Same promises as {@link send}.
   */
  sendPrepared(message: PreparedText): SendResult {
    return this.refusal() ?? this.write(message);
  }

  /**
   * @internal Holds writes to the transport until {@link uncork}, so several messages leave in
   * one write (a fan-out that is behind hands a subscriber its waiting events together).
   */
  cork(): void {
    this.#transport?.cork();
  }

  /** @internal */
  uncork(): void {
    this.#transport?.uncork();
  }

  /** Writes a prepared frame to the transport as it is, or lets ws frame it (compression). */
  private write(message: PreparedText): SendResult {
    if (this.#transport) this.#transport.write(message.frame);
    else this.#socket.send(message.text);
    this.#host.countOut(message.bytes);
    return SENT;
  }

  /** A peer that does not finish the closing handshake within closeTimeout is terminated. */
  private startCloseTimer(): void {
    const rare = this.rare();
    (rare.closeTimer ??= new Timer(this.#host.clock, () => this.terminateFor('close-timeout'))).start(this.#host.closeTimeout);
  }

  /** Why a message cannot be sent now, or undefined when it can. */
  private refusal(): SendResult | undefined {
    const state = this.state;
    if (state === 'closed') return failures.closed;
    // The peer may have started the close: ws then discards what we send, so do not claim it.
    if (state === 'closing' || this.#socket.readyState !== this.#socket.OPEN) return failures.closing;
    // Checked before writing, so a refused message was really not sent (SendFailure's promise);
    // the buffer is bounded by the budget plus one message.
    if (this.overBudget()) {
      this.#host.onSlowConsumer(this);
      this.close(CloseCode.SLOW_CONSUMER, 'slow consumer: outbound budget exceeded');
      return failures['slow-consumer'];
    }
    return undefined;
  }

  /**
   * Whether more than the outbound budget waits for this peer. Writes held by a cork (the replies
   * of a turn, a fan-out batch) are bytes this node holds back, not the peer's lag: over the
   * budget, they are handed to the socket first, and only what it could not take counts.
   */
  private overBudget(): boolean {
    const budget = this.#host.outboundBudget;
    if (this.#socket.bufferedAmount <= budget) return false;
    const transport = this.#transport;
    if (transport === undefined || transport.writableCorked === 0) return true;
    // Every hold is lifted (a later uncork of a lifted hold does nothing): bounded by the holds.
    while (transport.writableCorked > 0) transport.uncork();
    return this.#socket.bufferedAmount > budget;
  }

  /**
   * Starts the closing handshake (RFC 6455 §7.1.2). A peer that does not answer within
   * `closeTimeout` is terminated. Throws {@link InvalidCloseError} for a code or reason that may
   * not be sent; calling it again while closing does nothing.
   */
  close(code: number = CloseCode.NORMAL, reason = ''): void {
    assertValidClose(code, reason);
    const state = this.state;
    if (state === 'closing' || state === 'closed') return;
    this.move('closing');
    this.rare().sent = { code, reason };
    this.startCloseTimer();
    this.#socket.close(code, reason);
    // Nothing is delivered once closing, so no hold has a reason left: a socket kept paused
    // (credentials being checked, a full queue) would never read the peer's close frame, and
    // the close would end only at closeTimeout, as a termination.
    if ((this.#flags & HOLDS) !== 0) {
      this.#flags &= ~HOLDS;
      this.#socket.resume();
    }
  }

  /**
   * @internal ws found a protocol or input error and already sent this close code (1002, 1007,
   * 1009); record it so the report names what we sent, not a bare 1006.
   */
  protocolError(code: number, reason: string): void {
    if (this.state === 'open' || this.state === 'authenticating') this.move('closing');
    this.rare().sent ??= { code, reason };
    this.startCloseTimer();
  }

  /** Ends the TCP connection at once, without a closing handshake. For dead or hostile peers only. */
  terminate(): void {
    this.terminateFor('terminate');
  }

  /** Registers a cleanup that runs once when the connection closes (immediately if it already has). */
  own(cleanup: () => void): void {
    if (this.state === 'closed') {
      this.runCleanup(cleanup);
      return;
    }
    (this.#cleanups ??= []).push(cleanup);
  }

  /** @internal The server's keepalive expired this peer. */
  expire(): void {
    this.terminateFor('heartbeat');
  }

  /** @internal The drain deadline passed during shutdown. */
  terminateForDrain(): void {
    this.terminateFor('drain-timeout');
  }

  /** @internal Stops reading from the peer (TCP backpressure) for `hold`'s reason, until that hold is lifted. */
  pauseInput(hold: InputHold): void {
    if (this.state === 'closing' || this.state === 'closed') return; // see close()
    if ((this.#flags & HOLDS) === 0) this.#socket.pause();
    this.#flags |= hold;
  }

  /** @internal Lifts `hold`; reading starts again once no other hold is left. */
  resumeInput(hold: InputHold): void {
    if ((this.#flags & hold) === 0) return;
    this.#flags &= ~hold;
    if ((this.#flags & HOLDS) === 0) this.#socket.resume();
  }

  /** @internal First-message authentication succeeded. */
  authenticated(user: User, expiresAt: number | undefined, anonymous = false): void {
    this.user = user;
    this.anonymous = anonymous;
    this.move('open');
    this.expireAt(expiresAt);
  }

  /** When the credentials expire (server clock, ms), if they do. */
  get expiresAt(): number | undefined {
    return this.#uncommon?.expiresAt;
  }

  /**
   * @internal Credentials expire at `at`: the connection is closed with 4000 (auth expired)
   * then, unless a refresh moves the time. `undefined` means they never expire.
   */
  expireAt(at: number | undefined): void {
    if (at === undefined) {
      if (this.#uncommon === undefined) return;
      this.#uncommon.expiresAt = undefined;
      this.#uncommon.expiry?.stop();
      return;
    }
    // A refresh answered after the close: nothing left to expire (a timer would hold the
    // closed connection until `at`).
    if (this.state === 'closed') return;
    const rare = this.rare();
    rare.expiresAt = at;
    rare.expiry ??= new Timer(this.#host.clock, () => this.credentialsExpired());
    rare.expiry.start(at - this.#host.clock.now());
  }

  /** The expiry timer ran: closed with 4000, unless it ran early (timers are clamped to 24.8 days). */
  private credentialsExpired(): void {
    const rare = this.#uncommon;
    const at = rare?.expiresAt;
    if (at === undefined) return;
    const left = at - this.#host.clock.now();
    if (left > 0) return void rare?.expiry?.start(left);
    this.close(CloseCode.AUTH_EXPIRED, 'credentials expired');
  }

  /**
   * @internal ws handed over a frame it read. Once after the connection opens and once after
   * each keepalive ping, the first time ws has parsed all it read, its read list is released
   * ({@link releaseReadList}): an idle connection keeps no 152-byte store for the frames of its
   * first messages or its last pong, and a busy one pays for a new list once per ping interval.
   */
  readSome(): void {
    if ((this.#flags & READ_LIST_DUE) !== 0 && releaseReadList(this.#socket)) this.#flags &= ~READ_LIST_DUE;
  }

  /** @internal Any inbound frame proves the link alive. */
  sawTraffic(): void {
    this.awaitingPong = false;
  }

  /** @internal A pong arrived: the link is alive and the round trip is known. */
  sawPong(): void {
    // A small integer, not a heap number, kept by each idle connection once it answered a ping.
    if (this.awaitingPong) this.rtt = smallNumber(this.#host.clock.now() - this.pingSentAt);
    this.awaitingPong = false;
  }

  /**
   * @internal A protocol ping from the peer: it counts against the message rate like any
   * message (over it closes with 1008) and its pong is written within the outbound budget (a peer
   * that pings without reading is a slow consumer, 4002), so a ping flood gets a close code, not
   * a silent drop, and never more work than the rate allows.
   */
  pinged(data: Buffer): void {
    this.sawTraffic();
    const state = this.state;
    if (state === 'closing' || state === 'closed') return;
    if (!this.admitMessage()) return this.close(CloseCode.POLICY_VIOLATION, 'message rate exceeded');
    if (this.refusal()) return;
    // A copy in a store of its own (at most 125 B): `data` is a view into the whole chunk read
    // from the socket, and a copy from Buffer's pool would be a view into an 8 KiB slab, either
    // of which a pong waiting behind a peer that does not read would keep alive.
    const payload = Buffer.allocUnsafeSlow(data.length);
    data.copy(payload);
    this.#socket.pong(payload, false);
  }

  /** @internal Message-rate policy; false means the peer is over its rate. */
  admitMessage(): boolean {
    const rate = this.#host.maxMessageRate;
    if (!Number.isFinite(rate)) return true;
    const now = smallNumber(this.#host.clock.now() - this.#host.epoch);
    const tokens = refilled(this.#rateTokens, now - this.#rateAt, rate, Math.max(1, rate));
    this.#rateAt = now;
    const admitted = tokens >= 1;
    this.#rateTokens = admitted ? tokens - 1 : tokens;
    return admitted;
  }

  /** @internal Invalid-message policy; false means the peer is over its allowance. */
  admitInvalid(): boolean {
    const rare = this.rare();
    const max = this.#host.maxInvalidPerMinute;
    return (rare.invalidRate ??= new TokenBucket(this.#host.clock, max / 60, max)).take();
  }

  /**
   * @internal Sends the protocol ping, and with `appPing` a `{"type":"ping"}` too: browsers
   * cannot see protocol pings, and their watchdog needs traffic at least once per interval.
   */
  ping(appPing: boolean, fresh = true): void {
    const state = this.state;
    if (state === 'closing' || state === 'closed') return;
    this.#flags |= READ_LIST_DUE;
    // A connection still authenticating is pinged too: the sweep awaits its pong like any other.
    // One still awaiting an earlier pong keeps that deadline and gets only the app ping.
    const app = appPing && state === 'open';
    if (!fresh) {
      if (app) this.sendPrepared(APP_PING);
      return;
    }
    const socket = this.#socket;
    const transport = this.#transport;
    // Both in one write when both go out: the shared buffer, when the app ping would be sent (as
    // refusal() would judge it with the ping written), else as two frames and the refusal's verdict.
    if (transport && app && socket.readyState === socket.OPEN && socket.bufferedAmount + PING_FRAME.length <= this.#host.outboundBudget) {
      transport.write(PING_AND_APP_PING);
      this.#host.countOut(APP_PING.bytes);
      return;
    }
    if (app) this.cork();
    // ws writes nothing for a socket no longer open.
    if (transport && socket.readyState === socket.OPEN) transport.write(PING_FRAME);
    else if (!transport) socket.ping();
    if (app) this.sendPrepared(APP_PING);
    if (app) this.uncork();
  }

  /** @internal Called once by the socket's `close` event: reports the close to the server. */
  socketClosed(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.move('closed');
    const rare = this.#uncommon;
    rare?.closeTimer?.stop();
    rare?.expiry?.stop();
    this.#socket.removeAllListeners();
    const terminated = rare?.terminated;
    const sent = rare?.sent;
    const dropped = code === CloseCode.ABNORMAL;
    // A drop after our own close frame is reported with the code we sent (the peer just never
    // answered, even if we then terminated it); a termination's reason says why we ended it.
    // wasClean stays false for both.
    let reported = { code, reason };
    if (dropped && terminated !== undefined) reported = { code: sent?.code ?? code, reason: terminatedReasons[terminated] };
    else if (dropped && sent !== undefined) reported = sent;
    const report: CloseReport = {
      ...reported,
      wasClean: !dropped && terminated === undefined,
      duration: this.#host.clock.now() - this.openedAt,
      ...(terminated ? { terminated } : {}),
    };
    const cleanups = this.#cleanups ?? [];
    this.#cleanups = undefined;
    for (const cleanup of cleanups) this.runCleanup(cleanup);
    this.#host.onClosed(this as Connection<unknown>, report);
  }

  private terminateFor(cause: NonNullable<CloseReport['terminated']>): void {
    if (this.state === 'closed') return;
    this.rare().terminated ??= cause;
    this.#socket.terminate();
  }

  private runCleanup(cleanup: () => void): void {
    try {
      cleanup();
    } catch (error) {
      this.#host.onCleanupError(this as Connection<unknown>, error);
    }
  }
}
