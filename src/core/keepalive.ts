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

/** Pings sent in one go; a larger sweep continues on later turns (10,000 pings at once would stall the event loop). */
const DEFAULT_SLICE = 500;

/**
 * Server-side keepalive for all connections on two timer slots, not one timer per connection:
 * every `pingInterval` each connection that answered its last ping gets a new one; a
 * connection still silent `pongTimeout` after its ping is expired. Works for any ratio of the
 * two (a pongTimeout longer than the interval tolerates several missed pings).
 *
 * A sweep pings at most `slice` connections per turn of the event loop and goes on at the next
 * (a 0 ms timer), so heartbeats at 10,000 connections never hold the loop; its pongTimeout
 * check counts from the end of the sweep, when every connection has had its ping.
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
  /** The sweep under way: the connections it pings and the next one. */
  #sweep: { readonly targets: T[]; next: number } | undefined;
  #running = false;
  readonly #slice: number;

  constructor(
    private readonly clock: Clock,
    private readonly timing: KeepaliveTiming,
    private readonly port: KeepalivePort<T>,
    slice = DEFAULT_SLICE,
  ) {
    this.#timer = new Timer(clock, () => this.#onTimer());
    this.#slice = Math.max(1, slice);
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
    this.#sweep = undefined;
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
    if (!this.#sweep && now >= this.#nextSweepAt) {
      this.#sweep = { targets: [...this.port.targets()], next: 0 };
      this.#nextSweepAt = now + this.timing.pingInterval;
    }
    if (this.#sweep) this.#continueSweep(now);
    this.#schedule();
  }

  /** Pings the next slice of the sweep; the last one schedules the sweep's pongTimeout check. */
  #continueSweep(now: number): void {
    const sweep = this.#sweep;
    if (!sweep) return;
    const end = Math.min(sweep.targets.length, sweep.next + this.#slice);
    for (let i = sweep.next; i < end; i++) {
      const target = sweep.targets[i] as T;
      const fresh = !target.awaitingPong;
      if (fresh) {
        target.awaitingPong = true;
        target.pingSentAt = now;
      }
      this.port.ping(target, fresh);
    }
    sweep.next = end;
    if (end < sweep.targets.length) return;
    this.#sweep = undefined;
    this.#checks.push(now);
  }

  #schedule(): void {
    if (!this.#running) return;
    if (this.#sweep) {
      this.#timer.start(0); // the rest of the sweep, after pending I/O
      return;
    }
    const firstCheck = this.#checks[0];
    const due = firstCheck === undefined ? this.#nextSweepAt : Math.min(this.#nextSweepAt, firstCheck + this.timing.pongTimeout);
    this.#timer.start(due - this.clock.now());
  }
}
