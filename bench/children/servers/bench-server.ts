// What every server under test offers the harness, whatever the stack: the same app (echo,
// a fan-out channel, a replayable history, a resubscribe answer for the reconnect storm)
// written the way a user of that stack would write it.
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Events every fan-out subscriber receives. */
export const FANOUT_CHANNEL = 'bench:x';
/** The channel whose history a catch-up client replays. */
export const CATCHUP_CHANNEL = 'bench:catchup';
/** The channel the reconnect storm's clients resubscribe to. */
export const STORM_CHANNEL = 'bench:storm';

export interface RedisConfig {
  /** The bundled module exporting `RedisBroker`. */
  readonly module: string;
  readonly url: string;
  readonly prefix: string;
}

export interface ListenConfig {
  /** 0 picks a free port; a restarted server reuses its predecessor's. */
  readonly port: number;
  /**
   * Events put in the storm channel before listening. A restarted Lifeline server publishes
   * them again under the same epoch (standing in for a persistent broker), plus the ones
   * "published while the clients were away", which a returning client must replay.
   */
  readonly prepublish: number;
  /** Lifeline only: a fixed epoch for the storm channel's history. */
  readonly epoch?: string;
  /** Lifeline only: a Redis broker instead of the in-memory one. */
  readonly redis?: RedisConfig;
  /**
   * Raw ws only: the heartbeat a careful user adds (a ping every 30 s, a peer silent since the
   * last one terminated), as ws has none of its own. Lifeline and Socket.IO always run theirs.
   */
  readonly heartbeat?: boolean;
}

export interface ShutdownHint {
  readonly retryAfter?: number;
  readonly retrySpread?: number;
}

export interface BenchServer {
  /** Starts serving; resolves with the port. `onAccept` is called for every accepted connection. */
  listen(config: ListenConfig, onAccept: () => void): Promise<number>;
  /**
   * One fan-out event to every subscriber of {@link FANOUT_CHANNEL}: `{ seq, body }`, or
   * `{ seq, t, body }` when `t` (the publish time on CLOCK_MONOTONIC, ms) is given.
   */
  publish(seq: number, body: string, t?: number): void | Promise<void>;
  /** Fills the catch-up history; resolves with the position a client resumes from. */
  fillHistory(events: number, body: string): Promise<{ readonly epoch: string }>;
  connections(): number;
  /** A graceful shutdown (Lifeline: close code 1012 with its retry hint). */
  shutdown(hint: ShutdownHint): Promise<void>;
}

/** The data of a fan-out event: `t` first after `seq`, so a client finds both without parsing JSON. */
export function eventData(seq: number, body: string, t: number | undefined): { readonly seq: number; readonly t?: number; readonly body: string } {
  return t === undefined ? { seq, body } : { seq, t, body };
}

/**
 * Plain HTTP requests: `GET /healthz` answers 200 (a liveness probe, as `lifeline serve` has),
 * anything else 404. Only the probes of bench/many-sessions.ts ask.
 */
export function answerHealth(request: IncomingMessage, response: ServerResponse): void {
  const healthy = request.method === 'GET' && request.url === '/healthz';
  response.writeHead(healthy ? 200 : 404, { 'content-type': 'application/json' }).end(healthy ? '{"status":"ok"}' : '{"error":"not found"}');
}
