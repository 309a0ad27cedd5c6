import type { Broker, ChannelEvent } from '../../broker/broker.js';
import { InvalidOptionError } from '../../core/errors.js';
import type { Position } from '../../core/position.js';
import { resolveChannel, type ChannelsConfig } from './channels.js';

export interface HistoryOptions {
  /** Events after this position; omitted: the newest `limit` events the channel still keeps. */
  readonly since?: Position;
  /** At most this many events (the oldest first). Default 100. */
  readonly limit?: number;
}

/** One page of a channel's history, read in process. */
export interface HistoryPage {
  /** In offset order; the next page starts after the last one's position (`since`). */
  readonly events: readonly ChannelEvent[];
  /** The channel's head when read. */
  readonly head: Position;
  /**
   * False when the events after `since` are no longer all kept (older than the channel's history
   * size or age) or the epoch changed: `events` is then empty; continue from `head`.
   */
  readonly recovered: boolean;
  /** More events after the last one of this page, up to `head`. */
  readonly more: boolean;
}

/**
 * `server.history()`: a channel's kept events after `since`, a page at a time, through the
 * broker's `recover` (which serves a whole gap or nothing) and the channel's history policy;
 * without `since`, the newest kept, through its `rewind`.
 */
export async function readHistory(broker: Broker, channels: ChannelsConfig, channel: string, options: HistoryOptions = {}): Promise<HistoryPage> {
  const limit = options.limit ?? 100;
  if (!Number.isSafeInteger(limit) || limit < 1) throw new InvalidOptionError('limit', 'must be an integer >= 1');
  // A fractional size keeps its whole part (a count of events).
  const kept = Math.max(Math.floor(resolveChannel(channels, channel)?.history.size ?? 0), 1);
  const { since } = options;
  // The newest events still kept, ending at the head: however many aged out or were evicted
  // (asking for "after head - limit" would find that gap and answer nothing).
  if (since === undefined) {
    const newest = await broker.rewind(channel, Math.min(limit, kept), undefined);
    return { events: newest.events, head: newest.position, recovered: true, more: false };
  }
  const recovery = await broker.recover(channel, since, kept);
  const events = recovery.events.slice(0, limit);
  return { events, head: recovery.position, recovered: recovery.recovered, more: recovery.events.length > limit };
}
