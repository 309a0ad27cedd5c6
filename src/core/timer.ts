import type { Clock, TimerHandle } from './clock.js';

/**
 * One restartable one-shot timer on an injected clock. Holding the callback once, instead of
 * creating a closure per schedule, keeps hot paths free of allocations.
 *
 * @example
 * const watchdog = new Timer(clock, () => link.markDead());
 * watchdog.start(35_000); // restarts if already pending
 */
export class Timer {
  #handle: TimerHandle | undefined;
  readonly #clock: Clock;
  readonly #fire: () => void;
  readonly #keepAlive: boolean;

  /** `keepAlive`: keeps a Node process running while pending (see {@link Clock.setTimeout}). */
  constructor(clock: Clock, callback: () => void, keepAlive = false) {
    this.#clock = clock;
    this.#keepAlive = keepAlive;
    this.#fire = () => {
      this.#handle = undefined;
      callback();
    };
  }

  /** (Re)starts the timer; a pending run is cancelled first. */
  start(ms: number): void {
    this.stop();
    this.#handle = this.#clock.setTimeout(this.#fire, Math.max(0, ms), this.#keepAlive);
  }

  stop(): void {
    if (this.#handle !== undefined) {
      this.#clock.clearTimeout(this.#handle);
      this.#handle = undefined;
    }
  }

  get pending(): boolean {
    return this.#handle !== undefined;
  }
}
