import { ReplyError } from './reply-error.js';
import type { Rewind } from '../core/rewind.js';
import { Subscription, type SubscriptionHandlers, type SubscriptionHost } from './subscription.js';
import { isPosition, remoteError, type ServerMessage } from './wire.js';

/** What the set needs from its client: the session's next id and the live link. */
export interface SubscriptionSetPort extends SubscriptionHost {
  nextId(): number;
  send(message: object): void;
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
  /** Resubscribes after a welcome that are not confirmed yet. */
  readonly #awaited = new Set<Subscription>();

  constructor(private readonly port: SubscriptionSetPort) {}

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
    this.byChannel.delete(sub.channel);
    this.#awaited.delete(sub);
    return true;
  }

  /**
   * A reply to a subscribe: the subscription continues from the reply's position, or ends with
   * the server's code. False when `id` was no subscribe of this link. Runs app code.
   */
  reply(id: number, message: ServerMessage): boolean {
    const sub = this.#sent.get(id);
    if (!sub) return false;
    this.#sent.delete(id);
    this.#awaited.delete(sub);
    if (!this.current(sub)) return true;
    if (message.type === 'subscribed' && isPosition(message.position)) {
      sub._subscribed(message.position, message.recovered === true);
    } else {
      this.byChannel.delete(sub.channel);
      sub._end(message.type === 'error' ? remoteError(message) : new ReplyError('bad_reply', `unexpected ${message.type} to a subscribe`), true);
    }
    return true;
  }

  /** The link ended: no reply comes on it any more. */
  linkLost(): void {
    this.#sent.clear();
    this.#awaited.clear();
  }

  /** The client closed: every subscription ends (runs app code). */
  endAll(error: ReplyError): void {
    const all = [...this.byChannel.values()];
    this.byChannel.clear();
    this.linkLost();
    for (const sub of all) sub._end(error, false);
  }
}
