import { connect, createServer, type Server, type Socket } from 'node:net';
import { systemClock, type Clock } from '../core/clock.js';
import { InvalidOptionError } from '../core/errors.js';
import { StateMachine } from '../core/state-machine.js';
import { Link, type FaultLink, type LinkHost } from './fault-proxy/link.js';
import { resolveMode, type FaultMode } from './fault-proxy/mode.js';

export type { FaultLink } from './fault-proxy/link.js';
export type { FaultMode, Shaping } from './fault-proxy/mode.js';

export interface FaultProxyOptions {
  /** Where links go. `host` defaults to 127.0.0.1. */
  readonly target: { readonly host?: string; readonly port: number };
  /** Address to listen on. Default 127.0.0.1. */
  readonly host?: string;
  /** Port to listen on. Default 0 (a free one; read it from `proxy.port`). */
  readonly port?: number;
  /** Clock for delay and bandwidth timers. Default the system clock. */
  readonly clock?: Clock;
  /**
   * Per direction and link, how many bytes delay, slice or bandwidth may hold before the
   * proxy stops reading from the sender (which then feels TCP backpressure). Default 1 MiB.
   */
  readonly maxQueuedBytes?: number;
}

export interface FaultProxyStats {
  readonly linksOpened: number;
  /** Bytes written towards the target, all links. */
  readonly bytesToTarget: number;
  /** Bytes written towards clients, all links. */
  readonly bytesToClient: number;
  /** Bytes blackholes swallowed, all links, both directions. */
  readonly bytesSwallowed: number;
}

export type FaultProxyState = 'listening' | 'closing' | 'closed';

/**
 * A TCP proxy between clients and one target that injects the failures real networks have:
 * delay, a silent half-open link, resets, frames split at arbitrary points, a slow link.
 * Create it with {@link startFaultProxy}.
 */
export interface FaultProxy {
  readonly host: string;
  readonly port: number;
  readonly state: FaultProxyState;
  /** The mode new links start in (the last one given to {@link FaultProxy.set}). */
  readonly mode: FaultMode;
  /** Links not yet closed, oldest first. */
  readonly connections: readonly FaultLink[];
  /** A snapshot of the counters. */
  readonly stats: FaultProxyStats;
  /** `${scheme}://host:port${path}`, e.g. `url('/health')` is `http://127.0.0.1:PORT/health`. */
  url(path?: string, scheme?: string): string;
  /** `ws://host:port${path}`. */
  wsUrl(path?: string): string;
  /** `url` with its host and port replaced by the proxy's: `proxy.via(fixture.wsUrl)`. */
  via(url: string | URL): string;
  /** Applies `mode` to every current link and to every link opened later. */
  set(mode: FaultMode): void;
  /** Resets every current link (TCP RST both ways); new links are accepted as before. */
  reset(): void;
  /** Stops listening, destroys every link, cancels every timer; resolves when all is gone. */
  close(): Promise<void>;
}

interface ResolvedProxyOptions {
  readonly targetHost: string;
  readonly targetPort: number;
  readonly host: string;
  readonly port: number;
  readonly clock: Clock;
  readonly maxQueuedBytes: number;
}

function integer(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new InvalidOptionError(name, `must be an integer in [${min}, ${max}], got ${String(value)}`);
  return value;
}

function resolveOptions(options: FaultProxyOptions): ResolvedProxyOptions {
  return Object.freeze({
    targetHost: options.target.host ?? '127.0.0.1',
    targetPort: integer('target.port', options.target.port, 1, 65_535),
    host: options.host ?? '127.0.0.1',
    port: integer('port', options.port ?? 0, 0, 65_535),
    clock: options.clock ?? systemClock,
    maxQueuedBytes: integer('maxQueuedBytes', options.maxQueuedBytes ?? 1024 * 1024, 1, Number.MAX_SAFE_INTEGER),
  });
}

const shutdownTransitions = { listening: ['closing'], closing: ['closed'], closed: [] } as const;

