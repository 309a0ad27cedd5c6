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
  readonly #clock: Clock;
  readonly #port: HeartbeatPort;
  readonly #watchdogMs: number;
  readonly #pingMs: number;
  readonly #probeMs: number;
  readonly #watchdog: Timer;
  readonly #pinger: Timer;
  readonly #probe: Timer;
  #lastTraffic = 0;
  #missed = 0;
  /** A probe is out (after the page came back): the other checks wait for its verdict. */
  #probing = false;
  #running = false;

  constructor(clock: Clock, { watchdog, pingInterval, maxMissed, probeTimeout }: HeartbeatOptions, port: HeartbeatPort) {
    this.#clock = clock;
    this.#port = port;
    this.#watchdogMs = watchdog;
    this.#pingMs = pingInterval;
    this.#probeMs = probeTimeout;
    this.#watchdog = new Timer(clock, () => {
      const quiet = this.#quiet();
      // Relaxed while hidden (visible() re-checks) and while a probe is out (it decides).
      if (quiet < watchdog) this.#watchdog.start(watchdog - quiet);
      else if (this.#waiting()) this.#watchdog.start(watchdog);
      else this.#die();
    });
    this.#pinger = new Timer(clock, () => {
      if (this.#missed++ >= maxMissed && !this.#waiting()) return this.#die();
      port.sendPing();
      this.#pinger.start(pingInterval);
    });
    this.#probe = new Timer(clock, () => {
      this.#probing = false;
      if (this.#quiet() >= probeTimeout) this.#die();
    });
  }

  start(): void {
    this.#running = true;
    this.#lastTraffic = this.#clock.now();
    this.#missed = 0;
    if (this.#watchdogMs > 0) this.#watchdog.start(this.#watchdogMs);
    if (this.#pingMs > 0) this.#pinger.start(this.#pingMs);
  }

  stop(): void {
    this.#running = this.#probing = false;
    this.#watchdog.stop();
    this.#pinger.stop();
    this.#probe.stop();
  }

  /** Any inbound message or pong. */
  sawTraffic(): void {
    this.#lastTraffic = this.#clock.now();
    this.#missed = 0;
    this.#probing = false;
    this.#probe.stop();
  }

  /** The page became visible: a link quiet for longer than a ping period gets probed now. */
  visible(): void {
    const limit = this.#watchdogMs || this.#pingMs;
    if (this.#running && limit > 0 && this.#quiet() >= limit && !this.#probing) {
      this.#probing = true;
      this.#port.sendPing();
      this.#probe.start(this.#probeMs);
    }
  }

  #quiet(): number {
    return this.#clock.now() - this.#lastTraffic;
  }

  /** Verdicts wait while the page is hidden (timers are throttled) and while a probe is out. */
  #waiting(): boolean {
    return this.#port.hidden() || this.#probing;
  }

  #die(): void {
    this.stop();
    this.#port.dead();
  }
}
