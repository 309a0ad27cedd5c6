import type { Position } from '../core/position.js';
import type { RequestWindow, RequestWindowState } from '../core/request-window.js';

/** One event in a channel's history. */
export interface ChannelEvent {
  readonly channel: string;
  readonly epoch: string;
  readonly offset: number;
  readonly data: unknown;
}

/** How much history a channel keeps. `size: 0` keeps none (recovery then always fails after a gap). */
export interface HistoryPolicy {
  /** Events kept at most. */
  readonly size: number;
  /** Events older than this (ms) are dropped. */
  readonly ttl: number;
}

/** The answer to "what did I miss since `since`?". */
export interface Recovery {
  /** Every event after `since`, in order (empty when not recovered). */
  readonly events: readonly ChannelEvent[];
  /** The channel's head: the position to continue from. */
  readonly position: Position;
  /** False when the gap is no longer in history or the epoch changed. */
  readonly recovered: boolean;
}

/** What {@link Broker.listenDirect} calls with a session's new direct messages. */
export interface DirectListener {
  directMessage(message: DirectMessage): void;
}

/** A message the server sends to one session, kept until the client acknowledges it. */
export interface DirectMessage {
  readonly seq: number;
  readonly data: unknown;
}

/**
 * A cluster-wide instruction between nodes: close a user's or a session's connections (the HTTP
 * API), close a session's old connection after it resumed on another node (`takeover`), or
 * after its client ended it on `connection` (`end`: logged out; that old connection is closed
 * and its session not parked).
 */
export type ControlNotice =
  | { readonly kind: 'disconnect-user'; readonly user: string; readonly reason: string }
  | { readonly kind: 'disconnect-session'; readonly session: string; readonly reason: string }
  | { readonly kind: 'end'; readonly session: string; readonly connection: string }
  | {
      readonly kind: 'takeover';
      readonly session: string;
      readonly connection: string;
      /**
       * The generation the session's record was saved with for `connection`: a node closes the
       * connection serving the session there only if that connection's generation is lower.
       * Absent (a node or a broker that hands out none): the record's owner decides.
       */
      readonly generation?: number;
    };

/** What survives a disconnect for `recoveryWindow`: who the session is and what it was told. */
export interface SessionRecord {
  readonly user: unknown;
  /** The request-id window: replies to processed publishes and requests. */
  readonly window: RequestWindowState<unknown>;
  /**
   * The highest direct-message seq sent to this session's client: a broker never issues a seq
   * at or below it again (after it lost its data, a reused seq would be taken for a repeat).
   */
  readonly sentSeq?: number;
  /**
   * The connection serving the session now, on whichever node: a node whose older connection of
   * the session ends leaves the record and the session's presence to it. A save without it keeps
   * the stored one.
   */
  readonly owner?: string;
  /**
   * The SHA-256 (hex) of the session's resume secret: a `hello` resumes the session only with
   * the secret itself. A save without it keeps the stored one.
   */
  readonly secret?: string;
  /** The session was opened by an anonymous connection: another anonymous connection with the secret may resume it. */
  readonly anonymous?: boolean;
  /**
   * The order of the session's takeovers. A hello that resumes the session claims a generation
   * as it looks the session up ({@link Broker.loadSession} with `claim`), higher than every one
   * claimed before for it, and every save made for that connection carries it. A save whose
   * generation is lower than the stored one changes nothing (a resume answered late loses to one
   * looked up after it); one without a generation is not ordered and keeps the stored one. An
   * expired record orders nothing. Loaded: the stored one (absent when no save carried one), or
   * with `claim` the new claim.
   */
  readonly generation?: number;
}

export interface PresenceMember {
  /** The member id: derived from the session id, but no way back to it (it resumes and addresses nothing). */
  readonly client: string;
  readonly user: unknown;
  /** The connection that holds the membership now (the server's bookkeeping; never shown to clients). */
  readonly connection?: string;
  /**
   * That connection's takeover order ({@link SessionRecord.generation}; bookkeeping too): a join
   * for a lower generation than the holder's, while its lease lasts, changes nothing (a
   * connection's join answered after a newer connection of the session joined). Absent: not ordered.
   */
  readonly generation?: number;
}

export type Unsubscribe = () => Promise<void>;

/**
 * Who published: a client's publish, by its session and message id. A broker remembers the last
 * one per session and channel for `ttl` ms, and a publish of the same id again (a resend that
 * reached another node before the reply was recorded) returns the first event's position
 * instead of publishing twice.
 */
export interface SessionOrigin {
  readonly session: string;
  readonly id: number;
  readonly ttl: number;
}

/**
 * An app's idempotency key: a publish under a key already used within `ttl` ms returns that
 * event's position and stores nothing; under the same key with another `digest` (a different
 * body) it is refused with an `IdempotencyConflictError`. Keys are kept per channel.
 */
