import { randomUUID } from 'node:crypto';
import { ClientOfflineError, ErrorReply } from '@redis/client';
import type { Logger } from 'pino';
import type { Broker, ChannelEvent, ControlNotice, DirectMessage, HistoryPolicy, PresenceMember, PublishOrigin, Recovery, SessionRecord, Unsubscribe } from '../broker/broker.js';
import type { BackoffOptions } from '../core/backoff.js';
import { systemClock, systemRng, type Clock, type Rng, type TimerHandle } from '../core/clock.js';
import { BrokerUnavailableError, IdempotencyConflictError } from '../core/errors.js';
import type { Position } from '../core/position.js';
import { Timer } from '../core/timer.js';
import { RedisKeys } from './keys.js';
import { OrderedFeed, type Numbered } from './ordered-feed.js';
import { array, integer, optionalText, parseEntry, splitMember, text } from './replies.js';
import { clusterLink, singleLink, type LinkSettings, type MessageListener, type RedisLink } from './redis-link.js';
import * as scripts from './scripts.js';
import { ScriptRunner, type SendCommand } from './script-runner.js';

export interface RedisBrokerOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://` for TLS. Default `redis://127.0.0.1:6379`. */
  readonly url?: string;
  /**
   * A Redis Cluster instead of one server: some of its nodes, `host:port` or `redis://` URLs
   * (credentials and TLS of the first apply to every node). The topology is discovered from them.
   * Takes precedence over `url`. Needs Redis 7 (sharded pub/sub).
   */
  readonly cluster?: readonly string[];
  /** Prefix of every key and pub/sub channel, so deployments can share a server. Default `lifeline:`. */
  readonly prefix?: string;
  /** A command not answered within this fails (the node stays up; the client gets `unavailable`), ms. Default 5 000. */
  readonly commandTimeout?: number;
  /** `connect()` gives up when Redis does not answer within this, ms. Default 10 000. */
  readonly connectTimeout?: number;
  /** A channel with no publish for this long (and longer than its history's ttl) is forgotten, ms. Default one hour. */
  readonly idleChannelTtl?: number;
  /** Reconnect delays after a lost connection (full-jitter backoff). Default 100 ms doubling to 5 s. */
  readonly reconnect?: Pick<BackoffOptions, 'initialDelay' | 'maxDelay'>;
  /** Sharded pub/sub (SPUBLISH/SSUBSCRIBE): `'auto'` uses it on Redis 7 and later. Default `'auto'`. */
  readonly sharded?: boolean | 'auto';
  readonly logger?: Logger;
  /** Logical time for every expiry (sessions, history age, presence); real key expiry only backs it up. */
  readonly clock?: Clock;
  readonly rng?: Rng;
  /** Names a new channel history. Default: 12 random hex characters. */
  readonly newEpoch?: () => string;
}

/** Real key expiry outlives logical expiry by this much, so clock skew between nodes cannot cut a record short, ms. */
const BACKSTOP = 5_000;
/** Stands for "no age limit" in Redis, ms. */
const CENTURY = 100 * 365 * 24 * 3_600_000;
/** The most events fetched to fill a gap in a node's feed; a larger gap is a resync for its clients. */
const FILL_LIMIT = 10_000;

/** How many channels' furthest positions a node remembers. */
const KNOWN_LIMIT = 10_000;

/** A channel event or a direct message with its place in its sequence. */
interface Item<V> extends Numbered {
  readonly value: V;
}

/** This node's subscription to one sequence (a channel's events, a session's direct messages). */
interface Feed<V> {
  readonly listeners: Set<(value: V) => void>;
  readonly order: OrderedFeed<Item<V>>;
  ready: Promise<void>;
}

