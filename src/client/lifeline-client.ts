import type { ClientState } from '../core/client-state.js';
import type { Position } from '../core/position.js';
import { closeEvent, lifelineEvent, type LifelineCloseEvent } from './events.js';
import { resolveTimeout, type LifelineClientEventMap, type LifelineClientOptions, type LifelineClientState, type LifelineStateEvent, type PublishOptions } from './lifeline-client-types.js';
import type { UrlSource } from './options.js';
import { DurableOutbox } from './durable-outbox.js';
import type { OutboxEntry } from './outbox-store.js';
import { Outbox, PendingMessage, type PendingKind, type SendRetry } from './outbox.js';
import { ReconnectingWebSocket } from './reconnecting-websocket.js';
import { closedError, ReplyError } from './reply-error.js';
import { resolveRetryBackoff } from './retry-policy.js';
import { parseRewind } from '../core/rewind.js';
import type { PresenceMember, SubscribeOptions, Subscription } from './subscription.js';
import { SubscriptionSet } from './subscription-set.js';
import { TokenRefresh } from './token-refresh.js';
import { TypedEventTarget } from './typed-event-target.js';
import { decodeServerMessage, PROTOCOL, routeServerMessage, type ServerMessage, type ServerMessagePort } from './wire.js';
import { withHeartbeat } from './with-heartbeat.js';
import { browserEnvironment } from './environment.js';
import { withPageAwareness } from './page-awareness.js';
import { withRetryHints } from '../core/retry-hint.js';

/**
 * Where the client is with the current link: waiting for one, greeting, restoring, ready; or
 * closed by the app. The moves: down -> hello -> recovering -> ready, any of them -> down when
 * the link ends, and any -> closed (terminal). Not checked at run time (a checker costs bytes in
 * every browser bundle); each move is made in one place below.
 */
type Phase = 'down' | 'hello' | 'recovering' | 'ready' | 'closed';

