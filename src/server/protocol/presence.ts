import type { Broker, PresenceMember } from '../../broker/broker.js';
import type { Clock } from '../../core/clock.js';
import { TokenBucket } from '../../core/rate-limiter.js';
import { Timer } from '../../core/timer.js';
import type { ChannelFanout, FanoutMember } from './fanout.js';
import type { LiveSession, LiveSubscription } from './live-session.js';

/** How often members are refreshed when keepalive is off (otherwise every ping interval), ms. */
const REFRESH_WITHOUT_KEEPALIVE = 10_000;
/**
 * Join/leave announcements of one member in one channel: bursts of this many, then one per
 * second; changes in between are coalesced into the latest state (a flap back is not sent).
 */
export const PRESENCE_BURST = 4;
export const PRESENCE_PER_SECOND = 1;

type Change = 'join' | 'leave';

/** One member's announcements in one channel: what the others were told last and what is due. */
interface Announcer {
  readonly bucket: TokenBucket;
  told: Change | undefined;
  due: Change;
  member: PresenceMember;
  /** The session the due change is of (none: a member of a node that died). */
  session: { readonly parked: boolean } | undefined;
  timer: Timer | undefined;
}

/** A leave waiting out the grace period: it is told at `endsAt` unless the member comes back. */
interface Grace {
  readonly key: string;
  readonly endsAt: number;
  /** Tells the leave (unless the member came back meanwhile). */
  readonly end: () => void;
  readonly timer: Timer;
}

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
 * are refreshed every ping interval, so a dead node's entries expire within three (30 s at
 * least, and never before a grace period ends); at each refresh a node with presence
 * subscribers on a channel removes its expired members and tells their leave, so they are told
 * as left within ttl + one interval; join and
 * leave changes travel as history-less events on a companion channel, so subscribers on every
 * node hear them.
 */
export class Presence<User> {
  readonly #timer: Timer;
  readonly #listeners = new WeakMap<LiveSubscription<User>, FanoutMember & { readonly member: string }>();
  /** Leaves waiting out the grace period. */
  readonly #pending = new Map<string, Grace>();
  readonly #announcers = new Map<string, Announcer>();
  #closed = false;

  constructor(private readonly host: PresenceHost<User>) {
    this.#timer = new Timer(host.clock, () => this.#refresh());
    if (host.pingInterval > 0) this.#timer.start(this.#interval());
  }

