import type { CloseAction } from '../core/close-codes.js';
import type { ClientState } from '../core/client-state.js';

/** `close`: a socket closed; says whether the client will reconnect and why. */
export class LifelineCloseEvent extends Event {
  constructor(
    readonly code: number,
    readonly reason: string,
    readonly wasClean: boolean,
    readonly willReconnect: boolean,
    /** What the close-code policy decided. */
    readonly action: CloseAction,
  ) {
    super('close');
  }
}

/** `connecting`: a connection attempt starts (attempt 0 is the first connect). */
export class ConnectingEvent extends Event {
  constructor(readonly attempt: number) {
    super('connecting');
  }
}

/** `reconnecting`: the next attempt is scheduled after `delay` ms. */
export class ReconnectingEvent extends Event {
  constructor(
    readonly attempt: number,
    readonly delay: number,
    readonly code: number,
    readonly reason: string,
  ) {
    super('reconnecting');
  }
}

/** `giveup`: maxAttempts spent; call `reconnect()` to start again. */
export class GiveUpEvent extends Event {
  constructor(
    readonly attempts: number,
    readonly code: number,
    readonly reason: string,
  ) {
    super('giveup');
  }
}

/** `authRequired`: the server said the credentials expired or were refused (4000, 4401, 401). */
export class AuthRequiredEvent extends Event {
  constructor(readonly code: number) {
    super('authRequired');
  }
}

/** `statechange`: every state move, with where it came from. */
export class StateChangeEvent extends Event {
  constructor(
    readonly from: ClientState,
    readonly to: ClientState,
  ) {
    super('statechange');
  }
}

/** `error`: a socket error, a provider failure or a queue overflow; `error` has the detail. */
export class LifelineErrorEvent extends Event {
  constructor(readonly error: Error) {
    super('error');
  }
}

export interface ReconnectingWebSocketEventMap {
  connecting: ConnectingEvent;
  open: Event;
  message: MessageEvent;
  close: LifelineCloseEvent;
  error: LifelineErrorEvent;
  reconnecting: ReconnectingEvent;
  giveup: GiveUpEvent;
  authRequired: AuthRequiredEvent;
  statechange: StateChangeEvent;
}
