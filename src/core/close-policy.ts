import { closeActionOf, type CloseAction } from './close-code.js';
import { parseRetryHint, type RetryHint, type RetryHintParser } from './retry-hint.js';

/** What the client knows about a close when it decides what to do next. */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  /**
   * Why the client itself ended the link, when it did: a heartbeat or connect timeout is a
   * local verdict, reported with code 1006 (never 1000) and classified as reconnectable.
   */
  readonly local?: 'heartbeat' | 'connect-timeout' | 'handshake-refused' | undefined;
  /** HTTP status of a refused handshake, when the platform lets us see it (Node only). */
  readonly status?: number | undefined;
}

export interface CloseDecision {
  readonly action: CloseAction;
  /** A server retry hint found in the reason (or Retry-After), if any. */
  readonly hint: RetryHint | undefined;
}

/** HTTP statuses of a refused handshake and what they mean for a retry (DESIGN's table). */
function actionForStatus(status: number): CloseAction {
  if (status === 401) return 'refresh-auth';
  // 408 (the request was too slow: a lossy link), 429 and every 5xx are worth another try.
  if (status === 408 || status === 429 || status >= 500) return 'reconnect';
  // 400 malformed, 403 forbidden, 404 no endpoint, 426 wrong version: retrying cannot help.
  return 'fatal';
}

/**
 * The close-code policy as one pure function: which action a close leads to. Apps override it
 * with the client's `shouldReconnect` hook; this is the default behind that hook.
 */
export function classifyClose(close: CloseInfo): CloseDecision {
  return decideClose(close, parseRetryHint);
}

/** {@link classifyClose} with the retry hint read by `hintOf` (none without it: the client's hints are opt-in). */
export function decideClose(close: CloseInfo, hintOf: RetryHintParser | undefined): CloseDecision {
  const { local, status } = close;
  return {
    action: local === 'heartbeat' || local === 'connect-timeout' ? 'reconnect' : local === 'handshake-refused' && status !== undefined ? actionForStatus(status) : closeActionOf(close.code),
    hint: hintOf?.(close.reason),
  };
}
