import { backoffCeiling, jittered, type BackoffOptions } from './backoff.js';
import type { Clock, Rng } from './clock.js';
import type { CloseAction } from './close-code.js';
import type { CloseInfo } from './close-policy.js';
import type { ClientState } from './client-state.js';
import type { RetryHint } from './retry-hint.js';
import { Timer } from './timer.js';

/** What the plan needs from the client's options. */
export interface ReconnectSettings extends BackoffOptions {
  readonly clock: Clock;
  readonly rng: Rng;
  /** A connection open this long resets the attempt count, ms. */
  readonly stabilityWindow: number;
}

/** The next retry: its number (1-based since the last stable connection) and its delay, ms. */
export interface Retry {
  readonly attempt: number;
  readonly delay: number;
}

/** What a change of visibility or connectivity asks for: pause, connect now, wait this many ms, or nothing. */
export type EnvironmentStep = 'pause' | 'connect' | number | undefined;

/** A server's "try again later" (its broker is unreachable): never spends the attempt budget. */
const TRY_AGAIN_LATER = 1013;

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
 * The reconnecting client's decisions, free of I/O: how many retries since the last stable
 * connection, when the next one falls due (backoff with jitter, or a server's retry hint), when
 * to give up, and what a page coming back or going away changes. Its two timers run on the
 * injected clock: the retry (which calls `retry`) and the stability window (which resets the
 * attempt count). The client drives it and dispatches the events.
 *
 * @example
 * const plan = new ReconnectPlan({ ...defaultBackoff, clock, rng, stabilityWindow: 5_000 }, connect);
 * const next = plan.next(close, hint); // undefined: give up
 * if (next) plan.wait(next.delay);
 */
export class ReconnectPlan {
  /** Retries since the last stable connection. */
  attempt = 0;
  /** When a server's retry hint set the pending retry, its clock time: coming back must not jump it. */
  #hintedAt: number | undefined;
  readonly #retry: Timer;
  readonly #stable: Timer;
  readonly #settings: ReconnectSettings;

  constructor(settings: ReconnectSettings, retry: () => void) {
    this.#settings = settings;
    // Kept alive: a script awaiting the next open during a backoff must not see its process end.
    this.#retry = new Timer(settings.clock, retry, true);
    this.#stable = new Timer(settings.clock, () => (this.attempt = 0));
  }

  /** A connection opened: once it has lasted the stability window, the attempt count resets. */
  opened(): void {
    this.#stable.start(this.#settings.stabilityWindow);
  }

  /** Stops both timers (the link ended, or the client closed or restarts). */
  stop(): void {
    this.#retry.stop();
    this.#stable.stop();
  }

  /**
   * The retry after a reconnectable `close`, counted; `undefined` once `maxAttempts` retries are
   * spent (give up), except after a server's 1013, which waits at the longest delay instead.
   * The delay: `override` (the app's `reconnectDelay`) if it answers, else the server's hint
   * (`hint`, or a refused handshake's Retry-After spread over one backoff delay), else the backoff.
   */
  next(close: CloseInfo, hint: RetryHint | undefined, retryAfterMs?: number, override?: (attempt: number) => number | undefined): Retry | undefined {
    const settings = this.#settings;
    const exhausted = this.attempt >= settings.maxAttempts;
    if (exhausted && (close.code !== TRY_AGAIN_LATER || close.local !== undefined)) return undefined;
    const attempt = exhausted ? this.attempt : ++this.attempt;
    const backoff = jittered(settings, exhausted ? settings.maxDelay : backoffCeiling(settings, attempt), settings.rng);
    hint ??= retryAfterMs === undefined ? undefined : { afterMs: retryAfterMs, spreadMs: backoff };
    const delay = override?.(attempt) ?? (hint ? hint.afterMs + settings.rng() * hint.spreadMs : backoff);
    this.#hintedAt = hint ? settings.clock.now() + delay : undefined;
    return { attempt, delay };
  }

  /** Starts the wait for the retry (restarting one under way). */
  wait(ms: number): void {
    this.#retry.start(ms);
  }

  /**
   * The page went away (hidden or offline: `away`) or came back, with the client in `state`.
   * Going away pauses a pending retry. Coming back retries at once instead of waiting out the
   * backoff, but a server's hint still holds, or a tab switch would undo its crowd spreading.
   * Stops the pending retry whenever it answers.
   */
  environment(state: ClientState, away: boolean): EnvironmentStep {
    if (state !== 'reconnecting' && (away || state !== 'paused')) return undefined;
    this.#retry.stop();
    if (away) return 'pause';
    const wait = (this.#hintedAt ?? 0) - this.#settings.clock.now();
    return wait > 0 ? wait : 'connect';
  }
}
