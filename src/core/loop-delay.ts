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
 * threshold's length is seen within a sample or two; late samples hold the verdict for ten
 * samples (at least 100 ms), so the verdict changes at most once per hold instead of with every
 * sample, and a loop that is late now and then is behind for a short while only.
 */
export function loopSampling(thresholdMs: number): LoopSampling {
  const intervalMs = Math.min(50, Math.max(5, Math.floor(thresholdMs / 2)));
  return { intervalMs, holdMs: Math.max(100, intervalMs * 10) };
}

/**
 * Whether the event loop is behind, from the lateness of a periodic sample: the adapter arms a
 * timer for {@link arm}'s delay and calls {@link tick} when it fires. The loop is behind
 *
 * - from the second sample later than the threshold that was due within `holdMs` of the one
 *   before, until `holdMs` after the latest such sample: a loop that keeps running late (a
 *   storm's work, a stream of stalls). One late sample alone (a garbage collection, the process descheduled
 *   once on a shared machine) is not enough: the work it delayed is done by the time it is
 *   seen, and on a busy machine scheduling alone makes one late sample every second or so;
 * - while the sample now due is overdue by more than the threshold: the loop is inside a stall
 *   that no sample can report yet (a long batch of I/O callbacks, a synchronous task), so a
 *   handshake handled in it waited that long already.
 *
 * Pure: time comes from the injected clock, nothing here schedules anything.
 */
export class LoopMeter {
  readonly sampling: LoopSampling;
  /** When the armed sample is due (undefined: not sampling). */
  #due: number | undefined;
  /** Behind until then (a late sample's hold, from the second late sample on). */
  #behindUntil = -Infinity;
  /** When the latest sample later than the threshold was taken. */
  #lateAt = -Infinity;
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
    const due = this.#due;
    if (due === undefined) return;
    const now = this.clock.now();
    this.#lastDelay = Math.max(0, now - due);
    this.#due = undefined;
    if (this.#lastDelay <= this.thresholdMs) return;
    // Within the hold: the loop ran on time for less than holdMs between the two (the lateness
    // itself does not count, or stalls longer than the hold would never be two in a row).
    if (due - this.#lateAt < this.sampling.holdMs) this.#behindUntil = now + this.sampling.holdMs;
    this.#lateAt = now;
  }

  /** Sampling stopped: no sample is due, and the verdict is not behind. */
  stop(): void {
    this.#due = undefined;
    this.#behindUntil = -Infinity;
    this.#lateAt = -Infinity;
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