  /**
   * `session` enters `sub`'s channel: it hears changes from now on, and the broker lists it.
   * Resolves with whether it is new there; false when it was still a member (it resumed within
   * the grace period, or took over), and then nobody is to hear anything. Its join is told by
   * {@link announceJoin}, once the subscribe is answered. A broker failure rejects, with what was
   * done undone (as {@link withdraw} does).
   */
  async enter(session: LiveSession<User>, sub: LiveSubscription<User>): Promise<boolean> {
    const { broker, fanout } = this.host;
    // Back within the grace period of an earlier connection: that connection's leave waits while
    // this join is under way (told meanwhile, it would make others hear a leave, then a join for
    // a resume within the grace), and is moot once the join took. A failed join leaves it due
    // as it was: at once if its grace ended meanwhile.
    const held = this.#takeGrace(sub.channel, session.member);
    let fresh: boolean;
    try {
      await fanout.join(companion(sub.channel), this.#listener(session, sub));
      fresh = await broker.presenceJoin(sub.channel, this.#entry(session), this.#ttl());
    } catch (error) {
      // A join that took at the broker but whose answer was lost took the entry from the earlier
      // connection: undone, the member is gone now, and its grace period would find nothing to
      // remove, so nothing to tell. Its leave is told now instead.
      const removed = await this.#undo(session, sub).catch(() => false);
      if (held && removed) await this.#announce(sub.channel, this.#member(session), 'leave', session).catch(() => undefined);
      else if (held) this.#restoreGrace(held);
      throw error;
    }
    // With keepalive off the refresh timer starts with the first member.
    if (!this.#timer.pending && !this.#closed) this.#timer.start(this.#interval());
    return fresh;
  }

  /** Everyone on `sub`'s channel hears that `session` joined. */
  announceJoin(session: LiveSession<User>, sub: LiveSubscription<User>): Promise<void> {
    return this.#announce(sub.channel, this.#member(session), 'join', session);
  }

  /**
   * Undoes an {@link enter}: `session` stops hearing the channel's changes, and an entry the
   * broker may have made for this connection is removed. Nobody hears anything: its join was
   * never told. Unless the enter made the member new (`fresh`) and another connection of the
   * session holds the entry now: that one resumed meanwhile (on this node or another), found the
   * member present and told nothing, so this join is told now, or never would be.
   */
  async withdraw(session: LiveSession<User>, sub: LiveSubscription<User>, fresh = false): Promise<void> {
    if ((await this.#undo(session, sub)) || !fresh) return;
    if (await this.#listed(sub.channel, session.member)) await this.announceJoin(session, sub);
  }

  /** `session` stops hearing `sub`'s channel, and the broker's entry of its connection goes: whether there was one. */
  async #undo(session: LiveSession<User>, sub: LiveSubscription<User>): Promise<boolean> {
    await this.host.fanout.leave(companion(sub.channel), this.#listener(session, sub));
    return this.host.broker.presenceLeave(sub.channel, session.member, session.connection.id);
  }

  /**
   * `session` stops hearing `sub`'s changes; unless it is `stillPresent` (a takeover), it leaves:
   * at once when it unsubscribed, after the grace period when its connection closed (`parked`),
   * and then only if no newer connection of the session joined meanwhile.
   */
  async leave(session: LiveSession<User>, sub: LiveSubscription<User>, stillPresent: boolean, parked = false): Promise<void> {
    await this.host.fanout.leave(companion(sub.channel), this.#listener(session, sub));
    if (stillPresent) return;
    const connection = session.connection.id;
    // One leave per member and channel: a grace period still running for an earlier connection
    // would otherwise announce the member's leave a second time (join, leave, leave).
    this.#takeGrace(sub.channel, session.member);
    if (!parked || this.host.grace <= 0) return this.#leave(session, sub.channel, connection);
    const key = `${sub.channel}\n${session.member}`;
    const end = (): void => {
      if (this.#pending.get(key) === grace) this.#pending.delete(key);
      // Its broker may be gone by then: the entry expires on its own within the member ttl.
      this.#leave(session, sub.channel, connection).catch(() => undefined);
    };
    const grace: Grace = { key, endsAt: this.host.clock.now() + this.host.grace, end, timer: new Timer(this.host.clock, end) };
    this.#restoreGrace(grace);
  }

  /** Stops the grace period of `member` on `channel`, if one runs, and hands it over. */
  #takeGrace(channel: string, member: string): Grace | undefined {
    if (this.#pending.size === 0) return undefined;
    const key = `${channel}\n${member}`;
    const grace = this.#pending.get(key);
    grace?.timer.stop();
    this.#pending.delete(key);
    return grace;
  }

  /** (Re)starts a grace period until its end (ends it now when that passed), unless another one runs for its member now. */
  #restoreGrace(grace: Grace): void {
    if (this.#closed || this.#pending.has(grace.key)) return;
    const left = grace.endsAt - this.host.clock.now();
    if (left <= 0) return grace.end();
    this.#pending.set(grace.key, grace);
    grace.timer.start(left);
  }

  /** The members of a channel, as clients see them. */
  async list(channel: string): Promise<readonly PresenceMember[]> {
    return (await this.host.broker.presence(channel)).map(({ client, user }) => ({ client, user }));
  }

  /** Members of `channel` subscribed on this node. */
  localMembers(channel: string): number {
    return this.host.fanout.members(companion(channel));
  }

  /** Whether `member` (a session) is subscribed to `channel` on this node, on any of its connections (a scan of the channel's members). */
  isLocalMember(channel: string, member: string): boolean {
    return this.host.fanout.someMember(companion(channel), (listener) => 'member' in listener && listener.member === member);
  }

  /**
   * Stops refreshing. Leaves still in their grace period are not told: their entries expire
   * within the member ttl (or are taken over, silently, by the session resuming on another node).
   */
  close(): void {
    this.#closed = true;
    this.#timer.stop();
    for (const grace of this.#pending.values()) grace.timer.stop();
    this.#pending.clear();
    for (const announcer of this.#announcers.values()) announcer.timer?.stop();
    this.#announcers.clear();
  }

  async #leave(session: LiveSession<User>, channel: string, connection: string): Promise<void> {
    const { broker } = this.host;
    if (!(await broker.presenceLeave(channel, session.member, connection))) return; // the session came back: silent
    await this.#announce(channel, this.#member(session), 'leave', session);
  }

  #member(session: LiveSession<User>): PresenceMember {
    return { client: session.member, user: this.host.shown(session.user) };
  }

  /** What the broker holds of `session`'s membership: the member, and the connection holding it, in takeover order. */
  #entry(session: LiveSession<User>, member = this.#member(session)): PresenceMember {
    return { ...member, connection: session.connection.id, generation: session.generation };
  }

  /**
   * Tells every member of `channel` that `member` joined or left, paced per member: a member
   * that subscribes and unsubscribes in a loop makes the server send a bounded number of
   * announcements per second to each other member, whatever it sends.
   */
  async #announce(channel: string, member: PresenceMember, change: Change, session?: LiveSession<User>): Promise<void> {
    if (this.#closed) return; // a broker answer after close(): no pacing timer may start now
    const key = `${channel}\n${member.client}`;
    let announcer = this.#announcers.get(key);
    if (!announcer) this.#announcers.set(key, (announcer = { bucket: new TokenBucket(this.host.clock, PRESENCE_PER_SECOND, PRESENCE_BURST), told: undefined, due: change, member, session, timer: undefined }));
    announcer.due = change;
    announcer.member = member;
    announcer.session = session;
    if (announcer.timer?.pending) return; // a paced announcement is scheduled: it will tell the latest state
    if (announcer.bucket.take()) return this.#tell(channel, announcer, true);
    const paced = announcer;
    paced.timer ??= new Timer(this.host.clock, () => {
      if (this.#closed) return;
      paced.bucket.take();
      void this.#tell(channel, paced, false).catch(() => undefined);
    });
    paced.timer.start(paced.bucket.waitMs());
  }

  /** Announces the due change; a paced one only if it differs from what was told (a flap back is not news) and is not {@link #stale}. */
  async #tell(channel: string, announcer: Announcer, always: boolean): Promise<void> {
    const change = announcer.due;
    if (!always && (announcer.told === change || (await this.#stale(channel, announcer, change)))) return;
    announcer.told = change;
    const data = change === 'join' ? { join: announcer.member } : { leave: announcer.member };
    await this.host.broker.publish(companion(channel), data, { size: 0, ttl: 0 });
  }

  /**
   * Whether a paced `change` no longer holds. Told a second or so late, after its session left
   * this node (or of a member of a node that died), the member may have joined or left through
   * another node meanwhile, which told that at once: the broker's list says. While its session
   * is still connected here, this node's word is the latest, and nothing is asked.
   */
  async #stale(channel: string, announcer: Announcer, change: Change): Promise<boolean> {
    if (announcer.session && !announcer.session.parked) return false;
    return (await this.#listed(channel, announcer.member.client)) !== (change === 'join');
  }

  /** Whether the broker lists member `client` on `channel` now (on any node). */
  async #listed(channel: string, client: string): Promise<boolean> {
    return (await this.host.broker.presence(channel)).some((entry) => entry.client === client);
  }

  /** Forwards the channel's presence changes to one subscriber, and names its member. */
  #listener(session: LiveSession<User>, sub: LiveSubscription<User>): FanoutMember & { readonly member: string } {
    let listener = this.#listeners.get(sub);
    if (!listener) {
      listener = { member: session.member, deliver: (_text, _position, data) => session.connection.send(JSON.stringify({ type: 'presence', channel: sub.channel, ...(data as object) })) };
      this.#listeners.set(sub, listener);
    }
    return listener;
  }

  /**
   * A member's lease: three refresh intervals, 30 s at least, and long enough to outlast the
   * grace period of a member whose connection ended (it is no longer refreshed then): otherwise
   * it would drop out of the lists, be told as left by the next refresh and join again on a
   * resume within the grace.
   */
  #ttl(): number {
    const interval = this.#interval();
    return Math.max(3 * interval, 30_000, this.host.grace + 2 * interval);
  }

  #interval(): number {
    return this.host.pingInterval > 0 ? this.host.pingInterval : REFRESH_WITHOUT_KEEPALIVE;
  }

  #refresh(): void {
    // A member quiet long enough to have its whole burst back needs no pacing state: its next
    // change is told at once, as a new one's would be. Whatever was told last: a member that
    // joined here and went on on another node (its leave there, or silent) is never told a
    // leave by this node.
    for (const [key, announcer] of this.#announcers) {
      if (!announcer.timer?.pending && announcer.bucket.full()) this.#announcers.delete(key);
    }
    const channels = new Set<string>();
    for (const session of this.host.sessions()) {
      if (!session.wantsPresence) continue; // most sessions: no list made for them
      for (const sub of session.subscriptionList()) {
        // Still catching up or entering (its buffer is set): not a member yet, and its own join
        // says whether it is new. A refresh's join would make it one early and tell its join
        // even if its connection ends before its `subscribed`.
        if (!sub.presence || sub.buffer !== undefined) continue;
        channels.add(sub.channel);
        const member = this.#member(session);
        // Fresh again: its lease ran out while this node was cut off, and another node told its leave.
        const refreshed = this.host.broker.presenceJoin(sub.channel, this.#entry(session, member), this.#ttl());
        void refreshed.then((fresh) => (fresh ? this.#announce(sub.channel, member, 'join', session) : undefined)).catch(() => undefined);
      }
    }
    for (const channel of channels) void this.#expire(channel).catch(() => undefined);
    if (!this.#closed) this.#timer.start(this.#interval());
  }

  /** Members whose node stopped refreshing them (it died): removed, and their leave told (by one node only). */
  async #expire(channel: string): Promise<void> {
    for (const { client, user } of (await this.host.broker.presenceExpired?.(channel)) ?? []) await this.#announce(channel, { client, user }, 'leave');
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
