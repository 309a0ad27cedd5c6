import { LifelineError } from '../../core/errors.js';

/**
 * What a request handler throws to refuse with its own code: the client gets
 * `{"type":"error","id":…,"code":code,"message":message}`. Any other exception is reported as
 * `failed` with a generic message (the details stay in the server log).
 *
 * @example
 * server.handle('rooms.create', async ({ name }) => {
 *   if (await rooms.exists(name)) throw new RequestError('exists', 'a room with that name exists');
 *   return rooms.create(name);
 * });
 *
 * A {@link LifelineError} whose `code` is the handler's own reply code, not an `ERR_*` one.
 */
export class RequestError extends LifelineError {
  declare readonly code: string;
  override name = 'RequestError';
  constructor(code: string, message: string) {
    super(code, message);
  }
}

/** The stable codes of protocol replies: one union for server and client, in src/protocol. */
export type { ServerReplyCode as ReplyErrorCode } from '../../protocol/reply-code.js';
