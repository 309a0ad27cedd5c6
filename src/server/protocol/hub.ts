import type { PublishOrigin } from '../../broker/broker.js';
import type { Envelope } from '../../core/envelope.js';
import type { Position } from '../../core/position.js';
import { Timer } from '../../core/timer.js';
import { TokenBucket } from '../../core/rate-limiter.js';
import { parseClientMessage, type ClientMessage } from '../../protocol/client-messages.js';
import { InputHold, type Connection } from '../connection.js';
import { resolveChannel } from './channels.js';
import { ExactlyOnce } from './exactly-once.js';
import { ChannelFanout } from './fanout.js';
import { helloUnavailable, messageFailed } from './failures.js';
import type { HubOptions, RequestHandler } from './hub-options.js';
import type { LiveSession } from './live-session.js';
import { isPresenceCompanion, Presence } from './presence.js';
import { RequestError } from './request-error.js';
import { digestOf, matchesSecret } from './resume-secret.js';
import { IDEMPOTENCY_KEY } from '../../protocol/client-messages.js';
import { SessionRegistry } from './session-registry.js';
import { Subscriptions } from './subscriptions.js';
import { TurnBatch } from './turn-batch.js';
import { flatUuid } from '../flat-uuid.js';
import { LogThrottle } from '../../core/log-throttle.js';

/** Token refreshes one connection may send at once, then this many per second (docs/reliability.md). */
export const REFRESH_BURST = 3;
export const REFRESH_PER_SECOND = 0.1;

/** At most one log line per this period for direct messages refused by a full outbox, ms. */
const REFUSAL_LOG_PERIOD = 10_000;

/** The scope of the server's own idempotency keys (`server.publish`, the HTTP API). */
const SERVER_SCOPE = 'server';

export type { ChannelHooks, HookVerdict, HubLimits, HubOptions, RequestContext, RequestHandler } from './hub-options.js';

/**
 * The channel protocol (docs/protocol.md) for connections that negotiated `lifeline.v1`: routes
 * each connection's messages to its session (src/protocol holds the decisions), and the
 * session's steps to the broker, the hooks and the handlers. Sessions with hello, park and
 * takeover live in {@link SessionRegistry}, subscriptions in {@link Subscriptions}, publishes and
 * requests in {@link ExactlyOnce}.
 */
export class Hub<User> {
  readonly #handlers = new Map<string, RequestHandler<User>>();
  readonly #fanout: ChannelFanout;
  readonly #presence: Presence<User>;
  readonly #registry: SessionRegistry<User>;
  readonly #subscriptions: Subscriptions<User>;
  readonly #exactlyOnce: ExactlyOnce<User>;
  /** The replies to the messages a connection sent together leave together. */
  readonly #batch = new TurnBatch();
  /** Each connection's refreshes, made at its first (credentials are refreshed once per lifetime). */
  readonly #refreshes = new WeakMap<Connection<User>, TokenBucket>();
  /** Direct messages refused since the last log line about them. */
  readonly #refusedDirects: LogThrottle;

