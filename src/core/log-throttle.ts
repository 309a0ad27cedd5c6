import type { Clock } from './clock.js';

/**
 * Says when a repeated condition is worth a log line: the first `burst` times in a period of
 * `period` ms (default: once), then nothing until the next period, whose first line carries how
 * many happened since the last line. So a peer that makes it happen in a loop, or an outage that
 * makes every call fail, cannot flood the log.
 */
export class LogThrottle {
  #count = 0;
  #periodStart = -Infinity;
  #logged = 0;

  constructor(
    private readonly clock: Clock,
    private readonly period: number,
    private readonly burst = 1,
  ) {}

  /** Counts one occurrence; returns how many to report (this one included) when a line is due, else 0. */
  take(): number {
    this.#count++;
    const now = this.clock.now();
    if (now - this.#periodStart >= this.period) {
      this.#periodStart = now;
      this.#logged = 0;
    }
    if (this.#logged >= this.burst) return 0;
    this.#logged++;
    const count = this.#count;
    this.#count = 0;
    return count;
  }
}
