/**
 * The stable codes of `error` replies, for both sides: what a server sends (with an id, or about
 * the connection) and what a client concludes on its own. Match on them, never on messages.
 */

/** Codes a server sends in answer to one message (docs/protocol.md). */
export type ServerReplyCode =
  | 'forbidden'
  | 'bad_channel'
  | 'unavailable'
  | 'no_method'
  | 'timeout'
  | 'failed'
  | 'expired'
  | 'unauthorized'
  | 'bad_state'
  | 'idempotency_conflict'
  /** A cap of docs/reliability.md ("Limits") refused it: subscriptions, channels, presence members. */
  | 'limit'
  /** The message did not validate (the first field at fault is named). */
  | 'bad_message'
  | 'unknown_type'
  | 'hello_required';

/** Codes a client concludes without a server reply. */
export type ClientReplyCode = 'timeout' | 'outcome_unknown' | 'closed' | 'unsubscribed' | 'too_big';

/**
 * Every code a reply error may carry: the protocol's own, or a request handler's own code
 * (any string a `RequestError` names).
 */
export type ReplyCode = ServerReplyCode | ClientReplyCode | (string & {});
