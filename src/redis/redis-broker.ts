import { randomUUID } from 'node:crypto';
import { ClientOfflineError, createClient, ErrorReply } from '@redis/client';
import type { Logger } from 'pino';
import type { Broker, ChannelEvent, DirectMessage, HistoryPolicy, PresenceMember, PublishOrigin, Recovery, SessionRecord, Unsubscribe } from '../broker/broker.js';
import { backoffCeiling, jittered, type BackoffOptions } from '../core/backoff.js';
import { systemClock, systemRng, type Clock, type Rng, type TimerHandle } from '../core/clock.js';
import { BrokerUnavailableError } from '../core/errors.js';
import type { Position } from '../core/position.js';
import { Timer } from '../core/timer.js';
import { RedisKeys } from './keys.js';
import { OrderedFeed, type Numbered } from './ordered-feed.js';
import { array, integer, optionalText, parseEntry, splitMember, text } from './replies.js';
import * as scripts from './scripts.js';
import { ScriptRunner, type SendCommand } from './script-runner.js';

export interface RedisBrokerOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://` for TLS. Default `redis://127.0.0.1:6379`. */
  readonly url?: string;
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

/** One connection, RESP2, failing fast while disconnected (no offline queue), reconnecting with jittered backoff. */
function newClient(url: string, backoff: BackoffOptions, rng: Rng) {
  return createClient({
    url,
    RESP: 2,
    disableOfflineQueue: true,
    socket: { connectTimeout: 5_000, reconnectStrategy: (retries: number) => Math.round(jittered(backoff, backoffCeiling(backoff, retries + 1), rng)) },
  });
}

type Client = ReturnType<typeof newClient>;

