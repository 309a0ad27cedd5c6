import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { ClientClosedError, ClientOfflineError, ErrorReply } from '@redis/client';
import type { Broker, ChannelEvent, ControlNotice, DirectMessage, HistoryPolicy, PresenceMember, PublishOrigin, Recovery, SessionRecord, Unsubscribe } from '../broker/broker.js';
import { deliver } from '../broker/deliver.js';
import { encodeData } from '../broker/encode-data.js';
import { systemClock, systemRng, type Clock } from '../core/clock.js';
import { IdempotencyConflictError, InvalidOptionError } from '../core/errors.js';
import type { Position } from '../core/position.js';
import { LogThrottle } from '../core/log-throttle.js';
import { Timer } from '../core/timer.js';
import { RedisConnection } from './connection.js';
import { DEFAULT_MAX_KEYS_PER_USER } from '../broker/memory-broker-options.js';
import { BACKSTOP } from './expiry.js';
import { Feeds, PubSub } from './feeds.js';
import { KnownPositions } from './known-positions.js';
import type { Numbered } from './ordered-feed.js';
import { RedisKeys } from './keys.js';
import { parseDirect, parseEvent, parseNotice } from './messages.js';
import { array, integer, parseEntry, splitMember, text } from './replies.js';
import { DEFAULT_REDIS_IDLE_CHANNEL_TTL, type RedisBrokerOptions } from './redis-broker-options.js';
import { ScriptRunner, type SendCommand } from './script-runner.js';
import * as channelScripts from './scripts/channel.js';
import * as directScripts from './scripts/direct.js';
import { HOLD } from './scripts/key-quota.js';
import { RedisPresence } from './presence.js';
import { RedisSessions } from './sessions.js';

export type { RedisBrokerOptions } from './redis-broker-options.js';

/** Stands for "no age limit" in Redis, ms. */
const CENTURY = 100 * 365 * 24 * 3_600_000;
/** Stands for "no size limit" in Redis (`XADD MAXLEN` takes only integers), events. */
const UNBOUNDED = 1_000_000_000_000;
/** The most events fetched to fill a gap in a node's feed; a larger gap is a resync for its clients. */
const FILL_LIMIT = 10_000;
/** How often a node that takes Redis as hung asks it again with a `PING`, ms. */
const STALL_PROBE = 1_000;

/**
 * A {@link Broker} over Redis, so several Lifeline nodes behind a load balancer act as one:
 * fan-out through (sharded) pub/sub, channel history in streams, offsets from one counter per
 * channel, sessions, reply windows, direct messages and presence in keys that expire. Every
 * write that must be atomic is one Lua script on keys of one hash slot (Cluster-ready).
 *
 * While Redis is unreachable every call rejects at once (no offline queue: nothing is accepted
 * and dropped later), {@link isReady} is false, and the connection is retried with backoff; on
 * return, every subscribed channel fetches what it missed from the streams.
 *
 * @example
 * const broker = await RedisBroker.connect({ url: process.env.REDIS_URL });
 * const server = createServer({ broker, channels: { chat: { history: { size: 100, ttl: 300_000 } } } });
 */
export class RedisBroker implements Broker {
  readonly #connection: RedisConnection;
  readonly #keys: RedisKeys;
  readonly #scripts: ScriptRunner;
  readonly #sessions: RedisSessions;
  readonly #presence: RedisPresence;
  readonly #clock: Clock;
  readonly #newEpoch: () => string;
  readonly #idleChannelTtl: number;
  readonly #maxKeysPerUser: number;
  readonly #log: Logger | undefined;
  /** Quota failures are logged at most every 10 s: an outage fails every keyed publish. */
  readonly #quotaFailures: LogThrottle;
  /** Malformed pub/sub messages are ignored, logged at most every 10 s (a rolling upgrade may send many). */
  readonly #malformed: LogThrottle;
  readonly #pubsub: PubSub;
  readonly #channels: Feeds<ChannelEvent>;
  readonly #direct: Feeds<DirectMessage>;
  readonly #touch: Timer;
  readonly #quiet: Timer;
  readonly #quietCheck: number;
  /** While Redis is taken as hung: asks it again (see {@link #probeStall}). */
  readonly #stallProbe: Timer;
  #probing = false;
  /** A connection came back while Redis was taken as hung: its recheck waits for Redis to answer again. */
  #recheckDue = false;
  /** The furthest position seen per channel (publishes, recoveries, deliveries). */
  readonly #known = new KnownPositions();
  #sharded = false;

