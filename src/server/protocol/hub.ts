import { randomUUID } from 'node:crypto';
import type { LifelineLogger } from '../../core/logger.js';
import type { Broker, DirectMessage, Recovery, Unsubscribe } from '../../broker/broker.js';
import type { Clock } from '../../core/clock.js';
import { BrokerUnavailableError, IdempotencyConflictError, LifelineError } from '../../core/errors.js';
import type { Envelope } from '../../core/envelope.js';
import type { Position } from '../../core/position.js';
import { RequestWindow } from '../../core/request-window.js';
import { Timer } from '../../core/timer.js';
import type { Connection } from '../connection.js';
import type { PreparedText } from '../prepared-text.js';
import type { ServerStats } from '../stats.js';
import { resolveChannel, type ChannelsConfig } from './channels.js';
import { ChannelFanout, type FanoutMember } from './fanout.js';
import { isPresenceCompanion, Presence } from './presence.js';
import { LiveSession, type LiveSubscription, type ResumeKey } from './live-session.js';
import { RequestError, type ReplyErrorCode } from './request-error.js';
import { digestOf, IDEMPOTENCY_KEY, matchesSecret } from './resume-secret.js';
import { parseClientMessage, type ClientMessage, type ClientMessageOf } from './schema.js';

/** What a request handler gets besides its params. */
export interface RequestContext<User> {
  readonly session: string;
  readonly user: User;
  readonly connection: Connection<User>;
  /** Aborted when the request times out or its connection closes. */
  readonly signal: AbortSignal;
}

/**
 * Answers one request method. Declared through a method signature, which TypeScript checks
 * bivariantly, so a server typed for one User stays assignable to LifelineServer<unknown>.
 */
export type RequestHandler<User> = { handle(params: unknown, context: RequestContext<User>): unknown }['handle'];

/**
 * An authorization hook's verdict: true allows; false refuses with `forbidden`; `{ refused }`
 * refuses with `forbidden` and says why (the reason is the error's message, for the client).
 */
export type HookVerdict = boolean | { readonly refused: string };

/** Authorization hooks: return false (or a promise of false) to refuse with `forbidden`. */
export interface ChannelHooks<User> {
  // Method syntax on purpose: a server typed for one User stays assignable to LifelineServer<unknown>.
  /** What other subscribers see of a member in presence (join, leave, list). Default: the whole user. */
  presenceUser?(user: User): unknown;
  canSubscribe?(context: { readonly user: User; readonly session: string; readonly channel: string }): HookVerdict | Promise<HookVerdict>;
  canPublish?(context: { readonly user: User; readonly session: string; readonly channel: string; readonly data: unknown }): HookVerdict | Promise<HookVerdict>;
}

export interface HubOptions<User> extends ChannelHooks<User> {
  readonly broker: Broker;
  readonly channels: ChannelsConfig;
  readonly recoveryWindow: number;
  readonly requestTimeout: number;
  /** Replies remembered per session for exactly-once resends. */
  readonly windowSize: number;
  readonly pingInterval: number;
  /** The largest message the server accepts (told to clients in welcome). */
  readonly maxPayload: number;
  /** A member whose connection closed stays in presence this long (ms) before its leave is told. */
  readonly presenceGrace: number;
  /** How long an idempotency key is remembered, ms. */
  readonly idempotencyWindow: number;
  /** Random bytes for resume secrets. */
  readonly randomBytes: (size: number) => Uint8Array;
  readonly clock: Clock;
  readonly log: LifelineLogger;
  /** Counts recoveries and times requests, when given. */
  readonly stats?: ServerStats;
  /** A malformed or out-of-place message: the server's rate-limited `error` reply. */
  readonly invalid: (connection: Connection<unknown>, code: string, detail: string, id?: number) => void;
  /** Caps that keep one client from exhausting the node (docs/reliability.md, "Limits"). */
  readonly limits: HubLimits;
  /** Judges a `refresh` token for a live connection. */
  refresh(connection: Connection<User>, token: string): Promise<{ readonly expiresAt: number } | { readonly error: string }>;
}

export interface HubLimits {
  /** A connection that sends no hello within this is closed with 4408, ms. */
  readonly helloTimeout: number;
  /** Channels one session may be subscribed to at once. */
  readonly maxSubscriptions: number;
  /** Live sessions of one (non-anonymous) user on this node. */
  readonly maxSessionsPerUser: number;
  /** Distinct channels with local subscribers on this node. */
  readonly maxChannels: number;
  /** Presence members of one channel on this node. */
  readonly maxPresenceMembers: number;
}

type Phase<User> = { readonly phase: 'hello' } | { readonly phase: 'greeting'; readonly backlog: ClientMessage[] } | { readonly phase: 'ready'; readonly session: LiveSession<User> };

/**
 * How often this node extends the records of the sessions it serves. A live session's record
 * lives a recovery window plus one period beyond the last extension: if the node dies, its
 * clients still get at least a full recovery window to resume on another node.
 */
function refreshPeriod(recoveryWindow: number): number {
  return Math.min(30_000, Math.max(1_000, Math.floor(recoveryWindow / 4)));
}