export interface KeyOrigin {
  /** The key as the broker stores it (the caller scopes it, to a user for example). */
  readonly key: string;
  /** A digest of what was published (the same body gives the same digest). */
  readonly digest: string;
  readonly ttl: number;
  /**
   * Who the record counts against, for a broker that caps records per holder (a client
   * publisher's user); absent for the server's own publishes.
   */
  readonly holder?: string;
}

export type PublishOrigin = SessionOrigin | KeyOrigin;

/**
 * The exactly-once steps of {@link Broker} without a promise: what an in-process broker can
 * answer at once. The optional ones are the steps of setting up a connection (a hello's record
 * and its waiting direct messages, a subscription's catch-up); each is absent where the promised
 * method must run instead (a subclass that overrides it).
 */
export interface ImmediateExchanges {
  publish(channel: string, data: unknown, policy: HistoryPolicy, origin?: PublishOrigin): ChannelEvent;
  recordReply(session: string, id: number, reply: unknown, capacity: number): void;
  claimRequest(session: string, id: number, ttl: number): boolean;
  saveSession?(id: string, record: SessionRecord, ttl: number): boolean | void;
  pendingDirect?(session: string, afterSeq: number): readonly DirectMessage[];
  recover?(channel: string, since: Position | undefined, limit: number): Recovery;
}

/**
 * What carries fan-out, history, sessions and presence between the nodes of a deployment.
 * Every required method is async and nothing may rely on shared memory, so a Redis (or any
 * networked) implementation fits; `test/broker/contract.ts` is the suite every implementation
 * must pass. The optional members (`shareWindow`, `immediate`, `listenDirect`/`unlistenDirect`)
 * are synchronous shortcuts for a broker in the node's own process; a networked one leaves
 * them out.
 */
export interface Broker {
  /**
   * Appends to the channel's history (trimmed by `policy`) and fans out to every node's
   * subscribers. With an `origin` already published, returns that event and publishes nothing;
   * with a key origin used for another body, rejects with an `IdempotencyConflictError`. Data
   * JSON cannot carry (a BigInt, a cycle) rejects with a TypeError before anything is stored:
   * no offset is used, so subscribers never see a hole. With a session origin the data is a
   * client's, parsed from JSON: a broker may take it as encodable.
   */
  publish(channel: string, data: unknown, policy: HistoryPolicy, origin?: PublishOrigin): Promise<ChannelEvent>;
  /**
   * This node's interest in a channel: `onEvent` gets every event published from now on, in
   * offset order, until the returned function is called.
   */
  subscribe(channel: string, onEvent: (event: ChannelEvent) => void): Promise<Unsubscribe>;
  /** Events after `since` (at most `limit`), or `recovered: false`; without `since`, only the head. */
  recover(channel: string, since: Position | undefined, limit: number): Promise<Recovery>;
  /**
   * For a new subscriber that asked to rewind: the newest events still in history, oldest first
   * and ending at the head, at most `count` (its whole part; never more than the history keeps) and, with
   * `maxAgeMs`, only those published in the last `maxAgeMs` ms. Always `recovered: true`.
   */
  rewind(channel: string, count: number, maxAgeMs: number | undefined): Promise<Recovery>;