  private constructor(connection: RedisConnection, options: RedisBrokerOptions) {
    this.#connection = connection;
    this.#keys = new RedisKeys(options.prefix ?? 'lifeline:');
    this.#clock = options.clock ?? systemClock;
    this.#newEpoch = options.newEpoch ?? (() => randomUUID().replaceAll('-', '').slice(0, 12));
    this.#idleChannelTtl = options.idleChannelTtl ?? DEFAULT_REDIS_IDLE_CHANNEL_TTL;
    this.#maxKeysPerUser = options.maxKeysPerUser ?? DEFAULT_MAX_KEYS_PER_USER;
    this.#log = options.logger;
    this.#quotaFailures = new LogThrottle(this.#clock, 10_000);
    this.#malformed = new LogThrottle(this.#clock, 10_000);
    const timeout = options.commandTimeout ?? 5_000;
    const send: SendCommand = (args) => connection.commands.send(args, timeout);
    this.#scripts = new ScriptRunner(
      send,
      (error) => error instanceof ErrorReply && !isTransient(error),
      timeout,
      (error) => error instanceof ClientOfflineError || error instanceof ClientClosedError || (error instanceof ErrorReply && isTransient(error)),
      () => this.#watchStall(),
    );
    this.#sessions = new RedisSessions(this.#scripts, this.#keys, this.#clock);
    this.#presence = new RedisPresence(this.#scripts, this.#keys, this.#clock);
    const handlerErrors = new LogThrottle(this.#clock, 10_000);
    this.#pubsub = new PubSub(connection.subscriber, () => this.#sharded, timeout, (error, name) => {
      const errors = handlerErrors.take();
      if (errors > 0) this.#log?.error({ err: error, name, errors }, 'a pub/sub message handler threw: the message was dropped');
    });
    const gapRetry = Math.max(0, options.gapRetry ?? 20_000);
    this.#channels = new Feeds(this.#pubsub, this.#clock, gapRetry);
    this.#direct = new Feeds(this.#pubsub, this.#clock, gapRetry);
    this.#touch = new Timer(this.#clock, () => this.#touchChannels());
    // Only a Cluster moves a subscription without a new connection (see #checkQuiet): on one
    // server every loss of pub/sub is a lost connection, whose return fetches what was missed.
    this.#quietCheck = connection.cluster ? Math.max(0, options.quietCheck ?? 5_000) : 0;
    this.#quiet = new Timer(this.#clock, () => this.#checkQuiet());
    this.#stallProbe = new Timer(this.#clock, () => void this.#probeStall());
    connection.onRestored(() => this.#restored());
  }

  /** Connects (retrying until `connectTimeout`), or rejects with the reason Redis could not be reached. */
  static async connect(options: RedisBrokerOptions = {}): Promise<RedisBroker> {
    // Every key is `<prefix>{<hash tag>}...`: a brace in the prefix would become the hash tag
    // itself, putting every key in one slot (or none, `{}`: CROSSSLOT on a Cluster).
    if (options.prefix !== undefined && /[{}]/.test(options.prefix)) throw new InvalidOptionError('prefix', 'must not contain "{" or "}" (Redis Cluster hash tags)');
    const connection = await RedisConnection.open({ ...options, rng: options.rng ?? systemRng });
    const broker = new RedisBroker(connection, options);
    try {
      await broker.#detectFeatures(options.sharded ?? 'auto');
    } catch (error) {
      broker.#stallProbe.stop();
      connection.destroy();
      throw error;
    }
    broker.#scheduleTouch();
    broker.#scheduleQuietCheck();
    return broker;
  }

  isReady(): boolean {
    return this.#connection.isReady && !this.#scripts.stalled;
  }

  /** Whether fan-out uses sharded pub/sub (Redis 7+). */
  get sharded(): boolean {
    return this.#sharded;
  }

  // ---- channels ---------------------------------------------------------------------------------

  async publish(channel: string, data: unknown, policy: HistoryPolicy, origin?: PublishOrigin): Promise<ChannelEvent> {
    const json = encodeData(data);
    const keys = this.#keys.channel(channel);
    policy = historyPolicy(policy);
    const strict = origin !== undefined && 'key' in origin;
    const record = origin && ('key' in origin ? this.#keys.idempotency(channel, origin.key) : this.#keys.origin(channel, origin.session));
    const names = record ? [keys.meta, keys.log, record] : [keys.meta, keys.log];
    // A client's key record counts against its user's quota, in the user's hash slot: sent with
    // the publish, not after it (a count for a publish that then fails only ends sooner).
    const held = record && origin && 'key' in origin && origin.holder !== undefined ? this.#hold(origin.holder, record, origin.ttl, channel) : undefined;
    const published = this.#scripts.run(channelScripts.PUBLISH, names, [
      json,
      String(this.#clock.now()),
      String(policy.size),
      String(policy.ttl),
      this.#newEpoch(),
      String(Math.max(this.#idleChannelTtl, policy.ttl) + BACKSTOP),
      this.#sharded ? 'SPUBLISH' : 'PUBLISH',
      keys.events,
      origin ? ('key' in origin ? origin.digest : String(origin.id)) : '',
      origin ? String(origin.ttl + BACKSTOP) : '',
      origin ? String(this.#clock.now() + origin.ttl) : '',
      ...this.#known.args(channel),
      strict ? '1' : '0',
    ]);
    const reply = array((await Promise.all([published, held]))[0]);
    const repeat = integer(reply[2]);
    if (repeat === 2 && origin && 'key' in origin) throw new IdempotencyConflictError(origin.key);
    const event = { channel, epoch: text(reply[0]), offset: integer(reply[1]), data };
    // Only a fresh publish tells where the channel stands: a repeat answers the stored position
    // of its first publish, which may be of an epoch since replaced (a key record outlives an
    // idle channel), and would roll the known position back.
    if (repeat === 0) this.#known.saw(channel, event);
    return event;
  }

  /**
   * Counts a key record against its holder and deletes the holder's oldest records past the
   * quota. Never fails the publish: the quota bounds Redis's memory, it does not decide what is
   * published, so a failure (the user's shard unreachable, say) is logged and the record is
   * counted from the next publish on; a record whose `DEL` failed lives out its ttl uncounted.
   */
  async #hold(holder: string, record: string, ttl: number, channel: string): Promise<void> {
    try {
      const now = this.#clock.now();
      const evicted = array(await this.#scripts.run(HOLD, [this.#keys.heldKeys(holder)], [record, String(now + ttl), String(now), String(this.#maxKeysPerUser), String(ttl + BACKSTOP)]));
      // One command per record: each lives in its own channel's hash slot.
      await Promise.all(evicted.map((name) => this.#scripts.send(['DEL', text(name)])));
    } catch (error) {
      const failures = this.#quotaFailures.take();
      if (failures > 0) this.#log?.warn({ err: error, channel, failures }, 'idempotency-key quota not applied: the per-user count or its deletes failed');
    }
  }

  subscribe(channel: string, onEvent: (event: ChannelEvent) => void): Promise<Unsubscribe> {
    return this.#channels.join(channel, onEvent, {
      name: this.#keys.channel(channel).events,
      parse: (message) => {
        const event = parseEvent(channel, message);
        if (event) this.#known.saw(channel, event);
        else this.#ignored(this.#keys.channel(channel).events);
        return event && { epoch: event.epoch, n: event.offset, value: event };
      },
      refill: async (after) => {
        let recovery = await this.recover(channel, { epoch: after.epoch, offset: after.n }, FILL_LIMIT);
        // A new epoch began meanwhile: its events from the first one, while history has them.
        if (!recovery.recovered && recovery.position.epoch !== after.epoch) recovery = await this.recover(channel, { epoch: recovery.position.epoch, offset: 0 }, FILL_LIMIT);
        return recovery.recovered ? recovery.events.map((event) => ({ epoch: event.epoch, n: event.offset, value: event })) : undefined;
      },
      head: async () => {
        const { position } = await this.recover(channel, undefined, 0);
        return { epoch: position.epoch, n: position.offset };
      },
      tail: async () => {
        const [epoch, head] = array(await this.#send(['HMGET', this.#keys.channel(channel).meta, 'e', 'h']));
        return epoch === null || epoch === undefined || head === null || head === undefined ? undefined : { epoch: text(epoch), n: integer(head) };
      },
    });
  }

  async recover(channel: string, since: Position | undefined, limit: number): Promise<Recovery> {
    const keys = this.#keys.channel(channel);
    const reply = array(
      await this.#scripts.run(
        channelScripts.RECOVER,
        [keys.meta, keys.log],
        [since?.epoch ?? '', String(since?.offset ?? 0), String(limit), String(this.#clock.now()), this.#newEpoch(), String(this.#idleChannelTtl + BACKSTOP), ...this.#known.args(channel)],
      ),
    );
    const position = { epoch: text(reply[0]), offset: integer(reply[1]) };
    this.#known.saw(channel, position);
    const notRecovered: Recovery = { events: [], position, recovered: false };
    if (integer(reply[2]) !== 1) return notRecovered;
    if (since === undefined) return { events: [], position, recovered: true };
    const events: ChannelEvent[] = [];
    const entries = array(reply[3]);
    for (let i = entries.length - 1; i >= 0; i--) {
      const { offset, data } = parseEntry(entries[i]);
      events.push({ channel, epoch: position.epoch, offset, data });
    }
    // Exactly the offsets after `since`, up to the head: anything less is no recovery.
    const exact = events.length === position.offset - since.offset && events.every((event, i) => event.offset === since.offset + i + 1);
    return exact ? { events, position, recovered: true } : notRecovered;
  }

  async rewind(channel: string, count: number, maxAgeMs: number | undefined): Promise<Recovery> {
    const keys = this.#keys.channel(channel);
    const reply = array(
      await this.#scripts.run(
        channelScripts.REWIND,
        [keys.meta, keys.log],
        // A fractional count is its whole part, as a fractional history size is (COUNT takes integers only).
        [String(Math.floor(count)), String(this.#clock.now()), maxAgeMs === undefined ? '' : String(maxAgeMs), this.#newEpoch(), String(this.#idleChannelTtl + BACKSTOP)],
      ),
    );
    const position = { epoch: text(reply[0]), offset: integer(reply[1]) };
    const entries = array(reply[2]);
    const events: ChannelEvent[] = [];
    for (let i = entries.length - 1; i >= 0; i--) {
      const { offset, data } = parseEntry(entries[i]);
      events.push({ channel, epoch: position.epoch, offset, data });
    }
    // Only an unbroken run up to the head is served (the log may hold a stray older entry).
    let start = events.length;
    while (start > 0 && events[start - 1]?.offset === position.offset - (events.length - start)) start--;
    return { events: events.slice(start), position, recovered: true };
  }

  // ---- sessions ---------------------------------------------------------------------------------

  saveSession(id: string, record: SessionRecord, ttl: number): Promise<boolean> {
    return this.#sessions.saveSession(id, record, ttl);
  }

  refreshSessions(ids: readonly string[], ttl: number): Promise<readonly string[]> {
    return this.#sessions.refreshSessions(ids, ttl, (id) => this.#direct.last(id)?.n ?? 0);
  }

  recordReply(session: string, id: number, reply: unknown, capacity: number): Promise<void> {
    return this.#sessions.recordReply(session, id, reply, capacity);
  }

  loadSession(id: string, claim?: boolean): Promise<SessionRecord | undefined> {
    return this.#sessions.loadSession(id, claim);
  }

  claimRequest(session: string, id: number, ttl: number): Promise<boolean> {
    return this.#sessions.claimRequest(session, id, ttl);
  }

  deleteSession(id: string): Promise<void> {
    return this.#sessions.deleteSession(id);
  }

  sessionsOf(user: unknown): Promise<readonly string[]> {
    return this.#sessions.sessionsOf(user);
  }

  // ---- direct messages --------------------------------------------------------------------------

  async sendDirect(session: string, data: unknown, ttl: number, limit = Infinity): Promise<DirectMessage | null> {
    const keys = this.#keys.session(session);
    const seq = integer(
      await this.#scripts.run(
        directScripts.SEND_DIRECT,
        [keys.outboxMeta, keys.outbox],
        [JSON.stringify(data ?? null), String(this.#clock.now()), String(ttl), String(ttl + BACKSTOP), this.#sharded ? 'SPUBLISH' : 'PUBLISH', keys.direct, Number.isFinite(limit) ? String(limit) : ''],
      ),
    );
    // 0: the outbox was full, nothing stored.
    return seq === 0 ? null : { seq, data };
  }

  async pendingDirect(session: string, afterSeq: number): Promise<readonly DirectMessage[]> {
    const keys = this.#keys.session(session);
    const reply = await this.#scripts.run(directScripts.PENDING_DIRECT, [keys.outboxMeta, keys.outbox], [String(afterSeq), String(this.#clock.now())]);
    return array(reply).map((member) => {
      const [seq, json] = splitMember(text(member));
      return { seq, data: JSON.parse(json) as unknown };
    });
  }

  async ackDirect(session: string, seq: number): Promise<void> {
    await this.#send(['ZREMRANGEBYSCORE', this.#keys.session(session).outbox, '-inf', String(seq)]);
  }

  subscribeDirect(session: string, onMessage: (message: DirectMessage) => void): Promise<Unsubscribe> {
    const keys = this.#keys.session(session);
    return this.#direct.join(session, onMessage, {
      name: keys.direct,
      parse: (payload) => {
        const message = parseDirect(payload);
        if (!message) this.#ignored(keys.direct);
        return message && { epoch: '', n: message.seq, value: message };
      },
      refill: async (after) => (await this.pendingDirect(session, after.n)).map((message) => ({ epoch: '', n: message.seq, value: message })),
      // The last seq issued: what the session's client was (or is being) sent.
      head: () => this.#lastDirect(keys.outboxMeta),
      tail: () => this.#lastDirect(keys.outboxMeta),
    });
  }

  // ---- presence ---------------------------------------------------------------------------------

  presenceJoin(channel: string, member: PresenceMember, ttl: number): Promise<boolean> {
    return this.#presence.join(channel, member, ttl);
  }

  presenceLeave(channel: string, client: string, connection?: string): Promise<boolean> {
    return this.#presence.leave(channel, client, connection);
  }

  presence(channel: string): Promise<readonly PresenceMember[]> {
    return this.#presence.list(channel);
  }

  presenceExpired(channel: string): Promise<readonly PresenceMember[]> {
    return this.#presence.expired(channel);
  }

  // ---- control ----------------------------------------------------------------------------------

  async broadcast(notice: ControlNotice): Promise<void> {
    // Plain pub/sub: a Redis Cluster carries it to every node's subscribers.
    await this.#send(['PUBLISH', this.#keys.control, JSON.stringify(notice)]);
  }

  async onBroadcast(listener: (notice: ControlNotice) => void): Promise<Unsubscribe> {
    // Unsharded: a notice is for every node, wherever it is connected in a Cluster.
    return this.#pubsub.add(
      this.#keys.control,
      (message) => {
        const notice = parseNotice(message);
        if (notice) deliver(listener, notice);
      },
      false,
    );
  }

  /**
   * Stops the timers and closes both connections: commands in flight may be answered for up to
   * `commandTimeout`, then the connections are destroyed and what is still pending fails as
   * unavailable. Settles however Redis behaves; a second call waits for the same close.
   */
  async close(): Promise<void> {
    this.#touch.stop();
    this.#quiet.stop();
    this.#stallProbe.stop();
    this.#channels.clear();
    this.#direct.clear();
    await this.#connection.close();
  }

  // ---- internals --------------------------------------------------------------------------------

  #send(args: readonly string[]): Promise<unknown> {
    return this.#scripts.send(args);
  }

  async #detectFeatures(sharded: boolean | 'auto'): Promise<void> {
    if (sharded !== 'auto') {
      this.#sharded = sharded;
      return;
    }
    const info = text(await this.#send(['INFO', 'server']));
    const major = Number(/redis_version:(\d+)/.exec(info)?.[1] ?? 0);
    this.#sharded = major >= 7;
  }

  /**
   * A connection came back (or, in a Cluster, one to a new node: a failover or a moved slot may
   * have moved subscriptions to it): every feed makes sure its subscription is in place on the
   * node serving it now, then fetches what it missed from its last item. While Redis is taken
   * as hung this waits until it answers again ({@link #probeStall}).
   */
  #restored(): void {
    this.#recheckDue = this.#scripts.stalled;
    if (this.#recheckDue) return;
    this.#pubsub.dropOrphans();
    this.#raiseSeqs();
    this.#channels.recheck();
    this.#direct.recheck();
  }

  /** A command went unanswered: Redis is asked again until it answers, unless that is under way. */
  #watchStall(): void {
    if (!this.#probing && !this.#stallProbe.pending && this.#connection.state !== 'closed') this.#stallProbe.start(STALL_PROBE);
  }

  /**
   * While Redis is taken as hung (a command went unanswered past `commandTimeout` and none was
   * answered since), a `PING` every {@link STALL_PROBE} ms: its answer makes the node ready again
   * without waiting for a caller's command (a node reporting not ready may get none), and runs
   * the recheck a connection's return put off meanwhile.
   */
  async #probeStall(): Promise<void> {
    this.#probing = true;
    try {
      if (this.#scripts.stalled && this.#connection.isReady) await this.#send(['PING']).catch(() => undefined);
    } finally {
      this.#probing = false;
    }
    if (this.#connection.state === 'closed') return;
    if (this.#scripts.stalled) this.#stallProbe.start(STALL_PROBE);
    else if (this.#recheckDue) this.#restored();
  }

  /**
   * Direct messages have no epoch: a failover that lost the last sends of a session would issue
   * their seqs again, to messages this node and the client drop as seen. So the node serving a
   * session writes back the last seq it heard (never lowering it) when its connection comes back
   * (the session refresh does too). Best effort: a failure is retried by the next refresh.
   */
  #raiseSeqs(): void {
    for (const session of this.#direct.keys()) {
      const last = this.#direct.last(session)?.n ?? 0;
      if (last === 0) continue;
      const keys = this.#keys.session(session);
      void this.#scripts.run(directScripts.RAISE_SEQ, [keys.record, keys.outboxMeta], [String(last)]).catch(() => undefined);
    }
  }

  /** A message on `name` that is not one of a channel event or direct message this version sends: ignored. */
  #ignored(name: string): void {
    const ignored = this.#malformed.take();
    if (ignored > 0) this.#log?.warn({ name, ignored }, 'ignored malformed pub/sub messages (another Lifeline version or a foreign publisher under the prefix?)');
  }

  async #lastDirect(outboxMeta: string): Promise<Numbered> {
    const last = await this.#send(['HGET', outboxMeta, 'n']);
    return { epoch: '', n: last === null ? 0 : integer(last) };
  }

  /** Checked twice per `quietCheck`: a feed quiet that long reads its head within 1.5 times it. */
  #scheduleQuietCheck(): void {
    if (this.#quietCheck > 0 && this.#connection.state !== 'closed') this.#quiet.start(this.#quietCheck / 2);
  }

  #checkQuiet(): void {
    // While a connection is down nothing is read: its return fetches what was missed anyway.
    if (this.#connection.isReady && !this.#scripts.stalled) {
      this.#channels.checkQuiet(this.#quietCheck);
      this.#direct.checkQuiet(this.#quietCheck);
    }
    this.#scheduleQuietCheck();
  }

  #scheduleTouch(): void {
    if (this.#connection.state !== 'closed') this.#touch.start(Math.min(300_000, Math.max(1_000, this.#idleChannelTtl / 4)));
  }

  /** A node subscribed to a quiet channel keeps its history (and epoch) from expiring as idle. */
  #touchChannels(): void {
    const idle = String(this.#idleChannelTtl + BACKSTOP);
    for (const channel of this.#channels.keys()) {
      const keys = this.#keys.channel(channel);
      void this.#scripts.run(channelScripts.TOUCH_CHANNEL, [keys.meta, keys.log], [idle, String(BACKSTOP)]).catch(() => undefined);
    }
    this.#scheduleTouch();
  }
}

/**
 * `policy` as Redis takes it, whole numbers: no age limit (not finite) is a century, no size
 * limit (Infinity) {@link UNBOUNDED} events; a fractional size keeps its whole part, as the
 * in-memory broker does, and a size not above 0 keeps nothing.
 */
function historyPolicy(policy: HistoryPolicy): HistoryPolicy {
  const size = policy.size === Infinity ? UNBOUNDED : policy.size > 0 ? Math.min(UNBOUNDED, Math.floor(policy.size)) : 0;
  const ttl = Number.isFinite(policy.ttl) ? Math.min(CENTURY, Math.max(0, Math.round(policy.ttl))) : CENTURY;
  return { size, ttl };
}

/**
 * Errors a Redis (Cluster) node answers while its slots move or its primary fails over (or it
 * loads its data, lacks the replicas `min-replicas-to-write` asks for, or runs a long script):
 * the command did nothing, and the same call later may well succeed, so the caller sees
 * "unavailable", not sent (a script refused on a replica, or for want of replicas, stopped at its
 * first write).
 */
function isTransient(error: ErrorReply): boolean {
  return /^(TRYAGAIN|CLUSTERDOWN|READONLY|MASTERDOWN|LOADING|MOVED|ASK|NOREPLICAS|BUSY) /.test(error.message);
}
