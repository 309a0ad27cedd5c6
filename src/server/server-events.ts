import type { IncomingMessage } from 'node:http';
import type { Envelope } from '../core/envelope.js';
import type { HandshakeRejection } from '../core/handshake-policy.js';
import type { CloseReport, Connection } from './connection.js';

export type ServerState = 'running' | 'draining' | 'closed';

/** The events of a {@link LifelineServer}, with their listeners' arguments. */
export interface ServerEvents<User> {
  /** A connection passed the handshake (and first-message authentication, if configured). */
  connection: [connection: Connection<User>, request: IncomingMessage];
  /** A valid JSON envelope arrived. Listeners may be async: a throw or rejection closes with 1011. */
  message: [connection: Connection<User>, message: Envelope];
  /** A binary message arrived (when `binary: 'allow'`). */
  binary: [connection: Connection<User>, data: Buffer];
  /** A connection ended (whoever closed it, or a drop): how, in the report. */
  disconnect: [connection: Connection<User>, report: CloseReport];
  /** A handshake was refused (status, or close code in `handshakeRejection: 'close'` mode, unless past its bound of refusals still closing: then the status). */
  rejected: [rejection: HandshakeRejection, request: IncomingMessage];
  /** Peer errors, hook failures and throwing listeners. Never thrown: without a listener they are only logged. */
  error: [error: Error, connection: Connection<User> | undefined];
  state: [transition: { readonly from: ServerState; readonly to: ServerState }];
}
