import { backoffCeiling, jittered } from '../core/backoff.js';
import type { Clock } from '../core/clock.js';
import type { SendRetry } from './outbox.js';
import { isAfter, type Position } from '../core/position.js';
import type { Rewind, RewindSpec } from '../core/rewind.js';
import { Timer } from '../core/timer.js';
import { lifelineEvent } from './events.js';
import { notSubscribed, type ReplyError } from './reply-error.js';
import { TypedEventTarget } from './typed-event-target.js';
import { Waiters, type WaitOptions } from './waiters.js';
import type { RequestOptions } from './lifeline-client-types.js';

/**
 * A subscription's states. It is `subscribing` until the server confirms, `subscribed` while
 * events flow, back to `subscribing` while the client reconnects, and `unsubscribed` for good
 * once the app unsubscribes, the server refuses it for good, or the client is closed. A
 * transient refusal (`unavailable`, `failed`) keeps it `subscribing`: it is tried again with
 * backoff (`retry` says which attempt and after how long), from its last position.
 *
 *   unsubscribed ──subscribe()──> subscribing ──subscribed──> subscribed
 *                                   ^  │   ^                     │
 *                 retry timer fired └──┘   └──── link lost ──────┘
 *                 (after `unavailable`/`failed`)
 *   subscribing, subscribed ──permanent refusal / unsubscribe() / close()──> unsubscribed (final)
 */
export type SubscriptionState = 'unsubscribed' | 'subscribing' | 'subscribed';

/** Who is in a channel with presence on: a session id and the user the server authenticated. */
export interface PresenceMember {
  readonly client: string;
  readonly user?: unknown;
}

/** `event`: one channel event, delivered once and in order (replays after a reconnect included). */
export type ChannelEventEvent = Event & { readonly data: unknown; readonly position: Position };
/**
 * `subscribed`: the server confirmed, after every (re)subscribe. `recovered: false` means events
 * were missed (gap beyond history, or the channel's epoch changed): reload the channel's state,
 * then continue from `position`.
 */
export type SubscribedEvent = Event & { readonly recovered: boolean; readonly position: Position };
/** `state`: every state move. */
export type SubscriptionStateEvent = Event & { readonly from: SubscriptionState; readonly to: SubscriptionState };
/** `presence`: someone joined or left the channel. */
export type PresenceEvent = Event & { readonly action: 'join' | 'leave'; readonly member: PresenceMember };
/** `error`: the server refused the subscription for good (the subscription has ended). */
export type SubscriptionErrorEvent = Event & { readonly error: ReplyError };
/** `retrying`: the server refused for now (`error.code` `unavailable` or `failed`); attempt `attempt` goes out in `delayMs`. */
export type SubscriptionRetryEvent = Event & { readonly attempt: number; readonly delayMs: number; readonly error: ReplyError };
/** `caughtup`: the subscription holds every event up to the channel's head as the server confirmed it (`position`); live events follow. */
export type CaughtUpEvent = Event & { readonly position: Position };

/** The retry under way after a transient refusal. */
export interface SubscriptionRetry {
  /** 1 for the first retry, growing until the subscription is confirmed (then `retry` is undefined). */
  readonly attempt: number;
  /** How long the client waits before this attempt, ms. */
  readonly delayMs: number;
  /** The refusal that caused it. */
  readonly error: ReplyError;
}

export interface SubscriptionEventMap {
  event: ChannelEventEvent;
  subscribed: SubscribedEvent;
  state: SubscriptionStateEvent;
  presence: PresenceEvent;
  error: SubscriptionErrorEvent;
  retrying: SubscriptionRetryEvent;
  caughtup: CaughtUpEvent;
}

/** Listeners to add at `subscribe()`, by event name. */
export type SubscriptionHandlers = { readonly [K in keyof SubscriptionEventMap]?: (event: SubscriptionEventMap[K]) => void };

