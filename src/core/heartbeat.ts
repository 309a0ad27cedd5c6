import type { Clock } from './clock.js';
import { Timer } from './timer.js';

export interface HeartbeatOptions {
  /** No inbound traffic for this long declares the link dead, ms (0: off). Default 35 000 (server ping 25 s + 10 s grace). */
  readonly watchdog: number;
  /** Send a ping this often, ms (0: off). Default 30 000. */
  readonly pingInterval: number;
  /** Pings in a row with no traffic in between before the link is dead. Default 3. */
  readonly maxMissed: number;
  /** After the page becomes visible again, a silent link gets this long to answer a probe ping, ms. Default 5 000. */
  readonly probeTimeout: number;
}

export const defaultHeartbeat: HeartbeatOptions = { watchdog: 35_000, pingInterval: 30_000, maxMissed: 3, probeTimeout: 5_000 };

export interface HeartbeatPort {
  sendPing(): void;
  /** The link is dead: the owner tears it down and reconnects. */
  dead(): void;
  hidden(): boolean;
}

/**
 * The client's view of link liveness. Traffic only updates a number (no timer churn per
 * message); the watchdog wakes at `lastTraffic + watchdog` and re-arms if traffic came since.
 * While the page is hidden, browsers throttle timers to a minute or more, so a late wake-up
 * proves nothing: enforcement waits, and {@link visible} re-checks the link at once.
 *
 * Timeline (watchdog 35 s): t=0 open; t=20 message; t=35 wake: 15 s quiet, re-arm for t=55;
 * t=55 wake: 35 s quiet -> dead().
 */
export class Heartbeat {
  readonly #watchdog: Timer;
  readonly #pinger: Timer;
  readonly #probe: Timer;
  #lastTraffic = 0;
  #missed = 0;
  /** A probe is out (after the page came back): the other checks wait for its verdict. */
  #probing = false;
  #running = false;

  constructor(
    private readonly clock: Clock,
    private readonly options: HeartbeatOptions,
    private readonly port: HeartbeatPort,
  ) {
    this.#watchdog = new Timer(clock, () => this.#checkWatchdog());
    this.#pinger = new Timer(clock, () => this.#ping());
    this.#probe = new Timer(clock, () => this.#checkProbe());
  }

  start(): void {
    this.#running = true;
    this.#lastTraffic = this.clock.now();
    this.#missed = 0;
    if (this.options.watchdog > 0) this.#watchdog.start(this.options.watchdog);
    if (this.options.pingInterval > 0) this.#pinger.start(this.options.pingInterval);
  }

  stop(): void {
    this.#running = false;
    this.#probing = false;
    this.#watchdog.stop();
    this.#pinger.stop();
    this.#probe.stop();
  }

  /** Any inbound message or pong. */
  sawTraffic(): void {
    this.#lastTraffic = this.clock.now();
    this.#missed = 0;
    if (this.#probing) {
      this.#probing = false;
      this.#probe.stop();
    }
  }

  /** The page became visible: a link quiet for longer than a ping period gets probed now. */
  visible(): void {
    if (!this.#running) return;
    const quiet = this.clock.now() - this.#lastTraffic;
    const limit = this.options.watchdog > 0 ? this.options.watchdog : this.options.pingInterval;
    if (limit > 0 && quiet >= limit && !this.#probing) {
      this.#probing = true;
      this.port.sendPing();
      this.#probe.start(this.options.probeTimeout);
    }
  }

  #checkWatchdog(): void {
    const quiet = this.clock.now() - this.#lastTraffic;
    if (quiet < this.options.watchdog) {
      this.#watchdog.start(this.options.watchdog - quiet);
    } else if (this.port.hidden() || this.#probing) {
      // Relaxed while hidden (visible() re-checks) and while a probe is out (it decides).
      this.#watchdog.start(this.options.watchdog);
    } else {
      this.#die();
    }
  }

  #ping(): void {
    if (this.#missed >= this.options.maxMissed && !this.port.hidden() && !this.#probing) {
      this.#die();
      return;
    }
    this.#missed++;
    this.port.sendPing();
    this.#pinger.start(this.options.pingInterval);
  }

  #checkProbe(): void {
    this.#probing = false;
    if (this.clock.now() - this.#lastTraffic >= this.options.probeTimeout) this.#die();
  }

  #die(): void {
    this.stop();
    this.port.dead();
  }
}
