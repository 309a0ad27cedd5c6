import type { ClientState } from '../core/client-state.js';
import type { Position } from '../core/position.js';
import { lifelineEvent } from './events.js';
import { forwardEvents } from './forward-events.js';
import { resolveTimeout, type LifelineClientEventMap, type LifelineClientOptions, type LifelineClientState, type PublishOptions, type RequestOptions } from './lifeline-client-types.js';
import { resolveClientOptions, type ClientOptions, type UrlSource } from './options.js';
import type { DurableOutbox } from './durable-outbox.js';
import { Outbox, pendingMessage, type PendingKind, type PendingMessage } from './outbox.js';
import { ReconnectingWebSocket } from './reconnecting-websocket.js';
import { badReply, closedError, notSubscribed, ReplyError } from './reply-error.js';
import { isTransientSubscribeRefusal, resolveRetryBackoff } from './retry-policy.js';
import { parseRewind } from '../core/rewind.js';
import { Subscription, type PresenceMember, type SubscribeOptions, type SubscriptionHost } from './subscription.js';
import type { TokenRefresh } from './token-refresh.js';
import { TypedEventTarget } from './typed-event-target.js';
import { Waiters, type WaitOptions } from './waiters.js';
import { decodeServerMessage, isPosition, PROTOCOL, remoteError, REPLIES, type ServerMessage } from './wire.js';
import { withHeartbeat } from './with-heartbeat.js';
import { websocketUrl } from './whatwg.js';
import { browserEnvironment } from './environment.js';
import { pageAwareness } from './page-awareness.js';
import { parseRetryHint } from '../core/retry-hint.js';
import { systemClock, systemRng } from '../core/clock.js';
import { Timer } from '../core/timer.js';

/**
 * Where the client is with the current link: waiting for one, greeting, restoring, ready; or
 * closed by the app. The moves: down -> hello -> recovering -> ready, any of them -> down when
 * the link ends, and any -> closed (terminal). Not checked at run time (a checker costs bytes in
 * every browser bundle); each move is made in one place below.
 */
type Phase = 'down' | 'hello' | 'recovering' | 'ready' | 'closed';

/**
 * The full client of a Lifeline server (docs/protocol.md): a session that survives reconnects,
 * channel subscriptions that recover missed events (each once, in order), and publishes and
 * requests that take effect exactly once, over a {@link ReconnectingWebSocket} it owns.
 *
 * @example
 * const client = new LifelineClient('wss://example.com/ws');
 * const room = client.subscribe('chat:room-1', { event: (e) => show(e.data) });
 * room.addEventListener('subscribed', (e) => { if (!e.recovered) reload(); });
 * const position = await client.publish('chat:room-1', { text: 'hi' });
 * const created = await client.request('rooms.create', { name: 'ops' });
 */
export class LifelineClient extends TypedEventTarget<LifelineClientEventMap> {
  /** The reconnecting socket underneath (its lifecycle events are re-dispatched here). */
  readonly transport: ReconnectingWebSocket;
  readonly #publishTimeout: number;
  readonly #requestTimeout: number;
  #phase: Phase = 'down';
  /** The `outbox` option's store, loaded at start and saved as entries come and go. */
  readonly #durable: DurableOutbox | undefined;
  readonly #outbox = new Outbox((text) => this.transport.send(text) === 'sent', () => this.#live());
  readonly #refresh: TokenRefresh | undefined;
  /** The subscriptions, one per channel, in the order they were made. */
  readonly #subs = new Map<string, Subscription>();
  /** Subscribes sent on this link, by id. */
  readonly #subscribes = new Map<number, Subscription>();
  /** Subscribes sent before `ready` on this link (with the hello or while restoring) not confirmed yet, retried ones included: `ready` waits for them. */
  readonly #awaited = new Set<Subscription>();
  readonly #subHost: SubscriptionHost;
  #session: string | undefined;
  #member: string | undefined;
  /** The session's resume secret (from welcome): only a hello carrying it resumes the session. */
  #secret: string | undefined;
  #resumed = false;
  /** The last direct-message seq processed in this session. */
  #lastSeq = 0;
  /** Stamps each link (and close): work after app code continues only if it is unchanged. */
  #generation = 0;
  #reported: LifelineClientState;
  /** Callers of ready(). */
  readonly #waiters = new Waiters<void>();
  /**
   * The `welcome` is due within `connectTimeout` of the hello: a server that accepts the socket
   * and never answers has its link dropped as one that never connected (1006 "connect timeout").
   */
  #welcomeDue!: Timer;

