/**
 * Shared pieces of the server tests (not a test file): a server fixture that always shuts down
 * (fake clock or not), and ws clients that record everything they receive from the start, so
 * no message or close slips past a listener attached too late. Every wait has a deadline.
 */
import { once, type EventEmitter } from 'node:events';
import type { TestContext } from 'node:test';
import WebSocket from 'ws';
import type { Connection, CloseReport } from '../../src/server/connection.js';
import type { ServerOptions } from '../../src/server/options.js';
import type { LifelineServer } from '../../src/server/server.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { startServer, type ServerFixture } from '../../src/testing/server-fixture.js';
import { RawSocket } from '../helpers/raw-socket.js';
import { within } from '../helpers/wait.js';

export { within };

/** Default deadline for anything that should happen "at once" on loopback, ms. */
export const DEADLINE = 5_000;

/** `once(emitter, event)` with a deadline. */
export function onceWithin(emitter: EventEmitter, event: string, ms: number = DEADLINE): Promise<unknown[]> {
  return within(once(emitter, event), ms, `'${event}'`);
}

export interface ReceivedMessage {
  readonly data: Buffer;
  readonly isBinary: boolean;
  readonly text: string;
}

export interface ClientClose {
  readonly code: number;
  readonly reason: string;
}

/**
 * A `ws` client with everything it receives recorded from the start, so no message or close
 * can slip past a listener attached too late.
 */
export class TrackedClient {
  readonly ws: WebSocket;
  readonly received: ReceivedMessage[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<ClientClose>;
  #read = 0;
  #wake: (() => void) | undefined;

  constructor(url: string, protocols?: string | string[], options?: WebSocket.ClientOptions) {
    this.ws = new WebSocket(url, protocols, options);
    // Swallow client-side errors (a refused or reset link); tests assert on close codes.
    this.ws.on('error', () => undefined);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('close', () => reject(new Error('closed before open')));
    });
    this.opened.catch(() => undefined);
    this.closed = new Promise((resolve) => {
      this.ws.once('close', (code: number, reason: Buffer) => {
        resolve({ code, reason: reason.toString('utf8') });
        this.#wake?.();
      });
    });
    this.ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      this.received.push({ data: buffer, isBinary, text: buffer.toString('utf8') });
      this.#wake?.();
    });
  }

  /** The next message not yet taken by `next`/`nextJson`. */
  async next(ms: number = DEADLINE): Promise<ReceivedMessage> {
    const deadline = Date.now() + ms;
    for (let round = 0; round < 10_000; round++) {
      const message = this.received[this.#read];
      if (message !== undefined) {
        this.#read++;
        return message;
      }
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error('closed while waiting for a message');
      const left = deadline - Date.now();
      if (left <= 0) break;
      await within(
        new Promise<void>((resolve) => {
          this.#wake = resolve;
        }),
        left,
        'a message',
      );
    }
    throw new Error(`no message within ${ms} ms`);
  }

  async nextJson(ms: number = DEADLINE): Promise<Record<string, unknown>> {
    const message = await this.next(ms);
    if (message.isBinary) throw new Error('expected a text message, got binary');
    return JSON.parse(message.text) as Record<string, unknown>;
  }

  /**
   * A round-trip barrier that is not application traffic: a protocol ping answered by the
   * server's ws layer. Everything the server sent before handling it has arrived afterwards.
   */
  async barrier(ms: number = DEADLINE): Promise<void> {
    const pong = once(this.ws, 'pong');
    this.ws.ping();
    await within(pong, ms, 'pong (barrier)');
  }

  /** Closes (if still open) and waits for the close to finish. */
  async dispose(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) this.ws.close();
    try {
      await within(this.closed, 1_000, 'client close');
    } catch {
      this.ws.terminate();
    }
  }
}

/** Opens a tracked client and waits until it is open. */
export async function openClient(url: string, protocols?: string | string[], options?: WebSocket.ClientOptions): Promise<TrackedClient> {
  const client = new TrackedClient(url, protocols, options);
  await within(client.opened, DEADLINE, `open of ${url}`);
  return client;
}

/** Starts a quiet server on 127.0.0.1:0 that is shut down after the test, whatever happens. */
export async function serve<User = unknown>(t: TestContext, options: ServerOptions<User> = {}): Promise<ServerFixture<User>> {
  const fixture = await startServer<User>(options);
  t.after(() => shutdown(fixture.server));
  return fixture;
}

/**
 * Closes a server, terminating clients at once; with a fake clock it advances the clock until
 * the drain deadline passes (bounded), since a drain timer on a fake clock never fires alone.
 */
export async function shutdown(server: LifelineServer<unknown> | LifelineServer<never>): Promise<void> {
  const target = server as LifelineServer<unknown>;
  if (target.state === 'closed') return;
  let done = false;
  const closing = target.close({ drainTimeout: 0 }).then(() => {
    done = true;
  });
  if (target.clock instanceof FakeClock) {
    for (let i = 0; i < 200 && !done; i++) await target.clock.tickAsync(1_000);
  }
  await within(closing, DEADLINE, 'server shutdown');
}

/** A tracked client that is disposed after the test. */
export async function connect(t: TestContext, url: string, protocols?: string | string[], options?: WebSocket.ClientOptions): Promise<TrackedClient> {
  const client = new TrackedClient(url, protocols, options);
  t.after(() => client.dispose());
  await within(client.opened, DEADLINE, `open of ${url}`);
  return client;
}

/** Connects a client and returns it with the server side of the connection. */
export async function connectPair<User>(
  t: TestContext,
  fixture: ServerFixture<User>,
  protocols?: string | string[],
  options?: WebSocket.ClientOptions,
): Promise<{ client: TrackedClient; conn: Connection<User> }> {
  const accepted = onceWithin(fixture.server, 'connection');
  const client = await connect(t, fixture.wsUrl, protocols, options);
  const [conn] = (await accepted) as [Connection<User>];
  return { client, conn };
}

/** The server's `disconnect` event for one connection. */
export function closeReportOf<User>(server: LifelineServer<User>, conn: Connection<User>, ms: number = DEADLINE): Promise<CloseReport> {
  return within(
    new Promise<CloseReport>((resolve) => {
      const listener = (closed: Connection<User>, report: CloseReport): void => {
        if (closed !== conn) return;
        server.off('disconnect', listener);
        resolve(report);
      };
      server.on('disconnect', listener);
    }),
    ms,
    `server disconnect event of ${conn.id}`,
  );
}

/** A raw peer (destroyed after the test) and the server side of its connection. */
export async function rawPair<User>(t: TestContext, fixture: ServerFixture<User>): Promise<{ raw: RawSocket; conn: Connection<User> }> {
  const accepted = onceWithin(fixture.server, 'connection');
  const { raw } = await RawSocket.upgrade(fixture.port);
  t.after(() => raw.destroy());
  const [conn] = (await accepted) as [Connection<User>];
  return { raw, conn };
}
