import type { Logger } from 'pino';
import { CloseCode } from '../core/close-codes.js';
import type { LifelineServer } from '../server/index.js';
import { ExitCode } from './command.js';

/** Leaving the load balancer before the drain: `start()` makes /readyz fail, `delay` ms before clients are closed. */
export interface Leaving {
  readonly delay: number;
  start(): void;
}

/** What delivers signals: `process`, or a stand-in in tests. */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

const SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/**
 * Resolves with the exit code once the server has shut down on SIGTERM or SIGINT.
 *
 * First signal: graceful. New handshakes get 503, every client is closed with 1012 (service
 * restart) and a retry hint, so reconnecting clients come back spread out once a new process
 * is up; stragglers are cut at the drain deadline. Exit 0.
 *
 * Second signal during the drain: the operator (or an orchestrator's escalation) wants out now.
 * Exit 1 at once, without waiting for clients: the drain did not finish, so this is a failed
 * shutdown, not a clean one, and a supervisor should see it as such. We exit rather than die
 * by the signal (128+N) because the handler ran and chose to stop: 1 is the CLI's documented
 * "failure" code, distinct from 2 (bad usage).
 */
export function untilShutdown(server: LifelineServer, log: Logger, signals: SignalSource = process, leaving?: Leaving): Promise<number> {
  return new Promise((resolve) => {
    let draining = false;
    let delayed: ReturnType<typeof setTimeout> | undefined;
    const finish = (code: number): void => {
      clearTimeout(delayed);
      for (const signal of SIGNALS) signals.off(signal, onSignal);
      resolve(code);
    };
    function onSignal(signal: NodeJS.Signals): void {
      if (draining) {
        log.warn({ signal, connections: server.connections.size }, 'second signal during drain: exiting now');
        finish(ExitCode.FAILURE);
        return;
      }
      draining = true;
      if (leaving && leaving.delay > 0) {
        // /readyz fails first; clients are closed once the load balancer has stopped sending new ones.
        leaving.start();
        log.info({ signal, drainDelay: leaving.delay }, 'shutting down: /readyz answers 503; clients are closed after the drain delay');
        delayed = setTimeout(drain, leaving.delay);
      } else drain();
    }
    function drain(): void {
      const drainTimeout = server.options.drainTimeout;
      log.info({ connections: server.connections.size, drainTimeout }, 'shutting down: closing clients with 1012 service restart');
      server.close({ code: CloseCode.SERVICE_RESTART, drainTimeout }).then(
        () => {
          log.info('shut down cleanly');
          finish(ExitCode.OK);
        },
        (error: unknown) => {
          log.error({ err: error }, 'shutdown failed');
          finish(ExitCode.FAILURE);
        },
      );
    }
    for (const signal of SIGNALS) signals.on(signal, onSignal);
  });
}
