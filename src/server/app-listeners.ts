import type { EventEmitter } from 'node:events';
import { CloseCode } from '../core/close-codes.js';
import type { LifelineLogger } from '../core/logger.js';
import type { Connection } from './connection.js';
import type { ServerEvents } from './server-events.js';

/**
 * Where the server calls app code: its event listeners are called here, and only here. A
 * listener that throws or rejects is logged and reported as `error`; on behalf of a connection
 * it also closes that connection with 1011 (the server's fault, never sent to the peer as text).
 */
export class AppListeners<User> {
  constructor(
    private readonly emitter: EventEmitter<ServerEvents<User>>,
    private readonly log: LifelineLogger,
  ) {}

  /** Calls every listener of `event` (raw listeners, so `once` works), catching what they throw or reject. */
  notify<K extends keyof ServerEvents<User>>(event: K, args: ServerEvents<User>[K], connection?: Connection<unknown>): void {
    for (const listener of this.emitter.rawListeners(event) as ((...a: ServerEvents<User>[K]) => unknown)[]) {
      try {
        const result = listener.apply(this.emitter, args);
        if (result instanceof Promise) result.catch((error: unknown) => this.failed(error, `${String(event)} listener failed`, connection));
      } catch (error) {
        this.failed(error, `${String(event)} listener failed`, connection);
      }
    }
  }

  /** App code (a listener, a hook) failed: logged, emitted as `error`, and its connection closed with 1011. */
  failed(error: unknown, what: string, connection: Connection<unknown> | undefined): void {
    this.log.error({ err: error, id: connection?.id }, what);
    this.emitError(error instanceof Error ? error : new Error(String(error)), connection);
    const state = connection?.state;
    if (connection && (state === 'open' || state === 'authenticating')) connection.close(CloseCode.INTERNAL_ERROR, 'internal error');
  }

  /** Emits `error` to every listener; one that throws is logged, never rethrown. */
  emitError(error: Error, connection: Connection<unknown> | undefined): void {
    for (const listener of this.emitter.rawListeners('error') as ((e: Error, c: Connection<User> | undefined) => unknown)[]) {
      try {
        listener.call(this.emitter, error, connection as Connection<User> | undefined);
      } catch (thrown) {
        this.log.error({ err: thrown }, 'error listener failed');
      }
    }
  }
}