  constructor(readonly options: HubOptions<User>) {
    this.#refusedDirects = new LogThrottle(options.clock, REFUSAL_LOG_PERIOD);
    this.#fanout = new ChannelFanout(options.broker);
    const shown = options.presenceUser ?? ((user: User): unknown => user);
    this.#presence = new Presence<User>({
      broker: options.broker,
      clock: options.clock,
      fanout: this.#fanout,
      pingInterval: options.pingInterval,
      grace: options.presenceGrace,
      shown,
      sessions: () => this.#registry.sessions.values(),
    });
    this.#registry = new SessionRegistry<User>({
      options,
      secrets: { digest: digestOf, matches: matchesSecret },
      ids: { session: () => flatUuid('s-'), secret: () => secretText(options.randomBytes(32)) },
      route: (session, envelope) => this.message(session.connection, envelope),
      unsubscribeAll: (session, movedAway, ended) => this.#subscriptions.unsubscribeAll(session, movedAway, ended),
      release: (connection) => this.#batch.release(connection),
    });
    this.#subscriptions = new Subscriptions<User>({
      options,
      fanout: this.#fanout,
      presence: this.#presence,
      live: (id) => this.#registry.sessions.get(id),
      saveLive: (session) => this.#registry.saveLive(session),
      release: (connection) => this.#batch.release(connection),
    });
    this.#exactlyOnce = new ExactlyOnce<User>({
      options,
      handlers: this.#handlers,
      originTtl: this.#registry.liveTtl,
      keyOrigin: (scope, key, data, holder) => this.#keyOrigin(scope, key, data, holder),
    });
  }

  handle(method: string, handler: RequestHandler<User>): void {
    this.#handlers.set(method, handler);
  }

  /**
   * Publishes from the server side; resolves with the event's position. Rejects with a TypeError
   * for data JSON cannot carry. With an `idempotencyKey` used before (within the idempotency
   * window), resolves with that publish's position and stores nothing; with the key of a
   * different message, rejects with an `IdempotencyConflictError`.
   */
  async publish(channel: string, data: unknown, options: { readonly idempotencyKey?: string } = {}): Promise<Position> {
    const resolved = resolveChannel(this.options.channels, channel);
    if (!resolved) throw new RequestError('bad_channel', `no namespace allows channel "${channel}"`);
    const { idempotencyKey } = options;
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) throw new TypeError('an idempotency key is 1-255 printable ASCII characters');
    JSON.stringify(data); // a TypeError for what JSON cannot carry: in history it would break every replay
    // A copy: the broker keeps it for replays, and the app may change its object afterwards.
    const origin = idempotencyKey === undefined ? undefined : this.#keyOrigin(SERVER_SCOPE, idempotencyKey, data);
    const event = await this.options.broker.publish(channel, copyJson(data), resolved.history, origin);
    return { epoch: event.epoch, offset: event.offset };
  }

  /**
   * Sends to one session (kept until acknowledged, for the recovery window). False if the session
   * is unknown or its outbox is full (`maxPendingDirect`); a TypeError for data JSON cannot carry.
   */
  async sendTo(session: string, data: unknown): Promise<boolean> {
    const copy = copyJson(data); // a TypeError for what JSON cannot carry; a copy the app cannot change later
    if (!this.#registry.sessions.has(session) && !(await this.options.broker.loadSession(session))) return false;
    return this.#sendDirect(session, copy);
  }

  /**
   * Sends to every session of `user` (connected to any node, or within its recovery window),
   * each copy kept until that session acknowledges it. Resolves with how many sessions took it
   * (a session whose outbox is full does not).
   */
  async sendToUser(user: unknown, data: unknown): Promise<number> {
    const copy = copyJson(data); // refuse what JSON cannot carry before anything is stored
    const sessions = await this.options.broker.sessionsOf(user);
    const taken = await Promise.all(sessions.map((session) => this.#sendDirect(session, copy)));
    return taken.filter(Boolean).length;
  }

  /** Stores a direct message unless the session's outbox is full (then false, and logged at most every 10 s). */
  async #sendDirect(session: string, copy: unknown): Promise<boolean> {
    const { broker, recoveryWindow, limits, log } = this.options;
    const limit = limits.maxPendingDirect;
    // null is a refusal; anything else (a custom broker that resolves nothing included) was stored.
    if ((await broker.sendDirect(session, copy, recoveryWindow, limit)) !== null) return true;
    // A client that stays connected without acknowledging, or one away for long while the app
    // kept sending: what is stored stays deliverable; what would grow without end is refused.
    // Logged once per period, with the count since, so such a client cannot flood the log.
    const refused = this.#refusedDirects.take();
    if (refused > 0) log.warn({ session, limit, refused }, 'direct messages refused: a session holds maxPendingDirect unacknowledged messages');
    return false;
  }

  /** Sessions live on this node. */
  get sessions(): ReadonlyMap<string, LiveSession<User>> {
    return this.#registry.sessions;
  }

  /** Local subscriber counts per channel (the internal presence companions left out). */
  channelCounts(): Map<string, number> {
    const counts = this.#fanout.counts();
    for (const channel of counts.keys()) if (isPresenceCompanion(channel)) counts.delete(channel);
    return counts;
  }

  attach(connection: Connection<User>): void {
    const { phases } = this.#registry;
    // The deadline stops at the hello (or the close): a session never keeps it.
    const deadline = new Timer(this.options.clock, () => {
      if (phases.get(connection)?.phase === 'hello' && (connection.state === 'open' || connection.state === 'authenticating')) connection.close(4408, 'no hello within helloTimeout');
    });
    phases.set(connection, { phase: 'hello', deadline });
    deadline.start(this.options.limits.helloTimeout);
  }

  message(connection: Connection<User>, envelope: Envelope): void {
    const { phases } = this.#registry;
    const phase = phases.get(connection);
    if (!phase) return;
    if (phase.phase === 'hello' && envelope.type !== 'hello') {
      return this.options.invalid(connection as Connection<unknown>, 'hello_required', 'the first message must be hello');
    }
    // Pipelined behind the hello: judged after the welcome, in order (a refusal as well as the rest).
    if (phase.phase === 'greeting') return void phase.backlog.push(envelope);
    const parsed = parseClientMessage(envelope);
    if (!parsed.ok) {
      const refuse = (): void => this.options.invalid(connection as Connection<unknown>, parsed.code, parsed.detail, parsed.id);
      // A session's refusal waits for the messages before it, as any reply does (in order).
      return phase.phase === 'hello' ? refuse() : phase.enqueue(() => void refuse());
    }
    const message = parsed.message;
    if (phase.phase === 'hello') {
      if (message.type !== 'hello') return; // checked above, before parsing
      phase.deadline.stop();
      phases.set(connection, { phase: 'greeting', backlog: [] });
      // The welcome and the replies to what was pipelined behind the hello (a subscribe, as
      // LifelineClient sends it) leave in one write when the broker answers within this turn.
      this.#batch.hold(connection);
      let answering: Promise<void> | undefined;
      try {
        answering = this.#registry.hello(connection, message);
      } catch (error) {
        return helloUnavailable(this.options.log, connection as Connection<unknown>, error);
      }
      if (answering === undefined) return; // answered in this turn (an in-process broker)
      // What a client pipelines behind its hello waits in the socket, not in this node's memory:
      // reading stops until the hello is answered (the backlog holds at most what one read
      // brought), and starts again on every outcome, so a close frame can still be read.
      connection.pauseInput(InputHold.HELLO);
      void answering.catch((error: unknown) => helloUnavailable(this.options.log, connection as Connection<unknown>, error)).finally(() => connection.resumeInput(InputHold.HELLO));
      return;
    }
    // An ack is cumulative and nothing after it depends on it: taken at once, not behind a slow
    // request or a paced subscribe, so the outbox it empties (maxPendingDirect) never waits on them.
    if (message.type === 'ack') return this.#ack(phase, message.seq);
    // Nothing after an `end` is processed: the connection has no phase from here on (nor is the
    // session parked when it closes; the end does more). The end waits for what came before it.
    if (message.type === 'end') phases.delete(connection);
    // Small replies only: a catch-up held back whole would count against the outbound budget.
    if (message.type === 'request' || message.type === 'publish') this.#batch.hold(connection);
    this.#route(phase, message);
    // Its connection's close parks nothing now: a shutdown waits for the end instead.
    if (message.type === 'end') this.#registry.ending(phase);
  }

  /** The connection closed: the session is parked in the broker for the recovery window. */
  detach(connection: Connection<User>): Promise<void> {
    return this.#registry.detach(connection);
  }

  close(): void {
    this.#presence.close();
    this.#registry.close();
  }

  /** Resolves once every session whose connection has closed is parked in the broker. */
  parked(): Promise<void> {
    return this.#registry.parked();
  }

  /** An app's idempotency key, scoped to who publishes (`scope`), with the body's digest. */
  #keyOrigin(scope: string, key: string, data: unknown, holder = scope): PublishOrigin {
    const origin = { key: `${scope}\n${key}`, digest: digestOf(JSON.stringify(data ?? null)), ttl: this.options.idempotencyWindow };
    // A client's records count against its holder's quota (its user, or all anonymous
    // connections together); the server's own are no one's.
    return scope === SERVER_SCOPE ? origin : { ...origin, holder };
  }

  /**
   * A direct-message ack, taken once the direct messages before it have gone out (after a
   * resume, the pending ones are sent first) and only as far as the last seq sent: a client
   * acknowledges what it was sent, so an ack past it (a misbehaving peer, one pipelined behind
   * a hello) never drops a message stored but not delivered yet. The broker is not waited for.
   */
  #ack(session: LiveSession<User>, seq: number): void {
    session.direct(() => {
      const upTo = Math.min(seq, session.sentSeq);
      if (upTo > 0) void this.#handle(session, { type: 'ack', seq: upTo });
    });
  }

  /** One message of a welcomed session, processed after those before it. */
  #route(session: LiveSession<User>, message: ClientMessage): void {
    session.enqueue(() => this.#handle(session, message));
  }

  /** Handles a message, its failure reported; returns nothing when it was handled in this turn. */
  #handle(session: LiveSession<User>, message: ClientMessage): Promise<void> | undefined {
    const failed = (error: unknown): void => messageFailed(this.options.log, session.connection as Connection<unknown>, message, error);
    let handled: Promise<void> | undefined;
    try {
      handled = this.#step(session, message);
    } catch (error) {
      failed(error);
      return undefined;
    }
    return handled?.catch(failed);
  }

  #step(session: LiveSession<User>, message: ClientMessage): Promise<void> | undefined {
    switch (message.type) {
      case 'hello':
        return void this.options.invalid(session.connection as Connection<unknown>, 'bad_state', 'hello was already received');
      case 'subscribe':
        return this.#subscriptions.subscribe(session, message);
      case 'unsubscribe':
        return this.#subscriptions.unsubscribeMessage(session, message);
      case 'publish':
        return this.#exactlyOnce.publish(session, message);
      case 'request':
        return this.#exactlyOnce.request(session, message);
      case 'presence.get':
        return this.#subscriptions.presenceGet(session, message);
      case 'ack':
        return this.options.broker.ackDirect(session.id, message.seq);
      case 'refresh':
        return this.#refresh(session, message.token);
      case 'end':
        return this.#registry.end(session);
    }
  }

  async #refresh(session: LiveSession<User>, token: string): Promise<void> {
    // Each refresh runs the app's authenticate hook (a database, an identity provider): paced
    // per connection, so a loop of refreshes is not passed on to it at the message rate.
    const { connection } = session;
    let bucket = this.#refreshes.get(connection);
    if (!bucket) this.#refreshes.set(connection, (bucket = new TokenBucket(this.options.clock, REFRESH_PER_SECOND, REFRESH_BURST)));
    if (!bucket.take()) return void connection.send({ type: 'error', code: 'limit', message: `too many refreshes: ${REFRESH_BURST} at once, then one per ${1 / REFRESH_PER_SECOND} s` });
    const outcome = await this.options.refresh(connection, token);
    session.connection.send('error' in outcome ? { type: 'error', code: 'unauthorized', message: outcome.error } : { type: 'refreshed', expiresAt: outcome.expiresAt });
  }
}

/** A session secret's text: its random bytes in base64url (read in place, not copied first). */
function secretText(bytes: Uint8Array): string {
  return (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).toString('base64url');
}

/** A deep copy through JSON: what the wire will carry, and a TypeError for what it cannot. */
function copyJson(data: unknown): unknown {
  const text = JSON.stringify(data);
  if (text === undefined) throw new TypeError('the data cannot be sent as JSON');
  return JSON.parse(text) as unknown;
}
