/**
 * The error tree. Every error Lifeline raises is a {@link LifelineError} with a stable `code`
 * (match on it, never on the message) and the data that explains it.
 *
 * LifelineError
 * ├─ InvalidOptionError      ERR_INVALID_OPTION      an option or flag is out of range
 * ├─ InvalidCloseError       ERR_INVALID_CLOSE       a close code or reason that may not be sent
 * ├─ HandshakeError          ERR_HANDSHAKE           the server refused the opening handshake (status)
 * ├─ ConnectionClosedError   ERR_CONNECTION_CLOSED   the connection closed (close code, reason)
 * ├─ TimeoutError            ERR_TIMEOUT             an operation did not finish in time
 * └─ ProtocolError           ERR_PROTOCOL            a peer sent something the protocol forbids
 */
export type LifelineErrorCode =
  | 'ERR_INVALID_OPTION'
  | 'ERR_INVALID_CLOSE'
  | 'ERR_HANDSHAKE'
  | 'ERR_CONNECTION_CLOSED'
  | 'ERR_TIMEOUT'
  | 'ERR_PROTOCOL';

export class LifelineError extends Error {
  constructor(
    readonly code: LifelineErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class InvalidOptionError extends LifelineError {
  constructor(
    readonly option: string,
    message: string,
  ) {
    super('ERR_INVALID_OPTION', `${option}: ${message}`);
  }
}

export class InvalidCloseError extends LifelineError {
  constructor(
    readonly closeCode: number,
    message: string,
  ) {
    super('ERR_INVALID_CLOSE', message);
  }
}

export class HandshakeError extends LifelineError {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super('ERR_HANDSHAKE', message);
  }
}

export class ConnectionClosedError extends LifelineError {
  constructor(
    readonly closeCode: number,
    readonly reason: string,
  ) {
    super('ERR_CONNECTION_CLOSED', `connection closed (${closeCode}${reason ? ` ${reason}` : ''})`);
  }
}

export class TimeoutError extends LifelineError {
  constructor(message: string) {
    super('ERR_TIMEOUT', message);
  }
}

export class ProtocolError extends LifelineError {
  constructor(message: string) {
    super('ERR_PROTOCOL', message);
  }
}