  constructor(url: UrlSource, options: LifelineClientOptions = {}) {
    super();
    // Every option of its own is checked before the transport exists: one that throws after it
    // would leave it connecting, and reconnecting, with no one to close it.
    this.#publishTimeout = resolveTimeout('publishTimeout', options.publishTimeout);
    this.#requestTimeout = resolveTimeout('requestTimeout', options.requestTimeout);
    // Absent: the defaults (withHeartbeat's own default is `true`).
    const heartbeat = withHeartbeat(options.heartbeat);
    const { clock = systemClock, rng = systemRng } = options;
    this.#subHost = {
      unsubscribe: (sub) => this.#unsubscribe(sub),
      presence: (sub, signal) => this.#presence(sub, signal),
      subscribe: (sub) => this.#subscribe(sub),
      // Subscriptions refused for now are retried on this schedule; publishes, requests and
      // presence queries refused with `unavailable` too, within `retryDeadline` (0: not at all).
      retry: { backoff: resolveRetryBackoff(options.retry), within: resolveTimeout('retryDeadline', options.retryDeadline), clock, rng },
    };
    const transportOptions: ClientOptions = {
      ...options,
      clock,
      rng,
      // Page awareness is opt-in for a bare ReconnectingWebSocket; on here.
      environment: options.environment ?? browserEnvironment(),
      pageAwareness: options.pageAwareness ?? pageAwareness,
      // What withRetryHints() returns: the parser itself.
      retryHints: options.retryHints ?? parseRetryHint,
      // The heartbeat, wrapped (on or off) for the way the transport lets a link watch drop a link.
      // A link that dies before the welcome never connected, whoever notices: the welcome's
      // deadline, or the heartbeat when its watchdog is the shorter (as a heartbeat timeout, the
      // stability window's reset stood, and such a server was retried at the first step for ever).
      heartbeat: (host, send, dead) => ((this.#welcomeDue = new Timer(clock, () => dead('connect-timeout'))), heartbeat?.(host, send, (local) => dead(this.#live() ? local : 'connect-timeout'))),
      // The transport's own queue is off: a message the socket cannot take now is the outbox's to resend, after `hello`.
      queue: false,
    };
    // What the transport's constructor refuses (its options, the URL), refused before the modules
    // start: a store's load may move a corrupt file aside or open a database, for a client that
    // would never be.
    resolveClientOptions(transportOptions);
    if (typeof url !== 'function') websocketUrl(url);
    // The opt-in modules are attached before the transport exists: one that is no module (the
    // Node entry's bare provider or store, say) throws at its attach(). They use it only later.
    this.#refresh = options.refreshToken?.attach({ clock, send: (token) => this.#send({ type: 'refresh', token }), failed: this.#failed });
    // Saves wait for the load (then save what the app sent meanwhile too).
    this.#durable = options.outbox?.attach(
      this,
      this.#outbox,
      (restored) => (restored ? ([this.#session, this.#secret] = restored) : [this.#session, this.#secret]),
      () => this.#linkUp(),
      this.#subHost.retry,
    );
    const transport = new ReconnectingWebSocket(url, PROTOCOL, transportOptions);
    this.transport = transport;
    this.#reported = transport.state;
    transport.addEventListener('open', () => this.#linkUp());
    transport.addEventListener('message', (event) => this.#received(event.data));
    transport.addEventListener('statechange', (event) => this.#transportMoved(event.to));
    forwardEvents(transport, this);
  }

  get state(): LifelineClientState {
    const phase = this.#phase;
    return phase === 'closed' || phase === 'ready' ? phase : this.transport.state;
  }

  /** The session id from the last `welcome` (or, with a durable outbox, the stored one until then). */
  get session(): string | undefined {
    return this.#session;
  }

  /** How this session appears in presence (`member.client` of join, leave and the member list), from the last `welcome`. */
  get member(): string | undefined {
    return this.#member;
  }

  get subscriptions(): ReadonlyMap<string, Subscription> {
    return this.#subs;
  }

  /**
   * Resolves at the next `ready` (now, if ready); rejects if the client closes or the transport
   * ends for good first, or with `signal`'s reason when it aborts. Calls without a signal share
   * one pending promise.
   */
  ready({ signal }: WaitOptions = {}): Promise<void> {
    const state = this.state;
    return state === 'ready' ? Promise.resolve() : state === 'closed' ? Promise.reject(closedError()) : this.#waiters.wait(signal);
  }

  /**
   * The subscription to `channel` (the same one if already subscribed; the listeners in
   * `options` are added to it). A new subscription with `rewind` (`50` events, or an age like
   * `'2m'`) first delivers the channel's last events from history. Throws a `closed`
   * {@link ReplyError} once the client is closed, an `InvalidOptionError` for a bad `rewind`.
   */
  subscribe(channel: string, options: SubscribeOptions = {}): Subscription {
    if (this.#phase === 'closed') throw closedError();
    const { rewind, ...handlers } = options;
    const parsed = rewind === undefined ? undefined : parseRewind(rewind);
    const existing = this.#subs.get(channel);
    const sub = existing ?? new Subscription(channel, this.#subHost, parsed);
    for (const [type, listener] of Object.entries(handlers)) if (listener) sub.addEventListener(type, listener as EventListener);
    if (existing) return sub;
    this.#subs.set(channel, sub);
    sub._subscribing();
    this.#subscribe(sub);
    return sub;
  }

  /**
   * Publishes once (even across reconnects); resolves with the event's position. With an
   * `idempotencyKey` (1-255 printable ASCII characters, a UUID say), a publish that outlives its
   * session (a reload without a durable outbox) is stored once too: the server answers a key it
   * has seen (within its idempotency window) with the first position, and refuses the key with
   * different data (`idempotency_conflict`).
   */
  publish(channel: string, data: unknown, options: PublishOptions = {}): Promise<Position> {
    // An absent key is left out of the JSON text that goes on the wire and into the outbox.
    return this.#enqueue({ type: 'publish', channel, data, idempotencyKey: options.idempotencyKey }, this.#publishTimeout, options.signal) as Promise<Position>;
  }

  /**
   * Calls a server handler once (even across reconnects); resolves with its result. An aborted
   * `signal` rejects it with the signal's reason and stops it (see {@link RequestOptions}).
   */
  request(method: string, params?: unknown, options: RequestOptions = {}): Promise<unknown> {
    return this.#enqueue({ type: 'request', method, params }, this.#requestTimeout, options.signal);
  }

  /** Starts a new link now with a fresh attempt budget (also after `giveup`); the session is resumed. */
  reconnect(): void {
    if (this.#phase !== 'closed') this.transport.reconnect();
  }

  /**
   * Closes for good: the socket closes (1000), unanswered publishes and requests reject with
   * `closed` (with a durable outbox they stay stored for the next client, even before it has
   * loaded), subscriptions end. Nothing is unsubscribed on the server: the session expires.
   */
  close(): void {
    if (this.#phase === 'closed') return;
    this.#generation++;
    this.#phase = 'closed';
    this.#refresh?.stop();
    // Before the entries fail: the store keeps them for the next client.
    this.#durable?.close();
    const error = closedError();
    this.#outbox.failAll(error);
    this.transport.dispose();
    this.#syncState();
    const all = [...this.#subs.values()];
    this.#subs.clear();
    this.#linkLost();
    for (const sub of all) sub._end(error, false);
  }

  /**
   * Logs out: ends the session on the server (`end`, when the link is up, then waits for the
   * server's close, at most `connectTimeout`), closes for good as {@link close} does, and forgets
   * the session id and secret; with an `outbox` store, empties it too (resolves once that save is
   * done). Offline, nothing reaches the server: its session expires after its recovery window.
   * On a client closed already, the store is left as `close()` left it (the next client of its
   * path may hold it by then).
   */
  async logout(): Promise<void> {
    const transport = this.transport;
    // Forgotten and emptied first, while this client holds the store: a close() (the app's own
    // during the wait too) lets a file store's lock go once the saves asked for are done.
    this.#session = this.#secret = undefined;
    const cleared = this.#phase === 'closed' ? undefined : this.#durable?.clear();
    if (this.#live()) {
      this.#send({ type: 'end' });
      // The link's next move is away from open: the server closed it (or it was lost).
      await new Promise<void>((resolve) => {
        const timer = new Timer(transport.options.clock, resolve);
        timer.start(transport.options.connectTimeout);
        transport.addEventListener('statechange', () => resolve(timer.stop()), { once: true });
      });
    }
    this.close();
    await cleared;
  }

  // ---- the link ----------------------------------------------------------------------------------

  /** The transport is open (or the stored outbox has loaded, maybe while it is): greet the server. */
  #linkUp(): void {
    // No transport: its constructor threw after the store began to load (on what only it reads: an
    // `environment` or `pageAwareness` that is none); this client never was.
    if (this.#phase !== 'down' || this.#durable?.loading || this.transport?.state !== 'open') return;
    this.#generation++;
    this.#phase = 'hello';
    this.#welcomeDue.start(this.transport.options.connectTimeout);
    this.#send({ type: 'hello', v: 1, session: this.#session, secret: this.#session === undefined ? undefined : this.#secret });
    // The subscriptions go with the hello, not after the welcome: they do not depend on it (the
    // server handles them after its welcome, in order), so `ready` is one round trip sooner.
    for (const sub of this.#subs.values()) this.#subscribe(sub);
  }

  #transportMoved(to: ClientState): void {
    const phase = this.#phase;
    if (phase === 'closed') return;
    if (to !== 'open' && phase !== 'down' && !this.#linkDown()) return;
    // A transport that ended for good fails what waits. With a store, its entries stay pending
    // (and stored): reconnect() resends them, close() rejects them. Presence queries are never
    // stored, so they fail either way.
    if (to === 'closed') this.#outbox.failAll(closedError(), this.#durable);
    this.#syncState();
  }

  /** The link ended: replies on it will not come; subscriptions wait for the next one. */
  #linkDown(): boolean {
    const generation = ++this.#generation;
    this.#phase = 'down';
    this.#refresh?.stop();
    this.#linkLost();
    this.#outbox.linkLost();
    // The live map, not a copy: a subscription a listener ends meanwhile is not visited (a copy
    // would move it back to subscribing, its ready() pending for ever).
    for (const sub of this.#subs.values()) {
      sub._subscribing();
      if (generation !== this.#generation) return false;
    }
    return true;
  }

  /**
   * Checks the fields one message type needs and hands it on; malformed or unknown messages are
   * dropped (unknown types are how later versions extend). Until `welcome`, only `error` counts.
   */
  #received(data: unknown): void {
    const message = decodeServerMessage(data);
    const phase = this.#phase;
    if (!message) return this.#failed(new ReplyError('bad_message', 'not a protocol message'));
    const { type, id, data: payload } = message;
    if (phase === 'hello' && type === 'welcome') return this.#welcome(message);
    if (type === 'refreshed') return this.#refresh?.expiresAt(message.expiresAt);
    if (!this.#live() && type !== 'error') return;
    if (typeof id === 'number' && REPLIES.includes(type)) return this.#reply(id, message);
    if (type === 'error') return this.#failed(remoteError(message));
    if (type === 'message' && Number.isSafeInteger(message.seq)) return this.#direct(message.seq as number, payload);
    // A channel that is not a string is no key of the map.
    const sub = this.#subs.get(message.channel as string);
    const position = { epoch: message.epoch, offset: message.offset };
    const member = (message.join ?? message.leave) as PresenceMember | undefined;
    if (type === 'event' && isPosition(position)) sub?._event(payload, position);
    else if (type === 'presence' && typeof member?.client === 'string') sub?._presence(message.join ? 'join' : 'leave', member);
  }

  /**
   * docs/protocol.md §1 and §5: on a resumed session, unanswered messages are resent with their
   * ids (the server answers a repeat from its window); on a new one, those already sent fail
   * with `outcome_unknown` and the rest are renumbered. The subscriptions went out with the hello.
   */
  #welcome(message: ServerMessage): void {
    this.#welcomeDue.stop();
    const id = String(message.session);
    const resumed = message.resumed === true && id === this.#session;
    this.#session = id;
    this.#secret = message.secret as string | undefined;
    this.#member = message.member as string | undefined;
    this.#resumed = resumed;
    const outbox = this.#outbox;
    if (typeof message.maxPayload === 'number') outbox.maxPayload = message.maxPayload;
    // An entry stored by an earlier run may be too big: it would close every start with 1009.
    outbox.dropLarger(outbox.entries);
    if (resumed) outbox.resumed(Number(message.acked) || 0);
    else {
      this.#lastSeq = 0;
      outbox.newSession();
    }
    this.#phase = 'recovering';
    this.#refresh?.expiresAt(message.expiresAt);
    // With a durable outbox, the flush saves first: the new session and secret (so a restart
    // resumes it) and the entries left, in one save.
    this.#flush();
    // App code runs only now, so a publish from a listener queues behind the resends.
    if (this.#dispatch(lifelineEvent('session', { id, resumed }))) this.#checkReady();
  }

  #reply(id: number, message: ServerMessage): void {
    // An answered entry leaves the durable outbox too.
    if (this.#outbox.settle(id, message)) return this.#save();
    const sub = this.#subscribes.get(id);
    if (!sub) return;
    this.#subscribes.delete(id);
    const generation = this.#generation;
    if (this.#current(sub)) this.#subscribed(sub, message);
    if (generation === this.#generation) this.#checkReady();
  }

  /**
   * A reply to a subscribe: the subscription continues from the reply's position; after a
   * transient refusal it is tried again with backoff (still awaited by `ready`); after any other
   * it ends with the server's code. Runs app code.
   */
  #subscribed(sub: Subscription, message: ServerMessage): void {
    const { position } = message;
    if (message.type === 'subscribed' && isPosition(position)) {
      this.#awaited.delete(sub);
      return sub._subscribed(position, message.recovered === true);
    }
    const error = message.type === 'error' ? remoteError(message) : badReply(message.type);
    if (isTransientSubscribeRefusal(error.code)) return sub._retry(error);
    this.#forget(sub);
    sub._end(error, true);
  }

  #checkReady(): void {
    if (this.#phase !== 'recovering' || this.#awaited.size > 0) return;
    this.#phase = 'ready';
    if (this.#syncState()) this.#dispatch(lifelineEvent('ready', { resumed: this.#resumed }));
  }

  /** docs/protocol.md §6: each seq once; the (cumulative) ack goes out after the listeners ran, also for a repeat. */
  #direct(seq: number, data: unknown): void {
    if (seq > this.#lastSeq) {
      this.#lastSeq = seq;
      if (!this.#dispatch(lifelineEvent('message', { data, seq }))) return;
    }
    this.#send({ type: 'ack', seq: this.#lastSeq });
  }

  // ---- sending -----------------------------------------------------------------------------------

  /** Messages may go out: the server has welcomed this link. */
  #live(): boolean {
    const phase = this.#phase;
    return phase === 'recovering' || phase === 'ready';
  }

  #send(message: object): void {
    this.transport.send(JSON.stringify(message));
  }

  /**
   * Queues a message that waits for its reply; a throw here (closed, aborted already, data JSON
   * cannot carry) rejects the promise. An abort drops it from the outbox (and the store).
   */
  #enqueue(body: { readonly type: PendingKind; readonly [field: string]: unknown }, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.state === 'closed') throw closedError();
      signal?.throwIfAborted();
      const abandon = (reason: Error): void => {
        this.#outbox.forget(entry, reason);
        this.#save();
      };
      const entry = pendingMessage(body.type, JSON.stringify(body), resolve, reject, this.transport.options.clock, timeoutMs, this.#subHost.retry, signal, abandon);
      // The server would close with 1009 (fatal); a stored entry would do it again on every start.
      if (!this.#outbox.add(entry)) return;
      if (!this.#live()) this.#save();
      // This entry only: one waiting out an `unavailable` refusal's delay is not resent early.
      else if (this.#durable) this.#flush(entry);
      else this.#outbox.send(entry);
    });
  }

  // ---- the durable outbox ------------------------------------------------------------------------

  /** Saves the outbox, when there is a store (see DurableOutbox.save). */
  #save(): void {
    void this.#durable?.save();
  }

  /**
   * With a durable outbox: everything not sent on this link yet (or `only`) is numbered, saved
   * with its id, then sent, in order. Until the save is done it is not on the wire, so a restart
   * can never send it again under another id.
   */
  #flush(only?: PendingMessage): void {
    const batch = this.#outbox.take(only);
    const generation = this.#generation;
    // An entry aborted while the save ran is no longer the outbox's: it never goes out.
    const send = (): void => {
      if (generation === this.#generation) for (const entry of batch) if (this.#outbox.entries.has(entry)) this.#outbox.write(entry);
    };
    if (this.#durable) void this.#durable.save().then(send);
    else send();
  }

  /** A `refreshToken` failure, as an `error` event. */
  readonly #failed = (error: unknown): void => void this.#dispatch(lifelineEvent('error', { error }));

  /** Sends a subscribe with `since` = the last position held (none yet: the rewind, if any), if `sub` is still current and the link live. */
  #subscribe(sub: Subscription): void {
    // Once the hello is out (the server takes what follows it in order, after its welcome).
    if (!this.#current(sub) || this.#phase === 'down') return;
    // Sent with the hello, or made while the session is being restored (a `session` listener,
    // say): `ready` waits for it.
    if (this.#phase !== 'ready') this.#awaited.add(sub);
    sub._halt();
    const id = this.#outbox.nextId();
    this.#subscribes.set(id, sub);
    const { channel, position: since, rewind } = sub;
    // Fields left undefined are left out of the JSON text: `since` when none is held, `rewind` when one is.
    this.#send({ type: 'subscribe', id, channel, since, rewind: since ? undefined : rewind });
  }

  /** The link ended: no reply comes on it any more, and a pending retry waits for the next link's resubscribe. */
  #linkLost(): void {
    this.#welcomeDue.stop();
    this.#subscribes.clear();
    this.#awaited.clear();
    for (const sub of this.#subs.values()) sub._halt();
  }

  /** Is `sub` still its channel's subscription (not ended meanwhile)? */
  #current(sub: Subscription): boolean {
    return this.#subs.get(sub.channel) === sub;
  }

  /** Forgets `sub` (it ended). */
  #forget(sub: Subscription): void {
    this.#subs.delete(sub.channel);
    this.#awaited.delete(sub);
  }

  #unsubscribe(sub: Subscription): void {
    if (!this.#current(sub)) return;
    this.#forget(sub);
    if (this.#phase !== 'down') this.#send({ type: 'unsubscribe', id: this.#outbox.nextId(), channel: sub.channel });
    const generation = this.#generation;
    sub._end(notSubscribed(sub.channel), false);
    if (generation === this.#generation) this.#checkReady();
  }

  #presence(sub: Subscription, signal?: AbortSignal): Promise<readonly PresenceMember[]> {
    if (!this.#current(sub)) return Promise.reject(notSubscribed(sub.channel));
    return this.#enqueue({ type: 'presence.get', channel: sub.channel }, this.#requestTimeout, signal) as Promise<readonly PresenceMember[]>;
  }

  // ---- events: each returns whether the generation survived the listeners --------------------------

  #syncState(): boolean {
    const from = this.#reported;
    const to = this.state;
    if (from === to) return true;
    this.#reported = to;
    // Settled by the first move to `ready` or `closed`.
    if (to === 'ready') this.#waiters.settle(true);
    else if (to === 'closed') this.#waiters.settle(false, closedError());
    return this.#dispatch(lifelineEvent('statechange', { from, to }));
  }

  #dispatch(event: Event): boolean {
    const generation = this.#generation;
    this.dispatchEvent(event);
    return generation === this.#generation;
  }
}
