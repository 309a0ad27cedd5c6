import type { Broker, ChannelEvent, Unsubscribe } from '../../broker/broker.js';
import type { Position } from '../../core/position.js';
import { prepareText, type PreparedText } from '../prepared-text.js';

/** A local receiver of a channel's events: gets the event's wire message (serialized and framed once for all), its position and its data. */
export interface FanoutMember {
  deliver(message: PreparedText, position: Position, data: unknown): void;
  /**
   * Optional: hold this member's writes until {@link uncork}, so several events given to it in
   * a row leave in one write (one system call) instead of one each.
   */
  cork?(): void;
  uncork?(): void;
}

/** Runs `fn` on a later turn of the event loop, after pending I/O. */
export type Defer = (fn: () => void) => void;

export interface FanoutOptions {
  /**
   * Deliveries (member writes) done in one go before the rest waits for a later turn, so
   * timers, heartbeats and other sockets' I/O keep running during a large fan-out. Channels
   * with at most this many members are delivered at once, as the event arrives. Default 512.
   */
  readonly slice?: number;
  /** How a slice yields. Default `setImmediate`. */
  readonly defer?: Defer;
}

/** One event waiting for its slices, with the members it goes to (those of the channel when it arrived). */
interface Pending {
  readonly message: PreparedText;
  readonly position: Position;
  readonly data: unknown;
  readonly members: readonly FanoutMember[];
}

interface Entry {
  readonly members: Set<FanoutMember>;
  readonly ready: Promise<Unsubscribe>;
  /** Set once `ready` has resolved: a join then needs no promise. */
  subscribed: boolean;
  /** The members as an array, rebuilt after a join or leave (never changed in place: pending events keep theirs). */
  list: readonly FanoutMember[] | undefined;
  /** Events not yet delivered to all their members, in order. */
  readonly pending: Pending[];
  /** Events of `pending`'s head delivered together (they share their members), fixed when that batch starts. */
  batch: number;
  /** The next member of the current batch. */
  cursor: number;
  scheduled: boolean;
}

const DEFAULT_SLICE = 512;
/** Events a member gets in one write at most, when the fan-out is behind. */
const MAX_BATCH = 64;

/**
 * This node's interest in channels: one broker subscription per channel, however many local
 * subscribers it has, and every event serialized and framed once for all of them.
 *
 * A channel with more members than a slice is delivered in slices that yield to the event loop
 * (an event to 10,000 subscribers never holds it for the whole loop). Events that arrive while
 * earlier ones are still going out wait in the channel's queue, in order; when several wait for
 * the same members, each member gets them together in one write. Every member still gets every
 * event in order, exactly as if each had been delivered on arrival: an event goes to the members
 * the channel had when it arrived, minus those that left since.
 */
export class ChannelFanout {
  readonly #channels = new Map<string, Entry>();
  readonly #slice: number;
  readonly #defer: Defer;

  constructor(
    private readonly broker: Broker,
    options: FanoutOptions = {},
  ) {
    this.#slice = Math.max(1, options.slice ?? DEFAULT_SLICE);
    this.#defer = options.defer ?? ((fn) => setImmediate(fn));
  }

