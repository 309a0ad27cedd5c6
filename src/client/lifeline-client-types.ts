import type { BackoffOptions } from '../core/backoff.js';
import type { ClientState } from '../core/client-state.js';
import type { ReconnectingWebSocketEventMap } from './events.js';
import type { HeartbeatOptions } from '../core/heartbeat.js';
import { check, type ClientOptions } from './options.js';
import type { OutboxOption } from './durable-outbox.js';
import type { OutboxEntry } from './outbox-store.js';
import type { ReplyError } from './reply-error.js';
import type { TokenRefreshOption } from './token-refresh.js';

export interface LifelineClientOptions extends Omit<ClientOptions, 'queue' | 'heartbeat'> {
  /** Liveness checks: on by default here (a Lifeline server answers pings); `false` off, or settings overriding some defaults. */
  readonly heartbeat?: boolean | Partial<HeartbeatOptions>;
  /** A publish not acknowledged within this rejects with `timeout` (it stays queued and is still resent), ms; 0 never. Default 10 000. */
  readonly publishTimeout?: number;
  /** A request (or `presence()`) not answered within this rejects with `timeout` (it stays queued), ms; 0 never. Default 10 000. */
  readonly requestTimeout?: number;
  /**
   * A durable outbox (off by default): every publish and request is saved there before it is
   * sent, and dropped from it once answered; a new client on the same store resumes the stored
   * session and resends what is left with the same ids, so it takes effect once across a page
   * reload or a process restart (outcomes through `outbox` events). `IndexedDbOutboxStore`
   * (browsers), `FileOutboxStore` and `MemoryOutboxStore` (Node entry), or your own store as
   * `withOutbox(store)` (the Node entry also takes it bare). Its code comes with the store: an
   * app without one bundles none of it.
   */
  readonly outbox?: OutboxOption;
  /**
   * `withTokenRefresh(provider)`, `provider` giving a fresh token for the same user. When `welcome`
   * says when the credentials expire, it is called before then (10 % of the time left ahead, at
   * most 30 s) and its token sent as `refresh` on the live link. An opt-in module: an app without
   * it bundles none of it. (The Node entry also takes the provider bare.)
   */
  readonly refreshToken?: TokenRefreshOption;
  /**
   * The schedule of automatic retries after a transient refusal: a subscription refused with
   * `unavailable` or `failed` (retried until it is confirmed, the app unsubscribes or a permanent
   * refusal), and a publish, request or `presence()` refused with `unavailable` (resent under the
   * same id until `retryDeadline`). Default: 500 ms first ceiling, factor 2, at most 10 000 ms,
   * full jitter.
   */
  readonly retry?: Partial<Omit<BackoffOptions, 'maxAttempts'>>;
  /**
   * How long after a publish, request or `presence()` is made the client keeps resending it under
   * its id when the server answers `unavailable`, ms; after that the promise rejects with that
   * `unavailable`. 0: no automatic resend. Default 10 000.
   */
  readonly retryDeadline?: number;
}

/** The transport's state, plus `ready`: open, welcomed, resubscribed and resent. */
export type LifelineClientState = ClientState | 'ready';

/**
 * Options of one `request()` or `presence()` query. `signal`: when it aborts, the promise rejects
 * with the signal's `reason` (an `AbortError` `DOMException` unless given another) and the message
 * leaves the outbox (and a durable store): if it has not gone out yet, it never will; if it has,
 * it may still take effect once, as with `fetch()`, but it is not resent after a reconnect. A
 * signal aborted already rejects at once and sends nothing. Without it, a timeout only stops the
 * waiting (the message is still resent).
 */
export interface RequestOptions {
  readonly signal?: AbortSignal;
}

/** Options of one `publish()`: a `signal`, as {@link RequestOptions}, and an idempotency key. */
export interface PublishOptions extends RequestOptions {
  /**
   * The app's key for this message (1-255 printable ASCII characters, a UUID say): the server
   * stores one event per key within its idempotency window (default 24 h), also across sessions.
   */
  readonly idempotencyKey?: string;
}

/** `ready`: the link is up and everything the app had is restored. */
export type ReadyEvent = Event & { readonly resumed: boolean };
/** `session`: the server welcomed us; `resumed: false` means a new session (unanswered sends failed with `outcome_unknown`). */
export type SessionEvent = Event & { readonly id: string; readonly resumed: boolean };
/** `message`: a direct message from the server, each `seq` once; acknowledged after the listeners ran. */
export type DirectMessageEvent = Event & { readonly data: unknown; readonly seq: number };
/**
 * `outbox`: a publish or request restored from the durable outbox (made by an earlier client, so
 * no promise waits for it) is done here: answered (`value`: the position or the result; `error`:
 * the server's refusal) or not (`error` `outcome_unknown`: it was sent in a session that could not
 * be resumed; `closed`: this client closed first, the store still has it).
 */
export type OutboxEvent = Event & { readonly entry: OutboxEntry; readonly value?: unknown; readonly error?: ReplyError };
/** `statechange`: every move of `state`, to and from `ready` included. */
export type LifelineStateEvent = Event & { readonly from: LifelineClientState; readonly to: LifelineClientState };

/** The client's own events, and the transport's lifecycle events re-dispatched. */
export interface LifelineClientEventMap extends Omit<ReconnectingWebSocketEventMap, 'message' | 'statechange'> {
  ready: ReadyEvent;
  session: SessionEvent;
  message: DirectMessageEvent;
  statechange: LifelineStateEvent;
  outbox: OutboxEvent;
}

/** A publish or request timeout (or `retryDeadline`) option, checked once: 10 000 ms unless given; 0 means none. */
export function resolveTimeout(name: string, value: number | undefined): number {
  return check(name, value ?? 10_000, 0);
}
