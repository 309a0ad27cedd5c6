import type { Recovery } from '../../broker/broker.js';
import type { Position } from '../../core/position.js';
import { TokenBucket } from '../../core/rate-limiter.js';
import type { ClientMessageOf } from '../../protocol/client-messages.js';
import { identityKey } from '../../protocol/identity.js';
import { errorReply } from '../../protocol/server-messages.js';
import type { PreparedText } from '../prepared-text.js';
import { ask, refusal } from './authorize.js';
import { resolveChannel, type ResolvedChannel } from './channels.js';
import type { Pending, SubscriptionState } from '../../protocol/subscription-state.js';
import type { ChannelFanout, FanoutMember } from './fanout.js';
import type { HubOptions } from './hub-options.js';
import type { LiveSession, LiveSubscription } from './live-session.js';
import type { Presence } from './presence.js';

/**
 * Before a channel resync closes a connection, its session's record is written, tried this many
 * times this far apart (ms): the broker may still be reconnecting when the new epoch shows.
 */
const RESYNC_SAVE_ATTEMPTS = 25;
const RESYNC_SAVE_DELAY = 200;

export interface SubscriptionsHost<User> {
  readonly options: HubOptions<User>;
  readonly fanout: ChannelFanout;
  readonly presence: Presence<User>;
  /** The live session of this id on this node, if any. */
  live(id: string): LiveSession<User> | undefined;
  /** Writes the record of a session connected here. */
  saveLive(session: LiveSession<User>): Promise<void>;
  /** Ends the turn's hold on a connection's writes (its held replies leave now). */
  release(connection: LiveSession<User>['connection']): void;
}

/**
 * Whose replay budget a session spends: its user's, when the connection's user is one the app
 * named (every session of that user on this node shares it, so opening a new session brings no
 * fresh burst); an anonymous session's own, by session id (a made-up user is new with every
 * connection, so it would be no bound).
 */
function replayKey(session: LiveSession<unknown>): string {
  const user = session.connection.anonymous ? undefined : identityKey(session.user);
  return user === undefined ? `s:${session.id}` : `u:${user}`;
}

/**
 * Subscriptions of this node's sessions: a subscribe joins the channel's fan-out, reads the
 * catch-up from the broker and hands both to the session (which sends each event once and in
 * order); an unsubscribe, or the session leaving, undoes it.
 */
export class Subscriptions<User> {
  /**
   * Events sent from history and presence members listed, against `maxReplayRate`, by whose
   * budget they spend (`replayKey`): a known user's sessions share one, so a loop of reconnects
   * that each open a new session and rewind a whole history is paced; an anonymous session keeps
   * its own across resumes (a new connection, a new `LiveSession`). Made at the first replay;
   * dropped once full again (see #replayed).
   */
  readonly #replays = new Map<string, TokenBucket>();
  /** The size at which buckets that are full again are dropped. */
  #pruneAt = 1024;

  constructor(private readonly host: SubscriptionsHost<User>) {}

  /**
   * A subscribe: checked, joined to the fan-out, caught up and answered. Without a
   * `canSubscribe` hook, on a channel this node already receives, with an in-process broker's
   * catch-up (`immediate.recover`), all of it in this turn: nothing is returned (on a channel
   * with presence, `subscribed` waits for the member to enter presence: that is promised).
   */
  subscribe(session: LiveSession<User>, message: ClientMessageOf<'subscribe'>): Promise<void> | undefined {
    const { options } = this.host;
    const { channel, id } = message;
    const resolved = resolveChannel(options.channels, channel);
    if (!resolved) return void session.connection.send(errorReply(id, 'bad_channel', `no namespace allows channel "${channel}"`));
    // Replays past the burst are paid for before the next subscribe: a loop of rewinds is paced.
    const debt = this.#debtMs(session);
    if (debt > 0) return this.#paced(session, message, resolved, debt);
    if (options.canSubscribe) return this.#asked(session, message, resolved);
    return this.#admit(session, message, resolved);
  }

