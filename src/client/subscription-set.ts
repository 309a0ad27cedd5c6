import { Backoff, type BackoffOptions } from '../core/backoff.js';
import type { Clock, Rng } from '../core/clock.js';
import { Timer } from '../core/timer.js';
import { badReply, type ReplyError } from './reply-error.js';
import { isTransientSubscribeRefusal } from './retry-policy.js';
import type { Rewind } from '../core/rewind.js';
import { Subscription, type SubscriptionHandlers, type SubscriptionHost } from './subscription.js';
import { isPosition, remoteError, type ServerMessage } from './wire.js';

/** What the set needs from its client: the session's next id and the live link. */
export interface SubscriptionSetPort extends SubscriptionHost {
  nextId(): number;
  send(message: object): void;
  /** The server has welcomed the current link (messages may go out). */
  live(): boolean;
}

/** How a subscription refused for now is tried again. */
export interface SubscriptionRetrySchedule {
  readonly backoff: BackoffOptions;
  readonly clock: Clock;
  readonly rng: Rng;
}

/** One subscription's retries: its attempt count (kept until it is confirmed) and its timer. */
interface Retrying {
  readonly backoff: Backoff;
  readonly timer: Timer;
}

/**
 * A client's subscriptions, one per channel, and the subscribes in flight on the current link:
 * which reply confirms (or refuses) which subscription, and which resubscribes `ready` still
 * waits for.
 */
export class SubscriptionSet {
  readonly byChannel = new Map<string, Subscription>();
  /** Subscribes sent on this link, by id. */
  readonly #sent = new Map<number, Subscription>();
  /** Resubscribes after a welcome that are not confirmed yet (retried ones included). */
  readonly #awaited = new Set<Subscription>();
  /** Subscriptions refused for now, waiting for (or between) their retries. */
  readonly #retrying = new Map<Subscription, Retrying>();

  constructor(
    private readonly port: SubscriptionSetPort,
    private readonly schedule: SubscriptionRetrySchedule,
  ) {}

  /** Every resubscribe since the last welcome has its reply (or its subscription ended). */
  get settled(): boolean {
    return this.#awaited.size === 0;
  }

  /** The channel's subscription with `handlers` added; `created` when it is new (then it is `subscribing`). */
  open(channel: string, handlers: SubscriptionHandlers, rewind?: Rewind): { readonly sub: Subscription; readonly created: boolean } {
    const existing = this.byChannel.get(channel);
    const sub = existing ?? new Subscription(channel, this.port, rewind);
    for (const [type, listener] of Object.entries(handlers)) if (listener) sub.addEventListener(type, listener as EventListener);
    if (!existing) this.byChannel.set(channel, sub);
    return { sub, created: !existing };
  }

  /** Is `sub` still the channel's subscription (not ended meanwhile)? */
  current(sub: Subscription): boolean {
    return this.byChannel.get(sub.channel) === sub;
  }

  /** Sends a subscribe with `since` = the last position held (none yet: the rewind, if any). */
  subscribe(sub: Subscription): void {
    this.#retrying.get(sub)?.timer.stop();
    const id = this.port.nextId();
    this.#sent.set(id, sub);
    const { position, rewind } = sub;
    this.port.send(position === undefined && rewind !== undefined ? { type: 'subscribe', id, channel: sub.channel, rewind } : { type: 'subscribe', id, channel: sub.channel, since: position });
  }

  /** After a welcome: every subscription again, in the order they were made. */
  resubscribeAll(): void {
    for (const sub of this.byChannel.values()) {
      this.#awaited.add(sub);
      this.subscribe(sub);
    }
  }

  /** Forgets `sub` (it ended); false if it was not current. */
  remove(sub: Subscription): boolean {
    if (!this.current(sub)) return false;
    this.#forget(sub);
    return true;
  }

  #forget(sub: Subscription): void {
    this.byChannel.delete(sub.channel);
    this.#awaited.delete(sub);
    this.#retrying.get(sub)?.timer.stop();
    this.#retrying.delete(sub);
  }

  /**
   * A reply to a subscribe: the subscription continues from the reply's position; after a
   * transient refusal it is tried again with backoff (still awaited by `ready`); after any other
   * it ends with the server's code. False when `id` was no subscribe of this link. Runs app code.
   */
  reply(id: number, message: ServerMessage): boolean {
    const sub = this.#sent.get(id);
    if (!sub) return false;
    this.#sent.delete(id);
    if (!this.current(sub)) return true;
    if (message.type === 'subscribed' && isPosition(message.position)) {
      this.#awaited.delete(sub);
      this.#retrying.delete(sub);
      sub._subscribed(message.position, message.recovered === true);
      return true;
    }
    const error = message.type === 'error' ? remoteError(message) : badReply(message.type);
    if (isTransientSubscribeRefusal(error.code)) return this.#retry(sub, error);
    this.#forget(sub);
    sub._end(error, true);
    return true;
  }

  /** Schedules the next attempt of `sub` (backoff with jitter, never giving up by itself). */
  #retry(sub: Subscription, error: ReplyError): true {
    let retrying = this.#retrying.get(sub);
    if (!retrying) {
      const { backoff, clock, rng } = this.schedule;
      const timer = new Timer(clock, () => {
        if (this.current(sub) && this.port.live()) this.subscribe(sub);
      });
      retrying = { backoff: new Backoff(backoff, rng), timer };
      this.#retrying.set(sub, retrying);
    }
    const delayMs = retrying.backoff.next() ?? retrying.backoff.options.maxDelay;
    retrying.timer.start(delayMs);
    sub._retrying({ attempt: retrying.backoff.attempt, delayMs, error });
    return true;
  }

  /**
   * The link ended: no reply comes on it any more, and a pending retry waits for the next link's
   * resubscribe instead (the attempt count stays until the subscription is confirmed).
   */
  linkLost(): void {
    this.#sent.clear();
    this.#awaited.clear();
    for (const { timer } of this.#retrying.values()) timer.stop();
  }

  /** The client closed: every subscription ends (runs app code). */
  endAll(error: ReplyError): void {
    const all = [...this.byChannel.values()];
    this.byChannel.clear();
    this.linkLost();
    this.#retrying.clear();
    for (const sub of all) sub._end(error, false);
  }
}
