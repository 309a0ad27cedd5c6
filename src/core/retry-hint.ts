/**
 * A server's hint of when to come back, carried in a 1012/1013/4429/4503 close reason or a
 * 503 `Retry-After` header. The client waits `afterMs` plus a random share of `spreadMs`, so a
 * restarting server can spread its returning crowd over a window it chooses.
 *
 * Wire form, inside a close reason: `retry after 2000 ms, spread over 10000 ms`. Anything may
 * precede it ("service restart; retry after ..."), so it fits next to a human message.
 */
export interface RetryHint {
  readonly afterMs: number;
  readonly spreadMs: number;
}

const pattern = /retry after (\d{1,9}) ms(?:, spread over (\d{1,9}) ms)?/;

export function formatRetryHint(hint: RetryHint): string {
  const after = Math.max(0, Math.round(hint.afterMs));
  const spread = Math.max(0, Math.round(hint.spreadMs));
  return spread > 0 ? `retry after ${after} ms, spread over ${spread} ms` : `retry after ${after} ms`;
}

export function parseRetryHint(reason: string): RetryHint | undefined {
  const match = pattern.exec(reason);
  if (!match) return undefined;
  return { afterMs: Number(match[1]), spreadMs: match[2] === undefined ? 0 : Number(match[2]) };
}

/** Reads a server's retry hint out of a close reason (see {@link parseRetryHint}). */
export type RetryHintParser = (reason: string) => RetryHint | undefined;

/**
 * Server retry hints in close reasons, for `ReconnectingWebSocket`'s `retryHints` option, as an
 * opt-in module (a bare client bundles none of it): `retryHints: withRetryHints()`. With it, a
 * 1012/1013/4429/4503 reason's `retry after N ms, spread over M ms` sets the retry delay.
 * `LifelineClient` turns it on by default.
 */
export function withRetryHints(): RetryHintParser {
  return parseRetryHint;
}

/**
 * `Retry-After` (RFC 9110 §10.2.3) is either delay-seconds or an HTTP date.
 * @returns milliseconds to wait, or undefined when absent or unreadable.
 */
export function parseRetryAfterHeader(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}
