import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../core/clock.js';
import { canRecover, type Position } from '../core/position.js';
import { smallNumber } from '../core/small-number.js';
import { remembersNothing, RequestWindow } from '../core/request-window.js';
import { IdempotencyConflictError } from '../core/errors.js';
import { canonicalJson } from '../protocol/identity.js';
import { deliver } from './deliver.js';
import { encodeData } from './encode-data.js';
import { Fifo } from './fifo.js';
import { Listeners } from './listeners.js';
import { DEFAULT_HISTORY_BUDGET, DEFAULT_IDLE_CHANNEL_TTL, DEFAULT_MAX_IDEMPOTENCY_KEYS, DEFAULT_MAX_KEYS_PER_USER, DEFAULT_POSITION_TTL, EVENT_OVERHEAD, MAX_FORGOTTEN_POSITIONS, type MemoryBrokerOptions } from './memory-broker-options.js';
import { MemoryPresence } from './memory-presence.js';
import type { Broker, ChannelEvent, ControlNotice, DirectListener, DirectMessage, HistoryPolicy, ImmediateExchanges, PresenceMember, PublishOrigin, Recovery, SessionRecord, Unsubscribe } from './broker.js';

interface Stored {
  readonly event: ChannelEvent;
  readonly at: number;
  /** What it counts against the history budget, bytes. */
  readonly bytes: number;
}

/** One stored event in publish order across every channel: the budget evicts from the front. */
interface Queued {
  readonly channel: Channel;
  readonly offset: number;
}

interface Channel {
  readonly epoch: string;
  head: number;
  readonly history: Fifo<Stored>;
  readonly listeners: Listeners<ChannelEvent>;
  /**
   * While an event is being delivered: the events published meanwhile (by a listener), which go
   * out after it, in order. Undefined when no delivery runs.
   */
  waiting: readonly ChannelEvent[] | undefined;
  /** The age limit of the last policy published with (read-side trimming uses it). */
  ttl: number;
  /** Clock time of the last publish or unsubscribe, for dropping idle channels. */
  active: number;
  /** False once forgotten: queued budget entries of a dropped channel are skipped. */
  live: boolean;
  /**
   * The head as last handed out by a recovery, shared by every subscriber that caught up to it
   * (each keeps it as its last position until the next event): memory per idle subscription.
   */
  headPosition: Position | undefined;
}

interface Expiring<T> {
  value: T;
  expiresAt: number;
}

/**
 * The last publish of an origin: its id (a session's message id, or a key's body digest) and
 * where it stored its event. Not the event: its data would outlive the history budget, for the
 * origin's ttl (24 h for an idempotency key).
 */
interface OriginEntry {
  id: number | string;
  epoch: string;
  offset: number;
  /** Whose quota an idempotency-key record counts against (`KeyOrigin.holder`). */
  readonly holder?: string;
}

/**
 * What the broker keeps under a session id: the session's record, when one is saved, and its
 * direct-message outbox, in one object and one map entry (memory per idle session). An entry
 * without a record is an outbox alone: messages sent to an id never saved, or whose record expired.
 */
interface SessionEntry {
  /** Undefined while no record is saved (then the other record fields are unset too). */
  window: RequestWindow<unknown> | undefined;
  user: unknown;
  owner: string | undefined;
  secret: string | undefined;
  anonymous: boolean;
  /** The generation of the last ordered save (SessionRecord.generation); claims are counted broker-wide. */
  generation: number | undefined;
  /**
   * The record's expiry, in the broker's session time (ms after the broker was made):
   * a small integer for 24 days, where a clock reading is a 16-byte heap number (memory per idle session).
   */
  expires: number;
  nextSeq: number;
  /** The shared empty list until the first message (most sessions never get one). */
  messages: readonly DirectMessage[];
  /**
   * The outbox's expiry (session time, as {@link expires}) when it is later than the record's (a
   * message sent for longer, a record saved again for shorter) or there is no record; undefined: the record's (no number kept per
   * idle session). It only ever grows: unacknowledged messages live as long as their session.
   */
  outboxUntil: number | undefined;
  /** Usually one (the node serving the session), kept without an array; replaced, never changed in place. */
  listeners: DirectListener | readonly DirectListener[];
}

/** An entry whose record is saved. */
type SavedEntry = SessionEntry & { window: RequestWindow<unknown> };

/**
 * The window of every record saved with nothing to remember, shared until a reply is recorded
 * (then the record gets its own) or a live window is shared: never recorded into.
 */