/** A publish whose broker command may have run is asked again this many times, this far apart (ms). */
const PUBLISH_RETRIES = 3;
const PUBLISH_RETRY_DELAY = 300;
/**
 * Before a channel resync closes a connection, its session's record is written, tried this many
 * times this far apart (ms): the broker may still be reconnecting when the new epoch shows.
 */
const RESYNC_SAVE_ATTEMPTS = 25;
const RESYNC_SAVE_DELAY = 200;

/** A request claim outlives the request timeout by this much (the reply is recorded after it), ms. */
const CLAIM_MARGIN = 2_000;
/** How often a resend waits for the reply of a copy running on another node, ms. */
const ELSEWHERE_POLL = 100;

/** What the request timer resolves with: no handler can return it (a handler may well return the string 'timeout'). */
const TIMED_OUT: unique symbol = Symbol('timed out');

/**
 * The channel protocol (docs/protocol.md) for connections that negotiated `lifeline.v1`:
 * sessions, subscriptions with recovery, exactly-once publishes and requests, direct messages
 * and presence, over a {@link Broker}.
 */
export class Hub<User> {
  readonly #phases = new WeakMap<Connection<User>, Phase<User>>();
  readonly #sessions = new Map<string, LiveSession<User>>();
  /** Sessions that left this node with messages still in progress (a slow request), until those finish. */
  readonly #draining = new Map<string, LiveSession<User>>();
  readonly #handlers = new Map<string, RequestHandler<User>>();
  readonly #fanout: ChannelFanout;
  readonly #presence: Presence<User>;
  readonly #refresh: Timer;
  readonly #liveTtl: number;
  /** Sessions being parked: shutdown waits for them before the broker may close. */
  readonly #parking = new Set<Promise<void>>();
  /** Live sessions per user on this node (by the user as JSON; anonymous users are not counted). */
  readonly #perUser = new Map<string, number>();
  readonly #control: Promise<Unsubscribe> | undefined;

