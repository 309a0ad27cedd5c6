import { LifelineError } from '../core/errors.js';
import type { ReplyCode } from '../protocol/reply-code.js';

/**
 * Why a `publish`, `request`, `presence()` or subscription of a {@link LifelineClient} failed.
 * Match on `code`, never on the message.
 *
 * | code | from | meaning |
 * |---|---|---|
 * | `timeout` | client | no reply within `publishTimeout`/`requestTimeout`; the message stays queued and may still take effect |
 * | `timeout` | server (`remote`) | the request handler did not finish in the server's time; its effect is unknown |
 * | `outcome_unknown` | client | sent, then the session was lost (not resumed): it may or may not have taken effect |
 * | `closed` | client | the client was closed, or the link ended for good (fatal close, give-up) before a reply |
 * | `unsubscribed` | client | the subscription ended before it was subscribed |
 * | `forbidden`, `bad_channel`, `unavailable`, `no_method`, `failed`, `expired`, `bad_message`, a handler's own code | server (`remote`) | see docs/protocol.md |
 *
 * A {@link LifelineError} whose `code` is the reply code above (lowercase), not an `ERR_*` one.
 */
export class ReplyError extends LifelineError {
  declare readonly code: ReplyCode;
  override name = 'ReplyError';
  constructor(
    code: ReplyCode,
    message: string,
    /** True when the server sent this code; false when the client concluded it. */
    readonly remote = false,
  ) {
    super(code, message);
  }
}

/** The subscription to `channel` has ended (or the app ended it). */
export function notSubscribed(channel: string): ReplyError {
  return new ReplyError('unsubscribed', `"${channel}" is not subscribed`);
}

/** A reply of the wrong type, or without the fields its type needs. */
export function badReply(type: unknown): ReplyError {
  return new ReplyError('bad_reply', `unexpected ${String(type)}`);
}

/** Why nothing more happens: the client was closed (or its transport ended for good). */
export function closedError(): ReplyError {
  return new ReplyError('closed', 'client closed');
}