  /**
   * Stores a session for `ttl` ms (refreshed by every save). Resolves false, and changes nothing,
   * when the record's `generation` is lower than the stored one (a newer hello saved it since);
   * any other answer, `undefined` included, counts as stored.
   */
  saveSession(id: string, record: SessionRecord, ttl: number): Promise<boolean | void>;
  /**
   * Records the reply to message `id` in the session's request-id window (keeping the last
   * `capacity` replies) before the client is told: a resend to any node then gets the reply
   * instead of a second run.
   */
  recordReply(session: string, id: number, reply: unknown, capacity: number): Promise<void>;
  /**
   * The session's record, unless it expired. With `claim` (a hello about to take the session
   * over), its `generation` is a new one, higher than the stored one and than every one claimed
   * before for this id; nothing is claimed for a session not stored.
   */
  loadSession(id: string, claim?: boolean): Promise<SessionRecord | undefined>;
  /**
   * For a broker in this process only: keeps `window`, the live window of the session connected
   * here, as the session's stored window (after taking in what the stored one knew), so each
   * reply is kept once: the session's own record of a reply is then already in the broker, and
   * {@link recordReply} only finds it there. False when the session is not stored. Absent: the
   * broker keeps its own copy (a networked broker always does).
   */
  shareWindow?(session: string, window: RequestWindow<unknown>): boolean;
  /**
   * Marks request `id` of a session as running for `ttl` ms: true for the first caller, false
   * while another node holds it (a resend that reached another node while the first still runs).
   */
  claimRequest(session: string, id: number, ttl: number): Promise<boolean>;
  /**
   * For a broker in this process only: {@link publish}, {@link recordReply} and
   * {@link claimRequest} answered at once, each with its value (or throwing what its promise
   * would reject with), so a client's publish or request is checked, claimed, published,
   * recorded and answered in the turn it arrived in, with no promise between the steps; and
   * optionally {@link saveSession}, {@link pendingDirect} and {@link recover}, so a hello and the
   * subscribes behind it are answered in the turn they arrived in. Absent: the promises are used
   * (a networked broker). The server prefers it when present, so a wrapper (a `Proxy`, say) that
   * intercepts those methods must wrap or hide it too.
   */
  readonly immediate?: ImmediateExchanges | undefined;
  /**
   * Extends the life of these sessions to `ttl` ms from now (never shortens it): the node that
   * serves them calls it periodically, so a node that dies leaves records that expire. Resolves
   * with the ids it did not find (the broker lost them), which their node writes back.
   */
  refreshSessions(ids: readonly string[], ttl: number): Promise<readonly string[]>;
  /**
   * Forgets a session at once (its client ended it): its record, reply window, pending direct
   * messages and its entry in its user's index ({@link sessionsOf}).
   */
  deleteSession(id: string): Promise<void>;
  /** Ids of the unexpired sessions whose `user` is this one (compared as JSON). */
  sessionsOf(user: unknown): Promise<readonly string[]>;

  /**
   * Appends a direct message to a session's outbox (kept `ttl` ms) and wakes the node that serves
   * it. With `limit`, an outbox that already holds that many unacknowledged messages stores
   * nothing and resolves `null` (no seq is used); a broker that ignores `limit` never refuses
   * (any other answer, `undefined` included, counts as stored).
   */
  sendDirect(session: string, data: unknown, ttl: number, limit?: number): Promise<DirectMessage | null>;
  /** Messages after `afterSeq` not yet acknowledged. */
  pendingDirect(session: string, afterSeq: number): Promise<readonly DirectMessage[]>;
  /** The client processed everything up to `seq`. */
  ackDirect(session: string, seq: number): Promise<void>;
  /** This node serves `session`: `onMessage` gets its new direct messages. */
  subscribeDirect(session: string, onMessage: (message: DirectMessage) => void): Promise<Unsubscribe>;
  /**
   * For a broker in this process only: as {@link subscribeDirect}, but the broker calls
   * `listener.directMessage` (a method, so the node keeps no closures per session) until
   * {@link unlistenDirect} with the same listener. Absent: the node uses subscribeDirect (a
   * networked broker always does).
   */
  listenDirect?(session: string, listener: DirectListener): void;
  /** Undoes {@link listenDirect}; nothing when the listener does not listen. */
  unlistenDirect?(session: string, listener: DirectListener): void;

  /**
   * Adds (or refreshes) a member; it vanishes after `ttl` ms unless refreshed (a dead node's
   * entries expire). True when the member was not present before (or had expired). A member
   * held by a connection of a higher `generation` is kept as it is (false).
   */
  presenceJoin(channel: string, member: PresenceMember, ttl: number): Promise<boolean>;
  /**
   * Removes a member; with `connection`, only while that connection (or none) holds it. True
   * when it removed the member, so that one caller only tells its leave: false, and nothing
   * removed, when another connection holds it now (the session came back) or it is not there
   * (it left, or expired and was taken by {@link presenceExpired}, through another node).
   */
  presenceLeave(channel: string, client: string, connection?: string): Promise<boolean>;
  /** The members whose ttl has not ended. */
  presence(channel: string): Promise<readonly PresenceMember[]>;
  /**
   * Removes the members of `channel` whose ttl ended (their node stopped refreshing them: it
   * died, or lost the broker) and returns them, each to one caller only, so that one live node
   * tells the others they left. Absent: expired members only vanish from {@link presence}.
   */
  presenceExpired?(channel: string): Promise<readonly PresenceMember[]>;

  /**
   * Sends a control notice to every node on this broker, this one included (at most once each,
   * no history: a node that is down misses it). Absent: the broker serves one node only.
   */
  broadcast?(notice: ControlNotice): Promise<void>;
  /** This node hears every {@link broadcast}. */
  onBroadcast?(listener: (notice: ControlNotice) => void): Promise<Unsubscribe>;

  /**
   * False while the broker cannot serve (a networked broker that lost its server): the node
   * reports not-ready on `/readyz` so a load balancer sends new clients elsewhere. Absent means
   * always ready (the in-memory broker).
   */
  isReady?(): boolean;

  close(): Promise<void>;
}
