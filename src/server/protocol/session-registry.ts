import type { Broker, DirectMessage, ImmediateExchanges, SessionRecord, Unsubscribe } from '../../broker/broker.js';
import { remembersNothing, RequestWindow } from '../../core/request-window.js';
import { PacedSweep } from '../../core/paced-sweep.js';
import { Timer } from '../../core/timer.js';
import type { Envelope } from '../../core/envelope.js';
import type { ClientMessage } from '../../protocol/client-messages.js';
import { openSession, type HelloOutcome, type IdSource, type SecretPort } from '../../protocol/hello.js';
import { identityKey } from '../../protocol/identity.js';
import { welcomeText } from '../../protocol/server-messages.js';
import type { Connection } from '../connection.js';
import { helloUnavailable } from './failures.js';
import type { HubOptions } from './hub-options.js';
import { LiveSession, type LiveSessionHost } from './live-session.js';
import type { Clock } from '../../core/clock.js';

/** Where a connection is in the channel protocol: awaiting its hello, awaiting its welcome, or serving its session (the session itself). */
export type Phase<User> = { readonly phase: 'hello'; readonly deadline: Timer } | { readonly phase: 'greeting'; readonly backlog: Envelope[] } | LiveSession<User>;

/**
 * The phase of each connection, kept in the connection's own slot for it: a weak map's entry and
 * a `{ phase, session }` record per connection held about 90 bytes more (memory per idle session).
 */
class Phases<User> {
  get(connection: Connection<User>): Phase<User> | undefined {
    return connection.protocolPhase as Phase<User> | undefined;
  }

  set(connection: Connection<User>, phase: Phase<User>): void {
    connection.protocolPhase = phase;
  }

  delete(connection: Connection<User>): void {
    connection.protocolPhase = undefined;
  }
}

/** An in-process broker's steps of a hello, each answered at once. */
type InProcessSetup = ImmediateExchanges & Required<Pick<ImmediateExchanges, 'saveSession' | 'pendingDirect'>>;
type InProcessBroker = Broker & Required<Pick<Broker, 'listenDirect'>>;

/** What the registry needs from the rest of the hub. */
export interface RegistryHost<User> {
  readonly options: HubOptions<User>;
  readonly secrets: SecretPort;
  readonly ids: IdSource;
  /** Handles a message of a welcomed session, as if it arrived now (the backlog of those pipelined behind its hello). */
  route(session: LiveSession<User>, envelope: Envelope): void;
  /**
   * Ends every subscription of a session that leaves this node (`movedAway`: another node owns
   * it now); its presence leaves are told after the grace period unless `ended` (logged out).
   */
  unsubscribeAll(session: LiveSession<User>, movedAway: boolean, ended: boolean): Promise<void>;
  /** Ends the turn's hold on a connection's writes (its held replies leave now). */
  release(connection: Connection<User>): void;
}

/**
 * How often this node extends the records of the sessions it serves. Each period's extensions
 * are spread over its first half in slices of {@link REFRESH_SLICE} sessions, one slice at the
 * broker at a time (thousands of scripts at once would queue a hello's own commands behind
 * them), so one session's extensions may be up to 1.5 periods apart. A live session's record
 * lives a recovery window plus two periods beyond the last extension: if the node dies, its
 * clients still get at least a full recovery window to resume on another node, with half a
 * period to spare for slices that run late on a busy node.
 */
function refreshPeriod(recoveryWindow: number): number {
  return Math.min(30_000, Math.max(1_000, Math.floor(recoveryWindow / 4)));
}

/** Sessions extended by one broker call: 100 scripts in flight at most with Redis (two per session). */
export const REFRESH_SLICE = 50;

/**
 * The sessions of this node: a hello opens or resumes one (taking over a live connection of the
 * same session, here or on another node), a closed connection parks it in the broker for the
 * recovery window, and the records of live ones are kept alive.
 */
