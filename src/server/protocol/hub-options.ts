import type { Broker } from '../../broker/broker.js';
import type { Clock } from '../../core/clock.js';
import type { LifelineLogger } from '../../core/logger.js';
import type { Connection } from '../connection.js';
import type { ServerStats } from '../stats.js';
import type { ChannelsConfig } from './channels.js';

/** What a request handler gets besides its params. */
export interface RequestContext<User> {
  readonly session: string;
  readonly user: User;
  readonly connection: Connection<User>;
  /** Aborted when the request times out or its connection closes. */
  readonly signal: AbortSignal;
}

/**
 * Answers one request method. Declared through a method signature, which TypeScript checks
 * bivariantly, so a server typed for one User stays assignable to LifelineServer<unknown>.
 */
export type RequestHandler<User> = { handle(params: unknown, context: RequestContext<User>): unknown }['handle'];

/**
 * An authorization hook's verdict: true allows; false refuses with `forbidden`; `{ refused }`
 * refuses with `forbidden` and says why (the reason is the error's message, for the client).
 */
export type HookVerdict = boolean | { readonly refused: string };

/** Authorization hooks: return false (or a promise of false) to refuse with `forbidden`. */
export interface ChannelHooks<User> {
  // Method syntax on purpose: a server typed for one User stays assignable to LifelineServer<unknown>.
  /** What other subscribers see of a member in presence (join, leave, list). Default: the whole user. */
  presenceUser?(user: User): unknown;
  canSubscribe?(context: { readonly user: User; readonly session: string; readonly channel: string }): HookVerdict | Promise<HookVerdict>;
  canPublish?(context: { readonly user: User; readonly session: string; readonly channel: string; readonly data: unknown }): HookVerdict | Promise<HookVerdict>;
}

export interface HubOptions<User> extends ChannelHooks<User> {
  readonly broker: Broker;
  readonly channels: ChannelsConfig;
  readonly recoveryWindow: number;
  readonly requestTimeout: number;
  /** Replies remembered per session for exactly-once resends. */
  readonly windowSize: number;
  readonly pingInterval: number;
  /** The largest message the server accepts (told to clients in welcome). */
  readonly maxPayload: number;
  /** A member whose connection closed stays in presence this long (ms) before its leave is told. */
  readonly presenceGrace: number;
  /** How long an idempotency key is remembered, ms. */
  readonly idempotencyWindow: number;
  /** Random bytes for resume secrets. */
  readonly randomBytes: (size: number) => Uint8Array;
  readonly clock: Clock;
  readonly log: LifelineLogger;
  /** Counts recoveries and times requests, when given. */
  readonly stats?: ServerStats;
  /** A malformed or out-of-place message: the server's rate-limited `error` reply. */
  readonly invalid: (connection: Connection<unknown>, code: string, detail: string, id?: number) => void;
  /** Caps that keep one client from exhausting the node (docs/reliability.md, "Limits"). */
  readonly limits: HubLimits;
  /** Judges a `refresh` token for a live connection. */
  refresh(connection: Connection<User>, token: string): Promise<{ readonly expiresAt: number } | { readonly error: string }>;
}

export interface HubLimits {
  /** A connection that sends no hello within this is closed with 4408, ms. */
  readonly helloTimeout: number;
  /** Channels one session may be subscribed to at once. */
  readonly maxSubscriptions: number;
  /** Live sessions of one (non-anonymous) user on this node. */
  readonly maxSessionsPerUser: number;
  /** Distinct channels with local subscribers on this node. */
  readonly maxChannels: number;
  /** Presence members of one channel on this node. */
  readonly maxPresenceMembers: number;
  /** Messages of one session received and not yet processed; past it the connection is not read until half of them are. */
  readonly maxQueuedMessages: number;
  /** Events a session is sent from history (rewind and recovery) per second, in bursts of as many. */
  readonly maxReplayRate: number;
  /** Unacknowledged direct messages one session's outbox holds; a send past it is refused. */
  readonly maxPendingDirect: number;
}