class FaultProxyServer implements FaultProxy, LinkHost {
  readonly #machine = new StateMachine<FaultProxyState>('listening', shutdownTransitions);
  readonly #links = new Set<Link>();
  #mode: FaultMode = 'pass';
  #nextId = 1;
  #stats = { linksOpened: 0, bytesToTarget: 0, bytesToClient: 0, bytesSwallowed: 0 };
  #closing: Promise<void> | undefined;

  constructor(
    private readonly options: ResolvedProxyOptions,
    private readonly server: Server,
    readonly port: number,
  ) {
    server.on('connection', this.#accept);
    // After listen, a server error (EMFILE...) costs one accept, never the process.
    server.on('error', () => undefined);
  }

  get host(): string {
    return this.options.host;
  }

  get clock(): Clock {
    return this.options.clock;
  }

  get maxQueuedBytes(): number {
    return this.options.maxQueuedBytes;
  }

  get state(): FaultProxyState {
    return this.#machine.state;
  }

  get mode(): FaultMode {
    return this.#mode;
  }

  get connections(): readonly FaultLink[] {
    return [...this.#links];
  }

  get stats(): FaultProxyStats {
    return { ...this.#stats };
  }

  url(path = '/', scheme = 'http'): string {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `${scheme}://${host}:${this.port}${path}`;
  }

  wsUrl(path = '/'): string {
    return this.url(path, 'ws');
  }

  via(url: string | URL): string {
    const rewritten = new URL(url);
    rewritten.hostname = this.host.includes(':') ? `[${this.host}]` : this.host;
    rewritten.port = String(this.port);
    return rewritten.toString();
  }

  set(mode: FaultMode): void {
    resolveMode(mode); // throws before anything changes
    this.#mode = mode;
    for (const link of [...this.#links]) link.set(mode);
  }

  reset(): void {
    for (const link of [...this.#links]) link.reset();
  }

  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#machine.to('closing', undefined);
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const links = [...this.#links];
    for (const link of links) link.destroy();
    this.#closing = Promise.all([stopped, ...links.map((link) => link.closed)]).then(() => this.#machine.to('closed', undefined));
    return this.#closing;
  }

  forwarded(toTarget: boolean, bytes: number): void {
    if (toTarget) this.#stats.bytesToTarget += bytes;
    else this.#stats.bytesToClient += bytes;
  }

  swallowed(bytes: number): void {
    this.#stats.bytesSwallowed += bytes;
  }

  linkClosed(link: Link): void {
    this.#links.delete(link);
  }

  readonly #accept = (client: Socket): void => {
    if (this.state !== 'listening') {
      client.on('error', () => undefined).destroy();
      return;
    }
    // No Nagle on either side: a slice leaves as its own segment, a delay is only the delay.
    client.setNoDelay(true);
    const target = connect({ host: this.options.targetHost, port: this.options.targetPort, allowHalfOpen: true });
    target.setNoDelay(true);
    this.#links.add(new Link(this.#nextId++, client, target, this, this.#mode));
    this.#stats.linksOpened++;
  };
}

/**
 * Starts a fault proxy in front of `target`. Links start in `'pass'`.
 *
 * Bytes held by delay, slice or bandwidth are bounded: each direction of a link holds at most
 * `maxQueuedBytes` (plus the chunk that crossed it) before the proxy stops reading, and in
 * `'pass'` the proxy stops reading whenever the receiving socket's buffer is full.
 *
 * @example
 * const fixture = await startServer({ pingInterval: 100, pongTimeout: 100 });
 * const proxy = await startFaultProxy({ target: { port: fixture.port } });
 * const client = new ReconnectingWebSocket(proxy.via(fixture.wsUrl));
 * proxy.set('blackhole'); // the link goes silent: no FIN, no RST
 * proxy.set({ delay: 100 }); // or slow, or { slice: 1 }, or { bandwidth: 64_000 }
 * proxy.reset(); // the client sees 1006 at once
 * await proxy.close();
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const resolved = resolveOptions(options);
  const server = createServer({ allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(resolved.port, resolved.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : resolved.port;
  return new FaultProxyServer(resolved, server, port);
}
