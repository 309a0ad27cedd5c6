/**
 * The reconnecting client's states and the moves between them.
 *
 *   connecting ──open──> open ──(close, reconnectable)──> reconnecting ──timer──> connecting
 *        │                 │                                   │
 *        │                 └──close()──> closing ──> closed <──┘ (give up / fatal / stop)
 *        └──(hidden or offline while waiting)──> paused ──(visible and online)──> connecting
 *
 * `closed` is terminal until the app calls `reconnect()`.
 */
export type ClientState = 'connecting' | 'open' | 'closing' | 'reconnecting' | 'paused' | 'closed';

/**
 * The moves the diagram allows. The client does not consult this at run time (a checker costs
 * bytes in every browser bundle); test/client/reentrancy.test.ts holds every reported move to it.
 */
export const clientTransitions: { readonly [S in ClientState]: readonly ClientState[] } = {
  connecting: ['open', 'reconnecting', 'paused', 'closing', 'closed'],
  open: ['connecting', 'reconnecting', 'paused', 'closing', 'closed'],
  closing: ['closed', 'connecting'],
  reconnecting: ['connecting', 'paused', 'closed'],
  paused: ['connecting', 'reconnecting', 'closed'],
  closed: ['connecting'],
};

/** The WHATWG readyState a client state shows: waiting to reconnect (`reconnecting`, `paused`) still counts as CONNECTING. */
export function readyStateOf(state: ClientState): 0 | 1 | 2 | 3 {
  return state === 'open' ? 1 : state === 'closing' ? 2 : state === 'closed' ? 3 : 0;
}
