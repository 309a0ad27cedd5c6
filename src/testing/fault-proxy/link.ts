import type { Socket } from 'node:net';
import type { Clock } from '../../core/clock.js';
import { resolveMode, type FaultMode, type ResolvedMode } from './mode.js';
import { Pipe, type PipeHost } from './pipe.js';

/** One proxied TCP connection: the client's socket, the socket to the target, a pipe each way. */
export interface FaultLink {
  /** 1 for the first link a proxy accepted, then 2, 3... */
  readonly id: number;
  /** The client's own local port (the proxy's view of its remote port): tells links apart. */
  readonly clientPort: number;
  /** The mode this link runs in now. */
  readonly mode: FaultMode;
  /** Bytes written towards the target. */
  readonly bytesToTarget: number;
  /** Bytes written towards the client. */
  readonly bytesToClient: number;
  /** Bytes a blackhole swallowed, both directions. */
  readonly bytesSwallowed: number;
  /** Bytes read and not yet forwarded (held by delay, slice or bandwidth), both directions. */
  readonly queuedBytes: number;
  /** Resolves once both sockets are closed. */
  readonly closed: Promise<void>;
  /**
   * Switches this link's mode. Leaving `'blackhole'` after it swallowed bytes or an end of
   * stream resets the link: the stream has a hole in it, as after a NAT entry expired.
   */
  set(mode: FaultMode): void;
  /** Destroys both sockets with a TCP RST: each peer sees ECONNRESET (a WebSocket closes 1006). */
  reset(): void;
}

/** What a link reports to its proxy. */
export interface LinkHost {
  readonly clock: Clock;
  readonly maxQueuedBytes: number;
  forwarded(toTarget: boolean, bytes: number): void;
  swallowed(bytes: number): void;
  linkClosed(link: Link): void;
}

/** Ends a socket with an RST; a socket still connecting has none to send, so it is just destroyed. */
function hardClose(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.connecting) {
    socket.destroy();
    return;
  }
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy(); // not a TCP handle after all: a plain close is the best left
  }
}

function ignoreError(): void {
  // A peer's ECONNRESET, EPIPE or ECONNREFUSED ends the link through 'close'; nothing to throw.
}

/**
 * Half-close is carried through (both sockets are opened with `allowHalfOpen`): a FIN from one
 * peer reaches the other once what came before it has been forwarded. An abortive close (an
 * error, an RST) is passed on as an RST. In a blackhole neither is passed on: the other socket
 * stays open and silent, and the link is marked severed.
 */
export class Link implements FaultLink, PipeHost {
  readonly closed: Promise<void>;
  readonly clientPort: number;
  readonly #up: Pipe;
  readonly #down: Pipe;
  #mode: FaultMode;
  #resolved: ResolvedMode;
  /** A blackhole swallowed bytes or an end: the stream can never be whole again. */
  #severed = false;
  #swallowed = 0;
  #openSockets = 2;
  #resolveClosed: () => void = () => undefined;

  constructor(
    readonly id: number,
    private readonly client: Socket,
    private readonly target: Socket,
    private readonly host: LinkHost,
    mode: FaultMode,
  ) {
    this.#mode = mode;
    this.#resolved = resolveMode(mode);
    this.clientPort = client.remotePort ?? 0;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#up = new Pipe(client, target, this, this.#resolved);
    this.#down = new Pipe(target, client, this, this.#resolved);
    client.on('data', this.#up.onData).on('end', this.#up.onEnd).on('drain', this.#down.onDrain).on('error', ignoreError);
    target.on('data', this.#down.onData).on('end', this.#down.onEnd).on('drain', this.#up.onDrain).on('error', ignoreError);
    client.once('close', (hadError: boolean) => this.#socketClosed(this.#down, target, hadError));
    target.once('close', (hadError: boolean) => this.#socketClosed(this.#up, client, hadError));
  }

  get clock(): Clock {
    return this.host.clock;
  }

  get maxQueuedBytes(): number {
    return this.host.maxQueuedBytes;
  }

  get mode(): FaultMode {
    return this.#mode;
  }

  get bytesToTarget(): number {
    return this.#up.forwarded;
  }

  get bytesToClient(): number {
    return this.#down.forwarded;
  }

  get bytesSwallowed(): number {
    return this.#swallowed;
  }

  get queuedBytes(): number {
    return this.#up.queuedBytes + this.#down.queuedBytes;
  }

  set(mode: FaultMode): void {
    const resolved = resolveMode(mode);
    const restoring = this.#resolved.blackhole && !resolved.blackhole;
    this.#mode = mode;
    this.#resolved = resolved;
    if (restoring && this.#severed) {
      this.reset();
      return;
    }
    this.#up.setMode(resolved);
    this.#down.setMode(resolved);
  }

  reset(): void {
    this.#up.stop();
    this.#down.stop();
    hardClose(this.client);
    hardClose(this.target);
  }

  /** Closes both sockets the ordinary way (the proxy is shutting down). */
  destroy(): void {
    this.#up.stop();
    this.#down.stop();
    this.client.destroy();
    this.target.destroy();
  }

  forwarded(pipe: Pipe, bytes: number): void {
    this.host.forwarded(pipe === this.#up, bytes);
  }

  swallowed(_pipe: Pipe, bytes: number): void {
    this.#severed = true;
    this.#swallowed += bytes;
    this.host.swallowed(bytes);
  }

  /** One socket closed: `into` was the pipe writing to it, `other` the socket left. */
  #socketClosed(into: Pipe, other: Socket, hadError: boolean): void {
    into.stop();
    if (--this.#openSockets === 0) {
      this.#up.stop();
      this.#down.stop();
      this.host.linkClosed(this);
      this.#resolveClosed();
      return;
    }
    if (this.#resolved.blackhole) this.#severed = true;
    else if (hadError) hardClose(other);
  }
}
