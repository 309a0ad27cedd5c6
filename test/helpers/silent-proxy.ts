/**
 * A TCP proxy on loopback in front of a server, for tests of a peer that stops answering
 * without closing: once `silence()` is called it keeps every connection open and drops what
 * either side sends (a hung server, or a network that lost the way, with no reset). Nothing is
 * spawned; `stop()` destroys every socket and the listener.
 */
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

export class SilentProxy {
  readonly #clients = new Set<Socket>();
  readonly #upstreams = new Set<Socket>();
  /** Client connections whose bytes were dropped while silent. */
  readonly #dropped = new Set<Socket>();
  #silent = false;
  #allClosed: (() => void) | undefined;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Listens on a free loopback port and forwards each connection to `host:port`. */
  static async start(host: string, port: number): Promise<SilentProxy> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const proxy = new SilentProxy(server, address.port);
    server.on('connection', (client) => proxy.#accept(client, host, port));
    return proxy;
  }

  /** The proxy's address as a `redis://` URL. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Connections accepted and not closed yet. */
  get open(): number {
    return this.#clients.size;
  }

  /** How many connections sent something that was dropped (a request the server never saw). */
  get droppedFrom(): number {
    return this.#dropped.size;
  }

  /** From now on nothing is forwarded either way; every connection stays open. */
  silence(): void {
    this.#silent = true;
  }

  /** Resolves once every accepted connection has been closed (by the client side, the proxy forwards no close while silent). */
  allClosed(): Promise<void> {
    if (this.#clients.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#allClosed = resolve));
  }

  async stop(): Promise<void> {
    for (const socket of [...this.#clients, ...this.#upstreams]) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #accept(client: Socket, host: string, port: number): void {
    const upstream = connect({ host, port });
    this.#clients.add(client);
    this.#upstreams.add(upstream);
    client.on('data', (chunk) => {
      if (this.#silent) this.#dropped.add(client);
      else upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!this.#silent) client.write(chunk);
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', () => {
      this.#clients.delete(client);
      if (!this.#silent) upstream.destroy();
      if (this.#clients.size === 0) this.#allClosed?.();
    });
    upstream.on('error', () => {
      if (!this.#silent) end();
    });
    upstream.on('close', () => {
      this.#upstreams.delete(upstream);
      if (!this.#silent) client.destroy();
    });
  }
}
