import { DisconnectsClientError } from '@redis/client';
import { Listeners } from '../broker/listeners.js';
import type { Unsubscribe } from '../broker/broker.js';
import type { Clock } from '../core/clock.js';
import { BrokerUnavailableError } from '../core/errors.js';
import { answeredWithin } from './answered-within.js';
import { OrderedFeed, type Numbered } from './ordered-feed.js';
import type { MessageListener, RedisLink } from './redis-link.js';

/** A channel event or a direct message with its place in its sequence. */
export interface Item<V> extends Numbered {
  readonly value: V;
}

/** Where a feed's items come from. */
export interface FeedSource<V> {
  /** The pub/sub channel carrying new items. */
  readonly name: string;
  parse(message: string): Item<V> | undefined;
  /** The durable copy: what came after `after`, or undefined when it is gone. */
  refill(after: Numbered): Promise<readonly Item<V>[] | undefined>;
  /** Where the sequence stands now (the feed starts there). */
  head(): Promise<Numbered>;
  /** Where the sequence stands now, read with one cheap command and no side effect; undefined when unknown. */
  tail(): Promise<Numbered | undefined>;
}

/** This node's subscription to one sequence (a channel's events, a session's direct messages). */
interface Feed<V> {
  /** The pub/sub channel it listens to. */
  readonly name: string;
  readonly listeners: Listeners<V>;
  readonly order: OrderedFeed<Item<V>>;
  readonly tail: () => Promise<Numbered | undefined>;
  ready: Promise<void>;
  /** When an item was last heard on the pub/sub channel (or the tail last read), on the clock. */
  heard: number;
}

/**
 * One kind of this node's pub/sub feeds (channels, or sessions' direct messages), keyed by what
 * they follow: one Redis subscription per key however many listeners it has, its items in
 * order and without holes (see {@link OrderedFeed}).
 */
export class Feeds<V> {
  readonly #feeds = new Map<string, Feed<V>>();

  constructor(
    private readonly pubsub: PubSub,
    private readonly clock: Clock,
    /** How long a gap whose refill fails is retried, ms (see {@link OrderedFeed}). */
    private readonly gapRetry: number,
  ) {}

  /** The keys followed now. */
  keys(): IterableIterator<string> {
    return this.#feeds.keys();
  }

  /** The last item `key`'s feed delivered, if it is followed and has one. */
  last(key: string): Numbered | undefined {
    return this.#feeds.get(key)?.order.last;
  }