  constructor(readonly options: HubOptions<User>) {
    this.#fanout = new ChannelFanout(options.broker);
    const shown = options.presenceUser ?? ((user: User): unknown => user);
    this.#presence = new Presence<User>({
      broker: options.broker,
      clock: options.clock,
      fanout: this.#fanout,
      pingInterval: options.pingInterval,
      grace: options.presenceGrace,
      shown,
      sessions: () => this.#sessions.values(),
    });
    this.#liveTtl = options.recoveryWindow + refreshPeriod(options.recoveryWindow);
    this.#refresh = new Timer(options.clock, () => this.#refreshSessions());
    // A session resumed on another node closes its old connection here (4001, as on one node).
    this.#control = options.broker.onBroadcast?.((notice) => {
      if (notice.kind !== 'takeover') return;
      const live = this.#sessions.get(notice.session);
      if (live && live.connection.id !== notice.connection) live.connection.close(4001, 'session resumed on another node');
    });
    this.#control?.catch((error: unknown) => options.log.warn({ err: error }, 'cannot hear other nodes: a session resumed elsewhere keeps its old connection here until it ends'));
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
    const origin = idempotencyKey === undefined ? undefined : this.#keyOrigin('server', idempotencyKey, data);
    const event = await this.options.broker.publish(channel, copyJson(data), resolved.history, origin);
    return { epoch: event.epoch, offset: event.offset };
  }

  /** Sends to one session (kept until acknowledged, for the recovery window). False if the session is unknown; a TypeError for data JSON cannot carry. */
  async sendTo(session: string, data: unknown): Promise<boolean> {
    const copy = copyJson(data); // a TypeError for what JSON cannot carry; a copy the app cannot change later
    if (!this.#sessions.has(session) && !(await this.options.broker.loadSession(session))) return false;
    await this.options.broker.sendDirect(session, copy, this.options.recoveryWindow);
    return true;
  }

  /**
   * Sends to every session of `user` (connected to any node, or within its recovery window),
   * each copy kept until that session acknowledges it. Resolves with how many sessions.
   */
  async sendToUser(user: unknown, data: unknown): Promise<number> {
    const copy = copyJson(data); // refuse what JSON cannot carry before anything is stored
    const sessions = await this.options.broker.sessionsOf(user);
    await Promise.all(sessions.map((session) => this.options.broker.sendDirect(session, copy, this.options.recoveryWindow)));
    return sessions.length;
  }

  /** Sessions live on this node. */
  get sessions(): ReadonlyMap<string, LiveSession<User>> {
    return this.#sessions;
  }

  /** Local subscriber counts per channel (the internal presence companions left out). */
  channelCounts(): Map<string, number> {
    const counts = this.#fanout.counts();
    for (const channel of counts.keys()) if (isPresenceCompanion(channel)) counts.delete(channel);
    return counts;
  }

  attach(connection: Connection<User>): void {
    this.#phases.set(connection, { phase: 'hello' });
    const deadline = new Timer(this.options.clock, () => {
      if (this.#phases.get(connection)?.phase === 'hello' && (connection.state === 'open' || connection.state === 'authenticating')) connection.close(4408, 'no hello within helloTimeout');
    });
    deadline.start(this.options.limits.helloTimeout);
    connection.own(() => deadline.stop());
  }

  message(connection: Connection<User>, envelope: Envelope): void {
    const phase = this.#phases.get(connection);
    if (!phase) return;
    if (phase.phase === 'hello' && envelope.type !== 'hello') {
      return this.options.invalid(connection as Connection<unknown>, 'hello_required', 'the first message must be hello');
    }
    const parsed = parseClientMessage(envelope);
    if (!parsed.ok) return this.options.invalid(connection as Connection<unknown>, parsed.code, parsed.detail, parsed.id);
    const message = parsed.message;
    if (phase.phase === 'hello') {
      if (message.type !== 'hello') return; // checked above, before parsing
      this.#phases.set(connection, { phase: 'greeting', backlog: [] });
      void this.#hello(connection, message).catch((error: unknown) => this.#unavailable(connection, error));
      return;
    }
    if (phase.phase === 'greeting') {
      phase.backlog.push(message); // pipelined behind hello: handled after welcome, in order
      return;
    }
    this.#route(phase.session, message);
  }

  /** The connection closed: the session is parked in the broker for the recovery window. */
  async detach(connection: Connection<User>): Promise<void> {
    const phase = this.#phases.get(connection);
    this.#phases.delete(connection);
    if (phase?.phase !== 'ready') return;
    const { session } = phase;
    if (session.connection !== connection) return; // already taken over by a newer connection
    const parking = this.#park(session);
    this.#parking.add(parking);
    try {
      await parking;
    } finally {
      this.#parking.delete(parking);
    }
  }

  close(): void {
    this.#presence.close();
    this.#refresh.stop();
    void this.#control?.then((stop) => stop()).catch(() => undefined);
  }

  /** Resolves once every session whose connection has closed is parked in the broker. */
  async parked(): Promise<void> {
    while (this.#parking.size > 0) await Promise.allSettled([...this.#parking]);
  }

  /** An app's idempotency key, scoped to who publishes (`scope`), with the body's digest. */
  #keyOrigin(scope: string, key: string, data: unknown): { readonly key: string; readonly digest: string; readonly ttl: number } {
    return { key: `${scope}\n${key}`, digest: digestOf(JSON.stringify(data ?? null)), ttl: this.options.idempotencyWindow };
  }

  /** Extends the broker records of the sessions connected here; runs while there are any. */
  #refreshSessions(): void {
    if (this.#sessions.size === 0) return;
    this.options.broker
      .refreshSessions([...this.#sessions.keys()], this.#liveTtl)
      .then((missing) =>
        // Gone from the broker while connected here (it restarted empty, or evicted them): written
        // back from what this node holds, so other nodes and sendToUser find them again.
        Promise.all(
          missing.map((id) => {
            const session = this.#sessions.get(id);
            return session && this.#saveLive(session);
          }),
        ),
      )
      .catch((error: unknown) => {
        this.options.log.warn({ err: error }, 'could not extend live sessions in the broker');
      });
    this.#refresh.start(refreshPeriod(this.options.recoveryWindow));
  }

  // ---- hello ------------------------------------------------------------------------------------

  async #hello(connection: Connection<User>, message: ClientMessageOf<'hello'>): Promise<void> {
    const { broker, windowSize } = this.options;
    const stored = message.session === undefined ? undefined : await broker.loadSession(message.session);
    // A session resumes only with its secret, and for its user (any anonymous connection for an
    // anonymous session): anything else starts a new session instead.
    const sameUser = stored !== undefined && (JSON.stringify(stored.user ?? null) === JSON.stringify(connection.user ?? null) || (stored.anonymous === true && connection.anonymous));
    const record = stored !== undefined && sameUser && matchesSecret(message.secret, stored.secret) ? stored : undefined;
    const id = record && message.session !== undefined ? message.session : `s-${randomUUID()}`;
    // The secret is handed out once per session; a resume echoes the one the client proved it holds.
    const secret = record && message.secret !== undefined ? message.secret : Buffer.from(this.options.randomBytes(32)).toString('base64url');
    const resume: ResumeKey = { secret: digestOf(secret), anonymous: record ? record.anonymous === true : connection.anonymous };
    // An anonymous connection that resumed is the session's user again (its handshake made a new one).
    if (record && connection.anonymous) connection.user = record.user as User;
    const window = new RequestWindow<unknown>(windowSize, record?.window);
    const previous = this.#sessions.get(id);
    // A takeover replaces a live session of the user; anything else is one more.
    if (!previous && !this.#admitSession(connection.user)) {
      this.#phases.delete(connection);
      connection.close(1008, 'too many sessions for this user');
      return;
    }
    if (previous && previous.connection !== connection) previous.connection.close(4001, 'session resumed on another connection');
    // ... and on every other node that may still hold one.
    if (record) void broker.broadcast?.({ kind: 'takeover', session: id, connection: connection.id }).catch(() => undefined);
    const session = new LiveSession<User>(id, connection.user, window, connection, resume);
    // Its previous connection's messages may still be running here (a slow request the client
    // will resend, having had no reply): this session's messages wait for them and their
    // replies join the window, so the resend gets the stored reply instead of a second run.
    const prior = previous ?? this.#draining.get(id);
    if (prior) void session.enqueue(() => inherit(session, prior));
    if (!previous) this.#countUser(session.user, 1);
    this.#sessions.set(id, session);
    // Direct messages go out after the welcome, the pending ones first; live ones queue behind
    // them, so each seq goes out once and in order however the broker interleaves the two.
    let welcomed = (): void => undefined;
    const greeted = new Promise<void>((resolve) => (welcomed = resolve));
    session.direct(async () => {
      await greeted;
      try {
        for (const direct of await broker.pendingDirect(id, 0)) this.#sendDirect(session, direct);
      } catch (error) {
        // The broker failed right after the hello: unless the session already left, come back later.
        if (!session.parked) this.#unavailable(connection, error);
      }
    });
    try {
      await broker.saveSession(id, { user: connection.user, window: window.snapshot(), owner: connection.id, ...resume }, this.#liveTtl);
      if (!this.#refresh.pending) this.#refresh.start(refreshPeriod(this.options.recoveryWindow));
      session.onLeave(await broker.subscribeDirect(id, this.#directListener(session)));
    } catch (error) {
      // The broker failed mid-hello: the session must not stay registered as connected.
      welcomed();
      await this.#park(session);
      throw error;
    }
    const phase = this.#phases.get(connection);
    if (connection.state !== 'open' || phase?.phase !== 'greeting') {
      welcomed();
      await this.#park(session);
      return;
    }
    this.#phases.set(connection, { phase: 'ready', session });
    connection.send({
      type: 'welcome',
      v: 1,
      session: id,
      secret,
      member: session.member,
      resumed: record !== undefined,
      recoveryWindow: this.options.recoveryWindow,
      pingInterval: this.options.pingInterval,
      maxPayload: this.options.maxPayload,
      acked: window.acked,
      ...(connection.expiresAt === undefined ? {} : { expiresAt: connection.expiresAt }),
    });
    welcomed();
    for (const queued of phase.backlog) this.#route(session, queued);
  }

  /** Whether a connection other than this session's (on any node) serves the session now. */
  async #ownedElsewhere(session: LiveSession<User>): Promise<boolean> {
    try {
      const owner = (await this.options.broker.loadSession(session.id))?.owner;
      return owner !== undefined && owner !== session.connection.id;
    } catch {
      return false; // the broker cannot tell: leave as a single node would
    }
  }

  /** Made outside #hello, so the listener (kept for the session's life) does not keep that call's scope alive. */
  #directListener(session: LiveSession<User>): (direct: DirectMessage) => void {
    return (direct) => session.direct(() => this.#sendDirect(session, direct));
  }

  /** The session leaves this node: its subscriptions end and it waits in the broker for the recovery window. */
  async #park(session: LiveSession<User>): Promise<void> {
    session.parked = true;
    if (this.#sessions.get(session.id) === session) {
      this.#sessions.delete(session.id);
      this.#countUser(session.user, -1);
    }
    this.#draining.set(session.id, session);
    void session.drained().then(() => {
      if (this.#draining.get(session.id) === session) this.#draining.delete(session.id);
    });
    // Resumed on another node while this connection lingered: that connection owns the session,
    // its record and its presence now.
    const movedAway = await this.#ownedElsewhere(session);
    await Promise.allSettled([...session.subscriptions.values()].map((sub) => this.#unsubscribe(session, sub, movedAway, true)));
    await session.leave();
    // A newer connection of this session is live on this node (it took over, or resumed while
    // this one was parking): its record stays live; a recoveryWindow ttl now would expire it.
    if (this.#sessions.has(session.id) || movedAway) return;
    await this.options.broker.saveSession(session.id, { user: session.user, window: session.window.snapshot(), sentSeq: session.sentSeq }, this.options.recoveryWindow);
  }

  /** Writes the record of a session connected here (as its hello did): it resumes from this. */
  #saveLive(session: LiveSession<User>): Promise<void> {
    return this.options.broker.saveSession(session.id, { user: session.user, window: session.window.snapshot(), sentSeq: session.sentSeq, owner: session.connection.id, ...session.resume }, this.#liveTtl);
  }

  /** Whether one more session of `user` fits on this node. */
  #admitSession(user: unknown): boolean {
    const key = userKey(user);
    return key === undefined || (this.#perUser.get(key) ?? 0) < this.options.limits.maxSessionsPerUser;
  }

  #countUser(user: unknown, delta: number): void {
    const key = userKey(user);
    if (key === undefined) return;
    const count = (this.#perUser.get(key) ?? 0) + delta;
    if (count > 0) this.#perUser.set(key, count);
    else this.#perUser.delete(key);
  }

  // ---- routing ----------------------------------------------------------------------------------

  #route(session: LiveSession<User>, message: ClientMessage): void {
    const run = (work: () => Promise<void>): void => {
      void session.enqueue(() => work().catch((error: unknown) => this.#failed(session, message, error)));
    };
    switch (message.type) {
      case 'hello':
        return this.options.invalid(session.connection as Connection<unknown>, 'bad_state', 'hello was already received');
      case 'subscribe':
        return run(() => this.#subscribe(session, message));
      case 'unsubscribe':
        return run(() => this.#unsubscribeMessage(session, message));
      case 'publish':
        return run(() => this.#publish(session, message));
      case 'request':
        return run(() => this.#request(session, message));
      case 'presence.get':
        return run(() => this.#presenceGet(session, message));
      case 'ack':
        return run(() => this.options.broker.ackDirect(session.id, message.seq));
      case 'refresh':
        return run(async () => {
          const outcome = await this.options.refresh(session.connection, message.token);
          session.connection.send('error' in outcome ? { type: 'error', code: 'unauthorized', message: outcome.error } : { type: 'refreshed', expiresAt: outcome.expiresAt });
        });
    }
  }

  // ---- subscriptions ----------------------------------------------------------------------------

  async #subscribe(session: LiveSession<User>, message: ClientMessageOf<'subscribe'>): Promise<void> {
    const { channel, id } = message;
    const resolved = resolveChannel(this.options.channels, channel);
    if (!resolved) return this.#error(session, id, 'bad_channel', `no namespace allows channel "${channel}"`);
    const allowed = await this.#ask(() => this.options.canSubscribe?.({ user: session.user, session: session.id, channel }));
    if (allowed === 'failed') return this.#error(session, id, 'failed', 'the subscription could not be checked');
    if (allowed !== true) return this.#error(session, id, 'forbidden', refusal(allowed, `not allowed to subscribe to "${channel}"`));
    if (session.parked) return; // the connection closed while the hook ran
    const existing = session.subscriptions.get(channel);
    const over = this.#overLimit(session, channel, resolved.presence, existing !== undefined);
    if (over) return this.#error(session, id, 'limit', over);
    if (existing) await this.#unsubscribe(session, existing);
    if (session.parked) return;
    const sub: LiveSubscription = { channel, buffer: [], last: message.since, presence: resolved.presence };
    session.subscriptions.set(channel, sub);
    let recovery: Recovery;
    try {
      // Live events are buffered from here on, so nothing published during the replay is lost.
      await this.#fanout.join(channel, this.#member(session, sub));
      // `since` wins: a client that holds a position continues from it.
      const { since, rewind } = message;
      recovery =
        since === undefined && rewind !== undefined
          ? await this.options.broker.rewind(channel, Math.min(rewind.count ?? resolved.history.size, resolved.history.size), rewind.ms)
          : await this.options.broker.recover(channel, since, Math.max(resolved.history.size, 1));
    } catch (error) {
      // The broker is unreachable: this subscription fails, the connection and its others stay.
      this.options.log.error({ err: error, channel }, 'subscription failed: broker unavailable');
      await this.#unsubscribe(session, sub).catch(() => undefined);
      return this.#error(session, id, 'unavailable', `could not subscribe to "${channel}" now; try again later`);
    }
    if (message.since) this.options.stats?.countRecovery(recovery.recovered);
    // Parked while joining (the connection closed: its cleanup already ran), so undo the join here.
    if (session.parked) return this.#unsubscribe(session, sub);
    if (session.subscriptions.get(channel) !== sub) return; // unsubscribed meanwhile
    const { connection } = session;
    if (recovery.recovered) {
      for (const event of recovery.events) {
        connection.send(JSON.stringify({ type: 'event', channel, epoch: event.epoch, offset: event.offset, data: event.data }));
      }
    }
    sub.last = recovery.position;
    connection.send({ type: 'subscribed', id, channel, position: recovery.position, recovered: recovery.recovered });
    const buffered = sub.buffer ?? [];
    sub.buffer = undefined;
    for (const item of buffered) this.#deliver(session, sub, item.message, item.position);
    if (sub.presence) {
      await this.#presence.join(session, sub);
      // The connection may have closed while joining: its cleanup already ran, so undo the join
      // here or a ghost member would stay until it expires.
      if (session.subscriptions.get(channel) !== sub || this.#sessions.get(session.id) !== session) await this.#unsubscribe(session, sub);
    }
  }

  /** Why a new subscription would break a cap (docs/reliability.md, "Limits"), or undefined. */
  #overLimit(session: LiveSession<User>, channel: string, presence: boolean, resubscribe: boolean): string | undefined {
    const { maxSubscriptions, maxChannels, maxPresenceMembers } = this.options.limits;
    if (resubscribe) return undefined;
    if (session.subscriptions.size >= maxSubscriptions) return `a session may be subscribed to at most ${maxSubscriptions} channels`;
    if (this.#fanout.members(channel) === 0 && this.#fanout.size >= maxChannels) return `this server holds its maximum of ${maxChannels} channels`;
    if (presence && this.#presence.localMembers(channel) >= maxPresenceMembers) return `"${channel}" has its maximum of ${maxPresenceMembers} presence members`;
    return undefined;
  }

  /** Runs an authorization hook: its answer, true without a hook, or 'failed' when it throws (logged). */
  async #ask(hook: () => HookVerdict | Promise<HookVerdict> | undefined): Promise<HookVerdict | 'failed'> {
    try {
      const verdict = (await hook()) ?? true;
      if (typeof verdict === 'object' && verdict !== null && typeof verdict.refused === 'string') return verdict;
      return Boolean(verdict);
    } catch (error) {
      this.options.log.error({ err: error }, 'authorization hook failed');
      return 'failed';
    }
  }

  async #unsubscribeMessage(session: LiveSession<User>, message: ClientMessageOf<'unsubscribe'>): Promise<void> {
    const sub = session.subscriptions.get(message.channel);
    if (sub) await this.#unsubscribe(session, sub);
    session.connection.send({ type: 'unsubscribed', id: message.id, channel: message.channel });
  }

  async #unsubscribe(session: LiveSession<User>, sub: LiveSubscription, movedAway = false, parked = false): Promise<void> {
    if (session.subscriptions.get(sub.channel) === sub) session.subscriptions.delete(sub.channel);
    await this.#fanout.leave(sub.channel, this.#member(session, sub));
    if (sub.presence) {
      // After a takeover the member (the session) is still here, subscribed on its new connection
      // (on this node, or on another one that now owns the session).
      const successor = this.#sessions.get(session.id);
      const stillPresent = movedAway || (successor !== undefined && successor !== session && successor.subscriptions.get(sub.channel)?.presence === true);
      await this.#presence.leave(session, sub, stillPresent, parked);
    }
  }

  readonly #members = new WeakMap<LiveSubscription, FanoutMember>();
  #member(session: LiveSession<User>, sub: LiveSubscription): FanoutMember {
    let member = this.#members.get(sub);
    if (!member) {
      member = {
        deliver: (message, position) => this.#deliver(session, sub, message, position),
        cork: () => session.connection.cork(),
        uncork: () => session.connection.uncork(),
      };
      this.#members.set(sub, member);
    }
    return member;
  }

  #deliver(session: LiveSession<User>, sub: LiveSubscription, message: PreparedText, position: Position): void {
    if (sub.buffer) {
      sub.buffer.push({ message, position });
      return;
    }
    if (session.resyncing) return;
    const last = sub.last;
    if (last && position.epoch === last.epoch && position.offset <= last.offset) return; // already sent
    if (last && (position.epoch !== last.epoch || position.offset !== last.offset + 1)) {
      // A gap or a new epoch under a live subscription: this node missed events. The client
      // reconnects and recovers (or learns recovered: false) instead of holding a hole.
      this.#resync(session);
      return;
    }
    sub.last = position;
    session.connection.sendPrepared(message);
  }

  /**
   * Closes a session's connection for a channel resync (1013), its record written first: a new
   * epoch usually means Redis restarted empty, sessions and all, and the client's resume must
   * find its session (and the replies of what it resends) rather than lose its unanswered sends.
   */
  #resync(session: LiveSession<User>): void {
    if (session.resyncing) return;
    session.resyncing = true;
    void (async () => {
      for (let attempt = 1; attempt <= RESYNC_SAVE_ATTEMPTS && session.connection.state === 'open'; attempt++) {
        try {
          return await this.#saveLive(session);
        } catch (error) {
          if (attempt === RESYNC_SAVE_ATTEMPTS) this.options.log.warn({ err: error, session: session.id }, 'could not save the session before a channel resync');
          else await new Promise<void>((resolve) => this.options.clock.setTimeout(resolve, RESYNC_SAVE_DELAY));
        }
      }
    })().finally(() => session.connection.close(1013, 'channel resync needed'));
  }

  // ---- publish and request: exactly once per session id ----------------------------------------

  async #publish(session: LiveSession<User>, message: ClientMessageOf<'publish'>): Promise<void> {
    if (this.#repeat(session, message.id)) return;
    const { channel, data, id } = message;
    const resolved = resolveChannel(this.options.channels, channel);
    if (!resolved) return this.#reply(session, id, errorReply(id, 'bad_channel', `no namespace allows channel "${channel}"`));
    const allowed = await this.#ask(() => this.options.canPublish?.({ user: session.user, session: session.id, channel, data }));
    // A failing hook published nothing: answered, not recorded, so a resend may try again.
    if (allowed === 'failed') return this.#error(session, id, 'failed', 'the publish could not be checked; nothing was published');
    if (allowed !== true) return this.#reply(session, id, errorReply(id, 'forbidden', refusal(allowed, `not allowed to publish to "${channel}"`)));
    // The origin makes a resend that reaches another node before this reply was recorded return
    // this event instead of publishing a second one; it also makes retrying here safe.
    const origin = message.idempotencyKey === undefined ? { session: session.id, id, ttl: this.#liveTtl } : this.#keyOrigin(`u:${JSON.stringify(session.user ?? null)}`, message.idempotencyKey, data);
    let outcome: 'unsent' | 'unknown' = 'unsent';
    for (let attempt = 0; attempt <= PUBLISH_RETRIES; attempt++) {
      if (attempt > 0) await new Promise<void>((resolve) => this.options.clock.setTimeout(resolve, PUBLISH_RETRY_DELAY));
      try {
        const event = await this.options.broker.publish(channel, data, resolved.history, origin);
        return this.#reply(session, id, { type: 'ack', id, position: { epoch: event.epoch, offset: event.offset } });
      } catch (error) {
        if (error instanceof IdempotencyConflictError) return this.#reply(session, id, errorReply(id, 'idempotency_conflict', error.message));
        this.options.log.error({ err: error, channel, attempt }, 'broker publish failed');
        // Only a command that may have run is worth asking about again (it answers with the stored event).
        if (!(error instanceof BrokerUnavailableError && error.sent)) break;
        outcome = 'unknown';
      }
    }
    // Not recorded, so a resend of this id may try again (and cannot publish twice).
    session.connection.send(
      errorReply(id, 'unavailable', outcome === 'unsent' ? 'the message could not be published; nothing was published' : 'the broker did not answer: the message may have been published; resend it with the same id to know'),
    );
  }

  async #request(session: LiveSession<User>, message: ClientMessageOf<'request'>): Promise<void> {
    if (this.#repeat(session, message.id)) return;
    const { id, method } = message;
    const handler = this.#handlers.get(method);
    if (!handler) return this.#reply(session, id, errorReply(id, 'no_method', `no handler for "${method}"`));
    // Its reply could not be recorded for a resend: refuse before anything runs (not recorded, so a resend may try again).
    if (this.options.broker.isReady?.() === false) return this.#error(session, id, 'unavailable', `"${method}" was not run: the server's broker is unreachable`);
    // A resend may reach this node while the first copy still runs on another one (the client
    // moved): the claim makes this copy wait for that one's reply instead of running twice.
    let claimed: boolean;
    try {
      claimed = await this.options.broker.claimRequest(session.id, id, this.options.requestTimeout + CLAIM_MARGIN);
    } catch (error) {
      this.options.log.error({ err: error, method }, 'request not run: broker unavailable');
      return this.#error(session, id, 'unavailable', `"${method}" was not run: the server's broker is unreachable`);
    }
    if (!claimed) return this.#replyFromElsewhere(session, id, method);
    const controller = new AbortController();
    const started = this.options.clock.now();
    const { connection } = session;
    const inflight = this.#inflight(connection);
    inflight.add(controller); // aborted if the connection closes; removed when the request ends
    const { signal } = controller;
    let timer: Timer | undefined;
    const timedOut = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = new Timer(this.options.clock, () => resolve(TIMED_OUT));
      timer.start(this.options.requestTimeout);
    });
    try {
      const outcome = await Promise.race([Promise.resolve(handler(message.params, { session: session.id, user: session.user, connection, signal })), timedOut]);
      if (outcome === TIMED_OUT) {
        controller.abort();
        return this.#reply(session, id, errorReply(id, 'timeout', `"${method}" did not finish in ${this.options.requestTimeout} ms; its effect is unknown`));
      }
      // A result JSON cannot carry is the handler's bug: #reply throws, and it is reported as failed.
      await this.#reply(session, id, { type: 'result', id, data: outcome === undefined ? null : outcome });
    } catch (error) {
      if (error instanceof RequestError) return this.#reply(session, id, errorReply(id, error.code, error.message));
      this.options.log.error({ err: error, method }, 'request handler failed');
      await this.#reply(session, id, errorReply(id, 'failed', `"${method}" failed`));
    } finally {
      timer?.stop();
      inflight.delete(controller);
      this.options.stats?.observeRequest(method, this.options.clock.now() - started);
    }
  }

  /**
   * Request `id` runs on another node: waits (polling the broker) for the reply it records, for
   * as long as that run may take. A node that died mid-run leaves no reply: the client is told
   * `timeout`, whose effect is unknown, as for a run that did not finish in time here.
   */
  async #replyFromElsewhere(session: LiveSession<User>, id: number, method: string): Promise<void> {
    const { broker, clock } = this.options;
    const deadline = clock.now() + this.options.requestTimeout + CLAIM_MARGIN;
    while (clock.now() < deadline && !session.parked) {
      await new Promise<void>((resolve) => clock.setTimeout(resolve, ELSEWHERE_POLL));
      const record = await broker.loadSession(session.id).catch(() => undefined);
      const stored = record?.window.replies.find(([replied]) => replied === id);
      if (stored) {
        session.window.record(id, stored[1]);
        session.connection.send(typeof stored[1] === 'string' ? stored[1] : JSON.stringify(stored[1]));
        return;
      }
    }
    if (session.parked) return;
    await this.#reply(session, id, errorReply(id, 'timeout', `"${method}" was running on another server that did not answer; its effect is unknown`));
  }

  /** A processed id gets its stored reply; one below the window gets `expired`. */
  #repeat(session: LiveSession<User>, id: number): boolean {
    const verdict = session.window.check(id);
    if (verdict.kind === 'new') return false;
    session.connection.send(verdict.kind === 'repeat' ? (verdict.reply as string) : errorReply(id, 'expired', 'this id is older than the session remembers'));
    return true;
  }

  /**
   * Records the reply (in the broker, before the client hears it), then sends it. It is stored
   * as its wire text: serialized once, and immune to a handler changing its result afterwards.
   */
  async #reply(session: LiveSession<User>, id: number, reply: Envelope): Promise<void> {
    const text = JSON.stringify(reply);
    session.window.record(id, text);
    try {
      await this.options.broker.recordReply(session.id, id, text, this.options.windowSize);
    } catch (error) {
      // The effect happened (the event is stored, the handler ran): the client is told. This
      // node still answers a resend from its own window; another node would not know the reply.
      this.options.log.warn({ err: error, session: session.id, id }, 'reply not recorded in the broker');
    }
    session.connection.send(text);
  }

  readonly #running = new WeakMap<Connection<User>, Set<AbortController>>();

  /** The requests running for `connection`, all aborted when it closes (one cleanup per connection). */
  #inflight(connection: Connection<User>): Set<AbortController> {
    let set = this.#running.get(connection);
    if (!set) {
      const controllers = new Set<AbortController>();
      connection.own(() => {
        for (const controller of controllers) controller.abort();
      });
      this.#running.set(connection, (set = controllers));
    }
    return set;
  }


  #error(session: LiveSession<User>, id: number, code: ReplyErrorCode, message: string): void {
    session.connection.send(errorReply(id, code, message));
  }

  // ---- direct messages and presence -------------------------------------------------------------

  #sendDirect(session: LiveSession<User>, direct: DirectMessage): void {
    if (direct.seq <= session.sentSeq || this.#sessions.get(session.id) !== session) return;
    session.sentSeq = direct.seq;
    session.connection.send({ type: 'message', seq: direct.seq, data: direct.data });
  }

  async #presenceGet(session: LiveSession<User>, message: ClientMessageOf<'presence.get'>): Promise<void> {
    const sub = session.subscriptions.get(message.channel);
    if (!sub?.presence) return this.#error(session, message.id, 'forbidden', 'presence needs a subscription to a channel with presence on');
    const members = await this.#presence.list(message.channel);
    session.connection.send({ type: 'presence.list', id: message.id, channel: message.channel, members });
  }

  /**
   * A message's handling failed. A broker that is unreachable is not a bug: the message is
   * answered `unavailable` (an `ack` is only logged; the client acknowledges again later) and
   * the connection stays. Anything else is an internal error (1011).
   */
  #failed(session: LiveSession<User>, message: ClientMessage, error: unknown): void {
    if (!isBrokerUnavailable(error)) return this.#internal(session.connection, error);
    this.options.log.warn({ err: error, type: message.type }, 'message not handled: broker unavailable');
    if ('id' in message && typeof message.id === 'number') this.#error(session, message.id, 'unavailable', 'the server cannot reach its broker now; try again later');
  }

  /** The broker could not serve a hello: the client is asked to come back later (1013), not told of a bug. */
  #unavailable(connection: Connection<User>, error: unknown): void {
    this.options.log.error({ err: error, id: connection.id }, 'session could not be opened: broker unavailable');
    if (connection.state === 'open') connection.close(1013, 'try again later');
  }

  #internal(connection: Connection<User>, error: unknown): void {
    this.options.log.error({ err: error, id: connection.id }, 'protocol handling failed');
    if (connection.state === 'open') connection.close(1011, 'internal error');
  }
}