const NOTHING_RECORDED = new RequestWindow<unknown>(1);

const NO_LISTENERS: readonly DirectListener[] = [];
const NO_MESSAGES: readonly DirectMessage[] = [];
/** A channel's `waiting` while it delivers and nothing was published meanwhile (no list made per publish). */
const NONE_WAITING: readonly ChannelEvent[] = [];

/** Until when an entry's direct messages are kept (session time). */
function outboxExpiry(entry: SessionEntry): number {
  return entry.outboxUntil ?? (entry.window === undefined ? -Infinity : entry.expires);
}

/** Forgets an expired record; its outbox keeps the expiry it had. */
function dropRecord(entry: SessionEntry): void {
  entry.outboxUntil = outboxExpiry(entry);
  entry.window = undefined;
  entry.user = undefined;
  entry.owner = undefined;
  entry.secret = undefined;
  entry.anonymous = false;
  entry.generation = undefined;
  entry.expires = 0;
}

/** The channel's head as a position, the same object while the head does not move (positions are never changed in place). */
function positionOfHead(state: Channel): Position {
  const cached = state.headPosition;
  if (cached?.offset === state.head) return cached;
  return (state.headPosition = { epoch: state.epoch, offset: state.head });
}

function listenersOf(outbox: SessionEntry): readonly DirectListener[] {
  const { listeners } = outbox;
  return isListenerList(listeners) ? listeners : [listeners];
}

function isListenerList(listeners: DirectListener | readonly DirectListener[]): listeners is readonly DirectListener[] {
  return Array.isArray(listeners);
}

/** Expired entries are swept at most this often (ms of clock time), on any write or subscribe. */
const SWEEP_EVERY = 60_000;

export { DEFAULT_HISTORY_BUDGET, DEFAULT_IDLE_CHANNEL_TTL, DEFAULT_MAX_IDEMPOTENCY_KEYS, DEFAULT_MAX_KEYS_PER_USER, DEFAULT_POSITION_TTL, EVENT_OVERHEAD, type MemoryBrokerOptions } from './memory-broker-options.js';

/**
 * The embedded broker: one process, nothing to install. History, sessions and presence live in
 * this process's memory, so a restart starts every channel in a new epoch (clients are told
 * `recovered: false`). Listeners are called synchronously, in offset order.
 */
export class MemoryBroker implements Broker {
  readonly #clock: Clock;
  readonly #newEpoch: () => string;
  readonly #channels = new Map<string, Channel>();
  /** Session records and their outboxes, by session id. */
  readonly #sessions = new Map<string, SessionEntry>();
  /**
   * Session ids by user (canonical JSON), made at the first `sessionsOf()`: a process that never
   * asks for a user's sessions keeps nothing per session for it. While it exists every saved
   * record is in its user's set; ids whose record expired, was deleted or now names another user
   * are dropped when read, and by the sweep.
   */
  #byUser: Map<string, Set<string>> | undefined;
  readonly #presence: MemoryPresence;
  /**
   * Requests running somewhere: `${session}\n${id}`, until their reply is in the session's
   * window (which then answers for them), so only the requests in flight are held.
   */
  readonly #claims = new Map<string, Expiring<true>>();
  /**
   * The last client publish per session and channel (`${channel}\n${session}` -> its id), and
   * the publishes under an idempotency key (`${channel}\n\n${key}` -> the body's digest).
   */
  readonly #origins = new Map<string, Expiring<OriginEntry>>();
  /** Each holder's idempotency-key records, oldest first (a set iterates in insertion order). */
  readonly #holders = new Map<string, Set<string>>();
  /** Forgotten channels' epoch and head, for `positionTtl`, oldest first: a channel comes back where it was. */
  readonly #forgotten = new Map<string, Expiring<Position>>();

  readonly #idleChannelTtl: number;
  readonly #positionTtl: number;
  readonly #sweepEvery: number;
  readonly #historyBudget: number;
  readonly #maxOrigins: number;
  readonly #maxPerHolder: number;
  /** Stored events in publish order (entries of trimmed events are skipped when reached). */
  #queue: Queued[] = [];
  #queueHead = 0;
  #historyBytes = 0;
  #historyEvents = 0;
  #evicted = 0;
  readonly #control = new Set<(notice: ControlNotice) => void>();
  /** The last session generation claimed (one counter for all: a number per session less). */
  #generations = 0;
  #sweptAt: number;
  /** The clock's reading when the broker was made: session entries keep their expiries as ms after it. */
  readonly #madeAt: number;