  /** Waits out the session's replay debt first. */
  async #paced(session: LiveSession<User>, message: ClientMessageOf<'subscribe'>, resolved: ResolvedChannel, debt: number): Promise<void> {
    const { options } = this.host;
    await this.#waitMs(debt);
    if (session.parked) return;
    if (options.canSubscribe) return this.#asked(session, message, resolved);
    return this.#admit(session, message, resolved);
  }

  /** The app's hook decides first. */
  async #asked(session: LiveSession<User>, message: ClientMessageOf<'subscribe'>, resolved: ResolvedChannel): Promise<void> {
    const { options } = this.host;
    const { channel, id } = message;
    const { connection } = session;
    const allowed = await ask(options.log, () => options.canSubscribe?.({ user: session.user, session: session.id, channel }));
    if (allowed === 'failed') return void connection.send(errorReply(id, 'failed', 'the subscription could not be checked'));
    if (allowed !== true) return void connection.send(errorReply(id, 'forbidden', refusal(allowed, `not allowed to subscribe to "${channel}"`)));
    if (session.parked) return; // the connection closed while the hook ran
    return this.#admit(session, message, resolved);
  }

  /** Within the limits, it replaces the session's subscription to the same channel, if any. */
  #admit(session: LiveSession<User>, message: ClientMessageOf<'subscribe'>, resolved: ResolvedChannel): Promise<void> | undefined {
    const { channel, id } = message;
    const existing = session.subscription(channel);
    const over = this.#overLimit(session, channel, resolved.presence, existing !== undefined);
    if (over) return void session.connection.send(errorReply(id, 'limit', over));
    if (!existing) return this.#join(session, message, resolved);
    return this.unsubscribe(session, existing).then(() => (session.parked ? undefined : this.#join(session, message, resolved)));
  }

  #join(session: LiveSession<User>, message: ClientMessageOf<'subscribe'>, resolved: ResolvedChannel): Promise<void> | undefined {
    const { options } = this.host;
    const { channel, since, rewind } = message;
    const sub = session.subscribe(new SubscriptionMember(channel, since, resolved.presence, session, this));
    // `since` wins: a client that holds a position continues from it.
    const immediate = since === undefined && rewind !== undefined ? undefined : options.broker.immediate;
    let joined: Promise<void> | undefined;
    try {
      // Live events are buffered from here on, so nothing published during the replay is lost.
      joined = this.host.fanout.join(channel, sub);
      if (joined === undefined && immediate?.recover) return this.#caughtUp(session, message, sub, immediate.recover(channel, since, Math.max(resolved.history.size, 1)));
    } catch (error) {
      return this.#joinFailed(session, message, sub, error);
    }
    return this.#joinLater(session, message, resolved, sub, joined);
  }

  async #joinLater(session: LiveSession<User>, message: ClientMessageOf<'subscribe'>, resolved: ResolvedChannel, sub: LiveSubscription<User>, joined: Promise<void> | undefined): Promise<void> {
    const { options } = this.host;
    const { channel, since, rewind } = message;
    let recovery: Recovery;
    try {
      await joined;
      recovery =
        since === undefined && rewind !== undefined
          ? await options.broker.rewind(channel, Math.min(rewind.count ?? resolved.history.size, resolved.history.size), rewind.ms)
          : await options.broker.recover(channel, since, Math.max(resolved.history.size, 1));
    } catch (error) {
      return this.#joinFailed(session, message, sub, error);
    }
    return this.#caughtUp(session, message, sub, recovery);
  }

  /** The broker is unreachable: this subscription fails, the connection and its others stay. */
  async #joinFailed(session: LiveSession<User>, message: ClientMessageOf<'subscribe'>, sub: LiveSubscription<User>, error: unknown): Promise<void> {
    const { channel, id } = message;
    this.host.options.log.error({ err: error, channel }, 'subscription failed: broker unavailable');
    await this.unsubscribe(session, sub).catch(() => undefined);
    session.connection.send(errorReply(id, 'unavailable', `could not subscribe to "${channel}" now; try again later`));
  }

  /**
   * Joined and recovered: the catch-up and the `subscribed` go out; on a channel with presence,
   * once the member entered it (a broker failure there refuses the subscribe whole).
   */
  #caughtUp(session: LiveSession<User>, message: ClientMessageOf<'subscribe'>, sub: LiveSubscription<User>, recovery: Recovery): Promise<void> | undefined {
    if (message.since) this.host.options.stats?.countRecovery(recovery.recovered);
    // Parked while joining (the connection closed: its cleanup already ran), so undo the join here.
    if (session.parked) return this.unsubscribe(session, sub);
    if (session.subscription(message.channel) !== sub) return undefined; // unsubscribed meanwhile
    if (sub.presence) return this.#enterPresence(session, message, sub, recovery);
    this.#answer(session, message.id, sub, recovery);
    return undefined;
  }

  /** Sends the catch-up and the `subscribed`: from here on the subscription is live. */
  #answer(session: LiveSession<User>, id: number, sub: LiveSubscription<User>, recovery: Recovery): void {
    const { connection } = session;
    const steps = session.caughtUp(sub, id, recovery);
    if (recovery.events.length > 0) this.#replayed(session, recovery.events.length);
    // A catch-up held back whole would count against the outbound budget: only a lone
    // `subscribed` joins the replies held in this turn.
    if (steps.length > 1) this.host.release(connection);
    for (const step of steps) {
      if (step.kind === 'send') connection.send(step.text);
      else if (step.kind === 'event') connection.sendPrepared(step.payload);
      else this.#resync(session);
    }
  }

  /**
   * The member enters the channel's presence before the subscribe is answered, so the subscribe
   * has one answer: `subscribed` (then everyone hears the join), or `unavailable` with nothing
   * left subscribed or listed when the broker fails.
   */
  async #enterPresence(session: LiveSession<User>, message: ClientMessageOf<'subscribe'>, sub: LiveSubscription<User>, recovery: Recovery): Promise<void> {
    const { presence, options } = this.host;
    let fresh: boolean;
    try {
      fresh = await presence.enter(session, sub);
    } catch (error) {
      return this.#joinFailed(session, message, sub, error);
    }
    // The connection closed (or was taken over) while entering: its cleanup already ran. Ended
    // before its `subscribed`, it never joined; still a member from an earlier connection (a
    // resume within the grace period), it leaves as a parked session does, after the grace.
    const gone = session.parked || this.host.live(session.id) !== session;
    if (gone || session.subscription(sub.channel) !== sub) return fresh ? presence.withdraw(session, sub, true) : this.#leavePresence(session, sub, false, gone);
    this.#answer(session, message.id, sub, recovery);
    // Answered already: a failed announcement is no answer to the subscribe (the member is listed).
    if (fresh) await presence.announceJoin(session, sub).catch((error: unknown) => options.log.warn({ err: error, channel: sub.channel }, 'presence join not announced: broker unavailable'));
  }

  async unsubscribeMessage(session: LiveSession<User>, message: ClientMessageOf<'unsubscribe'>): Promise<void> {
    const sub = session.subscription(message.channel);
    if (sub) await this.unsubscribe(session, sub);
    session.connection.send({ type: 'unsubscribed', id: message.id, channel: message.channel });
  }

  /**
   * Ends every subscription of a session leaving this node (`movedAway`: another node owns it
   * now); presence leaves wait out the grace period, unless its client `ended` the session.
   */
  async unsubscribeAll(session: LiveSession<User>, movedAway: boolean, ended = false): Promise<void> {
    await Promise.allSettled(session.subscriptionList().map((sub) => this.unsubscribe(session, sub, movedAway, !ended)));
  }

  async unsubscribe(session: LiveSession<User>, sub: LiveSubscription<User>, movedAway = false, parked = false): Promise<void> {
    session.unsubscribe(sub);
    await this.host.fanout.leave(sub.channel, sub);
    // Still catching up (its buffer is set), it never joined presence: nobody is told it left.
    if (sub.presence && sub.buffer === undefined) await this.#leavePresence(session, sub, movedAway, parked);
  }

  /** `session` leaves `sub`'s presence (after the grace period when `parked`). */
  async #leavePresence(session: LiveSession<User>, sub: LiveSubscription<User>, movedAway: boolean, parked: boolean): Promise<void> {
    // After a takeover the member (the session) is still here, subscribed on its new connection
    // (on this node, or on another one that now owns the session).
    const successor = this.host.live(session.id);
    const stillPresent = movedAway || (successor !== undefined && successor !== session && successor.subscription(sub.channel)?.presence === true);
    await this.host.presence.leave(session, sub, stillPresent, parked);
  }

  async presenceGet(session: LiveSession<User>, message: ClientMessageOf<'presence.get'>): Promise<void> {
    const sub = session.subscription(message.channel);
    if (!sub?.presence) return void session.connection.send(errorReply(message.id, 'forbidden', 'presence needs a subscription to a channel with presence on'));
    // One message in, a list of up to every member out: paced with the replays (a loop of
    // presence.get on a full channel would otherwise be CPU and bandwidth amplification).
    const debt = this.#debtMs(session);
    if (debt > 0) {
      await this.#waitMs(debt);
      if (session.parked) return;
    }
    const members = await this.host.presence.list(message.channel);
    this.#replayed(session, members.length);
    session.connection.send({ type: 'presence.list', id: message.id, channel: message.channel, members });
  }

  #debtMs(session: LiveSession<User>): number {
    // Usually no one is in debt: the key is not even made.
    return this.#replays.size === 0 ? 0 : (this.#replays.get(replayKey(session))?.debtMs() ?? 0);
  }

  #waitMs(ms: number): Promise<void> {
    return new Promise<void>((resolve) => this.host.options.clock.setTimeout(resolve, ms));
  }

  #replayed(session: LiveSession<User>, events: number): void {
    if (events === 0) return;
    const key = replayKey(session);
    let bucket = this.#replays.get(key);
    if (!bucket) {
      const { clock, limits } = this.host.options;
      if (this.#replays.size >= this.#pruneAt) this.#prune();
      this.#replays.set(key, (bucket = new TokenBucket(clock, limits.maxReplayRate, limits.maxReplayRate)));
    }
    bucket.spend(events);
  }

  /**
   * Drops the buckets that are full again (a full bucket is what a new one would be), then lets
   * the map grow to twice what is left before the next pass: the work is amortized, and the map
   * holds at most 1,024 buckets or twice as many as were still in debt at the last pass, so
   * it follows the largest crowd in debt at once, not every user who ever replayed.
   */
  #prune(): void {
    for (const [key, bucket] of this.#replays) if (bucket.full()) this.#replays.delete(key);
    this.#pruneAt = Math.max(1024, 2 * this.#replays.size);
  }

  /** Why a new subscription would break a cap (docs/reliability.md, "Limits"), or undefined. */
  #overLimit(session: LiveSession<User>, channel: string, presence: boolean, resubscribe: boolean): string | undefined {
    const { maxSubscriptions, maxChannels, maxPresenceMembers } = this.host.options.limits;
    const { fanout } = this.host;
    if (resubscribe) return undefined;
    if (session.subscriptionCount >= maxSubscriptions) return `a session may be subscribed to at most ${maxSubscriptions} channels`;
    if (fanout.members(channel) === 0 && fanout.size >= maxChannels) return `this server holds its maximum of ${maxChannels} channels`;
    // A session that is a member already (its old connection lingers after a resume took it over) is no new member.
    if (presence && this.host.presence.localMembers(channel) >= maxPresenceMembers && !this.host.presence.isLocalMember(channel, session.member)) return `"${channel}" has its maximum of ${maxPresenceMembers} presence members`;
    return undefined;
  }

  /** A live event for one subscription (what its fan-out member does). */
  deliverLive(session: LiveSession<User>, sub: LiveSubscription<User>, message: PreparedText, position: Position): void {
    const delivery = session.deliver(sub, message, position);
    if (delivery === 'send') session.connection.sendPrepared(message);
    else if (delivery === 'resync') this.#resync(session);
  }

  /**
   * Closes a session's connection for a channel resync (1013), its record written first: a new
   * epoch usually means Redis restarted empty, sessions and all, and the client's resume must
   * find its session (and the replies of what it resends) rather than lose its unanswered sends.
   */
  #resync(session: LiveSession<User>): void {
    const { clock, log } = this.host.options;
    void (async () => {
      for (let attempt = 1; attempt <= RESYNC_SAVE_ATTEMPTS && session.connection.state === 'open'; attempt++) {
        try {
          return await this.host.saveLive(session);
        } catch (error) {
          if (attempt === RESYNC_SAVE_ATTEMPTS) log.warn({ err: error, session: session.id }, 'could not save the session before a channel resync');
          else await new Promise<void>((resolve) => clock.setTimeout(resolve, RESYNC_SAVE_DELAY));
        }
      }
    })().finally(() => session.connection.close(1013, 'channel resync needed'));
  }
}

interface LiveDelivery<User> {
  deliverLive(session: LiveSession<User>, sub: LiveSubscription<User>, message: PreparedText, position: Position): void;
}

/**
 * A subscription: its state (the protocol core's) and its fan-out member in one object. Its
 * methods live on the prototype, so each is one small object rather than a state, a member,
 * three closures and their scope: idle sessions are many.
 */
export class SubscriptionMember<User> implements SubscriptionState<PreparedText>, FanoutMember {
  buffer: Pending<PreparedText>[] | undefined = [];
  last: Position | undefined;

  constructor(
    readonly channel: string,
    since: Position | undefined,
    readonly presence: boolean,
    private readonly session: LiveSession<User>,
    private readonly delivery: LiveDelivery<User>,
  ) {
    this.last = since;
  }

  deliver(message: PreparedText, position: Position): void {
    this.delivery.deliverLive(this.session, this, message, position);
  }

  cork(): void {
    this.session.connection.cork();
  }

  uncork(): void {
    this.session.connection.uncork();
  }
}
