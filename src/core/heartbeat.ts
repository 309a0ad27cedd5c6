import type { Clock } from './clock.js';
import { controlType, PING } from './envelope.js';
import { Timer } from './timer.js';

export interface HeartbeatOptions {
  /** No inbound traffic for this long declares the link dead, ms (0: off). Default 35 000 (server ping 25 s + 10 s grace). */
  readonly watchdog: number;
  /** Send a ping this often, ms (0: off). Default 30 000. */
  readonly pingInterval: number;
  /** Pings in a row with no traffic in between before the link is dead (0 counts as 1). Default 3. */
  readonly maxMissed: number;
  /** After the page becomes visible again, a silent link gets this long to answer a probe ping, ms (0: no probe). Default 5 000. */
  readonly probeTimeout: number;
}

export const defaultHeartbeat: HeartbeatOptions = { watchdog: 35_000, pingInterval: 30_000, maxMissed: 3, probeTimeout: 5_000 };

/**
 * The client's view of link liveness. Traffic only updates a number (no timer churn per
 * message); the watchdog wakes at `lastTraffic + watchdog` and re-arms if traffic came since.
 * While the page is hidden, browsers throttle timers to a minute or more, so a late wake-up
 * proves nothing: enforcement waits, and {@link visible} re-checks the link at once.
 *
 * Timeline (watchdog 35 s): t=0 open; t=20 message; t=35 wake: 15 s quiet, re-arm for t=55;
 * t=55 wake: 35 s quiet -> dead().
 */
export interface Heartbeat {
  start(): void;
  stop(): void;
  /** Any inbound message or pong; true when it is link control (ping/pong), kept from the app. */
  saw(data: unknown): boolean;
  /** The page became visible: a link quiet for longer than a ping period gets probed now. */
  visible(): void;
}

/**
 * A {@link Heartbeat} on `clock`: `send` sends a ping (if the link is open), `dead` is called when the link is dead
 * (the owner tears it down and reconnects), `hidden` says whether the page is hidden. Its state
 * lives in closures, not fields (the names of fields would ship in every browser bundle).
 */
export function heartbeat(clock: Clock, { watchdog, pingInterval, maxMissed, probeTimeout }: HeartbeatOptions, send: (data: string) => void, dead: () => void, hidden: () => boolean): Heartbeat {
  let lastTraffic = 0;
  let missed = 0;
  /** A probe is out (after the page came back): the other checks wait for its verdict. */
  let probing = false;
  let running = false;
  const quiet = (): number => clock.now() - lastTraffic;
  /** Verdicts wait while the page is hidden (timers are throttled) and while a probe is out. */
  const waiting = (): boolean => hidden() || probing;
  const die = (): void => {
    self.stop();
    dead();
  };
  const watchdogTimer: Timer = new Timer(clock, () => {
    const silent = quiet();
    // Relaxed while hidden (visible() re-checks) and while a probe is out (it decides).
    if (silent < watchdog) watchdogTimer.start(watchdog - silent);
    else if (waiting()) watchdogTimer.start(watchdog);
    else die();
  });
  const pinger: Timer = new Timer(clock, () => {
    // `missed` pings went out since the last traffic; 0 allowed counts as 1 (as 0 it ended every
    // link at its first ping, whatever the traffic).
    if (++missed > (maxMissed || 1) && !waiting()) return die();
    send(PING);
    pinger.start(pingInterval);
  });
  const probe = new Timer(clock, () => {
    probing = false;
    if (quiet() >= probeTimeout) die();
  });
  const self: Heartbeat = {
    start() {
      running = true;
      lastTraffic = clock.now();
      missed = 0;
      if (watchdog > 0) watchdogTimer.start(watchdog);
      if (pingInterval > 0) pinger.start(pingInterval);
    },
    stop() {
      running = probing = false;
      watchdogTimer.stop();
      pinger.stop();
      probe.stop();
    },
    saw(data) {
      lastTraffic = clock.now();
      missed = 0;
      probing = false;
      probe.stop();
      return typeof data === 'string' && controlType(data) !== undefined;
    },
    visible() {
      const limit = watchdog || pingInterval;
      // probeTimeout 0: no probe (one would be judged before any answer could come).
      if (running && limit > 0 && probeTimeout > 0 && quiet() >= limit && !probing) {
        probing = true;
        send(PING);
        probe.start(probeTimeout);
      }
    },
  };
  return self;
}
