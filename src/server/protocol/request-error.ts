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
 */
export class RequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

/** The stable codes of protocol replies: one union for server and client, in src/protocol. */
export type { ServerReplyCode as ReplyErrorCode } from '../../protocol/reply-code.js';