/** Where a feed's items come from. */
interface FeedSource<V> {
  /** The pub/sub channel carrying new items. */
  readonly name: string;
  parse(message: string): Item<V> | undefined;
  /** The durable copy: what came after `after`, or undefined when it is gone. */
  refill(after: Numbered): Promise<readonly Item<V>[] | undefined>;
  /** Where the sequence stands now (the feed starts there). */
  head(): Promise<Numbered>;
}

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
  readonly #client: RedisLink;
  readonly #subscriber: RedisLink;
  readonly #keys: RedisKeys;
  readonly #scripts: ScriptRunner;
  readonly #clock: Clock;
  readonly #log: Logger | undefined;
  readonly #newEpoch: () => string;
  readonly #idleChannelTtl: number;
  readonly #channels = new Map<string, Feed<ChannelEvent>>();
  readonly #direct = new Map<string, Feed<DirectMessage>>();
  readonly #touch: Timer;
  /** The furthest position seen per channel (publishes, recoveries, deliveries). */
  readonly #known = new Map<string, Position>();
  /** This node's pub/sub listener per Redis channel name. */
  readonly #listeners = new Map<string, MessageListener>();
  /** Listeners given up while disconnected, to unsubscribe once connected again. */
  readonly #orphans = new Map<string, MessageListener>();
  #sharded = false;
  #cluster = false;
  #lost = false;
  #closed = false;

  private constructor(client: RedisLink, subscriber: RedisLink, options: RedisBrokerOptions) {
    this.#client = client;
    this.#subscriber = subscriber;
    this.#keys = new RedisKeys(options.prefix ?? 'lifeline:');
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger;
    this.#newEpoch = options.newEpoch ?? (() => randomUUID().replaceAll('-', '').slice(0, 12));
    this.#idleChannelTtl = options.idleChannelTtl ?? 3_600_000;
    const timeout = options.commandTimeout ?? 5_000;
    const send: SendCommand = (args) => this.#client.send(args, timeout);
    this.#scripts = new ScriptRunner(send, (error) => error instanceof ErrorReply && !isTransient(error), timeout, (error) => error instanceof ClientOfflineError);
    this.#touch = new Timer(this.#clock, () => this.#touchChannels());
  }

  /** Connects (retrying until `connectTimeout`), or rejects with the reason Redis could not be reached. */
  static async connect(options: RedisBrokerOptions = {}): Promise<RedisBroker> {
    const rng = options.rng ?? systemRng;
    const backoff: BackoffOptions = {
      initialDelay: options.reconnect?.initialDelay ?? 100,
      maxDelay: options.reconnect?.maxDelay ?? 5_000,
      factor: 2,
      maxAttempts: Infinity,
      jitter: 0.5,
    };
    const settings: LinkSettings = { backoff, rng };
    const cluster = options.cluster !== undefined && options.cluster.length > 0 ? options.cluster : undefined;
    const url = options.url ?? 'redis://127.0.0.1:6379';
    const newLink = (): RedisLink => (cluster ? clusterLink(cluster, settings) : singleLink(url, settings));
    const client = newLink();
    const subscriber = newLink();
    const broker = new RedisBroker(client, subscriber, options);
    broker.#cluster = cluster !== undefined;
    broker.#watch(client, 'commands');
    broker.#watch(subscriber, 'subscriptions');
    // Connecting is I/O: it waits in real time whatever clock the broker's logic runs on.
    const clock = systemClock;
    const deadline = options.connectTimeout ?? 10_000;
    let timer: TimerHandle | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      const where = cluster ? `Redis Cluster at ${cluster.map(redactUrl).join(',')}` : `Redis at ${redactUrl(options.url)}`;
      timer = clock.setTimeout(() => reject(new Error(`${where} did not answer within ${deadline} ms`)), deadline);
    });
    try {
      await Promise.race([Promise.all([client.connect(), subscriber.connect()]), timedOut]);
      await broker.#detectFeatures(options.sharded ?? 'auto');
    } catch (error) {
      client.destroy();
      subscriber.destroy();
      throw error;
    } finally {
      if (timer !== undefined) clock.clearTimeout(timer);
    }
    broker.#scheduleTouch();
    return broker;
  }

  isReady(): boolean {
    return !this.#closed && this.#client.isReady && this.#subscriber.isReady && !this.#scripts.stalled;
  }

  /** Whether fan-out uses sharded pub/sub (Redis 7+). */
  get sharded(): boolean {
    return this.#sharded;
  }

  // ---- channels ---------------------------------------------------------------------------------

  async publish(channel: string, data: unknown, policy: HistoryPolicy, origin?: PublishOrigin): Promise<ChannelEvent> {
    const keys = this.#keys.channel(channel);
    // No age limit (Infinity) is kept as a century: Redis takes only integers.
    policy = { size: policy.size, ttl: Number.isFinite(policy.ttl) ? Math.max(0, Math.round(policy.ttl)) : CENTURY };
    const json = JSON.stringify(data ?? null);
    const strict = origin !== undefined && 'key' in origin;
    const names = origin ? [keys.meta, keys.log, 'key' in origin ? this.#keys.idempotency(channel, origin.key) : this.#keys.origin(channel, origin.session)] : [keys.meta, keys.log];
    const reply = array(
      await this.#scripts.run(scripts.PUBLISH, names, [
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
        ...this.#knownArgs(channel),
        strict ? '1' : '0',
      ]),
    );
    if (integer(reply[2]) === 2 && origin && 'key' in origin) throw new IdempotencyConflictError(origin.key);
    const event = { channel, epoch: text(reply[0]), offset: integer(reply[1]), data };
    this.#saw(channel, event);
    return event;
  }

  subscribe(channel: string, onEvent: (event: ChannelEvent) => void): Promise<Unsubscribe> {
    return this.#join(this.#channels, channel, onEvent, {
      name: this.#keys.channel(channel).events,
      parse: (message) => {
        const event = parseEvent(channel, message);
        if (event) this.#saw(channel, event);
        return event && { epoch: event.epoch, n: event.offset, value: event };
      },
      refill: async (after) => {
        const recovery = await this.recover(channel, { epoch: after.epoch, offset: after.n }, FILL_LIMIT);
        return recovery.recovered ? recovery.events.map((event) => ({ epoch: event.epoch, n: event.offset, value: event })) : undefined;
      },
      head: async () => {
        const { position } = await this.recover(channel, undefined, 0);
        return { epoch: position.epoch, n: position.offset };
      },
    });
  }

  async recover(channel: string, since: Position | undefined, limit: number): Promise<Recovery> {
    const keys = this.#keys.channel(channel);
    const reply = array(
      await this.#scripts.run(
        scripts.RECOVER,
        [keys.meta, keys.log],
        [since?.epoch ?? '', String(since?.offset ?? 0), String(limit), String(this.#clock.now()), this.#newEpoch(), String(this.#idleChannelTtl + BACKSTOP), ...this.#knownArgs(channel)],
      ),
    );
    const position = { epoch: text(reply[0]), offset: integer(reply[1]) };
    this.#saw(channel, position);
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
        scripts.REWIND,
        [keys.meta, keys.log],
        [String(count), String(this.#clock.now()), maxAgeMs === undefined ? '' : String(maxAgeMs), this.#newEpoch(), String(this.#idleChannelTtl + BACKSTOP)],
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

  async saveSession(id: string, record: SessionRecord, ttl: number): Promise<void> {
    const keys = this.#keys.session(id);
    const userJson = JSON.stringify(record.user ?? null);
    const { expiresAt, realTtl } = this.#expiry(ttl);
    const replies = record.window.replies.flatMap(([replyId, reply]) => [String(replyId), JSON.stringify(reply ?? null)]);
    await this.#scripts.run(
      scripts.SAVE_SESSION,
      [keys.record, keys.replies, keys.outboxMeta, keys.outbox],
      [userJson, String(record.window.acked), String(record.window.floor), String(this.#clock.now()), expiresAt, realTtl, String(record.sentSeq ?? 0), record.owner ?? '', record.secret ?? '', record.anonymous === true ? '1' : '0', ...replies],
    );
    await this.#index(userJson, id, expiresAt, realTtl);
  }

  async refreshSessions(ids: readonly string[], ttl: number): Promise<readonly string[]> {
    const { expiresAt, realTtl } = this.#expiry(ttl);
    const now = String(this.#clock.now());
    const missing: string[] = [];
    await Promise.all(
      ids.map(async (id) => {
        const keys = this.#keys.session(id);
        const reply = await this.#scripts.run(scripts.TOUCH_SESSION, [keys.record, keys.replies, keys.outboxMeta, keys.outbox], [now, expiresAt, realTtl]);
        if (reply === null) {
          missing.push(id);
          return;
        }
        const [user, until] = array(reply);
        await this.#index(text(user), id, text(until), realTtl);
      }),
    );
    return missing;
  }

  async recordReply(session: string, id: number, reply: unknown, capacity: number): Promise<void> {
    const keys = this.#keys.session(session);
    await this.#scripts.run(scripts.RECORD_REPLY, [keys.record, keys.replies], [String(id), JSON.stringify(reply ?? null), String(capacity), String(this.#clock.now())]);
  }

  async loadSession(id: string): Promise<SessionRecord | undefined> {
    const keys = this.#keys.session(id);
    const reply = await this.#scripts.run(scripts.LOAD_SESSION, [keys.record, keys.replies], [String(this.#clock.now())]);
    if (reply === null) return undefined;
    const [user, acked, floor, members, owner, secret, anonymous] = array(reply);
    const replies = array(members).map((member) => {
      const [replyId, json] = splitMember(text(member));
      return [replyId, JSON.parse(json) as unknown] as const;
    });
    const stored = optionalText(owner);
    const digest = optionalText(secret);
    return {
      user: JSON.parse(text(user)) as unknown,
      window: { acked: integer(acked), floor: integer(floor), replies },
      ...(stored === undefined ? {} : { owner: stored }),
      ...(digest === undefined ? {} : { secret: digest, anonymous: optionalText(anonymous) === '1' }),
    };
  }

  async claimRequest(session: string, id: number, ttl: number): Promise<boolean> {
    const key = this.#keys.session(session).claim(id);
    const reply = await this.#scripts.run(scripts.CLAIM, [key], [String(this.#clock.now()), String(this.#clock.now() + ttl), String(ttl + BACKSTOP)]);
    return integer(reply) === 1;
  }

  async deleteSession(id: string): Promise<void> {
    const keys = this.#keys.session(id);
    const user = optionalText(await this.#send(['HGET', keys.record, 'u']));
    await this.#send(['DEL', keys.record, keys.replies, keys.outboxMeta, keys.outbox]);
    if (user !== undefined) await this.#send(['ZREM', this.#keys.user(user), id]);
  }

  async sessionsOf(user: unknown): Promise<readonly string[]> {
    const reply = await this.#send(['ZRANGEBYSCORE', this.#keys.user(JSON.stringify(user ?? null)), String(this.#clock.now()), '+inf']);
    return array(reply).map(text);
  }

  // ---- direct messages --------------------------------------------------------------------------

  async sendDirect(session: string, data: unknown, ttl: number): Promise<DirectMessage> {
    const keys = this.#keys.session(session);
    const seq = await this.#scripts.run(
      scripts.SEND_DIRECT,
      [keys.outboxMeta, keys.outbox],
      [JSON.stringify(data ?? null), String(this.#clock.now()), String(ttl), String(ttl + BACKSTOP), this.#sharded ? 'SPUBLISH' : 'PUBLISH', keys.direct],
    );
    return { seq: integer(seq), data };
  }

  async pendingDirect(session: string, afterSeq: number): Promise<readonly DirectMessage[]> {
    const keys = this.#keys.session(session);
    const reply = await this.#scripts.run(scripts.PENDING_DIRECT, [keys.outboxMeta, keys.outbox], [String(afterSeq), String(this.#clock.now())]);
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
    return this.#join(this.#direct, session, onMessage, {
      name: keys.direct,
      parse: (payload) => {
        const message = parseDirect(payload);
        return message && { epoch: '', n: message.seq, value: message };
      },
      refill: async (after) => (await this.pendingDirect(session, after.n)).map((message) => ({ epoch: '', n: message.seq, value: message })),
      // The last seq issued: what the session's client was (or is being) sent.
      head: async () => {
        const last = await this.#send(['HGET', keys.outboxMeta, 'n']);
        return { epoch: '', n: last === null ? 0 : integer(last) };
      },
    });
  }

  // ---- presence ---------------------------------------------------------------------------------

  async presenceJoin(channel: string, member: PresenceMember, ttl: number): Promise<boolean> {
    const keys = this.#keys.presence(channel);
    const now = this.#clock.now();
    const reply = await this.#scripts.run(scripts.PRESENCE_JOIN, [keys.members, keys.data], [member.client, JSON.stringify(member), String(now + ttl), String(ttl + BACKSTOP), String(now)]);
    return integer(reply) === 1;
  }

  async presenceLeave(channel: string, client: string, connection?: string): Promise<boolean> {
    const keys = this.#keys.presence(channel);
    return integer(await this.#scripts.run(scripts.PRESENCE_LEAVE, [keys.members, keys.data], [client, connection ?? ''])) === 1;
  }

  async presence(channel: string): Promise<readonly PresenceMember[]> {
    const keys = this.#keys.presence(channel);
    const reply = await this.#scripts.run(scripts.PRESENCE_LIST, [keys.members, keys.data], [String(this.#clock.now())]);
    const members: PresenceMember[] = [];
    for (const json of array(reply)) {
      if (typeof json === 'string') members.push(JSON.parse(json) as PresenceMember);
    }
    return members;
  }

  // ---- control ----------------------------------------------------------------------------------

  async broadcast(notice: ControlNotice): Promise<void> {
    // Plain pub/sub: a Redis Cluster carries it to every node's subscribers.
    await this.#send(['PUBLISH', this.#keys.control, JSON.stringify(notice)]);
  }

  async onBroadcast(listener: (notice: ControlNotice) => void): Promise<Unsubscribe> {
    const name = this.#keys.control;
    const heard = (message: string | Buffer): void => {
      const notice = parseNotice(String(message));
      if (notice) deliver(listener, notice);
    };
    if (!this.#subscriber.isReady) throw new BrokerUnavailableError('Redis is unreachable: the subscriber connection is down', false);
    await this.#subscriber.subscribe(name, heard, false);
    return () => this.#subscriber.unsubscribe(name, heard, false);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#touch.stop();
    this.#channels.clear();
    this.#direct.clear();
    await Promise.allSettled([this.#client.close(), this.#subscriber.close()]);
    this.#client.destroy();
    this.#subscriber.destroy();
  }

  // ---- internals --------------------------------------------------------------------------------

  /** The furthest position this node has seen on `channel`, as script arguments (epoch, offset). */
  #knownArgs(channel: string): [string, string] {
    const known = this.#known.get(channel);
    return known ? [known.epoch, String(known.offset)] : ['', '0'];
  }

  /**
   * Remembers the furthest position seen on a channel (bounded: the oldest are forgotten), so
   * Redis answering with a head behind it (data gone back) is caught by the scripts.
   */
  #saw(channel: string, position: Position): void {
    const known = this.#known.get(channel);
    if (known !== undefined && known.epoch === position.epoch && known.offset >= position.offset) return;
    this.#known.delete(channel);
    this.#known.set(channel, { epoch: position.epoch, offset: position.offset });
    if (this.#known.size > KNOWN_LIMIT) this.#known.delete(this.#known.keys().next().value ?? channel);
  }

  #send(args: readonly string[]): Promise<unknown> {
    return this.#scripts.send(args);
  }

  /** Logical expiry (on the injected clock) and the real key ttl that backs it up. */
  #expiry(ttl: number): { readonly expiresAt: string; readonly realTtl: string } {
    if (!Number.isFinite(ttl)) return { expiresAt: 'inf', realTtl: '' };
    return { expiresAt: String(this.#clock.now() + ttl), realTtl: String(Math.ceil(ttl) + BACKSTOP) };
  }

  /** Adds a session to its user's index (scored by expiry) and drops the index's expired members. */
  async #index(userJson: string, id: string, expiresAt: string, realTtl: string): Promise<void> {
    const key = this.#keys.user(userJson);
    await this.#scripts.run(scripts.INDEX_SESSION, [key], [expiresAt === 'inf' ? '+inf' : expiresAt, id, String(this.#clock.now()), realTtl]);
  }

  /**
   * Adds `listener` to this node's feed `key` in `feeds`, subscribing to its pub/sub channel on
   * first use. The feed starts from the source's head, so an item missed before the first one
   * arrives is a visible gap, filled from the durable copy; the last listener's leaving ends it.
   */
  async #join<V>(feeds: Map<string, Feed<V>>, key: string, listener: (value: V) => void, source: FeedSource<V>): Promise<Unsubscribe> {
    let feed = feeds.get(key);
    if (!feed) {
      const listeners = new Set<(value: V) => void>();
      const order = new OrderedFeed<Item<V>>(source.refill, (item) => {
        for (const each of listeners) deliver(each, item.value);
      });
      const created: Feed<V> = { listeners, order, ready: Promise.resolve() };
      created.ready = this.#listen(source.name, (message) => {
        const item = source.parse(message);
        if (item) order.push(item);
      })
        .then(async () => order.startAt(await source.head()))
        .catch(async (error: unknown) => {
          if (feeds.get(key) === created) {
            feeds.delete(key);
            await this.#unlisten(source.name).catch(() => undefined);
          }
          throw error;
        });
      feeds.set(key, created);
      feed = created;
    }
    feed.listeners.add(listener);
    const joined = feed;
    try {
      await joined.ready;
    } catch (error) {
      joined.listeners.delete(listener);
      throw error;
    }
    return async () => {
      joined.listeners.delete(listener);
      if (joined.listeners.size > 0 || feeds.get(key) !== joined) return;
      feeds.delete(key);
      await this.#unlisten(source.name);
    };
  }

  async #listen(name: string, onMessage: (message: string) => void): Promise<void> {
    // The client would queue a subscribe while disconnected; fail at once like every other call.
    if (!this.#subscriber.isReady) throw new BrokerUnavailableError('Redis is unreachable: the subscriber connection is down', false);
    const listener = (message: string | Buffer): void => onMessage(String(message));
    this.#listeners.set(name, listener);
    try {
      await this.#subscriber.subscribe(name, listener, this.#sharded);
    } catch (error) {
      throw new BrokerUnavailableError(`Redis is unreachable: ${error instanceof Error ? error.message : String(error)}`, true, { cause: error });
    }
  }

  /**
   * Ends this node's subscription to `name`. The listener is named, so a subscribe racing the
   * unsubscribe's reply gets its own subscription instead of losing its listener with the old one.
   */
  async #unlisten(name: string): Promise<void> {
    const listener = this.#listeners.get(name);
    if (listener === undefined) return;
    this.#listeners.delete(name);
    if (!this.#subscriber.isReady) {
      // The client restores subscriptions on reconnect: this one is ended then.
      this.#orphans.set(name, listener);
      return;
    }
    await this.#subscriber.unsubscribe(name, listener, this.#sharded);
  }

  /** Ends the subscriptions given up while the connection was down (restored by the reconnect). */
  #dropOrphans(): void {
    for (const [name, listener] of this.#orphans) {
      this.#orphans.delete(name);
      const ended = this.#subscriber.unsubscribe(name, listener, this.#sharded);
      ended.catch(() => this.#orphans.set(name, listener));
    }
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

  /** Logs connection loss and return once each; on return, subscribed feeds fetch what they missed. */
  #watch(client: RedisLink, role: string): void {
    client.on('lost', (error: unknown) => {
      if (this.#closed) return;
      if (!this.#lost) this.#log?.warn({ err: error, role }, 'Redis connection lost; retrying with backoff');
      this.#lost = true;
    });
    client.on('restored', () => {
      // In a Cluster a node's new connection may carry subscriptions moved to it (resharding,
      // failover): what was published meanwhile is fetched, lost connection or not.
      if ((!this.#lost && !this.#cluster) || this.#closed || !this.isReady()) return;
      if (this.#lost) this.#log?.info('Redis connection restored');
      this.#lost = false;
      this.#dropOrphans();
      for (const feed of this.#channels.values()) void feed.order.resync();
      for (const feed of this.#direct.values()) void feed.order.resync();
    });
  }

  #scheduleTouch(): void {
    if (!this.#closed) this.#touch.start(Math.min(300_000, Math.max(1_000, this.#idleChannelTtl / 4)));
  }

  /** A node subscribed to a quiet channel keeps its history (and epoch) from expiring as idle. */
  #touchChannels(): void {
    const idle = String(this.#idleChannelTtl + BACKSTOP);
    for (const channel of this.#channels.keys()) {
      const keys = this.#keys.channel(channel);
      void this.#scripts.run(scripts.TOUCH_CHANNEL, [keys.meta, keys.log], [idle, String(BACKSTOP)]).catch(() => undefined);
    }
    this.#scheduleTouch();
  }
}

/**
 * Errors a Redis (Cluster) node answers while its slots move or its primary fails over: the
 * command did nothing, and the same call later may well succeed, so the caller sees "unavailable".
 */
function isTransient(error: ErrorReply): boolean {
  return /^(TRYAGAIN|CLUSTERDOWN|READONLY|MASTERDOWN|LOADING|MOVED|ASK) /.test(error.message);
}

function parseEvent(channel: string, message: string): ChannelEvent | undefined {
  const first = message.indexOf(' ');
  const second = message.indexOf(' ', first + 1);
  if (first < 0 || second < 0) return undefined;
  const offset = Number(message.slice(first + 1, second));
  if (!Number.isSafeInteger(offset)) return undefined;
  return { channel, epoch: message.slice(0, first), offset, data: JSON.parse(message.slice(second + 1)) as unknown };
}

function parseDirect(message: string): DirectMessage | undefined {
  const space = message.indexOf(' ');
  const seq = Number(message.slice(0, space));
  if (space < 0 || !Number.isSafeInteger(seq)) return undefined;
  return { seq, data: JSON.parse(message.slice(space + 1)) as unknown };
}

/** A control notice as another node sent it; anything else (a foreign publisher) is ignored. */
function parseNotice(message: string): ControlNotice | undefined {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const notice = value as Record<string, unknown>;
  const textOf = (key: string): boolean => typeof notice[key] === 'string';
  if (notice.kind === 'disconnect-user' && textOf('user') && textOf('reason')) return value as ControlNotice;
  if (notice.kind === 'disconnect-session' && textOf('session') && textOf('reason')) return value as ControlNotice;
  if (notice.kind === 'takeover' && textOf('session') && textOf('connection')) return value as ControlNotice;
  return undefined;
}

/** A listener's failure is its own: it never stops delivery to the others. */
function deliver<T>(listener: (value: T) => void, value: T): void {
  try {
    listener(value);
  } catch {
    // The node-side listener guards its own work.
  }
}

/** The URL without its password, for messages. */
function redactUrl(url: string | undefined): string {
  if (url === undefined) return 'redis://127.0.0.1:6379';
  if (!url.includes('://')) return url;
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the given URL';
  }
}
