import type { Position } from '../core/position.js';

/** A live event on its way to one subscriber: its wire form (opaque here) and its position. */
export interface Pending<Payload> {
  readonly payload: Payload;
  readonly position: Position;
}

/** One channel subscription of a session: what was sent, and what waits for the catch-up. */
export interface SubscriptionState<Payload> {
  readonly channel: string;
  /** While the catch-up is being read, live events wait here (then those after it go out). */
  buffer: Pending<Payload>[] | undefined;
  /** The last position sent to the client. */
  last: Position | undefined;
  readonly presence: boolean;
}

/** A subscription's state as it starts: live events wait in its buffer until the catch-up is sent. */
export function newSubscription<Payload>(channel: string, since: Position | undefined, presence: boolean): SubscriptionState<Payload> {
  return { channel, buffer: [], last: since, presence };
}

/** What to do with one live event for one subscription. */
export type Delivery = 'send' | 'buffered' | 'skip' | 'resync';

/** A recovery or rewind as the broker answers it. */
export interface CatchUp {
  /** Every event after `since`, in order (empty when not recovered). */
  readonly events: readonly { readonly epoch: string; readonly offset: number; readonly data: unknown }[];
  /** The channel's head: where the subscription continues from. */
  readonly position: Position;
  readonly recovered: boolean;
}

/**
 * The order rule of one subscription: an event at or before the last one sent is dropped (the
 * catch-up already carried it), the next offset goes out, and a gap or a new epoch means this
 * node missed events: `resync` (the client reconnects and recovers instead of holding a hole).
 */
export function ordered<Payload>(sub: SubscriptionState<Payload>, position: Position): 'send' | 'skip' | 'gap' {
  const last = sub.last;
  if (last && position.epoch === last.epoch && position.offset <= last.offset) return 'skip';
  if (last && (position.epoch !== last.epoch || position.offset !== last.offset + 1)) return 'gap';
  sub.last = position;
  return 'send';
}