export class SessionRegistry<User> implements LiveSessionHost<User> {
  readonly phases = new Phases<User>();
  readonly sessions = new Map<string, LiveSession<User>>();
  /** Sessions that left this node with messages still in progress (a slow request), until those finish. */
  readonly #draining = new Map<string, LiveSession<User>>();
  readonly #refresh: Timer;
  /** The period's extensions, a slice at a time. */
  readonly #refreshSweep: PacedSweep<string>;
  /** A slice of this period's extensions failed and was logged (once per period, not per slice). */
  #refreshWarned = false;
  readonly liveTtl: number;
  /** Sessions being parked: shutdown waits for them before the broker may close. */
  readonly #parking = new Set<Promise<void>>();
  /** Live sessions per user on this node (by identity; anonymous users are not counted). */
  readonly #perUser = new Map<string, number>();
  readonly #control: Promise<Unsubscribe> | undefined;
  /**
   * Sessions their clients ended (logged out), with when that was, for a liveTtl: a connection
   * of one that still lingers here (taken over) leaves at once when it closes, and never writes
   * its record back. Oldest first.
   */
  readonly #ended = new Map<string, number>();
  /** The sessions' settings: the registry is the one object all its sessions share. */
  readonly clock: Clock;
  readonly requestTimeout: number;
  readonly windowSize: number;
  readonly maxQueuedMessages: number;

