/**
 * Runs every conformance case against the platform's WebSocket and against ReconnectingWebSocket
 * (driving that same platform WebSocket); returns both result lists. Used in Node (a child
 * process with undici's WebSocket) and, bundled, in Chromium.
 */
import { ReconnectingWebSocket } from '../../src/client/reconnecting-websocket.js';
import { cases, type SocketUnderTest, type Subject } from './cases.js';

export interface CaseResults {
  readonly reference: Record<string, unknown>;
  readonly lifeline: Record<string, unknown>;
}

type PlatformWebSocket = new (url: string | URL, protocols?: unknown) => SocketUnderTest;

/**
 * Runs every case at once: each one opens its own sockets to a server that keeps no state between
 * connections, so they cannot disturb each other, and a case where the reference never fires an
 * event (it then waits for its timeout) does not hold up the others.
 */
async function runAll(subject: Subject, base: string): Promise<Record<string, unknown>> {
  const results = await Promise.all(
    cases.map(async ({ name, run }): Promise<[string, unknown]> => {
      try {
        return [name, await run(subject, base)];
      } catch (error) {
        return [name, `case threw ${String(error)}`];
      }
    }),
  );
  return Object.fromEntries(results);
}

export async function runCases(base: string): Promise<CaseResults> {
  const Platform = (globalThis as { WebSocket?: PlatformWebSocket }).WebSocket;
  if (!Platform) throw new Error('no WebSocket on this platform');
  const reference = await runAll({ make: (url, protocols) => new Platform(url, protocols), constructor: Platform }, base);
  const lifeline = await runAll(
    {
      make: (url, protocols) => new ReconnectingWebSocket(url, protocols as string[], { WebSocket: Platform as never }) as unknown as SocketUnderTest,
      constructor: ReconnectingWebSocket,
    },
    base,
  );
  return { reference, lifeline };
}
