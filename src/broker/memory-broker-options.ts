import type { Clock } from '../core/clock.js';

/** What `new MemoryBroker()` takes; every field is optional. */
export interface MemoryBrokerOptions {
  readonly clock?: Clock;
  /** Names a new channel history; every broker start is a new epoch (nothing persists). */
  readonly newEpoch?: () => string;
  /**
   * A channel with no subscriber on this broker and no publish for this long (and longer than
   * its history's age) is forgotten, so per-user or per-document channels do not pile up.
   * Default 10 000 (10 s).
   */
  readonly idleChannelTtl?: number;
  /**
   * A forgotten channel's epoch and head are kept this long (a small record), so it comes back
   * in the same epoch and a client returning at the head it held is told `recovered: true`
   * (nothing was published meanwhile: a publish would have brought it back). After it, a client
   * is told `recovered: false`. The server passes its `recoveryWindow`. Default 120 000 (2 min).
   */
  readonly positionTtl?: number;
  /**
   * Bytes of channel history this process keeps at most, across every channel (each event
   * counts its JSON length plus {@link EVENT_OVERHEAD}). Past it, the oldest events of any
   * channel are dropped first; a client that needed them is told `recovered: false`. Live
   * delivery is never refused. Default 64 MiB.
   */
  readonly historyBudget?: number;
  /**
   * Records of what publishes are deduplicated by, kept at most: one per idempotency key (for
   * its ttl, 24 h by default) and one per session and channel a client published to. Past it the
   * oldest record is forgotten first (a repeat under it publishes again), so a client publishing
   * under a new key each time holds no more than this. Default 100 000 (about 40 MB with UUID
   * keys).
   */
  readonly maxIdempotencyKeys?: number;
  /**
   * Idempotency-key records one holder (a client publisher's user, `KeyOrigin.holder`) keeps at
   * most; past it that holder's oldest is forgotten first, so one client publishing under a new
   * key each time pushes out its own records, not other users'. Default 10 000.
   */
  readonly maxKeysPerUser?: number;
}

/** What one stored event costs beyond its JSON text (objects, position, timestamps), bytes. */
export const EVENT_OVERHEAD = 160;
/** Defaults, documented in docs/reliability.md ("Limits"). */
export const DEFAULT_HISTORY_BUDGET = 64 * 1024 * 1024;
export const DEFAULT_IDLE_CHANNEL_TTL = 10_000;
export const DEFAULT_POSITION_TTL = 120_000;
export const DEFAULT_MAX_IDEMPOTENCY_KEYS = 100_000;
export const DEFAULT_MAX_KEYS_PER_USER = 10_000;
/** Forgotten channels' positions kept at most (the oldest go first): bounds what channel churn holds. */
export const MAX_FORGOTTEN_POSITIONS = 100_000;
