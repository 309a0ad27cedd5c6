import type { Clock } from '../core/clock.js';
import type { PresenceMember } from './broker.js';

/**
 * A member expired this long ago that no node took with `presenceExpired` (no node has presence
 * subscribers on its channel any more) is dropped by the sweep, ms.
 */
const PRESENCE_UNCLAIMED = 600_000;

/** One member's lease: it ends at `expiresAt` unless its node refreshes it. */
interface Lease {
  readonly member: PresenceMember;
  readonly expiresAt: number;
}

/** Whether `holder` is held by a newer connection of the session than the one `joining` names. */
function newerHolder(holder: PresenceMember, joining: PresenceMember): boolean {
  return holder.generation !== undefined && joining.generation !== undefined && holder.generation > joining.generation;
}

/** The in-memory broker's presence: members per channel, each a lease on the injected clock. */
export class MemoryPresence {
  readonly #channels = new Map<string, Map<string, Lease>>();

  constructor(private readonly clock: Clock) {}

  /** Channels with members held (expired ones included, until taken or swept). */
  get size(): number {
    return this.#channels.size;
  }

  /** Adds or refreshes a member; true when it was not present (or its lease had ended). */
  join(channel: string, member: PresenceMember, ttl: number): boolean {
    let members = this.#channels.get(channel);
    if (!members) this.#channels.set(channel, (members = new Map()));
    const now = this.clock.now();
    const held = members.get(member.client);
    const present = held !== undefined && held.expiresAt >= now;
    if (present && newerHolder(held.member, member)) return false;
    members.set(member.client, { member, expiresAt: now + ttl });
    return !present;
  }

  /** Removes a member unless `connection` is given and another connection holds it now; true when it removed one. */
  leave(channel: string, client: string, connection?: string): boolean {
    const members = this.#channels.get(channel);
    const holder = members?.get(client)?.member;
    if (holder === undefined) return false;
    if (connection !== undefined && holder.connection !== undefined && holder.connection !== connection) return false;
    members?.delete(client);
    return true;
  }

  /** The members whose lease has not ended. Expired ones stay until {@link expired} takes them (or the sweep drops them). */
  list(channel: string): PresenceMember[] {
    const now = this.clock.now();
    return [...(this.#channels.get(channel)?.values() ?? [])].filter((lease) => lease.expiresAt >= now).map((lease) => lease.member);
  }

  /** Removes and returns the members whose lease ended. */
  expired(channel: string): PresenceMember[] {
    const members = this.#channels.get(channel);
    const now = this.clock.now();
    const expired: PresenceMember[] = [];
    for (const [client, lease] of members ?? []) {
      if (lease.expiresAt >= now) continue;
      members?.delete(client);
      expired.push(lease.member);
    }
    return expired;
  }

  /** Drops members nobody took long after their lease ended, and channels left empty. */
  sweep(now: number): void {
    for (const [channel, members] of this.#channels) {
      for (const [client, lease] of members) if (lease.expiresAt < now - PRESENCE_UNCLAIMED) members.delete(client);
      if (members.size === 0) this.#channels.delete(channel);
    }
  }
}