  constructor(options: MemoryBrokerOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#presence = new MemoryPresence(this.#clock);
    this.#newEpoch = options.newEpoch ?? (() => randomUUID().slice(0, 8));
    this.#idleChannelTtl = options.idleChannelTtl ?? DEFAULT_IDLE_CHANNEL_TTL;
    this.#positionTtl = options.positionTtl ?? DEFAULT_POSITION_TTL;
    this.#historyBudget = options.historyBudget ?? DEFAULT_HISTORY_BUDGET;
    this.#maxOrigins = options.maxIdempotencyKeys ?? DEFAULT_MAX_IDEMPOTENCY_KEYS;
    this.#maxPerHolder = options.maxKeysPerUser ?? DEFAULT_MAX_KEYS_PER_USER;
    this.#sweepEvery = Math.min(SWEEP_EVERY, Math.max(1_000, Math.floor(this.#idleChannelTtl / 2)));
    this.#sweptAt = this.#madeAt = this.#clock.now();
    const own = MemoryBroker.prototype;
    // Likewise (see `immediate`), a subclass that overrides subscribeDirect (and not listenDirect) has neither
    // listenDirect nor unlistenDirect, so its override is what carries direct messages.
    if (this.subscribeDirect !== own.subscribeDirect && this.listenDirect === own.listenDirect) {
      Object.defineProperties(this, { listenDirect: { value: undefined }, unlistenDirect: { value: undefined } });
    }
  }

