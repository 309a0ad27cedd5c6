import type { IncomingMessage } from 'node:http';
import { CloseCode } from '../core/close-code.js';
import { fitCloseReason } from '../core/close-frame.js';
import type { Clock } from '../core/clock.js';
import type { Envelope } from '../core/envelope.js';
import { closeCodeOfRejection } from '../core/handshake-policy.js';
import { Timer } from '../core/timer.js';
import { InputHold, type Connection, type ConnectionState } from './connection.js';
import { authRequest, requestUrl, runAuthenticate } from './handshake.js';
import type { Authenticate } from './options.js';

/** What first-message authentication needs from the server. */
export interface FirstMessageHost<User> {
  readonly clock: Clock;
  /** Credentials must arrive and pass within this, ms. */
  readonly deadline: number;
  readonly authenticate: Authenticate<User>;
  /** Retry-After for a hook that throws (503-like: 4503). */
  readonly retryAfter: number;
  hookFailed(error: unknown): void;
  /** Authentication passed: announce the connection. */
  accepted(connection: Connection<User>, request: IncomingMessage): void;
  /** Deliver what arrived behind the credentials. */
  deliver(connection: Connection<User>, item: Envelope | Buffer): void;
}

interface Pending {
  readonly request: IncomingMessage;
  readonly timer: Timer;
  /** Set once the credentials are in and the hook runs: what arrived behind them, in order. */
  backlog: (Envelope | Buffer)[] | undefined;
}

/**
 * `authenticateOn: 'first-message'`: the upgrade is accepted, the first message carries the
 * credentials, and nothing else is delivered until the hook says yes. Messages that arrive
 * while the hook runs are kept in order (reading is paused meanwhile, so the backlog is
 * bounded by one read) and delivered after the `connection` event; a refusal or a silent peer
 * is closed with 4401 (4403 when the hook says forbidden).
 */
export class FirstMessageAuth<User> {
  readonly #pending = new Map<Connection<User>, Pending>();

  constructor(private readonly host: FirstMessageHost<User>) {}

  begin(connection: Connection<User>, request: IncomingMessage): void {
    const timer = new Timer(this.host.clock, () => this.#fail(connection, 'authentication timed out'));
    timer.start(this.host.deadline);
    this.#pending.set(connection, { request, timer, backlog: undefined });
  }

  /** A message from a connection still authenticating (`binary` when it was not text). */
  message(connection: Connection<User>, message: Envelope | undefined, binary?: Buffer): void {
    const pending = this.#pending.get(connection);
    if (!pending) return;
    if (pending.backlog) {
      const item = message ?? binary;
      if (item !== undefined) pending.backlog.push(item);
      return;
    }
    if (message === undefined) return this.#fail(connection, 'the first message must carry credentials');
    pending.backlog = [];
    connection.pauseInput(InputHold.AUTH);
    const request = { ...authRequest(pending.request, requestUrl(pending.request)), firstMessage: message };
    const { host } = this;
    void runAuthenticate(host.authenticate, request, (error) => host.hookFailed(error), host.retryAfter).then((verdict) => {
      const backlog = pending.backlog ?? [];
      this.forget(connection);
      // Resume first, whatever happened meanwhile: a connection closed during the hook must
      // still read its peer's close frame.
      connection.resumeInput(InputHold.AUTH);
      if (connection.state !== 'authenticating') return;
      if ('rejection' in verdict) {
        connection.close(closeCodeOfRejection[verdict.rejection.kind] ?? CloseCode.UNAUTHORIZED, fitCloseReason(verdict.rejection.message));
        return;
      }
      connection.authenticated(verdict.user, verdict.expiresAt, verdict.anonymous === true);
      connection.send({ type: 'authenticated' });
      this.host.accepted(connection, pending.request);
      for (const item of backlog) {
        if ((connection.state as ConnectionState) !== 'open') break; // a listener may have closed it
        this.host.deliver(connection, item);
      }
    }).catch((error: unknown) => host.hookFailed(error));
  }

  /** The connection closed (or authentication settled): drop its state and timer. */
  forget(connection: Connection<User>): void {
    this.#pending.get(connection)?.timer.stop();
    this.#pending.delete(connection);
  }

  #fail(connection: Connection<User>, reason: string): void {
    this.forget(connection);
    connection.resumeInput(InputHold.AUTH); // so the peer's close frame can be read
    connection.close(CloseCode.UNAUTHORIZED, reason);
  }
}
