import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { WebSocketServer } from 'ws';
import type { Clock } from '../core/clock.js';
import type { LifelineLogger } from '../core/logger.js';
import { Timer } from '../core/timer.js';
import { endKeepAlive } from './http-server.js';
import type { Broker } from '../broker/broker.js';
import type { ConnectionRegistry } from './connection-registry.js';
import type { HandshakeGate } from './handshake-gate.js';
import type { Hub } from './protocol/hub.js';

/** Everything a shutdown stops, in the order it stops them. */
export interface ShutdownParts<User> {
  readonly log: LifelineLogger;
  /** The server's clock: the drain deadline runs on it. */
  readonly clock: Clock;
  /** Stops the keepalive sweep (no ping goes to a closing connection). */
  readonly stopKeepalive: () => void;
  readonly registry: ConnectionRegistry<User>;
  readonly gate: HandshakeGate<User>;
  readonly hub: Hub<User>;
  /** The broker, when the server made it (an app's broker is the app's to close). */
  readonly ownedBroker: Broker | undefined;
  readonly wss: WebSocketServer;
  readonly http: HttpServer | HttpsServer;
  readonly ownsHttp: boolean;
  /** Detaches the server's `upgrade` listener from `http`. */
  readonly detachUpgrade: () => void;
  /** A bind of Lifeline's own http server still under way. */
  readonly listening: Promise<void> | undefined;
}

/**
 * The DRAINING part of a graceful shutdown: every client is closed with `code`, stragglers are
 * terminated at the drain deadline, every session is parked in the broker, then the broker (if
 * owned), the WebSocket server and the http server (if owned) close: it stops listening, and
 * HTTP requests in flight get their answers until the drain deadline, when the connections
 * still open are cut. Resolves once every socket and timer is gone.
 */
export async function drainAndClose<User>(parts: ShutdownParts<User>, code: number, reason: string, drainTimeout: number): Promise<void> {
  const { log, clock, registry, gate, hub, ownedBroker, wss, http, ownsHttp } = parts;
  const started = clock.now();
  parts.stopKeepalive();
  log.info({ code, connections: registry.size }, 'draining');
  registry.closeAll(code, reason);
  const drained = await registry.waitForEmpty(drainTimeout);
  if (!drained) {
    log.warn({ stragglers: registry.size }, 'drain deadline passed: terminating stragglers');
    registry.terminateAll();
    await registry.waitForEmpty(Infinity);
  }
  await gate.close();
  // Every session must be parked in the broker before it may close: a client resumes it elsewhere.
  await hub.parked();
  hub.close();
  if (ownedBroker) await ownedBroker.close();
  parts.detachUpgrade();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  await parts.listening?.catch(() => undefined);
  if (ownsHttp && http.listening) {
    // close() ends idle connections; one whose request is in flight ends after its answer (an
    // HTTP publish may be stored already: cut, its client could not know). What is left of the
    // drain deadline bounds the wait.
    const closed = new Promise<void>((resolve) => http.close(() => resolve()));
    endKeepAlive(http);
    const left = drainTimeout - (clock.now() - started);
    if (left === Infinity) await closed;
    else if (left > 0) {
      let deadline: Timer | undefined;
      await Promise.race([closed, new Promise<void>((resolve) => (deadline = new Timer(clock, resolve)).start(left))]);
      deadline?.stop();
    }
    http.closeAllConnections();
    await closed;
  }
}
