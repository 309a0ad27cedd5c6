import type { CloseAction } from '../core/close-code.js';
import type { ClientState } from '../core/client-state.js';

/** Makes a DOM `Event` carrying `detail`'s fields as its own (one small factory, not a class per event). */
export function lifelineEvent<T extends object>(type: string, detail: T): Event & Readonly<T> {
  return Object.assign(new Event(type), detail);
}

/** `close`: a socket closed; says whether the client will reconnect and why. */
export type LifelineCloseEvent = Event & {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  readonly willReconnect: boolean;
  /** What the close-code policy decided. */
  readonly action: CloseAction;
};

/**
 * A `close` event: a `CloseEvent` where the platform has one (so `instanceof CloseEvent` holds),
 * else an `Event` with the same fields. A platform `CloseEvent` keeps `code`, `reason` and
 * `wasClean` as accessors on its prototype, not as own properties: re-dispatching one means
 * building it again from its fields (as here), never copying its own keys.
 */
export function closeEvent({ code, reason, wasClean }: { readonly code: number; readonly reason: string; readonly wasClean: boolean }, willReconnect: boolean, action: CloseAction): LifelineCloseEvent {
  const init = { code, reason, wasClean };
  const event = typeof CloseEvent === 'function' ? new CloseEvent('close', init) : lifelineEvent('close', init);
  return Object.assign(event, { willReconnect, action });
}

/** `connecting`: a connection attempt starts (attempt 0 is the first connect). */
export type ConnectingEvent = Event & { readonly attempt: number };

/** `reconnecting`: the next attempt is scheduled after `delay` ms. */
export type ReconnectingEvent = Event & { readonly attempt: number; readonly delay: number; readonly code: number; readonly reason: string };

/** `giveup`: maxAttempts spent; call `reconnect()` to start again. */
export type GiveUpEvent = Event & { readonly attempts: number; readonly code: number; readonly reason: string };

/** `authRequired`: the server said the credentials expired or were refused (4000, 4401, HTTP 401). */
export type AuthRequiredEvent = Event & { readonly code: number };

/** `statechange`: every state move, with where it came from. */
export type StateChangeEvent = Event & { readonly from: ClientState; readonly to: ClientState };

/** `error`: a socket error, a URL provider failure or a queue overflow; `error` has the detail. */
export type LifelineErrorEvent = Event & { readonly error: Error };

/**
 * `message`: a message arrived. `data` is a string for a text message; binary comes as
 * `binaryType` says: an `ArrayBuffer` (the default) or a `Blob`. A `MessageEvent` (with `origin`)
 * whose `data` is typed where the platform's is `any`; it keeps every other member, so a listener
 * written for the platform's `(event: MessageEvent) => ...` still fits.
 */
export type LifelineMessageEvent = Omit<MessageEvent, 'data'> & { readonly data: string | ArrayBuffer | Blob };

export interface ReconnectingWebSocketEventMap {
  connecting: ConnectingEvent;
  open: Event;
  message: LifelineMessageEvent;
  close: LifelineCloseEvent;
  error: LifelineErrorEvent;
  reconnecting: ReconnectingEvent;
  giveup: GiveUpEvent;
  authRequired: AuthRequiredEvent;
  statechange: StateChangeEvent;
}
