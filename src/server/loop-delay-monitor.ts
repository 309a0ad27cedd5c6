import type { Clock, TimerHandle } from '../core/clock.js';
import { LoopMeter } from '../core/loop-delay.js';

/**
 * Samples the real event loop's delay for a {@link LoopMeter}: one timer at a time, armed for the
 * meter's interval, that measures how late it fires. The timer does not keep the process alive
 * (the system clock unrefs it), costs one callback per interval, and is running only between
 * {@link start} and {@link stop}. A threshold of 0 or Infinity samples nothing and is never
 * behind.
 */
export class LoopDelayMonitor {
  readonly #meter: LoopMeter | undefined;
  #timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    thresholdMs: number,
  ) {
    this.#meter = thresholdMs > 0 && Number.isFinite(thresholdMs) ? new LoopMeter(clock, thresholdMs) : undefined;
  }

  /** Starts sampling (idempotent). */
  start(): void {
    if (this.#meter === undefined || this.#timer !== undefined) return;
    this.#arm(this.#meter);
  }

  /** Stops sampling: no timer is left, and the loop no longer counts as behind. */
  stop(): void {
    if (this.#timer !== undefined) this.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#meter?.stop();
  }

  /** Whether the loop is behind its threshold now. */
  behind(): boolean {
    return this.#meter?.behind() ?? false;
  }

  /** The latest sample's lateness, ms (0 when not sampling). */
  get lastDelay(): number {
    return this.#meter?.lastDelay ?? 0;
  }

  #arm(meter: LoopMeter): void {
    this.#timer = this.clock.setTimeout(this.#fire, meter.arm());
  }

  readonly #fire = (): void => {
    if (this.#meter === undefined) return;
    this.#meter.tick();
    this.#arm(this.#meter);
  };
}
