import type { Clock } from './clock.js';

/**
 * A token bucket on the injected clock: `rate` tokens per second, bursts up to `burst`.
 * Used for handshake admission (a reconnect storm is refused with 503 + Retry-After instead of
 * melting the node) and for per-connection message rates.
 */
export class TokenBucket {
  #tokens: number;
  #updated: number;

  constructor(
    private readonly clock: Clock,
    readonly rate: number,
    readonly burst: number,
  ) {
    this.#tokens = burst;
    this.#updated = clock.now();
  }

  /** Takes one token if there is one. */
  take(): boolean {
    if (!Number.isFinite(this.rate)) return true;
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Whether a token is there now, without taking it. */
  ready(): boolean {
    if (!Number.isFinite(this.rate)) return true;
    this.#refill();
    return this.#tokens >= 1;
  }

  /** Whether nothing was taken lately: the bucket is back to its full burst. */
  full(): boolean {
    if (!Number.isFinite(this.rate)) return true;
    this.#refill();
    return this.#tokens >= this.burst;
  }

  #refill(): void {
    const now = this.clock.now();
    this.#tokens = refilled(this.#tokens, now - this.#updated, this.rate, this.burst);
    this.#updated = now;
  }

  /** Takes `count` tokens, into debt if there are fewer: work that cannot be cut short is paid for after it ran. */
  spend(count: number): void {
    if (!Number.isFinite(this.rate)) return;
    this.#refill();
    this.#tokens -= count;
  }

  /** Milliseconds until what was spent into debt is paid back (0: no debt). */
  debtMs(): number {
    if (!Number.isFinite(this.rate)) return 0;
    this.#refill();
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens * 1000) / this.rate);
  }

  /** Milliseconds until one token is available. */
  waitMs(): number {
    if (!Number.isFinite(this.rate) || this.#tokens >= 1) return 0;
    return Math.ceil(((1 - this.#tokens) * 1000) / this.rate);
  }
}

/**
 * A token bucket's tokens after `elapsedMs` at `rate` tokens per second, at most `burst`: the
 * refill of {@link TokenBucket}, for a holder that keeps its two numbers in fields of its own
 * (one per idle connection, where an object of its own would cost about 100 bytes).
 */
export function refilled(tokens: number, elapsedMs: number, rate: number, burst: number): number {
  return Math.min(burst, tokens + (elapsedMs * rate) / 1000);
}
