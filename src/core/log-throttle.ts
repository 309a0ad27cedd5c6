import type { Clock } from './clock.js';

/**
 * Says when a repeated condition is worth a log line: the first time, then at most once per
 * `period` ms, with how many times it happened since the last line. So a peer that makes it
 * happen in a loop, or an outage that makes every call fail, cannot flood the log.
 */
export class LogThrottle {
  #count = 0;
  #loggedAt = -Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly period: number,
  ) {}

  /** Counts one occurrence; returns how many to report (this one included) when a line is due, else 0. */
  take(): number {
    this.#count++;
    const now = this.clock.now();
    if (now - this.#loggedAt < this.period) return 0;
    this.#loggedAt = now;
    const count = this.#count;
    this.#count = 0;
    return count;
  }
}