/** A networked broker that could not be reached (or did not answer in time). */
function isBrokerUnavailable(error: unknown): boolean {
  return error instanceof LifelineError && error.code === 'ERR_BROKER_UNAVAILABLE';
}

/** The key sessions of one user are counted under; undefined for an anonymous (null or absent) user. */
function userKey(user: unknown): string | undefined {
  return user === undefined || user === null ? undefined : JSON.stringify(user);
}

/** A resumed session takes over what its previous connection on this node was still processing. */
async function inherit<User>(session: LiveSession<User>, prior: LiveSession<User>): Promise<void> {
  await prior.drained();
  for (const [id, reply] of prior.window.snapshot().replies) if (session.window.check(id).kind === 'new') session.window.record(id, reply);
}

/** A deep copy through JSON: what the wire will carry, and a TypeError for what it cannot. */
function copyJson(data: unknown): unknown {
  const text = JSON.stringify(data);
  if (text === undefined) throw new TypeError('the data cannot be sent as JSON');
  return JSON.parse(text) as unknown;
}

/** The message of a `forbidden`: the hook's own reason, or `fallback`. */
function refusal(verdict: HookVerdict, fallback: string): string {
  return typeof verdict === 'object' && verdict.refused !== '' ? verdict.refused : fallback;
}

function errorReply(id: number, code: string, message: string): Envelope {
  return { type: 'error', id, code, message };
}
