import type { Clock } from '../core/clock.js';
import { defaultHeartbeat, heartbeat, type HeartbeatOptions } from '../core/heartbeat.js';
import { browserEnvironment } from './environment.js';
import { check, defined } from './options.js';

/** What a link watch reads of its client: the clock and the page's visibility (its `environment` option). */
export interface LinkWatchHost {
  readonly options: { readonly clock: Clock; readonly environment: { hidden(): boolean } };
}

/** A link watch as the client drives it: started on open, stopped on close, told of every inbound message. */
export interface LinkWatch {
  start(): void;
  stop(): void;
  /** The page became visible again. */
  visible(): void;
  /** An inbound message; true when it is link control (ping/pong), kept from the app. */
  saw(data: unknown): boolean;
}

/**
 * The `heartbeat` option of `ReconnectingWebSocket`, made by {@link withHeartbeat}: called with
 * the client, a way to send `data` if the socket is open (else nothing), and what to call when
 * the link is dead (the client drops it, reports 1006 "heartbeat timeout" and reconnects;
 * `dead('connect-timeout')`: the link never became usable, reported as 1006 "connect timeout",
 * as `LifelineClient` does when no `welcome` comes; any other argument counts as none, so
 * `promise.catch(dead)` is a heartbeat timeout). Returns the watch, or undefined for none (a
 * change from `LinkWatch`: code that calls a plug-in itself must allow for it).
 */
export type LinkWatchPlugin = (client: LinkWatchHost, send: (data: string) => void, dead: (local?: 'connect-timeout') => void) => LinkWatch | undefined;

/**
 * Liveness checks for `ReconnectingWebSocket`, as an opt-in module (a bare client bundles none
 * of it): `heartbeat: withHeartbeat()` for the defaults, or `withHeartbeat({ watchdog: 10_000 })`.
 * `false` gives no heartbeat (`undefined`); a setting that is negative or no number throws
 * `InvalidOptionError`. With it, `{"type":"ping"}`/`{"type":"pong"}` messages are link
 * traffic, not app messages.
 */
export function withHeartbeat(options: false): undefined;
export function withHeartbeat(options?: true | Partial<HeartbeatOptions>): LinkWatchPlugin;
export function withHeartbeat(options?: boolean | Partial<HeartbeatOptions>): LinkWatchPlugin | undefined;
export function withHeartbeat(options: boolean | Partial<HeartbeatOptions> = true): LinkWatchPlugin | undefined {
  if (options === false) return undefined;
  // `true` has no entries: the defaults. A setting given as undefined keeps its default, as the
  // client's options do.
  const settings: HeartbeatOptions = { ...defaultHeartbeat, ...defined(options === true ? {} : options) };
  // Checked as other numeric options are: a negative period silently turned its check off, and
  // maxMissed -1 ended every link at its first ping, whatever the traffic.
  for (const name in defaultHeartbeat) check(`heartbeat.${name}`, settings[name as keyof HeartbeatOptions], 0);
  return ({ options }, send, dead) => {
    // The page's own visibility too, whatever `environment` says: a bare client's default
    // environment is always visible, but a hidden tab's timers are throttled all the same, and
    // a verdict from a throttled timer would drop a live link.
    const page = browserEnvironment();
    return heartbeat(options.clock, settings, send, dead, () => options.environment.hidden() || page.hidden());
  };
}