  /**
   * Adds a member. The broker delivers the channel's new events to this node once the promise
   * resolves, or at once when nothing is returned (the channel already had its subscription).
   */
  join(channel: string, member: FanoutMember): Promise<void> | undefined {
    let entry = this.#channels.get(channel);
    if (!entry) {
      const created: Entry = {
        members: new Set<FanoutMember>(),
        // The listener runs only once the broker has events, after `created` exists.
        ready: this.broker.subscribe(channel, (event) => this.#arrived(created, event)),
        subscribed: false,
        list: undefined,
        pending: [],
        batch: 0,
        cursor: 0,
        scheduled: false,
      };
      created.ready.then(
        () => void (created.subscribed = true),
        // A failed subscription is forgotten, so the next join tries the broker again.
        () => {
          if (this.#channels.get(channel) === created) this.#channels.delete(channel);
        },
      );
      this.#channels.set(channel, (entry = created));
    }
    entry.members.add(member);
    entry.list = undefined;
    return entry.subscribed ? undefined : entry.ready.then(() => undefined);
  }

  async leave(channel: string, member: FanoutMember): Promise<void> {
    const entry = this.#channels.get(channel);
    if (!entry || !entry.members.delete(member)) return;
    entry.list = undefined;
    if (entry.members.size > 0) return;
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

  /** Whether a local subscriber of `channel` passes `test` (a scan of them all: for a rare check, never per event). */
  someMember(channel: string, test: (member: FanoutMember) => boolean): boolean {
    const members = this.#channels.get(channel)?.members;
    if (members) for (const member of members) if (test(member)) return true;
    return false;
  }

  /** Local subscriber count per channel (for metrics and the admin page). */
  counts(): Map<string, number> {
    return new Map([...this.#channels].map(([channel, entry]) => [channel, entry.members.size]));
  }

  /** Events waiting for their slices, over all channels (0 when the fan-out keeps up). */
  get backlog(): number {
    let waiting = 0;
    for (const entry of this.#channels.values()) waiting += entry.pending.length;
    return waiting;
  }

  #arrived(entry: Entry, event: ChannelEvent): void {
    const text = JSON.stringify({ type: 'event', channel: event.channel, epoch: event.epoch, offset: event.offset, data: event.data });
    const message = prepareText(text);
    const position = { epoch: event.epoch, offset: event.offset };
    const members = (entry.list ??= [...entry.members]);
    if (entry.pending.length === 0 && members.length <= this.#slice) {
      // Small enough to go out at once: no queue, no extra turn.
      for (const member of members) deliverOne(member, message, position, event.data);
      return;
    }
    entry.pending.push({ message, position, data: event.data, members });
    this.#schedule(entry);
  }

  #schedule(entry: Entry): void {
    if (entry.scheduled) return;
    entry.scheduled = true;
    // The first slice waits a turn too: events published in the same turn go out together.
    this.#defer(() => {
      entry.scheduled = false;
      this.#runSlice(entry);
      if (entry.pending.length > 0) this.#schedule(entry);
    });
  }

  /** Delivers up to a slice's worth of writes from the head of the channel's queue. */
  #runSlice(entry: Entry): void {
    let budget = this.#slice;
    const { pending } = entry;
    while (budget > 0 && pending.length > 0) {
      const head = pending[0] as Pending;
      const members = head.members;
      if (entry.batch === 0) {
        let batch = 1;
        while (batch < pending.length && batch < MAX_BATCH && (pending[batch] as Pending).members === members) batch++;
        entry.batch = batch;
      }
      const batch = entry.batch;
      let i = entry.cursor;
      for (; i < members.length && budget > 0; i++) {
        const member = members[i] as FanoutMember;
        if (!entry.members.has(member)) continue; // left since the event arrived
        budget--;
        if (batch === 1) deliverOne(member, head.message, head.position, head.data);
        else deliverBatch(member, pending, batch);
      }
      if (i < members.length) {
        entry.cursor = i;
        return;
      }
      pending.splice(0, batch);
      entry.batch = 0;
      entry.cursor = 0;
    }
  }
}

/** A member's failure is its own: it never stops delivery to the others. */
function deliverOne(member: FanoutMember, message: PreparedText, position: Position, data: unknown): void {
  try {
    member.deliver(message, position, data);
  } catch {
    // The member guards its own connection; nothing to undo here.
  }
}

function deliverBatch(member: FanoutMember, pending: readonly Pending[], batch: number): void {
  member.cork?.();
  for (let k = 0; k < batch; k++) {
    const event = pending[k] as Pending;
    deliverOne(member, event.message, event.position, event.data);
  }
  try {
    member.uncork?.();
  } catch {
    // as above
  }
}
