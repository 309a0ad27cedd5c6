import type { ServerReplyCode } from './reply-code.js';

/**
 * What the session asks its host to do for the exactly-once exchanges (publish, request), in
 * order; the host performs each and feeds the answer back to the session, which says what next.
 */
export type ExchangeStep =
  /** Send this text to the client. */
  | { readonly kind: 'send'; readonly text: string }
  /** Record this reply in the broker's copy of the window (a failure is the host's to log; the reply still goes out). */
  | { readonly kind: 'record'; readonly id: number; readonly text: string }
  /** Run the host's checks (channel, hook, handler, broker readiness); answer with `checked`. */
  | { readonly kind: 'check'; readonly id: number }
  /** Publish message `id` to the broker (this is try `attempt`, from 0); answer with `published`. */
  | { readonly kind: 'publish'; readonly id: number; readonly attempt: number }
  /** Claim request `id` in the broker; answer with `claimed`. */
  | { readonly kind: 'claim'; readonly id: number }
  /** Run request `id`'s handler (with its timeout); answer with `ran`. */
  | { readonly kind: 'run'; readonly id: number }
  /** Read the reply of `id` stored by another node; answer with `loaded`. */
  | { readonly kind: 'load'; readonly id: number }
  /** Call `fired(id)` after `ms` on the clock. */
  | { readonly kind: 'wait'; readonly id: number; readonly ms: number }
  /** Something failed that the host should log (the session already answered). */
  | { readonly kind: 'fault'; readonly id: number; readonly error: unknown };

/** The host's checks: go on, or refuse (recorded: a resend gets the same refusal; not: a resend may try again). */
export type CheckVerdict = { readonly ok: true } | { readonly ok: false; readonly code: ServerReplyCode; readonly message: string; readonly record: boolean };

/** How a broker publish ended: the stored event's position, an idempotency conflict, or a failure (`maybe`: the command may have run). */
export type PublishAnswer =
  | { readonly kind: 'stored'; readonly position: { readonly epoch: string; readonly offset: number } }
  | { readonly kind: 'conflict'; readonly message: string }
  | { readonly kind: 'failed'; readonly maybe: boolean };

/** How a request handler ended (the host races it against the request timeout). */
export type RunOutcome =
  | { readonly kind: 'result'; readonly data: unknown }
  | { readonly kind: 'timeout' }
  /** The handler refused with its own code (a `RequestError`). */
  | { readonly kind: 'refused'; readonly code: string; readonly message: string }
  | { readonly kind: 'failed' };

/** A publish whose broker command may have run is asked again this many times, this far apart (ms). */
export const PUBLISH_RETRIES = 3;
export const PUBLISH_RETRY_DELAY = 300;
/** A request claim outlives the request timeout by this much (the reply is recorded after it), ms. */
export const CLAIM_MARGIN = 2_000;
/** How often a resend waits for the reply of a copy running on another node, ms. */
export const ELSEWHERE_POLL = 100;

/** One publish or request between its arrival and its answer. */
export type Exchange =
  | { readonly type: 'publish'; readonly channel: string; attempt: number; outcome: 'unsent' | 'unknown'; waiting: number }
  | { readonly type: 'request'; readonly method: string; deadline: number; waiting: number };
