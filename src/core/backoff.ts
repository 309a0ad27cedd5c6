import type { Rng } from './clock.js';

export interface BackoffOptions {
  /** Ceiling of the first retry's delay, ms. */
  readonly initialDelay: number;
  /** Growth of the ceiling per attempt. */
  readonly factor: number;
  /** Largest ceiling, ms. */
  readonly maxDelay: number;
  /** Attempts before giving up; `Infinity` never gives up. */
  readonly maxAttempts: number;
  /**
   * `'full'`: uniform in [0, ceiling] (AWS "full jitter"), so even a crowd's first retry spreads.
   * `'none'`: exactly the ceiling. A number j in (0, 1]: uniform in [ceiling*(1-j), ceiling].
   */
  readonly jitter: 'full' | 'none' | number;
}

export const defaultBackoff: BackoffOptions = {
  initialDelay: 1000,
  factor: 2,
  maxDelay: 30_000,
  maxAttempts: 10,
  jitter: 'full',
};

/** `min(initial * factor^(attempt-1), max)`: the ceiling of attempt `attempt` (1-based). */
export function backoffCeiling(options: BackoffOptions, attempt: number): number {
  const grown = options.initialDelay * Math.pow(options.factor, Math.max(0, attempt - 1));
  return Math.min(Number.isFinite(grown) ? grown : options.maxDelay, options.maxDelay);
}

/** Applies the jitter policy to a ceiling, drawing from `rng`. */
export function jittered(options: BackoffOptions, ceiling: number, rng: Rng): number {
  if (options.jitter === 'none') return ceiling;
  // A value that is not a number (a typo from plain JS: 'equal') counts as no jitter, not NaN
  // (a NaN delay fires at once: every retry of every client without a wait).
  const share = options.jitter === 'full' ? 1 : Math.min(1, Math.max(0, options.jitter)) || 0;
  return ceiling * (1 - share) + rng() * ceiling * share;
}

/**
 * The retry schedule as a small pure object: call {@link next} before each retry, {@link reset}
 * once a connection has been stable. No timers inside; the caller schedules.
 *
 * @example
 * const backoff = new Backoff(defaultBackoff, seededRng(1));
 * const delay = backoff.next(); // undefined once maxAttempts is spent
 */
export class Backoff {
  #attempt = 0;

  constructor(
    readonly options: BackoffOptions,
    private readonly rng: Rng,
  ) {}

  /** Retries made since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  get exhausted(): boolean {
    return this.#attempt >= this.options.maxAttempts;
  }

  /** Counts one more attempt and returns its delay, or `undefined` when the budget is spent. */
  next(): number | undefined {
    if (this.exhausted) return undefined;
    this.#attempt++;
    return jittered(this.options, backoffCeiling(this.options, this.#attempt), this.rng);
  }

  reset(): void {
    this.#attempt = 0;
  }
}
