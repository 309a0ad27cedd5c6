import { backoffCeiling, jittered, type BackoffOptions } from './backoff.js';
import type { Rng } from './clock.js';
import type { CloseAction } from './close-code.js';
import type { CloseInfo } from './close-policy.js';
import type { ClientState } from './client-state.js';
import type { RetryHint } from './retry-hint.js';

/** What the plan needs from the client's options. */
export interface ReconnectSettings extends BackoffOptions {
  readonly rng: Rng;
}

/** The next retry: its number (1-based since the last stable connection), its delay, ms, and whether a server's hint set it. */
export interface Retry {
  readonly attempt: number;
  readonly delay: number;
  readonly hinted: boolean;
}

/**
 * The close-code policy's action with the app's `shouldReconnect` answer folded in (`undefined`
 * keeps the policy, a boolean means reconnect or stop); an application code (`'app'`) nobody
 * decided on reconnects.
 */
export function settleAction(policy: CloseAction, custom: CloseAction | boolean | undefined): Exclude<CloseAction, 'app'> {
  const action = custom === undefined ? policy : custom === true ? 'reconnect' : custom === false ? 'stop' : custom;
  return action === 'app' ? 'reconnect' : action;
}

/**
 * The reconnecting client's retry decision, free of I/O (the client keeps the count and runs the
 * timer): the retry after a reconnectable `close` when `attempt` retries were made since the last
 * stable connection; `undefined` once `maxAttempts` are spent (give up), except after a server's
 * 1013 ("try again later"), which waits at the longest delay instead and never spends the budget
 * (unless `maxAttempts` is 0: no retries at all).
 * The delay: `override` (the app's `reconnectDelay`) if it answers, else the server's hint
 * (`hint`, or a refused handshake's Retry-After spread over one backoff delay), else the backoff;
 * `hinted` says the hint set it.
 *
 * @example
 * const retry = nextRetry({ ...defaultBackoff, rng }, 0, close, hint); // undefined: give up
 */
export function nextRetry(
  settings: ReconnectSettings,
  attempt: number,
  close: CloseInfo,
  hint: RetryHint | undefined,
  retryAfterMs?: number,
  override?: (attempt: number) => number | undefined,
): Retry | undefined {
  const exhausted = attempt >= settings.maxAttempts;
  // `maxAttempts: 0` asks for no retry at all, even after a 1013: spent with no attempt made
  // (`!attempt`) happens only then.
  if (exhausted && (close.code !== 1013 || close.local || !attempt)) return undefined;
  if (!exhausted) attempt++;
  const backoff = jittered(settings, exhausted ? settings.maxDelay : backoffCeiling(settings, attempt), settings.rng);
  hint ??= retryAfterMs === undefined ? undefined : { afterMs: retryAfterMs, spreadMs: backoff };
  const chosen = override?.(attempt);
  // `hinted` only when the server's hint set the delay: one the app chose is no hint to keep
  // (null, from an untyped app, is no answer, as `??` reads it).
  return { attempt, delay: chosen ?? (hint ? hint.afterMs + settings.rng() * hint.spreadMs : backoff), hinted: chosen == null && !!hint };
}

/**
 * What a change of visibility or connectivity asks of a client in `state`: the page went away
 * (hidden or offline: `away`) or came back. Going away pauses a pending retry (`'pause'`).
 * Coming back retries at once (`0`) instead of waiting out the backoff, but a server's hint
 * (`hintedDue`, the clock time its retry falls due) still holds, or a tab switch would undo its
 * crowd spreading: then the rest of that wait, ms. `undefined`: nothing changes.
 */
export function environmentStep(state: ClientState, away: boolean, hintedDue: number, now: number): 'pause' | number | undefined {
  if (state !== 'reconnecting' && (away || state !== 'paused')) return undefined;
  return away ? 'pause' : Math.max(0, hintedDue - now);
}
