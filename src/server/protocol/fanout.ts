import type { Broker, ChannelEvent, Unsubscribe } from '../../broker/broker.js';
import type { Position } from '../../core/position.js';
import { prepareText, type PreparedText } from '../prepared-text.js';

/** A local receiver of a channel's events: gets the event's wire message (serialized and framed once for all), its position and its data. */
export interface FanoutMember {
  deliver(message: PreparedText, position: Position, data: unknown): void;
}

interface Entry {
  readonly members: Set<FanoutMember>;
  readonly ready: Promise<Unsubscribe>;
}

/**
 * This node's interest in channels: one broker subscription per channel, however many local
 * subscribers it has, and every event serialized once for all of them (the fast path).
 */
export class ChannelFanout {
  readonly #channels = new Map<string, Entry>();

  constructor(private readonly broker: Broker) {}

  /** Adds a member; resolves once the broker delivers the channel's new events to this node. */
  async join(channel: string, member: FanoutMember): Promise<void> {
    let entry = this.#channels.get(channel);
    if (!entry) {
      const members = new Set<FanoutMember>();
      const created: Entry = { members, ready: this.broker.subscribe(channel, (event) => deliver(members, event)) };
      // A failed subscription is forgotten, so the next join tries the broker again.
      created.ready.catch(() => {
        if (this.#channels.get(channel) === created) this.#channels.delete(channel);
      });
      this.#channels.set(channel, (entry = created));
    }
    entry.members.add(member);
    await entry.ready;
  }

  async leave(channel: string, member: FanoutMember): Promise<void> {
    const entry = this.#channels.get(channel);
    if (!entry || !entry.members.delete(member) || entry.members.size > 0) return;
    if (this.#channels.get(channel) === entry) this.#channels.delete(channel);
    let unsubscribe: Unsubscribe;
    try {
      unsubscribe = await entry.ready;
    } catch {
      return; // never subscribed: nothing to undo
    }
    await unsubscribe();
  }

  /** Channels with local subscribers. */
  get size(): number {
    return this.#channels.size;
  }

  /** Local subscribers of one channel. */
  members(channel: string): number {
    return this.#channels.get(channel)?.members.size ?? 0;
  }

  /** Local subscriber count per channel (for metrics and the admin page). */
  counts(): Map<string, number> {
    return new Map([...this.#channels].map(([channel, entry]) => [channel, entry.members.size]));
  }
}

function deliver(members: ReadonlySet<FanoutMember>, event: ChannelEvent): void {
  const text = JSON.stringify({ type: 'event', channel: event.channel, epoch: event.epoch, offset: event.offset, data: event.data });
  const position = { epoch: event.epoch, offset: event.offset };
  const message = prepareText(text);
  for (const member of members) member.deliver(message, position, event.data);
}