/** The transport's own queue is off: a message the socket cannot take now is the outbox's to resend, after `hello`. */
const FORWARDED = ['connecting', 'open', 'close', 'reconnecting', 'giveup', 'authRequired', 'error'] as const;

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
  readonly #outbox = new Outbox((entry) => {
    if (this.#live()) this.#outbox.resend(entry, this.#write);
  });
  /** How publishes, requests and presence queries refused with `unavailable` are resent (undefined: not at all). */
  readonly #sendRetry: SendRetry | undefined;
  readonly #refresh: TokenRefresh | undefined;
  readonly #write = (text: string): boolean => this.transport.send(text) === 'sent';
  readonly #subscriptions: SubscriptionSet;
  readonly #port: ServerMessagePort = {
    event: (channel, data, position) => this.#subscriptions.byChannel.get(channel)?._event(data, position),
    presence: (channel, action, member) => this.#subscriptions.byChannel.get(channel)?._presence(action, member),
    direct: (seq, data) => this.#direct(seq, data),
    reply: (id, message) => this.#reply(id, message),
    error: (error) => this.#failed(error),
  };
  #session: string | undefined;
  #member: string | undefined;
  /** The session's resume secret (from welcome): only a hello carrying it resumes the session. */
  #secret: string | undefined;
  #resumed = false;
  /** The server's largest message (from welcome); bigger ones are refused before they are stored. */
  #maxPayload = Number.POSITIVE_INFINITY;
  /** The last direct-message seq processed in this session. */
  #lastSeq = 0;
  /** Stamps each link (and close): work after app code continues only if it is unchanged. */
  #generation = 0;
  #reported: LifelineClientState;

  constructor(url: UrlSource, options: LifelineClientOptions = {}) {
    super();
    this.#publishTimeout = resolveTimeout('publishTimeout', options.publishTimeout);
    this.#requestTimeout = resolveTimeout('requestTimeout', options.requestTimeout);
    const transport = new ReconnectingWebSocket(url, PROTOCOL, {
      ...options,
      // Page awareness is opt-in for a bare ReconnectingWebSocket; on here.
      environment: options.environment ?? browserEnvironment(),
      pageAwareness: options.pageAwareness ?? withPageAwareness(),
      retryHints: options.retryHints ?? withRetryHints(),
      heartbeat: withHeartbeat(options.heartbeat ?? true),
      queue: false,
    });
    this.transport = transport;
    const { clock, rng } = transport.options;
    const backoff = resolveRetryBackoff({ ...options.retry, maxAttempts: Number.POSITIVE_INFINITY });
    const within = resolveTimeout('retryDeadline', options.retryDeadline);
    this.#sendRetry = within > 0 ? { backoff, rng, within } : undefined;
    this.#subscriptions = new SubscriptionSet(
      {
        nextId: () => this.#outbox.nextId(),
        send: (message) => this.#send(message),
        live: () => this.#live(),
        unsubscribe: (sub) => this.#unsubscribe(sub),
        presence: (sub) => this.#presence(sub),
      },
      { backoff, clock, rng },
    );
    this.#reported = transport.state;
    const failed = this.#failed;
    const provider = options.refreshToken;
    if (provider) this.#refresh = new TokenRefresh(provider, { clock, send: (token) => this.#send({ type: 'refresh', token }), failed });
    if (options.outbox) {
      const host = {
        clock,
        restored: (session: string | undefined, secret: string | undefined) => {
          this.#session = session;
          this.#secret = secret;
        },
        session: () => ({ session: this.#session, secret: this.#secret }),
        closed: () => this.state === 'closed',
        settled: (entry: OutboxEntry, value: unknown, error?: Error) => this.dispatchEvent(lifelineEvent('outbox', { entry, value, error })),
        failed,
      };
      // Saves wait for the load (then save what the app sent meanwhile too).
      this.#durable = new DurableOutbox(options.outbox, this.#outbox, host, () => this.transport.state === 'open' && this.#linkUp());
    }
    transport.addEventListener('open', () => this.#linkUp());
    transport.addEventListener('message', (event) => this.#received(event.data));
    transport.addEventListener('statechange', (event) => this.#transportMoved(event.to));
    for (const type of FORWARDED) transport.addEventListener(type, (event: Event) => this.#forward(event));
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
    return this.#subscriptions.byChannel;
  }

  /** Resolves at the next `ready` (now, if ready); rejects if the client closes or the transport ends for good first. */
  ready(): Promise<void> {
    if (this.state === 'ready') return Promise.resolve();
    if (this.state === 'closed') return Promise.reject(closedError());
    return new Promise((resolve, reject) => {
      const settle = (event: LifelineStateEvent): void => {
        if (event.to !== 'ready' && event.to !== 'closed') return;
        this.removeEventListener('statechange', settle);
        if (event.to === 'ready') resolve();
        else reject(closedError());
      };
      this.addEventListener('statechange', settle);
    });
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
    const { sub, created } = this.#subscriptions.open(channel, handlers, rewind === undefined ? undefined : parseRewind(rewind));
    if (!created) return sub;
    sub._subscribing();
    if (this.#subscriptions.current(sub) && this.#live()) this.#subscriptions.subscribe(sub);
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
    return this.#enqueue('publish', { type: 'publish', channel, data, idempotencyKey: options.idempotencyKey }, this.#publishTimeout) as Promise<Position>;
  }

  /** Calls a server handler once (even across reconnects); resolves with its result. */
  request(method: string, params?: unknown): Promise<unknown> {
    return this.#enqueue('request', { type: 'request', method, params }, this.#requestTimeout);
  }

  /** Starts a new link now with a fresh attempt budget (also after `giveup`); the session is resumed. */
  reconnect(): void {
    if (this.#phase !== 'closed') this.transport.reconnect();
  }

  /**
   * Closes for good: the socket closes (1000), unanswered publishes and requests reject with
   * `closed`, subscriptions end. Nothing is unsubscribed on the server: the session expires.
   */
  close(): void {
    if (this.#phase === 'closed') return;
    this.#generation++;
    this.#phase = 'closed';
    this.#refresh?.stop();
    const error = closedError();
    this.#outbox.failAll(error);
    this.transport.dispose();
    this.#syncState();
    this.#subscriptions.endAll(error);
  }

  // ---- the link ----------------------------------------------------------------------------------

  #linkUp(): void {
    if (this.#phase !== 'down' || this.#durable?.loading) return;
    this.#generation++;
    this.#phase = 'hello';
    this.#send({ type: 'hello', v: 1, session: this.#session, secret: this.#session === undefined ? undefined : this.#secret });
  }

  #transportMoved(to: ClientState): void {
    const phase = this.#phase;
    if (phase === 'closed') return;
    if (to !== 'open' && phase !== 'down' && !this.#linkDown()) return;
    // Without a store, a transport that ended for good fails what waits. With one, the entries
    // stay pending (and stored): reconnect() resends them, close() rejects them.
    if (to === 'closed' && !this.#durable) this.#outbox.failAll(closedError());
    this.#syncState();
  }

  /** The link ended: replies on it will not come; subscriptions wait for the next one. */
  #linkDown(): boolean {
    const generation = ++this.#generation;
    this.#phase = 'down';
    this.#refresh?.stop();
    this.#subscriptions.linkLost();
    this.#outbox.linkLost();
    for (const sub of [...this.#subscriptions.byChannel.values()]) {
      sub._subscribing();
      if (generation !== this.#generation) return false;
    }
    return true;
  }

  #received(data: unknown): void {
    const message = decodeServerMessage(data);
    const phase = this.#phase;
    if (!message) this.#port.error(new ReplyError('bad_message', 'not a protocol message'));
    else if (phase === 'hello' && message.type === 'welcome') this.#welcome(message);
    else if (message.type === 'refreshed') this.#refresh?.expiresAt(message.expiresAt);
    else if (phase === 'recovering' || phase === 'ready' || message.type === 'error') routeServerMessage(message, this.#port);
  }

  /**
   * docs/protocol.md §1 and §5: on a resumed session, unanswered messages are resent with their
   * ids (the server answers a repeat from its window); on a new one, those already sent fail
   * with `outcome_unknown` and the rest are renumbered. Subscriptions go first, with `since`.
   */
  #welcome(message: ServerMessage): void {
    const id = String(message.session);
    const resumed = message.resumed === true && id === this.#session;
    const secret = message.secret as string | undefined;
    // A durable outbox keeps the secret with the session, so a restart resumes it.
    if (secret !== this.#secret) void this.#save();
    this.#session = id;
    this.#secret = secret;
    this.#member = message.member as string | undefined;
    this.#resumed = resumed;
    if (typeof message.maxPayload === 'number') this.#maxPayload = message.maxPayload;
    // An entry stored by an earlier run may be too big: it would close every start with 1009.
    if (this.#outbox.dropLarger(this.#maxPayload, tooBig())) void this.#save();
    const outbox = this.#outbox;
    if (resumed) outbox.resumed(Number(message.acked) || 0);
    else {
      this.#lastSeq = 0;
      outbox.newSession();
    }
    this.#phase = 'recovering';
    this.#refresh?.expiresAt(message.expiresAt);
    this.#subscriptions.resubscribeAll();
    this.#flush();
    // App code runs only now, so a publish from a listener queues behind the resends.
    if (this.#dispatch(lifelineEvent('session', { id, resumed }))) this.#checkReady();
  }

  #reply(id: number, message: ServerMessage): void {
    // An answered entry leaves the durable outbox too.
    if (this.#outbox.settle(id, message)) return void this.#save();
    const generation = this.#generation;
    if (this.#subscriptions.reply(id, message) && generation === this.#generation) this.#checkReady();
  }

  #checkReady(): void {
    if (this.#phase !== 'recovering' || !this.#subscriptions.settled) return;
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
    this.#write(JSON.stringify(message));
  }

  /** Queues a message that waits for its reply; a throw here (closed, data JSON cannot carry) rejects the promise. */
  #enqueue(kind: PendingKind, body: object, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.state === 'closed') throw closedError();
      const entry = new PendingMessage(kind, JSON.stringify(body), resolve, reject, this.transport.options.clock, timeoutMs, this.#sendRetry);
      this.#outbox.add(entry);
      // The server would close with 1009 (fatal); a stored entry would do it again on every start.
      if (this.#outbox.dropLarger(this.#maxPayload, tooBig())) return;
      if (!this.#live()) void this.#save();
      else if (this.#durable) this.#flush();
      else this.#outbox.send(entry, this.#write);
    });
  }

  // ---- the durable outbox ------------------------------------------------------------------------

  /** Saves the outbox, when there is a store (see DurableOutbox.save). */
  #save(): Promise<void> {
    return this.#durable?.save() ?? Promise.resolve();
  }

  /**
   * With a durable outbox: everything not sent on this link yet is numbered, saved with its id,
   * then sent, in order. Until the save is done it is not on the wire, so a restart can never
   * send it again under another id.
   */
  #flush(): void {
    const batch = this.#outbox.take();
    const generation = this.#generation;
    const send = (): void => {
      if (generation === this.#generation) for (const entry of batch) this.#outbox.write(entry, this.#write);
    };
    if (this.#durable) void this.#save().then(send);
    else send();
  }

  /** A durable outbox or `refreshToken` failure, as an `error` event. */
  readonly #failed = (error: unknown): void => void this.#dispatch(lifelineEvent('error', { error }));

  #unsubscribe(sub: Subscription): void {
    if (!this.#subscriptions.remove(sub)) return;
    if (this.#live()) this.#send({ type: 'unsubscribe', id: this.#outbox.nextId(), channel: sub.channel });
    const generation = this.#generation;
    sub._end(new ReplyError('unsubscribed', `unsubscribed from "${sub.channel}"`), false);
    if (generation === this.#generation) this.#checkReady();
  }

  #presence(sub: Subscription): Promise<readonly PresenceMember[]> {
    if (!this.#subscriptions.current(sub)) return Promise.reject(new ReplyError('unsubscribed', `"${sub.channel}" is not subscribed`));
    return this.#enqueue('presence.get', { type: 'presence.get', channel: sub.channel }, this.#requestTimeout) as Promise<readonly PresenceMember[]>;
  }

  // ---- events: each returns whether the generation survived the listeners --------------------------

  #syncState(): boolean {
    const from = this.#reported;
    const to = this.state;
    if (from === to) return true;
    this.#reported = to;
    return this.#dispatch(lifelineEvent('statechange', { from, to }));
  }

  /** The transport's lifecycle events, re-dispatched as ours. */
  #forward(event: Event): void {
    // A platform CloseEvent's fields live on its prototype: Object.keys would see only ours.
    const close = event as LifelineCloseEvent;
    if (event.type === 'close') return void this.dispatchEvent(closeEvent(close, close.willReconnect, close.action));
    const detail: Record<string, unknown> = {};
    // `isTrusted` is an own, read-only property of browser events: copying it would throw.
    for (const key of Object.keys(event)) if (key !== 'isTrusted') detail[key] = (event as unknown as Record<string, unknown>)[key];
    this.dispatchEvent(lifelineEvent(event.type, detail));
  }

  #dispatch(event: Event): boolean {
    const generation = this.#generation;
    this.dispatchEvent(event);
    return generation === this.#generation;
  }
}

function tooBig(): ReplyError {
  return new ReplyError('too_big', 'larger than the server accepts');
}