/** Real key expiry outlives logical expiry by this much, so clock skew between nodes cannot cut a record short, ms. */
const BACKSTOP = 5_000;
/** Stands for "no age limit" in Redis, ms. */
const CENTURY = 100 * 365 * 24 * 3_600_000;
/** The most events fetched to fill a gap in a node's feed; a larger gap is a resync for its clients. */
const FILL_LIMIT = 10_000;

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
  readonly #client: Client;
  readonly #subscriber: Client;
  readonly #keys: RedisKeys;
  readonly #scripts: ScriptRunner;
  readonly #clock: Clock;
  readonly #log: Logger | undefined;
  readonly #newEpoch: () => string;
  readonly #idleChannelTtl: number;
  readonly #channels = new Map<string, Feed<ChannelEvent>>();
  readonly #direct = new Map<string, Feed<DirectMessage>>();
  readonly #touch: Timer;
  /** This node's pub/sub listener per Redis channel name. */
  readonly #listeners = new Map<string, (message: string) => void>();
  /** Listeners given up while disconnected, to unsubscribe once connected again. */
  readonly #orphans = new Map<string, (message: string) => void>();
  #sharded = false;
  #lost = false;
  #closed = false;

  private constructor(client: Client, subscriber: Client, options: RedisBrokerOptions) {
    this.#client = client;
    this.#subscriber = subscriber;
    this.#keys = new RedisKeys(options.prefix ?? 'lifeline:');
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger;
    this.#newEpoch = options.newEpoch ?? (() => randomUUID().replaceAll('-', '').slice(0, 12));
    this.#idleChannelTtl = options.idleChannelTtl ?? 3_600_000;
    const timeout = options.commandTimeout ?? 5_000;
    const send: SendCommand = (args) => this.#client.sendCommand(args, { timeout });
    this.#scripts = new ScriptRunner(send, (error) => error instanceof ErrorReply, timeout, (error) => error instanceof ClientOfflineError);
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
    const url = options.url ?? 'redis://127.0.0.1:6379';
    const client = newClient(url, backoff, rng);
    const subscriber = newClient(url, backoff, rng);
    const broker = new RedisBroker(client, subscriber, options);
    broker.#watch(client, 'commands');
    broker.#watch(subscriber, 'subscriptions');
    // Connecting is I/O: it waits in real time whatever clock the broker's logic runs on.
    const clock = systemClock;
    const deadline = options.connectTimeout ?? 10_000;
    let timer: TimerHandle | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = clock.setTimeout(() => reject(new Error(`Redis at ${redactUrl(options.url)} did not answer within ${deadline} ms`)), deadline);
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
    const names = origin ? [keys.meta, keys.log, this.#keys.origin(channel, origin.session)] : [keys.meta, keys.log];
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
        origin ? String(origin.id) : '',
        origin ? String(origin.ttl + BACKSTOP) : '',
        origin ? String(this.#clock.now() + origin.ttl) : '',
      ]),
    );
    return { channel, epoch: text(reply[0]), offset: integer(reply[1]), data };
  }

  subscribe(channel: string, onEvent: (event: ChannelEvent) => void): Promise<Unsubscribe> {
    return this.#join(this.#channels, channel, onEvent, {
      name: this.#keys.channel(channel).events,
      parse: (message) => {
        const event = parseEvent(channel, message);
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
        [since?.epoch ?? '', String(since?.offset ?? 0), String(limit), String(this.#clock.now()), this.#newEpoch(), String(this.#idleChannelTtl + BACKSTOP)],
      ),
    );
    const position = { epoch: text(reply[0]), offset: integer(reply[1]) };
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
      [userJson, String(record.window.acked), String(record.window.floor), String(this.#clock.now()), expiresAt, realTtl, String(record.sentSeq ?? 0), record.owner ?? '', ...replies],
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
    const [user, acked, floor, members, owner] = array(reply);
    const replies = array(members).map((member) => {
      const [replyId, json] = splitMember(text(member));
      return [replyId, JSON.parse(json) as unknown] as const;
    });
    const stored = optionalText(owner);
    return { user: JSON.parse(text(user)) as unknown, window: { acked: integer(acked), floor: integer(floor), replies }, ...(stored === undefined ? {} : { owner: stored }) };
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

  async presenceJoin(channel: string, member: PresenceMember, ttl: number): Promise<void> {
    const keys = this.#keys.presence(channel);
    const expiresAt = this.#clock.now() + ttl;
    await this.#scripts.run(scripts.PRESENCE_JOIN, [keys.members, keys.data], [member.client, JSON.stringify(member), String(expiresAt), String(ttl + BACKSTOP)]);
  }

  async presenceLeave(channel: string, client: string): Promise<void> {
    const keys = this.#keys.presence(channel);
    await Promise.all([this.#send(['ZREM', keys.members, client]), this.#send(['HDEL', keys.data, client])]);
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
    const listener = (message: string): void => onMessage(message);
    this.#listeners.set(name, listener);
    try {
      if (this.#sharded) await this.#subscriber.sSubscribe(name, listener);
      else await this.#subscriber.subscribe(name, listener);
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
    if (this.#sharded) await this.#subscriber.sUnsubscribe(name, listener);
    else await this.#subscriber.unsubscribe(name, listener);
  }

  /** Ends the subscriptions given up while the connection was down (restored by the reconnect). */
  #dropOrphans(): void {
    for (const [name, listener] of this.#orphans) {
      this.#orphans.delete(name);
      const ended = this.#sharded ? this.#subscriber.sUnsubscribe(name, listener) : this.#subscriber.unsubscribe(name, listener);
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
  #watch(client: Client, role: string): void {
    client.on('error', (error: unknown) => {
      if (this.#closed) return;
      if (!this.#lost) this.#log?.warn({ err: error, role }, 'Redis connection lost; retrying with backoff');
      this.#lost = true;
    });
    client.on('ready', () => {
      if (!this.#lost || this.#closed || !this.isReady()) return;
      this.#lost = false;
      this.#log?.info('Redis connection restored');
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
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the given URL';
  }
}
