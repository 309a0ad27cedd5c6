import type { Broker, PresenceMember } from '../../broker/broker.js';
import type { Clock } from '../../core/clock.js';
import { Timer } from '../../core/timer.js';
import type { ChannelFanout, FanoutMember } from './fanout.js';
import type { LiveSession, LiveSubscription } from './live-session.js';

/** How often members are refreshed when keepalive is off (otherwise every ping interval), ms. */
const REFRESH_WITHOUT_KEEPALIVE = 10_000;

export interface PresenceHost<User> {
  readonly broker: Broker;
  readonly clock: Clock;
  readonly fanout: ChannelFanout;
  readonly pingInterval: number;
  /** A member whose connection closed stays this long (ms) before its leave is told, so a resume is silent. */
  readonly grace: number;
  /** What other members see of a user. */
  shown(user: User): unknown;
  /** Sessions connected to this node, whose memberships are refreshed. */
  sessions(): Iterable<LiveSession<User>>;
}

/**
 * Who is subscribed to a channel with presence on. Members live in the broker with a ttl and
 * are refreshed every ping interval, so a dead node's entries expire within three; join and
 * leave changes travel as history-less events on a companion channel, so subscribers on every
 * node hear them.
 */
export class Presence<User> {
  readonly #timer: Timer;
  readonly #listeners = new WeakMap<LiveSubscription, FanoutMember>();
  /** Leaves waiting out the grace period. */
  readonly #pending = new Set<Timer>();
  #closed = false;

  constructor(private readonly host: PresenceHost<User>) {
    this.#timer = new Timer(host.clock, () => this.#refresh());
    if (host.pingInterval > 0) this.#timer.start(this.#interval());
  }

  /**
   * `session` joins `sub`'s channel: it hears changes from now on, and everyone hears it join,
   * unless it was still a member (it resumed within the grace period, or took over): then
   * nobody hears anything.
   */
  async join(session: LiveSession<User>, sub: LiveSubscription): Promise<void> {
    const { broker, fanout } = this.host;
    await fanout.join(companion(sub.channel), this.#listener(session, sub));
    const member = this.#member(session);
    const fresh = await broker.presenceJoin(sub.channel, { ...member, connection: session.connection.id }, this.#ttl());
    // With keepalive off the refresh timer starts with the first member.
    if (!this.#timer.pending && !this.#closed) this.#timer.start(this.#interval());
    if (fresh) await broker.publish(companion(sub.channel), { join: member }, { size: 0, ttl: 0 });
  }

  /**
   * `session` stops hearing `sub`'s changes; unless it is `stillPresent` (a takeover), it leaves:
   * at once when it unsubscribed, after the grace period when its connection closed (`parked`),
   * and then only if no newer connection of the session joined meanwhile.
   */
  async leave(session: LiveSession<User>, sub: LiveSubscription, stillPresent: boolean, parked = false): Promise<void> {
    await this.host.fanout.leave(companion(sub.channel), this.#listener(session, sub));
    if (stillPresent) return;
    const connection = session.connection.id;
    if (!parked || this.host.grace <= 0) return this.#leave(session, sub.channel, connection);
    if (this.#closed) return;
    const timer: Timer = new Timer(this.host.clock, () => {
      this.#pending.delete(timer);
      // Its broker may be gone by then: the entry expires on its own within the member ttl.
      this.#leave(session, sub.channel, connection).catch(() => undefined);
    });
    this.#pending.add(timer);
    timer.start(this.host.grace);
  }

  /** The members of a channel, as clients see them. */
  async list(channel: string): Promise<readonly PresenceMember[]> {
    return (await this.host.broker.presence(channel)).map(({ client, user }) => ({ client, user }));
  }

  /**
   * Stops refreshing. Leaves still in their grace period are not told: their entries expire
   * within the member ttl (or are taken over, silently, by the session resuming on another node).
   */
  close(): void {
    this.#closed = true;
    this.#timer.stop();
    for (const timer of this.#pending) timer.stop();
    this.#pending.clear();
  }

  async #leave(session: LiveSession<User>, channel: string, connection: string): Promise<void> {
    const { broker } = this.host;
    if (!(await broker.presenceLeave(channel, session.member, connection))) return; // the session came back: silent
    await broker.publish(companion(channel), { leave: this.#member(session) }, { size: 0, ttl: 0 });
  }

  #member(session: LiveSession<User>): PresenceMember {
    return { client: session.member, user: this.host.shown(session.user) };
  }

  /** Forwards the channel's presence changes to one subscriber. */
  #listener(session: LiveSession<User>, sub: LiveSubscription): FanoutMember {
    let listener = this.#listeners.get(sub);
    if (!listener) {
      listener = { deliver: (_text, _position, data) => session.connection.send(JSON.stringify({ type: 'presence', channel: sub.channel, ...(data as object) })) };
      this.#listeners.set(sub, listener);
    }
    return listener;
  }

  #ttl(): number {
    return Math.max(3 * this.#interval(), 30_000);
  }

  #interval(): number {
    return this.host.pingInterval > 0 ? this.host.pingInterval : REFRESH_WITHOUT_KEEPALIVE;
  }

  #refresh(): void {
    for (const session of this.host.sessions()) {
      for (const sub of session.subscriptions.values()) {
        if (sub.presence) void this.host.broker.presenceJoin(sub.channel, { ...this.#member(session), connection: session.connection.id }, this.#ttl()).catch(() => undefined);
      }
    }
    if (!this.#closed) this.#timer.start(this.#interval());
  }
}

const COMPANION_PREFIX = '$presence:';

/** Clients cannot name it (`$` is outside the channel alphabet), so it cannot be subscribed to directly. */
function companion(channel: string): string {
  return `${COMPANION_PREFIX}${channel}`;
}

/** A channel the server keeps for presence changes, not one an app or a client named. */
export function isPresenceCompanion(channel: string): boolean {
  return channel.startsWith(COMPANION_PREFIX);
}
