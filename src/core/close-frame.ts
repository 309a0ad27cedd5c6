import { isSendableCloseCode } from './close-code.js';
import { InvalidCloseError } from './errors.js';
import { truncateUtf8, utf8ByteLength } from './utf8.js';

/**
 * A close frame's payload is a 2-byte code plus a UTF-8 reason, and a control frame's payload
 * is at most 125 bytes (RFC 6455 §5.5), so the reason is at most 123 bytes.
 */
export const MAX_CLOSE_REASON_BYTES = 123;

/** Throws {@link InvalidCloseError} unless `code` and `reason` may be sent in a close frame. */
export function assertValidClose(code: number, reason = ''): void {
  if (!isSendableCloseCode(code)) {
    throw new InvalidCloseError(code, `close code ${code} may not be sent (RFC 6455 §7.4: 1000-1003, 1007-1014, 3000-4999)`);
  }
  const bytes = utf8ByteLength(reason);
  if (bytes > MAX_CLOSE_REASON_BYTES) {
    throw new InvalidCloseError(code, `close reason is ${bytes} bytes; at most ${MAX_CLOSE_REASON_BYTES} bytes of UTF-8 fit in a close frame`);
  }
}

/** For reasons Lifeline composes itself: cut to fit instead of failing. */
export function fitCloseReason(reason: string): string {
  return truncateUtf8(reason, MAX_CLOSE_REASON_BYTES);
}
