import { CloseCode } from './close-code.js';
import { describeCloseCode } from './close-codes.js';
import { fitCloseReason, MAX_CLOSE_REASON_BYTES } from './close-frame.js';
import { formatRetryHint } from './retry-hint.js';
import { truncateUtf8, utf8ByteLength } from './utf8.js';

export interface ShutdownHint {
  /** Human part; default the code's name. */
  readonly reason?: string;
  /** Clients wait at least this long, ms. Default 1000. */
  readonly retryAfter?: number;
  /** And spread their return over this window, ms. Default: 2 ms per connection, 1-60 s. */
  readonly retrySpread?: number;
}

/**
 * The close reason a server sends everyone when it shuts down. For 1012/1013 it carries the
 * retry hint, which spreads the returning crowd at about 500 reconnects per second by default;
 * the hint must survive the 123-byte limit, so the human part is what gets cut (in bytes).
 */
export function shutdownReason(code: number, hint: ShutdownHint, connections: number): string {
  const text = hint.reason ?? describeCloseCode(code).name;
  if (code !== CloseCode.SERVICE_RESTART && code !== CloseCode.TRY_AGAIN_LATER) return fitCloseReason(text);
  const spread = hint.retrySpread ?? Math.min(60_000, Math.max(1000, connections * 2));
  const retry = formatRetryHint({ afterMs: hint.retryAfter ?? 1000, spreadMs: spread });
  return `${truncateUtf8(text, Math.max(0, MAX_CLOSE_REASON_BYTES - utf8ByteLength(retry) - 2))}; ${retry}`;
}