  /**
   * Publish, record and claim without a promise: the exactly-once driver's path (a client's
   * publish is answered in the turn it arrived in); and a session's save, its waiting direct
   * messages and a channel's catch-up, a connection's setup. Undefined where `publish`,
   * `recordReply` or `claimRequest` is not this class's own (a subclass's method or class field,
   * or a wrapper patched on later), so that the replacement is what runs; each of the setup steps
   * is left out where its promised method is replaced. Checked at every read (a few identity
   * comparisons), so a method replaced after construction is honoured too.
   */
  get immediate(): ImmediateExchanges | undefined {
    const own = MemoryBroker.prototype;
    if (this.publish !== own.publish || this.recordReply !== own.recordReply || this.claimRequest !== own.claimRequest) return undefined;
    const steps = (this.saveSession === own.saveSession ? 1 : 0) | (this.pendingDirect === own.pendingDirect ? 2 : 0) | (this.recover === own.recover ? 4 : 0);
    if (this.#immediate === undefined || this.#immediateSteps !== steps) {
      this.#immediateSteps = steps;
      this.#immediate = {
        publish: (channel, data, policy, origin) => this.#publish(channel, data, policy, origin),
        recordReply: (session, id, reply, capacity) => this.#recordReply(session, id, reply, capacity),
        claimRequest: (session, id, ttl) => this.#claimRequest(session, id, ttl),
        ...(steps & 1 ? { saveSession: (id: string, record: SessionRecord, ttl: number): boolean => this.#saveSession(id, record, ttl) } : {}),
        ...(steps & 2 ? { pendingDirect: (session: string, afterSeq: number) => this.#pendingDirect(session, afterSeq) } : {}),
        ...(steps & 4 ? { recover: (channel: string, since: Position | undefined, limit: number) => this.#recover(channel, since, limit) } : {}),
      };
    }
    return this.#immediate;
  }

  /** The last `immediate` made, and which setup steps it has (bits: save, pending, recover). */
  #immediate: ImmediateExchanges | undefined;
  #immediateSteps = 0;

  async publish(channel: string, data: unknown, policy: HistoryPolicy, origin?: PublishOrigin): Promise<ChannelEvent> {
    return this.#publish(channel, data, policy, origin);
  }

  #publish(channel: string, data: unknown, policy: HistoryPolicy, origin?: PublishOrigin): ChannelEvent {
    // Before anything changes: data JSON cannot carry is refused whole and takes no offset. A
    // client's publish (a session origin: its data was parsed from JSON, so it encodes) skips the
    // encoding on a channel without history, the one place that needs no encoded size.
    const json = policy.size > 0 || !origin || 'key' in origin ? encodeData(data) : '';
    // One clock read per publish (every acknowledged client publish comes through here).
    const now = this.#clock.now();
    this.#sweep(now);
    let previous: Expiring<OriginEntry> | undefined;
    let originKey: string | undefined;
    if (origin) {
      originKey = 'key' in origin ? `${channel}\n\n${origin.key}` : `${channel}\n${origin.session}`;
      previous = this.#origins.get(originKey);
      if (previous && previous.expiresAt < now) {
        this.#forgetOrigin(originKey);
        previous = undefined;
      }
      // Published already: its position again, with this publish's data (the same body).
      if (previous && previous.value.id === ('key' in origin ? origin.digest : origin.id)) return { channel, epoch: previous.value.epoch, offset: previous.value.offset, data };
      if (previous && 'key' in origin) throw new IdempotencyConflictError(origin.key);
    }
    const state = this.#channel(channel);
    state.active = now;
    state.ttl = policy.size > 0 ? policy.ttl : 0; // no history: idleness alone decides when it is forgotten
    const event: ChannelEvent = { channel, epoch: state.epoch, offset: ++state.head, data };
    if (policy.size > 0) {
      const bytes = json.length + channel.length + EVENT_OVERHEAD;
      state.history.push({ event, at: now, bytes });
      this.#historyBytes += bytes;
      this.#historyEvents++;
      this.#queue.push({ channel: state, offset: event.offset });
      this.#trim(state, policy, now);
      this.#enforceBudget();
    } else this.#drop(state, state.history.length);
    if (origin && originKey !== undefined) {
      const id = 'key' in origin ? origin.digest : origin.id;
      // A session's next publish to the channel reuses its entry (one per session and channel).
      if (previous) {
        previous.value.id = id;
        previous.value.epoch = event.epoch;
        previous.value.offset = event.offset;
        previous.expiresAt = now + origin.ttl;
      } else {
        const holder = 'key' in origin ? origin.holder : undefined;
        this.#origins.set(originKey, { value: holder === undefined ? { id, epoch: event.epoch, offset: event.offset } : { id, epoch: event.epoch, offset: event.offset, holder }, expiresAt: now + origin.ttl });
        if (holder !== undefined) this.#hold(holder, originKey);
        // The oldest made goes first (a map iterates in insertion order).
        if (this.#origins.size > this.#maxOrigins) this.#forgetOrigin(this.#origins.keys().next().value as string);
      }
    }
    this.#fanOut(state, event);
    return event;
  }

  /**
   * Hands `event` to the channel's listeners, after the events before it: one published by a
   * listener while an event is being delivered waits until every listener has had that one, so
   * all of them get the channel's events in offset order. An event goes to the listeners
   * subscribed when its delivery starts and still subscribed when their turn comes.
   */
  #fanOut(state: Channel, event: ChannelEvent): void {
    if (state.waiting !== undefined) {
      if (state.waiting === NONE_WAITING) state.waiting = [];
      (state.waiting as ChannelEvent[]).push(event);
      return;
    }
    state.waiting = NONE_WAITING;
    let next: ChannelEvent | undefined = event;
    for (let index = 0; next !== undefined; next = state.waiting[index++]) state.listeners.deliver(next);
    state.waiting = undefined;
  }

  async subscribe(channel: string, onEvent: (event: ChannelEvent) => void): Promise<Unsubscribe> {
    this.#sweep();
    const state = this.#channel(channel);
    state.listeners.add(onEvent);
    return async () => {
      state.listeners.delete(onEvent);
      state.active = this.#clock.now();
    };
  }

  async recover(channel: string, since: Position | undefined, limit: number): Promise<Recovery> {
    return this.#recover(channel, since, limit);
  }

  #recover(channel: string, since: Position | undefined, limit: number): Recovery {
    this.#sweep();
    const state = this.#channel(channel);
    const position = positionOfHead(state);
    if (since === undefined) return { events: [], position, recovered: true };
    const now = this.#clock.now();
    // Age is enforced on read as well: an event past its ttl is gone even if no publish trimmed it.
    const live = state.history.filter((stored) => stored.at >= now - state.ttl);
    const first = live[0]?.event.offset ?? state.head + 1;
    const missed = state.head - since.offset;
    if (!canRecover(since, state.epoch, first, state.head) || missed > limit) return { events: [], position, recovered: false };
    return { events: live.filter((s) => s.event.offset > since.offset).map((s) => s.event), position, recovered: true };
  }

  async rewind(channel: string, count: number, maxAgeMs: number | undefined): Promise<Recovery> {
    const state = this.#channel(channel);
    const position = positionOfHead(state);
    const oldest = this.#clock.now() - Math.min(state.ttl, maxAgeMs ?? Infinity);
    const live = state.history.filter((stored) => stored.at >= oldest);
    // A fractional count is its whole part, as a fractional history size is.
    return { events: live.slice(Math.max(0, live.length - Math.floor(count))).map((s) => s.event), position, recovered: true };
  }

  async saveSession(id: string, record: SessionRecord, ttl: number): Promise<boolean> {
    return this.#saveSession(id, record, ttl);
  }

  #saveSession(id: string, record: SessionRecord, ttl: number): boolean {
    this.#sweep();
    const existing = this.#record(id);
    // A hello answered late: a newer one saved the session since.
    if (record.generation !== undefined && (existing?.generation ?? 0) > record.generation) return false;
    const capacity = Math.max(1, record.window.replies.length);
    const window = existing && existing.window.acked >= record.window.acked ? existing.window : remembersNothing(record.window) ? NOTHING_RECORDED : new RequestWindow(capacity, record.window);
    const expires = smallNumber(this.#sessionTime() + ttl);
    const entry = this.#entry(id);
    entry.secret = record.secret ?? existing?.secret;
    entry.anonymous = record.secret === undefined ? (existing?.anonymous ?? false) : record.anonymous === true;
    entry.owner = record.owner ?? existing?.owner;
    entry.generation = record.generation ?? existing?.generation;
    entry.user = record.user;
    if (this.#byUser !== undefined) this.#indexUser(this.#byUser, id, record.user);
    // Unacknowledged direct messages live as long as their session, however long ago they were sent.
    this.#keepRecord(entry, window, expires);
    if (record.sentSeq !== undefined && entry.nextSeq <= record.sentSeq) entry.nextSeq = record.sentSeq + 1;
    return true;
  }

  async recordReply(session: string, id: number, reply: unknown, capacity: number): Promise<void> {
    this.#recordReply(session, id, reply, capacity);
  }

  #recordReply(session: string, id: number, reply: unknown, capacity: number): void {
    const entry = this.#record(session);
    if (!entry) return;
    if (entry.window === NOTHING_RECORDED || entry.window.capacity !== capacity) entry.window = new RequestWindow(capacity, entry.window.snapshot());
    // A shared window (shareWindow) has it already: recorded again in place, found at its newest slot.
    entry.window.record(id, reply);
    // A request's claim ends with its reply (a publish has none: no key made for it).
    if (this.#claims.size > 0) this.#claims.delete(`${session}\n${id}`);
  }

  shareWindow(session: string, window: RequestWindow<unknown>): boolean {
    const entry = this.#record(session);
    if (!entry) return false;
    const stored = entry.window;
    if (stored === window) return true;
    window.merge(stored.snapshot());
    entry.window = window;
    return true;
  }

  async loadSession(id: string, claim = false): Promise<SessionRecord | undefined> {
    const entry = this.#record(id);
    if (!entry) return undefined;
    const { user, window, owner, secret, anonymous } = entry;
    // One counter for every session: higher than any claim or ordered save of this one.
    const generation = claim ? (this.#generations = Math.max(this.#generations, entry.generation ?? 0) + 1) : entry.generation;
    return { user, window: window.snapshot(), ...(owner === undefined ? {} : { owner }), ...(secret === undefined ? {} : { secret, anonymous }), ...(generation === undefined ? {} : { generation }) };
  }

  async refreshSessions(ids: readonly string[], ttl: number): Promise<readonly string[]> {
    const until = smallNumber(this.#sessionTime() + ttl);
    const missing: string[] = [];
    for (const id of ids) {
      const entry = this.#record(id);
      if (!entry) missing.push(id);
      if (!entry || entry.expires >= until) continue;
      this.#keepRecord(entry, entry.window, until);
    }
    return missing;
  }

  async claimRequest(session: string, id: number, ttl: number): Promise<boolean> {
    return this.#claimRequest(session, id, ttl);
  }

  #claimRequest(session: string, id: number, ttl: number): boolean {
    this.#sweep();
    const key = `${session}\n${id}`;
    if (this.#live(this.#claims, key)) return false;
    // Answered already (its reply recorded, or older than the window): never run again.
    const window = this.#record(session)?.window;
    if (window && window.check(id).kind !== 'new') return false;
    this.#claims.set(key, { value: true, expiresAt: this.#clock.now() + ttl });
    return true;
  }

  async sessionsOf(user: unknown): Promise<readonly string[]> {
    const key = canonicalJson(user ?? null);
    const index = (this.#byUser ??= this.#indexUsers());
    const candidates = index.get(key);
    if (candidates === undefined) return [];
    const ids: string[] = [];
    for (const id of candidates) {
      const entry = this.#record(id);
      if (entry && canonicalJson(entry.user ?? null) === key) ids.push(id);
      else candidates.delete(id);
    }
    if (candidates.size === 0) index.delete(key);
    return ids;
  }

  /** The index of {@link sessionsOf}, made from the records held now. */
  #indexUsers(): Map<string, Set<string>> {
    const index = new Map<string, Set<string>>();
    for (const id of this.#sessions.keys()) {
      const entry = this.#record(id);
      if (entry) this.#indexUser(index, id, entry.user);
    }
    return index;
  }

  #indexUser(index: Map<string, Set<string>>, id: string, user: unknown): void {
    const key = canonicalJson(user ?? null);
    let ids = index.get(key);
    if (ids === undefined) index.set(key, (ids = new Set()));
    ids.add(id);
  }

  async deleteSession(id: string): Promise<void> {
    this.#sessions.delete(id);
  }

  async sendDirect(session: string, data: unknown, ttl: number, limit = Infinity): Promise<DirectMessage | null> {
    this.#sweep();
    const outbox = this.#entry(session);
    const now = this.#sessionTime();
    // What expired stays gone.
    const kept = outboxExpiry(outbox) < now ? NO_MESSAGES : outbox.messages;
    // Full: nothing stored, no seq used, its life not extended.
    if (kept.length >= limit) return null;
    // A send only ever extends the outbox's life: a live session's outbox lives as long as it does.
    if (now + ttl > outboxExpiry(outbox)) outbox.outboxUntil = smallNumber(now + ttl);
    const message: DirectMessage = { seq: outbox.nextSeq++, data };
    const messages = kept === NO_MESSAGES ? [] : (kept as DirectMessage[]);
    messages.push(message);
    outbox.messages = messages;
    for (const listener of listenersOf(outbox)) deliver((direct: DirectMessage) => listener.directMessage(direct), message);
    return message;
  }

  async pendingDirect(session: string, afterSeq: number): Promise<readonly DirectMessage[]> {
    return this.#pendingDirect(session, afterSeq);
  }

  #pendingDirect(session: string, afterSeq: number): readonly DirectMessage[] {
    const outbox = this.#sessions.get(session);
    if (!outbox || outboxExpiry(outbox) < this.#sessionTime()) return [];
    return outbox.messages.filter((m) => m.seq > afterSeq);
  }

  async ackDirect(session: string, seq: number): Promise<void> {
    const outbox = this.#sessions.get(session);
    if (outbox && outbox.messages.length > 0) outbox.messages = outbox.messages.filter((m) => m.seq > seq);
  }

  async subscribeDirect(session: string, onMessage: (message: DirectMessage) => void): Promise<Unsubscribe> {
    const outbox = this.#entry(session);
    const listener: DirectListener = { directMessage: onMessage };
    this.#listen(outbox, listener);
    return async () => this.#unlisten(outbox, listener);
  }

  /** {@link Broker.listenDirect}: undefined in a subclass that overrides `subscribeDirect` (its override then runs). */
  listenDirect(session: string, listener: DirectListener): void {
    this.#listen(this.#entry(session), listener);
  }

  unlistenDirect(session: string, listener: DirectListener): void {
    const outbox = this.#sessions.get(session);
    if (outbox) this.#unlisten(outbox, listener);
  }

  async presenceJoin(channel: string, member: PresenceMember, ttl: number): Promise<boolean> {
    return this.#presence.join(channel, member, ttl);
  }

  async presenceLeave(channel: string, client: string, connection?: string): Promise<boolean> {
    return this.#presence.leave(channel, client, connection);
  }

  async presence(channel: string): Promise<readonly PresenceMember[]> {
    return this.#presence.list(channel);
  }

  async presenceExpired(channel: string): Promise<readonly PresenceMember[]> {
    return this.#presence.expired(channel);
  }

  async broadcast(notice: ControlNotice): Promise<void> {
    for (const listener of [...this.#control]) deliver(listener, notice);
  }

  async onBroadcast(listener: (notice: ControlNotice) => void): Promise<Unsubscribe> {
    this.#control.add(listener);
    return async () => {
      this.#control.delete(listener);
    };
  }

  async close(): Promise<void> {
    for (const channel of this.#channels.values()) {
      channel.listeners.clear();
    }
    for (const outbox of this.#sessions.values()) outbox.listeners = NO_LISTENERS;
  }

  #channel(name: string): Channel {
    let state = this.#channels.get(name);
    if (!state) {
      // Forgotten a moment ago: back where it was (nothing was published meanwhile).
      const was = this.#live(this.#forgotten, name);
      this.#forgotten.delete(name);
      this.#channels.set(name, (state = { epoch: was?.value.epoch ?? this.#newEpoch(), head: was?.value.offset ?? 0, history: new Fifo<Stored>(), listeners: new Listeners(), waiting: undefined, ttl: 0, active: this.#clock.now(), live: true, headPosition: undefined }));
    }
    return state;
  }

  /** Keeps a forgotten channel's epoch and head for `positionTtl`, within {@link MAX_FORGOTTEN_POSITIONS}. */
  #keepPosition(name: string, state: Channel, now: number): void {
    if (this.#positionTtl <= 0) return;
    this.#forgotten.set(name, { value: { epoch: state.epoch, offset: state.head }, expiresAt: now + this.#positionTtl });
    if (this.#forgotten.size > MAX_FORGOTTEN_POSITIONS) this.#forgotten.delete(this.#forgotten.keys().next().value as string);
  }

  #trim(state: Channel, policy: HistoryPolicy, now: number): void {
    state.ttl = policy.ttl;
    this.#drop(state, Math.max(0, state.history.length - policy.size));
    this.#expire(state, now);
  }

  /** Drops the events of `state` older than its ttl. */
  #expire(state: Channel, now: number): void {
    const oldest = now - state.ttl;
    let drop = 0;
    while (drop < state.history.length && (state.history.at(drop)?.at ?? 0) < oldest) drop++;
    this.#drop(state, drop);
  }

  /** Drops the `count` oldest events of a channel's history, returning their bytes to the budget. */
  #drop(state: Channel, count: number): void {
    for (let n = 0; n < count; n++) {
      const stored = state.history.shift();
      if (stored) this.#forget(stored.bytes);
    }
  }

  #forget(bytes: number): void {
    this.#historyBytes -= bytes;
    this.#historyEvents--;
  }

  /**
   * Over the budget, the oldest stored events of any channel go first (the queue is in publish
   * order). A channel's remaining history still starts at its own oldest kept event, so a
   * client that needed a dropped one is told `recovered: false`, never given a hole.
   */
  #enforceBudget(): void {
    while (this.#historyBytes > this.#historyBudget && this.#queueHead < this.#queue.length) {
      const { channel, offset } = this.#queue[this.#queueHead++] as Queued;
      const first = channel.history.at(0);
      if (!channel.live || first === undefined || first.event.offset > offset) continue; // already trimmed
      let count = 0;
      while (count < channel.history.length && (channel.history.at(count)?.event.offset ?? Infinity) <= offset) count++;
      this.#evicted += count;
      this.#drop(channel, count);
    }
    this.#compactQueue();
  }

  /** Keeps the queue's dead entries (trimmed events, forgotten channels) from outgrowing the live ones. */
  #compactQueue(): void {
    const dead = this.#queueHead + (this.#queue.length - this.#queueHead - this.#historyEvents);
    if (this.#queue.length < 1024 || dead < this.#queue.length / 2) return;
    this.#queue = this.#queue.slice(this.#queueHead).filter(({ channel, offset }) => channel.live && (channel.history.at(0)?.event.offset ?? Infinity) <= offset);
    this.#queueHead = 0;
  }

  /** Drops what has expired: sessions, outboxes, presence members, idle channels. */
  #sweep(now = this.#clock.now()): void {
    if (now - this.#sweptAt < this.#sweepEvery) return;
    this.#sweptAt = now;
    // A message store goes with its session's record (its expiry is never before the record's), or
    // when no record was saved, unless a node listens.
    const sessionNow = now - this.#madeAt;
    for (const [id, entry] of this.#sessions) {
      if (entry.window !== undefined && entry.expires < sessionNow) dropRecord(entry);
      if (entry.window === undefined && listenersOf(entry).length === 0) this.#sessions.delete(id);
    }
    // The user index lets go of sessions whose record is gone (one that names another user now is
    // dropped when its old user's sessions are read).
    for (const [key, ids] of this.#byUser ?? []) {
      for (const id of ids) if (this.#sessions.get(id)?.window === undefined) ids.delete(id);
      if (ids.size === 0) this.#byUser?.delete(key);
    }
    for (const [key, entry] of this.#origins) if (entry.expiresAt < now) this.#forgetOrigin(key);
    for (const [key, entry] of this.#claims) if (entry.expiresAt < now) this.#claims.delete(key);
    for (const [name, entry] of this.#forgotten) if (entry.expiresAt < now) this.#forgotten.delete(name);
    this.#presence.sweep(now);
    for (const [name, state] of this.#channels) {
      if (state.listeners.size > 0) continue;
      this.#expire(state, now);
      // Forgotten once idle with nothing left to recover: seconds after its last subscriber left.
      if (state.history.length === 0 && now - state.active > this.#idleChannelTtl) {
        state.live = false;
        this.#channels.delete(name);
        this.#keepPosition(name, state, now);
      }
    }
    this.#compactQueue();
  }

  /** Entries held, for tests and diagnostics. */
  get size(): { readonly channels: number; readonly sessions: number; readonly outboxes: number; readonly presence: number; readonly claims: number; readonly origins: number } {
    let sessions = 0;
    for (const entry of this.#sessions.values()) if (entry.window !== undefined) sessions++;
    return { channels: this.#channels.size, sessions, outboxes: this.#sessions.size, presence: this.#presence.size, claims: this.#claims.size, origins: this.#origins.size };
  }

  /** Channel history held against the budget, and how many events the budget evicted so far. */
  get history(): { readonly bytes: number; readonly events: number; readonly budget: number; readonly evicted: number } {
    return { bytes: this.#historyBytes, events: this.#historyEvents, budget: this.#historyBudget, evicted: this.#evicted };
  }

  #listen(outbox: SessionEntry, listener: DirectListener): void {
    const listeners = listenersOf(outbox);
    outbox.listeners = listeners.length === 0 ? listener : [...listeners, listener];
  }

  #unlisten(outbox: SessionEntry, listener: DirectListener): void {
    const left = listenersOf(outbox).filter((other) => other !== listener);
    outbox.listeners = left.length === 1 ? (left[0] as DirectListener) : left;
  }

  /** The session's entry, made without a record: its outbox has no life of its own until a record is saved (or a message sent). */
  #entry(session: string): SessionEntry {
    let entry = this.#sessions.get(session);
    if (!entry) {
      entry = { window: undefined, user: undefined, owner: undefined, secret: undefined, anonymous: false, generation: undefined, expires: 0, nextSeq: 1, messages: NO_MESSAGES, outboxUntil: undefined, listeners: NO_LISTENERS };
      this.#sessions.set(session, entry);
    }
    return entry;
  }

  /** The session's saved record, unless it expired (then it is dropped; its outbox stays until the next sweep). */
  #record(session: string): SavedEntry | undefined {
    const entry = this.#sessions.get(session);
    if (entry?.window === undefined) return undefined;
    if (entry.expires >= this.#sessionTime()) return entry as SavedEntry;
    dropRecord(entry);
    return undefined;
  }

  /** Sets the record's window and expiry; the outbox keeps its own expiry if that is later. */
  #keepRecord(entry: SessionEntry, window: RequestWindow<unknown>, expires: number): void {
    const outbox = outboxExpiry(entry);
    entry.window = window;
    entry.expires = expires;
    entry.outboxUntil = outbox > expires ? outbox : undefined;
  }

  /** The clock's time as session entries keep it: ms after the broker was made. */
  #sessionTime(): number {
    return this.#clock.now() - this.#madeAt;
  }

  /** Counts a new record against its holder; past the quota the holder's own oldest goes. */
  #hold(holder: string, key: string): void {
    let keys = this.#holders.get(holder);
    if (!keys) this.#holders.set(holder, (keys = new Set()));
    keys.add(key);
    if (keys.size > this.#maxPerHolder) this.#forgetOrigin(keys.values().next().value as string);
  }

  #forgetOrigin(key: string): void {
    const holder = this.#origins.get(key)?.value.holder;
    this.#origins.delete(key);
    if (holder === undefined) return;
    const keys = this.#holders.get(holder);
    keys?.delete(key);
    if (keys?.size === 0) this.#holders.delete(holder);
  }

  #live<T extends { readonly expiresAt: number }>(map: Map<string, T>, key: string, now = this.#clock.now()): T | undefined {
    const entry = map.get(key);
    if (entry && entry.expiresAt < now) {
      map.delete(key);
      return undefined;
    }
    return entry;
  }
}