  /**
   * Adds `listener` to the feed `key`, subscribing to its pub/sub channel on first use. The
   * feed starts from the source's head, so an item missed before the first one arrives is a
   * visible gap, filled from the durable copy; the last listener's leaving ends it.
   */
  async join(key: string, listener: (value: V) => void, source: FeedSource<V>): Promise<Unsubscribe> {
    const feeds = this.#feeds;
    let feed = feeds.get(key);
    if (!feed) {
      const listeners = new Listeners<V>();
      const order = new OrderedFeed<Item<V>>(
        source.refill,
        (item) => listeners.deliver(item.value),
        { clock: this.clock, retryFor: this.gapRetry },
      );
      const created: Feed<V> = { name: source.name, listeners, order, tail: source.tail, ready: Promise.resolve(), heard: this.clock.now() };
      created.ready = this.pubsub
        .listen(source.name, (message) => {
          created.heard = this.clock.now();
          const item = source.parse(message);
          if (item) order.push(item);
        })
        .then(async () => order.startAt(await source.head()))
        .catch(async (error: unknown) => {
          if (feeds.get(key) === created) {
            feeds.delete(key);
            order.close();
            await this.pubsub.unlisten(source.name).catch(() => undefined);
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
      joined.order.close();
      await this.pubsub.unlisten(source.name);
    };
  }

  /**
   * After a lost connection or a topology change: each feed subscribes again (in a Cluster the
   * subscription goes to the node serving its channel now; where it is in place already this
   * is answered at once), and only once that subscription is confirmed fetches what it missed
   * since its last item. Reading the durable copy before would leave a silent gap: what is
   * published between that read and the subscription reaching the new node would show only
   * with the channel's next item.
   */
  recheck(): void {
    for (const feed of this.#feeds.values()) {
      void this.pubsub
        .relisten(feed.name)
        .catch(() => undefined)
        .then(() => feed.order.resync());
    }
  }

  /**
   * Each feed that heard nothing for `quietFor` ms reads where its source stands (one cheap
   * command each, all sent at once: the client pipelines them per Redis node) and, when the
   * source is past its last item, fetches what it missed. This bounds the one silent loss
   * pub/sub has no signal for: a subscription the client library moved to another node
   * (a Cluster resharding) without a new connection, while items were published.
   */
  checkQuiet(quietFor: number): void {
    const now = this.clock.now();
    for (const feed of this.#feeds.values()) {
      if (now - feed.heard < quietFor || feed.order.last === undefined) continue;
      feed.heard = now;
      void feed
        .tail()
        .then((tail) => (tail === undefined ? undefined : feed.order.catchUp(tail)))
        .catch(() => undefined);
    }
  }

  /** Forgets every feed (the broker closes). */
  clear(): void {
    for (const feed of this.#feeds.values()) feed.order.close();
    this.#feeds.clear();
  }
}

/** This node's pub/sub subscriptions on its subscriber connection, one listener per Redis channel. */
export class PubSub {
  /** This node's pub/sub listener per Redis channel name. */
  readonly #listeners = new Map<string, MessageListener>();
  /** Listeners given up while disconnected, to unsubscribe once connected again. */
  readonly #orphans = new Map<MessageListener, { readonly name: string; readonly sharded: boolean }>();

  constructor(
    private readonly subscriber: RedisLink,
    /** Whether channels are sharded (SSUBSCRIBE). */
    private readonly sharded: () => boolean,
    /** A subscribe not confirmed within this fails as unavailable (the broker's `commandTimeout`), ms. */
    private readonly timeout: number,
    /** Told of an error a message's handler threw (caught here, see {@link #guard}). */
    private readonly onError: (error: unknown, name: string) => void,
  ) {}

  async listen(name: string, onMessage: (message: string) => void): Promise<void> {
    this.#checkReady();
    const listener = this.#guard(name, onMessage);
    this.#listeners.set(name, listener);
    await this.#subscribe(name, listener, this.sharded());
  }

  /**
   * One more listener on `name`, outside the one-per-channel map (the control channel, which
   * every node hears unsharded); returns its unsubscribe, which works while disconnected too.
   */
  async add(name: string, onMessage: (message: string) => void, sharded: boolean): Promise<() => Promise<void>> {
    this.#checkReady();
    const listener = this.#guard(name, onMessage);
    await this.#subscribe(name, listener, sharded);
    return () => this.#end(name, listener, sharded);
  }

  /**
   * `onMessage` as the client's listener, never throwing: a throw inside the client's data
   * handler resets its decoder, so every later message on the connection would be dropped.
   */
  #guard(name: string, onMessage: (message: string) => void): MessageListener {
    return (message) => {
      try {
        onMessage(String(message));
      } catch (error) {
        this.onError(error, name);
      }
    };
  }

  /** The client would queue a subscribe while disconnected; fail at once like every other call. */
  #checkReady(): void {
    if (!this.subscriber.isReady) throw new BrokerUnavailableError('Redis is unreachable: the subscriber connection is down', false);
  }

  async #subscribe(name: string, listener: MessageListener, sharded: boolean): Promise<void> {
    try {
      await answeredWithin(this.subscriber.subscribe(name, listener, sharded), this.timeout);
    } catch (error) {
      throw unanswered(error, 'subscribe');
    }
  }

  /** Subscribes again to `name` with its listener (no-op if not listened to). See {@link Feeds.recheck}. */
  async relisten(name: string): Promise<void> {
    const listener = this.#listeners.get(name);
    if (listener === undefined || !this.subscriber.isReady) return;
    await answeredWithin(this.subscriber.subscribe(name, listener, this.sharded()), this.timeout);
  }

  /**
   * Ends this node's subscription to `name`. The listener is named, so a subscribe racing the
   * unsubscribe's reply gets its own subscription instead of losing its listener with the old one.
   */
  async unlisten(name: string): Promise<void> {
    const listener = this.#listeners.get(name);
    if (listener === undefined) return;
    this.#listeners.delete(name);
    await this.#end(name, listener, this.sharded());
  }

  async #end(name: string, listener: MessageListener, sharded: boolean): Promise<void> {
    if (!this.subscriber.isReady) {
      // The client restores subscriptions on reconnect: this one is ended then.
      this.#orphans.set(listener, { name, sharded });
      return;
    }
    try {
      await answeredWithin(this.subscriber.unsubscribe(name, listener, sharded), this.timeout);
    } catch (error) {
      // Not confirmed (Redis hangs): ended once more after the next reconnect.
      this.#orphans.set(listener, { name, sharded });
      throw unanswered(error, 'unsubscribe');
    }
  }

  /** Ends the subscriptions given up while the connection was down (restored by the reconnect). */
  dropOrphans(): void {
    for (const [listener, orphan] of this.#orphans) {
      this.#orphans.delete(listener);
      const ended = this.subscriber.unsubscribe(orphan.name, listener, orphan.sharded);
      ended.catch(() => this.#orphans.set(listener, orphan));
    }
  }
}

/** A subscribe or unsubscribe Redis did not confirm, as the broker's unavailable error (it was sent). */
function unanswered(error: unknown, what: string): BrokerUnavailableError {
  // Cut short by the connection's close before its timeout.
  if (error instanceof DisconnectsClientError) return new BrokerUnavailableError(`the broker was closed before Redis answered the ${what}`, true, { cause: error });
  return new BrokerUnavailableError(`Redis is unreachable: ${error instanceof Error ? error.message : String(error)}`, true, { cause: error });
}
