import type { Clock } from '../core/clock.js';
import { controlType, PING } from '../core/envelope.js';
import { defaultHeartbeat, Heartbeat, type HeartbeatOptions } from '../core/heartbeat.js';

/** What a client gives its link watch: its clock, a way to send a ping, to drop the link, and the page's visibility. */
export interface LinkWatchHost {
  readonly clock: Clock;
  /** Sends `data` if the socket is open (else nothing). */
  send(data: string): void;
  /** The link is dead: the client drops it (1006 "heartbeat timeout") and reconnects. */
  dead(): void;
  hidden(): boolean;
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

/** The `heartbeat` option of `ReconnectingWebSocket`: made by {@link withHeartbeat}. */
export type LinkWatchPlugin = (host: LinkWatchHost) => LinkWatch;

/**
 * Liveness checks for `ReconnectingWebSocket`, as an opt-in module (a bare client bundles none
 * of it): `heartbeat: withHeartbeat()` for the defaults, or `withHeartbeat({ watchdog: 10_000 })`.
 * `false` gives no heartbeat (`undefined`). With it, `{"type":"ping"}`/`{"type":"pong"}` messages
 * are link traffic, not app messages.
 */
export function withHeartbeat(options: false): undefined;
export function withHeartbeat(options?: true | Partial<HeartbeatOptions>): LinkWatchPlugin;
export function withHeartbeat(options?: boolean | Partial<HeartbeatOptions>): LinkWatchPlugin | undefined;
export function withHeartbeat(options: boolean | Partial<HeartbeatOptions> = true): LinkWatchPlugin | undefined {
  if (options === false) return undefined;
  const settings: HeartbeatOptions = { ...defaultHeartbeat, ...(options === true ? {} : options) };
  return (host) =>
    Object.assign(new Heartbeat(host.clock, settings, { sendPing: () => host.send(PING), dead: host.dead, hidden: host.hidden }), {
      saw(this: Heartbeat, data: unknown): boolean {
        this.sawTraffic();
        return typeof data === 'string' && controlType(data) !== undefined;
      },
    });
}
