import type { Clock } from './clock.js';

/** How a {@link LoopMeter} samples and how long one late sample counts. */
export interface LoopSampling {
  /** A sample is taken this often, ms: a timer that measures how late it fires. */
  readonly intervalMs: number;
  /** After a sample later than the threshold, the loop counts as behind for this long, ms. */
  readonly holdMs: number;
}

/**
 * The sampling for a threshold: a sample every half threshold (5-50 ms), so a stall of the
 * threshold's length is seen within a sample or two; a late sample holds the verdict for ten
 * samples (at least 100 ms), so the verdict changes at most once per hold instead of with every
 * sample, and a loop that is late once in a while is behind for a short while only.
 */
export function loopSampling(thresholdMs: number): LoopSampling {
  const intervalMs = Math.min(50, Math.max(5, Math.floor(thresholdMs / 2)));
  return { intervalMs, holdMs: Math.max(100, intervalMs * 10) };
}

/**
 * Whether the event loop is behind, from the lateness of a periodic sample: the adapter arms a
 * timer for {@link arm}'s delay and calls {@link tick} when it fires. The loop is behind
 *
 * - while a sample later than the threshold was taken within the last `holdMs` (a stall, or a
 *   loop so busy that its timers run late), and
 * - while the sample now due is overdue by more than the threshold: the loop is inside a stall
 *   that no sample can report yet (a long batch of I/O callbacks, a synchronous task).
 *
 * Pure: time comes from the injected clock, nothing here schedules anything.
 */
export class LoopMeter {
  readonly sampling: LoopSampling;
  /** When the armed sample is due (undefined: not sampling). */
  #due: number | undefined;
  /** Behind until then (a late sample's hold). */
  #behindUntil = -Infinity;
  /** The latest sample's lateness, ms. */
  #lastDelay = 0;

  constructor(
    private readonly clock: Clock,
    readonly thresholdMs: number,
    sampling: LoopSampling = loopSampling(thresholdMs),
  ) {
    this.sampling = sampling;
  }

  /** The next sample is armed now: @returns the delay to arm its timer for, ms. */
  arm(): number {
    this.#due = this.clock.now() + this.sampling.intervalMs;
    return this.sampling.intervalMs;
  }

  /** The armed sample's timer fired: its lateness is recorded. */
  tick(): void {
    if (this.#due === undefined) return;
    const now = this.clock.now();
    this.#lastDelay = Math.max(0, now - this.#due);
    this.#due = undefined;
    if (this.#lastDelay > this.thresholdMs) this.#behindUntil = now + this.sampling.holdMs;
  }

  /** Sampling stopped: no sample is due, and the verdict is not behind. */
  stop(): void {
    this.#due = undefined;
    this.#behindUntil = -Infinity;
  }

  /** The latest sample's lateness, ms. */
  get lastDelay(): number {
    return this.#lastDelay;
  }

  /** Whether the loop is behind now (see the class). */
  behind(): boolean {
    const now = this.clock.now();
    if (now < this.#behindUntil) return true;
    return this.#due !== undefined && now - this.#due > this.thresholdMs;
  }
}
