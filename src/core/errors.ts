/**
 * The error tree. Every error Lifeline raises is a {@link LifelineError} with a stable `code`
 * (match on it, never on the message) and the data that explains it. Errors raised locally
 * carry an `ERR_*` code; the two that stand for a protocol reply carry the reply's code.
 *
 * LifelineError                 ERR_QUEUE_FULL, ERR_SOCKET, ERR_ILLEGAL_STATE, ERR_SERVER_CLOSED,
 * │                             ERR_NOT_LISTENING, ERR_OUTBOX_LOCKED (plain, with the code)
 * ├─ InvalidOptionError         ERR_INVALID_OPTION       an option or flag is out of range
 * ├─ InvalidCloseError          ERR_INVALID_CLOSE        a close code or reason that may not be sent
 * ├─ ConnectionClosedError      ERR_CONNECTION_CLOSED    the connection closed (close code, reason)
 * ├─ BrokerUnavailableError     ERR_BROKER_UNAVAILABLE   a networked broker (Redis) could not be reached (sent)
 * ├─ IdempotencyConflictError   ERR_IDEMPOTENCY_CONFLICT an idempotency key was reused for a different body
 * ├─ UsageError                 ERR_USAGE                `lifeline serve` cannot run with these settings (src/standalone)
 * ├─ ReplyError                 a reply code             a client's publish, request or subscription failed (src/client)
 * └─ RequestError               the handler's code       a request handler refuses (src/server)
 */
export type LifelineErrorCode =
  | 'ERR_INVALID_OPTION'
  | 'ERR_INVALID_CLOSE'
  | 'ERR_CONNECTION_CLOSED'
  /** The client's outbound queue refused or evicted messages. */
  | 'ERR_QUEUE_FULL'
  /** The platform WebSocket reported an error (browsers give no detail; the close that follows does). */
  | 'ERR_SOCKET'
  /** A state machine was asked for a move its table forbids: a bug, not a peer's fault. */
  | 'ERR_ILLEGAL_STATE'
  /** The broker's server (Redis) is unreachable or did not answer in time: nothing was done, or its outcome is unknown. */
  | 'ERR_BROKER_UNAVAILABLE'
  /** A publish reused an idempotency key (within its window) with a different body: nothing was published. */
  | 'ERR_IDEMPOTENCY_CONFLICT'
  /** `listen()` on a server that is draining or closed. */
  | 'ERR_SERVER_CLOSED'
  /** `address()` of a server that does not listen (yet, or any more). */
  | 'ERR_NOT_LISTENING'
  /** A client's `FileOutboxStore` path is held by another client (in this process or another): this one keeps its outbox in memory. */
  | 'ERR_OUTBOX_LOCKED'
  /** A setting (or a combination of them) `lifeline serve` cannot run with. */
  | 'ERR_USAGE';

/**
 * The root of the tree. `code` is an `ERR_*` code, or a protocol reply's code on the two errors
 * that carry one (`ReplyError`, `RequestError`): `instanceof` on the subclass narrows it. Not
 * generic: TypeScript narrows `instanceof` on a generic class to its `any` instantiation, which
 * turned `code` into `any` after `error instanceof LifelineError`.
 */
export class LifelineError extends Error {
  constructor(
    readonly code: LifelineErrorCode | (string & {}),
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  // Each class names itself in a literal: a minifier renames classes, so `new.target.name`
  // would read "c" in an app's production bundle.
  override name = 'LifelineError';
}

/**
 * A networked broker could not be reached or did not answer. `sent` is false when the command
 * never left this node (nothing happened), true when it may have been carried out and only its
 * answer is missing.
 */
export class BrokerUnavailableError extends LifelineError {
  override name = 'BrokerUnavailableError';
  constructor(
    message: string,
    readonly sent: boolean,
    options?: { cause?: unknown },
  ) {
    super('ERR_BROKER_UNAVAILABLE', message, options);
  }
}

/** A publish reused an idempotency key with a different body; nothing was published. */
export class IdempotencyConflictError extends LifelineError {
  override name = 'IdempotencyConflictError';
  constructor(readonly key: string) {
    super('ERR_IDEMPOTENCY_CONFLICT', 'this idempotency key was already used for a different message');
  }
}

export class InvalidOptionError extends LifelineError {
  override name = 'InvalidOptionError';
  constructor(
    readonly option: string,
    message: string,
  ) {
    super('ERR_INVALID_OPTION', `${option}: ${message}`);
  }
}

export class InvalidCloseError extends LifelineError {
  override name = 'InvalidCloseError';
  constructor(
    readonly closeCode: number,
    message: string,
  ) {
    super('ERR_INVALID_CLOSE', message);
  }
}

export class ConnectionClosedError extends LifelineError {
  override name = 'ConnectionClosedError';
  constructor(
    readonly closeCode: number,
    readonly reason: string,
  ) {
    super('ERR_CONNECTION_CLOSED', `connection closed (${closeCode}${reason ? ` ${reason}` : ''})`);
  }
}
