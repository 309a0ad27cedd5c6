import { pino } from 'pino';
import { createServer, type LifelineServer } from '../server/server.js';
import type { ServerOptions } from '../server/options.js';

export interface ServerFixture<User> {
  readonly server: LifelineServer<User>;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `ws://127.0.0.1:PORT/ws` (the first endpoint path). */
  readonly wsUrl: string;
  readonly port: number;
  /** Closes the server (terminating clients at once unless told otherwise). */
  close(): Promise<void>;
}

/**
 * A Lifeline server on 127.0.0.1 and a free port, quiet by default, for tests.
 *
 * @example
 * const fixture = await startServer({ pingInterval: 0 });
 * const client = new ReconnectingWebSocket(fixture.wsUrl);
 * after(() => fixture.close());
 */
export async function startServer<User = unknown>(options: ServerOptions<User> = {}): Promise<ServerFixture<User>> {
  const server = createServer<User>({ logger: pino({ level: 'silent' }), host: '127.0.0.1', port: 0, ...options });
  const info = await server.listen();
  const path = server.options.paths[0] ?? '/ws';
  return {
    server,
    url: info.url,
    wsUrl: `${info.url.replace(/^http/, 'ws')}${path}`,
    port: info.port,
    close: () => server.close({ drainTimeout: 0 }),
  };
}