/**
 * `subscribe()`'s second argument: listeners, and for a new subscription how far back to look.
 * `rewind: 50` delivers the channel's last 50 events (those still in history), `rewind: '2m'`
 * those of the last two minutes (`ms`, `s`, `m`, `h`), as `event`s before `subscribed`, each
 * with its position; reconnects then recover from there, so none comes twice.
 */
export type SubscribeOptions = SubscriptionHandlers & { readonly rewind?: RewindSpec };

/** What a subscription asks of its client. */
export interface SubscriptionHost {
  unsubscribe(subscription: Subscription): void;
  presence(subscription: Subscription, signal?: AbortSignal): Promise<readonly PresenceMember[]>;
  /** Sends a subscribe (if it is still the channel's subscription and the link is live): a retry fell due. */
  subscribe(subscription: Subscription): void;
  /** How a subscription refused for now is tried again (the same schedule resends publishes and requests, see {@link SendRetry}). */
  readonly retry: SendRetry & { readonly clock: Clock };
}

/**
 * One channel of a {@link LifelineClient}: its events in order, each once, across reconnects,
 * with `recovered` after every (re)subscribe. Made by `client.subscribe()`, never directly.
 *
 * @example
 * const room = client.subscribe('chat:room-1', { event: (e) => render(e.data) });
 * room.addEventListener('subscribed', (e) => { if (!e.recovered) reloadRoom(); });
 * await room.ready();
 */
export class Subscription extends TypedEventTarget<SubscriptionEventMap> {
  /** Moved only by #move, along the diagram above (not checked at run time: a checker costs bytes in every browser bundle). */
  #state: SubscriptionState = 'unsubscribed';
  #position: Position | undefined;
  #confirmed: SubscribedEvent | undefined;
  #retry: SubscriptionRetry | undefined;
  /** Callers of `ready()`: resolved at the next `subscribed`, rejected if it ends first. */
  readonly #waiters = new Waiters<SubscribedEvent>();
  /** Events that came before the first `subscribed` of a rewinding subscription (since its latest subscribe went out). */
  #rewound: { data: unknown; position: Position }[] = [];
  /** After a transient refusal: the attempt count (kept until it is confirmed) and the timer of the next attempt. */
  #attempt = 0;
  #timer: Timer | undefined;
  readonly #host: SubscriptionHost;

  constructor(
    readonly channel: string,
    host: SubscriptionHost,
    /** How far back the first subscribe looks (sent while no position is held). */
    readonly rewind?: Rewind,
  ) {
    super();
    this.#host = host;
  }

  get state(): SubscriptionState {
    return this.#state;
  }

  /** The last position this subscription holds (sent as `since` on a resubscribe). */
  get position(): Position | undefined {
    return this.#position;
  }

  /** The retry under way after a transient refusal (the state is `subscribing`), else undefined. */
  get retry(): SubscriptionRetry | undefined {
    return this.#retry;
  }

  /**
   * True while `subscribed`: every event up to the channel's head (as of the server's
   * `subscribed`) has been delivered, the replay included, and live events follow. False while
   * (re)subscribing. A `caughtup` event marks each time it becomes true.
   */
  get caughtUp(): boolean {
    return this.#state === 'subscribed';
  }

