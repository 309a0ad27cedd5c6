import { LifelineError } from '../../core/errors.js';
import type { LifelineLogger } from '../../core/logger.js';
import type { ClientMessage } from '../../protocol/client-messages.js';
import { errorReply } from '../../protocol/server-messages.js';
import type { Connection } from '../connection.js';

/**
 * How the hub maps failures onto the wire: a broker that cannot be reached is not a bug (the
 * message is answered `unavailable`, a hello is asked to come back later), anything else is an
 * internal error (1011).
 */

/** A networked broker that could not be reached (or did not answer in time). */
export function isBrokerUnavailable(error: unknown): boolean {
  return error instanceof LifelineError && error.code === 'ERR_BROKER_UNAVAILABLE';
}

/**
 * A message's handling failed. A broker that is unreachable is not a bug: the message is
 * answered `unavailable` (an `ack` is only logged; the client acknowledges again later) and
 * the connection stays. Anything else is an internal error (1011).
 */
export function messageFailed(log: LifelineLogger, connection: Connection<unknown>, message: ClientMessage, error: unknown): void {
  if (!isBrokerUnavailable(error)) return internalError(log, connection, error);
  log.warn({ err: error, type: message.type }, 'message not handled: broker unavailable');
  if ('id' in message && typeof message.id === 'number') connection.send(errorReply(message.id, 'unavailable', 'the server cannot reach its broker now; try again later'));
}

/** The broker could not serve a hello: the client is asked to come back later (1013), not told of a bug. */
export function helloUnavailable(log: LifelineLogger, connection: Connection<unknown>, error: unknown): void {
  log.error({ err: error, id: connection.id }, 'session could not be opened: broker unavailable');
  if (connection.state === 'open') connection.close(1013, 'try again later');
}

export function internalError(log: LifelineLogger, connection: Connection<unknown>, error: unknown): void {
  log.error({ err: error, id: connection.id }, 'protocol handling failed');
  if (connection.state === 'open') connection.close(1011, 'internal error');
}