  constructor(private readonly host: RegistryHost<User>) {
    const { options } = host;
    this.clock = options.clock;
    this.requestTimeout = options.requestTimeout;
    this.windowSize = options.windowSize;
    this.maxQueuedMessages = options.limits.maxQueuedMessages;
    const period = refreshPeriod(options.recoveryWindow);
    this.liveTtl = options.recoveryWindow + 2 * period;
    this.#refresh = new Timer(options.clock, () => this.#refreshSessions());
    // A slice the broker never answers holds the extensions one period at most (then the next goes).
    this.#refreshSweep = new PacedSweep(options.clock, REFRESH_SLICE, (ids) => this.#refreshSlice(ids), period);
    // A session resumed on another node closes its old connection here (4001, as on one node).
    this.#control = options.broker.onBroadcast?.((notice) => {
      if (notice.kind === 'takeover') void this.#takenOver(notice.session, notice.connection, notice.generation);
      else if (notice.kind === 'end') this.#endedElsewhere(notice.session, notice.connection);
    });
    this.#control?.catch((error: unknown) => options.log.warn({ err: error }, 'cannot hear other nodes: a session resumed elsewhere keeps its old connection here until it ends'));
  }

  /**
   * A takeover of session `id` by connection `by` with `generation`, told by the node that saved
   * its record (this one too). It closes the connection serving the session here only if that
   * connection's hello claimed a lower generation: a notice heard late (the pub/sub is slower
   * than the hellos), or sent for a save answered late, must not close a connection that resumed
   * after it, whether its own save is done or still in flight. Without generations (a node or a
   * broker that hands out none) one still being welcomed resumed after it (its save comes
   * later), and otherwise the record's owner says which came last.
   */
  async #takenOver(id: string, by: string, generation: number | undefined): Promise<void> {
    const live = this.sessions.get(id);
    if (!live || live.connection.id === by) return;
    if (generation !== undefined && live.generation !== undefined) {
      if (newer(generation, live.generation)) live.connection.close(4001, 'session resumed on another node');
      return;
    }
    if (this.phases.get(live.connection) !== live) return;
    const owner = await this.host.options.broker.loadSession(id).then(
      (record) => record?.owner,
      () => by, // the broker cannot tell: the notice is the last word
    );
    if (owner === by && this.sessions.get(id) === live) live.connection.close(4001, 'session resumed on another node');
  }

  /**
   * The client ended session `id` on connection `by` (on any node): a connection of it still
   * here (an older one, taken over) is closed (1000) and leaves as an ended session does.
   */
  #endedElsewhere(id: string, by: string): void {
    const live = this.sessions.get(id) ?? this.#draining.get(id);
    if (live?.connection.id === by) return; // its own notice
    // Marked even with no connection of it here: a hello that looked the session up before the
    // end deleted it (its answer still on the way) must open a new session, not bring it back.
    this.#markEnded(id);
    live?.connection.close(1000, 'session ended');
  }

  #markEnded(id: string): void {
    const now = this.clock.now();
    for (const [old, at] of this.#ended) {
      if (at + this.liveTtl > now) break;
      this.#ended.delete(old);
    }
    this.#ended.delete(id);
    this.#ended.set(id, now);
  }

  /**
   * The client ended its session (`end`, logging out): it leaves this node with its presence
   * leaves told at once, the broker forgets it (its record, replies and direct messages), every
   * other node closes a connection of it that lingers there, and its connection closes (1000).
   * A resume of it opens a new session. The connection's phase is already gone: nothing it
   * sent after `end` is processed.
   */
  async end(session: LiveSession<User>): Promise<void> {
    const { broker, log } = this.host.options;
    const { id, connection } = session;
    // Sent on a connection taken over since: the session is the newer connection's now. This
    // connection left no phase for its close to park (see Hub#message): it leaves here, as a
    // connection taken over does.
    if (this.sessions.get(id) !== session) return session.parked ? undefined : this.#tracked(this.park(session));
    this.#markEnded(id);
    void broker.broadcast?.({ kind: 'end', session: id, connection: connection.id }).catch(() => undefined);
    try {
      await this.#tracked(this.park(session).then(() => broker.deleteSession(id)));
    } catch (error) {
      // Its record expires after the recovery window; the client forgot the secret that resumes it.
      log.warn({ err: error, session: id }, 'session ended but not deleted from the broker: it expires after recoveryWindow');
    }
    connection.close(1000, 'session ended');
  }

  close(): void {
    this.#refresh.stop();
    this.#refreshSweep.stop();
    void this.#control?.then((stop) => stop()).catch(() => undefined);
  }

  /** Resolves once every session whose connection has closed is parked in the broker. */
  async parked(): Promise<void> {
    while (this.#parking.size > 0) await Promise.allSettled([...this.#parking]);
  }

  /** The connection closed: the session is parked in the broker for the recovery window. */
  async detach(connection: Connection<User>): Promise<void> {
    const phase = this.phases.get(connection);
    this.phases.delete(connection);
    if (phase?.phase === 'hello') phase.deadline.stop();
    if (phase?.phase !== 'ready') return;
    const session = phase;
    if (session.connection !== connection) return; // already taken over by a newer connection
    await this.#tracked(this.park(session));
  }

  /**
   * The session's `end` is queued (behind what came before it, a slow request say): shutdown
   * waits for it as for a session being parked, since its connection's close parks nothing.
   */
  ending(session: LiveSession<User>): void {
    void this.#tracked(session.drained());
  }

  /** A session leaving this node: shutdown waits for it before the broker may close. */
  async #tracked(leaving: Promise<void>): Promise<void> {
    this.#parking.add(leaving);
    try {
      await leaving;
    } finally {
      this.#parking.delete(leaving);
    }
  }

  /**
   * Opens (or resumes) the session a hello asks for and welcomes it. A new session on an
   * in-process broker (its `immediate` save and direct messages, `listenDirect`) is opened,
   * welcomed and handed what was pipelined behind its hello in this turn: nothing is returned.
   * Otherwise the promise settles once it is done.
   */
  hello(connection: Connection<User>, message: ClientMessage & { readonly type: 'hello' }): Promise<void> | undefined {
    if (message.session === undefined) return this.#open(connection, message, undefined);
    // A connection that closed while the broker looked the session up opens nothing: it would
    // take the session over from a connection that resumed after it (here or on another node).
    // The lookup claims the takeover's generation: a hello looked up later takes the session from this one.
    // A session ended here (its record may not be deleted yet) resumes as a new one.
    const { session } = message;
    return this.host.options.broker.loadSession(session, true).then((stored) => (this.#greeting(connection) ? this.#open(connection, message, this.#ended.has(session) ? undefined : stored) : undefined));
  }

  #open(connection: Connection<User>, message: ClientMessage & { readonly type: 'hello' }, stored: SessionRecord | undefined): Promise<void> | undefined {
    const { options } = this.host;
    const { broker } = options;
    const opened = openSession({ hello: message, connection, stored, secrets: this.host.secrets, ids: this.host.ids });
    const { id } = opened;
    // An anonymous connection that resumed is the session's user again (its handshake made a new one).
    if (opened.resumed && connection.anonymous) connection.user = opened.user;
    // A session that remembers nothing gets its window at its first publish or request (most never send one).
    const window = opened.window === undefined || remembersNothing(opened.window) ? undefined : new RequestWindow<unknown>(options.windowSize, opened.window);
    const previous = this.sessions.get(id);
    const generation = opened.resumed ? stored?.generation : 0;
    // A takeover replaces a live session of the user; anything else is one more.
    if (!previous && !this.#admitSession(connection.user)) {
      this.phases.delete(connection);
      connection.close(1008, 'too many sessions for this user');
      return undefined;
    }
    if (previous && previous.connection !== connection) {
      // The hellos' lookups were answered out of order: the live one resumed after this one.
      if (newer(previous.generation, generation)) {
        this.phases.delete(connection);
        connection.close(4001, 'session resumed on another connection');
        return undefined;
      }
      previous.connection.close(4001, 'session resumed on another connection');
    }
    const session = new LiveSession<User>(id, connection.user, window, connection, opened.resume, this, generation);
    // Its previous connection's messages may still be running here (a slow request the client
    // will resend, having had no reply): this session's messages wait for them and their
    // replies join the window, so the resend gets the stored reply instead of a second run.
    const prior = previous ?? this.#draining.get(id);
    if (prior) void session.enqueue(() => inherit(session, prior));
    if (!previous) this.#countUser(session.user, 1);
    this.sessions.set(id, session);
    const { immediate } = broker;
    if (immediate?.saveSession && immediate.pendingDirect && broker.listenDirect && broker.unlistenDirect) {
      return this.#welcomeNow(connection, session, opened, immediate as InProcessSetup, broker as InProcessBroker);
    }
    return this.#welcomeLater(connection, session, opened);
  }

  /** The session's record for a hello: who, what it remembers, the connection serving it, what resumes it. */
  #helloRecord(connection: Connection<User>, session: LiveSession<User>, opened: HelloOutcome<User>): SessionRecord {
    return { user: connection.user, window: session.windowState(), owner: connection.id, generation: session.generation, ...opened.resume };
  }

  /**
   * What follows a saved record, whichever way it was saved: the window shared, the refresh
   * running, and a resumed session's old connection on every other node closed (4001). Told only
   * now that the record names this connection: the old node parks the session on hearing it, and
   * reading its own connection still there it would park it as its own (and announce its leave).
   */
  #saved(session: LiveSession<User>, resumed: boolean): void {
    const { broker, recoveryWindow } = this.host.options;
    const { id, connection, generation } = session;
    if (resumed) void broker.broadcast?.({ kind: 'takeover', session: id, connection: connection.id, ...(generation === undefined ? {} : { generation }) }).catch(() => undefined);
    // An in-process broker keeps the session's own window: each reply is then kept once (one made later is shared then).
    const made = session.madeWindow;
    if (made) broker.shareWindow?.(session.id, made);
    if (!this.#refresh.pending) this.#refresh.start(refreshPeriod(recoveryWindow));
  }

  /** With an in-process broker: the record saved, the welcome and the waiting direct messages sent, in this turn. */
  #welcomeNow(connection: Connection<User>, session: LiveSession<User>, opened: HelloOutcome<User>, immediate: InProcessSetup, broker: InProcessBroker): Promise<void> | undefined {
    try {
      if (immediate.saveSession(session.id, this.#helloRecord(connection, session, opened), this.liveTtl) === false) return this.#lost(connection, session);
      this.#saved(session, opened.resumed);
      broker.listenDirect(session.id, session);
    } catch (error) {
      // The broker failed mid-hello: the session must not stay registered as connected.
      return this.park(session).then(() => Promise.reject(error));
    }
    const phase = this.#greeting(connection);
    if (!phase) return this.park(session);
    this.#welcome(connection, session, opened);
    // Direct messages go out after the welcome, the waiting ones first: live ones reach the
    // session from now on and queue behind them (session.direct), so each seq goes out once.
    try {
      const pending = immediate.pendingDirect(session.id, 0);
      // Written as they go: held back with the welcome, they would count against the outbound budget.
      if (pending.length > 0) this.host.release(connection);
      for (const direct of pending) this.#sendDirect(session, direct);
    } catch (error) {
      helloUnavailable(this.host.options.log, connection as Connection<unknown>, error);
    }
    this.#routeBacklog(session, phase);
    return undefined;
  }

  /** With a networked broker: each step awaited. */
  async #welcomeLater(connection: Connection<User>, session: LiveSession<User>, opened: HelloOutcome<User>): Promise<void> {
    const { options } = this.host;
    const { broker } = options;
    const { id } = session;
    // Direct messages go out after the welcome, the pending ones first; live ones queue behind
    // them, so each seq goes out once and in order however the broker interleaves the two.
    let welcomed = (): void => undefined;
    const greeted = new Promise<void>((resolve) => (welcomed = resolve));
    session.direct(async () => {
      await greeted;
      try {
        const pending = await broker.pendingDirect(id, 0);
        // Written as they go: held back with the welcome, they would count against the outbound budget.
        if (pending.length > 0) this.host.release(connection);
        for (const direct of pending) this.#sendDirect(session, direct);
      } catch (error) {
        // The broker failed right after the hello: unless the session already left, come back later.
        if (!session.parked) helloUnavailable(options.log, connection as Connection<unknown>, error);
      }
    });
    let saved: boolean | void;
    try {
      saved = await broker.saveSession(id, this.#helloRecord(connection, session, opened), this.liveTtl);
      if (saved !== false) {
        this.#saved(session, opened.resumed);
        // An in-process broker calls the session itself; a networked one a listener made for it.
        if (broker.listenDirect && broker.unlistenDirect) broker.listenDirect(id, session);
        else session.onLeave(await broker.subscribeDirect(id, this.#directListener(session)));
      }
    } catch (error) {
      // The broker failed mid-hello: the session must not stay registered as connected.
      welcomed();
      await this.park(session);
      throw error;
    }
    const phase = saved === false ? undefined : this.#greeting(connection);
    if (!phase) {
      welcomed();
      await (saved === false ? this.#lost(connection, session) : this.park(session));
      return;
    }
    this.#welcome(connection, session, opened);
    welcomed();
    this.#routeBacklog(session, phase);
  }

  /**
   * A hello whose save lost to a newer one (a hello looked up after it saved the session first):
   * its connection, if still open, is closed as taken over, and the session leaves this node
   * as moved away. Neither announced nor welcomed.
   */
  #lost(connection: Connection<User>, session: LiveSession<User>): Promise<void> {
    this.phases.delete(connection);
    connection.close(4001, 'session resumed on another node');
    return this.park(session);
  }

  /** The connection's greeting phase, if it is still open and waiting for its welcome. */
  #greeting(connection: Connection<User>): { readonly phase: 'greeting'; readonly backlog: Envelope[] } | undefined {
    const phase = this.phases.get(connection);
    return connection.state === 'open' && phase?.phase === 'greeting' ? phase : undefined;
  }

  #welcome(connection: Connection<User>, session: LiveSession<User>, opened: HelloOutcome<User>): void {
    const { options } = this.host;
    this.phases.set(connection, session);
    connection.send(
      welcomeText({
        session: session.id,
        secret: opened.secret,
        member: session.member,
        resumed: opened.resumed,
        recoveryWindow: options.recoveryWindow,
        pingInterval: options.pingInterval,
        maxPayload: options.maxPayload,
        acked: session.acked,
        expiresAt: connection.expiresAt,
      }),
    );
  }

  /** What was pipelined behind the hello, handled now, in order. */
  #routeBacklog(session: LiveSession<User>, phase: { readonly backlog: Envelope[] }): void {
    for (const queued of phase.backlog) this.host.route(session, queued);
  }

  /** The session leaves this node: its subscriptions end and it waits in the broker for the recovery window. */
  async park(session: LiveSession<User>): Promise<void> {
    session.parked = true;
    if (this.sessions.get(session.id) === session) {
      this.sessions.delete(session.id);
      this.#countUser(session.user, -1);
    }
    this.#draining.set(session.id, session);
    void session.drained().then(() => {
      if (this.#draining.get(session.id) === session) this.#draining.delete(session.id);
    });
    // Resumed on another node while this connection lingered: that connection owns the session,
    // its record and its presence now. Ended by its client: no one owns it, and it waits for no one.
    const ended = this.#ended.has(session.id);
    const movedAway = !ended && (await this.#ownedElsewhere(session));
    await this.host.unsubscribeAll(session, movedAway, ended);
    await session.leave();
    this.host.options.broker.unlistenDirect?.(session.id, session);
    // A newer connection of this session is live on this node (it took over, or resumed while
    // this one was parking): its record stays live; a recoveryWindow ttl now would expire it.
    // An ended session's record is never written back.
    if (this.sessions.has(session.id) || movedAway || this.#ended.has(session.id)) return;
    // With what resumes it: the broker may have lost the record while the connection lasted (a
    // Redis restarted empty, an eviction) and this save is then all there is of the session.
    // Ordered by the connection's generation: a newer hello that saved meanwhile keeps the record.
    await this.host.options.broker.saveSession(session.id, { user: session.user, window: session.windowState(), sentSeq: session.sentSeq, generation: session.generation, ...session.resume }, this.host.options.recoveryWindow);
  }

  /** Writes the record of a session connected here (as its hello did): it resumes from this. */
  async saveLive(session: LiveSession<User>): Promise<void> {
    await this.host.options.broker.saveSession(session.id, { user: session.user, window: session.windowState(), sentSeq: session.sentSeq, owner: session.connection.id, generation: session.generation, ...session.resume }, this.liveTtl);
  }

  /** Whether a connection other than this session's (on any node) serves the session now. */
  async #ownedElsewhere(session: LiveSession<User>): Promise<boolean> {
    try {
      const owner = (await this.host.options.broker.loadSession(session.id))?.owner;
      return owner !== undefined && owner !== session.connection.id;
    } catch {
      return false; // the broker cannot tell: leave as a single node would
    }
  }

  /**
   * A session made its window at its first publish or request: an in-process broker keeps it as
   * the session's (each reply kept once), as hello shares one it made. Only the session connected
   * here shares: one that was taken over or left keeps its window to itself.
   */
  windowMade(session: LiveSession<User>, window: RequestWindow<unknown>): void {
    if (this.sessions.get(session.id) === session && !session.parked) this.host.options.broker.shareWindow?.(session.id, window);
  }

  /** Made outside hello, so the listener (kept for the session's life) does not keep that call's scope alive. */
  #directListener(session: LiveSession<User>): (direct: DirectMessage) => void {
    return (direct) => this.directMessage(session, direct);
  }

  /** A direct message for a session served here: sent after those before it (and after its welcome). */
  directMessage(session: LiveSession<User>, direct: DirectMessage): void {
    session.direct(() => this.#sendDirect(session, direct));
  }

  #sendDirect(session: LiveSession<User>, direct: DirectMessage): void {
    if (this.sessions.get(session.id) !== session) return;
    const text = session.acceptDirect(direct.seq, direct.data);
    if (text !== undefined) session.connection.send(text);
  }

  /** Whether one more session of `user` fits on this node. */
  #admitSession(user: unknown): boolean {
    const key = identityKey(user);
    return key === undefined || (this.#perUser.get(key) ?? 0) < this.host.options.limits.maxSessionsPerUser;
  }

  #countUser(user: unknown, delta: number): void {
    const key = identityKey(user);
    if (key === undefined) return;
    const count = (this.#perUser.get(key) ?? 0) + delta;
    if (count > 0) this.#perUser.set(key, count);
    else this.#perUser.delete(key);
  }

  /** Extends the broker records of the sessions connected here, spread over half a period; runs while there are any. */
  #refreshSessions(): void {
    if (this.sessions.size === 0) return;
    const period = refreshPeriod(this.host.options.recoveryWindow);
    this.#refreshWarned = false;
    this.#refreshSweep.start([...this.sessions.keys()], period / 2);
    this.#refresh.start(period);
  }

  /** Extends one slice's sessions (those still connected here). */
  #refreshSlice(slice: readonly string[]): Promise<unknown> {
    const ids = slice.filter((id) => this.sessions.has(id));
    if (ids.length === 0) return Promise.resolve();
    return this.host.options.broker
      .refreshSessions(ids, this.liveTtl)
      .then((missing) =>
        // Gone from the broker while connected here (it restarted empty, or evicted them): written
        // back from what this node holds, so other nodes and sendToUser find them again.
        Promise.all(
          missing.map((id) => {
            const session = this.sessions.get(id);
            return session && this.saveLive(session);
          }),
        ),
      )
      .catch((error: unknown) => {
        if (this.#refreshWarned) return;
        this.#refreshWarned = true;
        this.host.options.log.warn({ err: error }, 'could not extend live sessions in the broker');
      });
  }
}

/** Whether generation `a` is known to come after `b` (a broker that claims none orders nothing). */
function newer(a: number | undefined, b: number | undefined): boolean {
  return a !== undefined && b !== undefined && a > b;
}

/** A resumed session takes over what its previous connection on this node was still processing. */
async function inherit<User>(session: LiveSession<User>, prior: LiveSession<User>): Promise<void> {
  await prior.drained();
  for (const [id, reply] of prior.windowState().replies) if (session.window.check(id).kind === 'new') session.window.record(id, reply);
}