  /**
   * Resolves at the next `subscribed` (now, if subscribed); rejects if the subscription ends
   * first, or with `signal`'s reason when it aborts. Calls without a signal share one promise.
   */
  ready({ signal }: WaitOptions = {}): Promise<SubscribedEvent> {
    if (this.#state === 'subscribed' && this.#confirmed) return Promise.resolve(this.#confirmed);
    if (this.#state === 'unsubscribed') return Promise.reject(notSubscribed(this.channel));
    return this.#waiters.wait(signal);
  }

  /** Who is in the channel now (channels with presence on). An aborted `signal` rejects the query with its reason and stops it. */
  presence(options: RequestOptions = {}): Promise<readonly PresenceMember[]> {
    return this.#host.presence(this, options.signal);
  }

  /** Ends the subscription; the client stops delivering its events. */
  unsubscribe(): void {
    this.#host.unsubscribe(this);
  }

  // ---- driven by the client (not for apps) -------------------------------------------------------

  /** @internal A (re)subscribe is under way. */
  _subscribing(): void {
    this.#move('subscribing');
  }

  /** @internal One event of the channel: anything at or below the held position is a replay's overlap. */
  _event(data: unknown, position: Position): void {
    if (this.#state === 'unsubscribed') return;
    if (this.#state === 'subscribing' && !this.#position) {
      // A rewinding subscribe gets the channel's last events first: held until `subscribed`
      // says where they end. Otherwise an event now is a previous subscription's tail.
      if (this.rewind) this.#rewound.push({ data, position });
      return;
    }
    if (!isAfter(position, this.#position)) return;
    this.#position = position;
    this.dispatchEvent(lifelineEvent('event', { data, position }));
  }

  /** @internal The server confirmed: continue from `position` (the replay, if any, has been delivered). */
  _subscribed(position: Position, recovered: boolean): void {
    this.#attempt = 0;
    if (this.#state === 'unsubscribed') return;
    // The rewind: the unbroken run of offsets that ends at the head, each once, in order (the
    // server sends it so). Anything else held is a stray tail of an earlier subscription of this
    // channel, which would leave a gap before the run: it is dropped.
    let offset = position.offset;
    const run = this.#rewound
      .splice(0)
      .sort((a, b) => b.position.offset - a.position.offset)
      .filter((item) => item.position.epoch === position.epoch && item.position.offset === offset && offset--);
    for (const item of run.reverse()) {
      // A listener may end it while events are dispatched.
      if (this.state === 'unsubscribed') return;
      this.#position = item.position;
      this.dispatchEvent(lifelineEvent('event', item));
    }
    if (this.state === 'unsubscribed') return;
    this.#position = position;
    const event: SubscribedEvent = lifelineEvent('subscribed', { recovered, position });
    this.#confirmed = event;
    this.#retry = undefined;
    if (!this.#move('subscribed')) return;
    this.dispatchEvent(event);
    this.#waiters.settle(true, event);
    if (this.#state === 'subscribed') this.dispatchEvent(lifelineEvent('caughtup', { position }));
  }

  /**
   * @internal A transient refusal: the next attempt follows after a backoff delay (with jitter,
   * never giving up by itself), announced as `retrying` (the state stays `subscribing`).
   */
  _retry(error: ReplyError): void {
    const { backoff, clock, rng } = this.#host.retry;
    // The schedule never gives up by itself (no `maxAttempts`).
    const attempt = ++this.#attempt;
    const delayMs = jittered(backoff, backoffCeiling(backoff, attempt), rng);
    (this.#timer ??= new Timer(clock, () => this.#host.subscribe(this))).start(delayMs);
    if (this.#state !== 'subscribing') return;
    const retry: SubscriptionRetry = { attempt, delayMs, error };
    this.#retry = retry;
    this.dispatchEvent(lifelineEvent('retrying', retry));
  }

  /**
   * @internal A subscribe goes out now, or the link ended: a pending retry is not needed (the
   * attempt count stays), and what an earlier subscribe's rewind held is not this one's.
   */
  _halt(): void {
    this.#timer?.stop();
    this.#rewound = [];
  }

  /** @internal The server refused (`error` is dispatched), or the app or the client ended it. */
  _end(error: ReplyError, report: boolean): void {
    this._halt();
    this.#retry = undefined;
    this.#waiters.settle(false, error);
    if (this.#state === 'unsubscribed') return;
    this.#move('unsubscribed');
    if (report) this.dispatchEvent(lifelineEvent('error', { error }));
  }

  /** @internal Someone joined or left. */
  _presence(action: 'join' | 'leave', member: PresenceMember): void {
    if (this.#state !== 'unsubscribed') this.dispatchEvent(lifelineEvent('presence', { action, member }));
  }

  /** Moves and reports; false when a listener moved it elsewhere meanwhile. */
  #move(to: SubscriptionState): boolean {
    const from = this.#state;
    if (from === to) return true;
    this.#state = to;
    this.dispatchEvent(lifelineEvent('state', { from, to }));
    return this.#state === to;
  }
}
