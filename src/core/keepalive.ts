import type { Clock } from './clock.js';
import { Timer } from './timer.js';

/** What the sweep needs to know of one connection. The adapter updates it on traffic. */
export interface KeepaliveTarget {
  /** True from a ping until any inbound traffic (a pong or a message) arrives. */
  awaitingPong: boolean;
  /** Clock time of the oldest unanswered ping. */
  pingSentAt: number;
}

export interface KeepalivePort<T extends KeepaliveTarget> {
  targets(): Iterable<T>;
  /**
   * Send a ping. `fresh` is false for a target still awaiting an earlier ping: its deadline
   * stays, but it is pinged again (a browser watchdog needs the application ping each interval).
   */
  ping(target: T, fresh: boolean): void;
  /** No answer within pongTimeout: terminate and release everything the peer holds. */
  expire(target: T): void;
}

export interface KeepaliveTiming {
  readonly pingInterval: number;
  readonly pongTimeout: number;
}

/**
 * Server-side keepalive for all connections on two timer slots, not one timer per connection:
 * every `pingInterval` each connection that answered its last ping gets a new one; a
 * connection still silent `pongTimeout` after its ping is expired. Works for any ratio of the
 * two (a pongTimeout longer than the interval tolerates several missed pings).
 *
 * Timeline (pingInterval 25 s, pongTimeout 10 s):
 *   t=0   sweep: ping A, B        t=3  A pongs
 *   t=10  check of t=0: B silent -> expire(B)
 *   t=25  sweep: ping A
 */
export class KeepaliveSweep<T extends KeepaliveTarget> {
  readonly #timer: Timer;
  #nextSweepAt = 0;
  /** Sweep times whose pongTimeout check is still due, oldest first. */
  readonly #checks: number[] = [];
  #running = false;

  constructor(
    private readonly clock: Clock,
    private readonly timing: KeepaliveTiming,
    private readonly port: KeepalivePort<T>,
  ) {
    this.#timer = new Timer(clock, () => this.#onTimer());
  }

  start(): void {
    if (this.#running || this.timing.pingInterval <= 0) return;
    this.#running = true;
    this.#nextSweepAt = this.clock.now() + this.timing.pingInterval;
    this.#schedule();
  }

  stop(): void {
    this.#running = false;
    this.#checks.length = 0;
    this.#timer.stop();
  }

  get running(): boolean {
    return this.#running;
  }

  #onTimer(): void {
    const now = this.clock.now();
    while (this.#checks.length > 0 && (this.#checks[0] ?? 0) + this.timing.pongTimeout <= now) {
      const sweptAt = this.#checks.shift() ?? 0;
      for (const target of [...this.port.targets()]) {
        if (target.awaitingPong && target.pingSentAt <= sweptAt) this.port.expire(target);
      }
    }
    if (now >= this.#nextSweepAt) {
      for (const target of this.port.targets()) {
        const fresh = !target.awaitingPong;
        if (fresh) {
          target.awaitingPong = true;
          target.pingSentAt = now;
        }
        this.port.ping(target, fresh);
      }
      this.#checks.push(now);
      this.#nextSweepAt = now + this.timing.pingInterval;
    }
    this.#schedule();
  }

  #schedule(): void {
    if (!this.#running) return;
    const firstCheck = this.#checks[0];
    const due = firstCheck === undefined ? this.#nextSweepAt : Math.min(this.#nextSweepAt, firstCheck + this.timing.pongTimeout);
    this.#timer.start(due - this.clock.now());
  }
}
