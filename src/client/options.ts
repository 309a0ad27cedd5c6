import { defaultBackoff, type BackoffOptions } from '../core/backoff.js';
import { systemClock, systemRng, type Clock, type Rng } from '../core/clock.js';
import type { CloseAction } from '../core/close-code.js';
import type { CloseDecision, CloseInfo } from '../core/close-policy.js';
import { InvalidOptionError } from '../core/errors.js';
import { defaultQueueLimits, type OutboundData, type QueueLimits } from '../core/outbound-queue.js';
import { steadyEnvironment, type ClientEnvironment } from './environment.js';
import type { PageAwarenessPlugin } from './page-awareness.js';
import type { RetryHintParser } from '../core/retry-hint.js';
import type { LinkWatchPlugin } from './with-heartbeat.js';

/**
 * The part of a WHATWG WebSocket the client drives. The browser's `WebSocket`, Node 22's global
 * one and `ws` all fit. Handlers take `never` so any platform's event type is accepted.
 */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  readonly extensions: string;
  readonly bufferedAmount: number;
  binaryType: string;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
  send(data: OutboundData): void;
  close(code?: number, reason?: string): void;
  /** HTTP status of a refused handshake, where the platform exposes it (Lifeline's Node socket). */
  readonly handshakeStatus?: number;
  /** A refused handshake's Retry-After, ms. */
  readonly retryAfterMs?: number;
  /**
   * Where a socket can hold a process open (Lifeline's Node socket): called once the client has
   * closed this socket and waits for nothing from it, so it no longer does.
   */
  unref?(): void;
  /** Where a socket can be ended without a closing handshake (`ws`): a close the server never answers ends the TCP connection. */
  terminate?(): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** How binary messages are delivered: as a `Blob` or an `ArrayBuffer` (the DOM's `BinaryType`). */
export type BinaryTypeName = 'blob' | 'arraybuffer';

/** Passed to a URL provider on every attempt. */
export interface UrlContext {
  /** Retries since the last stable connection (0 on the first connect). */
  readonly attempt: number;
  /** True when the server said the credentials expired or were refused, until an attempt opens: fetch a fresh token. */
  readonly authRequired: boolean;
}

/** A fixed URL, or a provider called on every attempt (put a fresh token in it). */
export type UrlSource = string | URL | ((context: UrlContext) => string | URL | Promise<string | URL>);

/** Subprotocols chosen anew before every attempt. */
export type ProtocolsProvider = () => string | string[];

export interface ClientOptions extends Partial<BackoffOptions> {
  /** Construct without connecting (readyState CLOSED) until `reconnect()`. Default false. */
  readonly startClosed?: boolean;
  /** Called with every event the client dispatches, before its listeners (e.g. `debug: console.debug`). */
  readonly debug?: (event: Event) => void;
  /** The WebSocket class. Default: the platform's (`ws` on Node via `lifeline/client`'s node entry). */
  readonly WebSocket?: WebSocketConstructor;
  /** An attempt that is not open within this is abandoned, ms. Default 10 000. */
  readonly connectTimeout?: number;
  /** A connection open this long resets the attempt counter, ms. Default 5 000. */
  readonly stabilityWindow?: number;
  /** After `close()`, the server's close frame is awaited this long; then the socket is let go of (1006 `close timeout`), ms. Default 5 000. */
  readonly closeTimeout?: number;
  /** Limits of the queue that holds messages sent while not connected; `false`: no queue, `send` refuses (quietly) unless open. */
  readonly queue?: Partial<QueueLimits> | false;
  /**
   * Liveness checks, an opt-in module (off by default, since any server may be on the other end,
   * and a bare client bundles none of it): `heartbeat: withHeartbeat()` for the defaults.
   */
  readonly heartbeat?: LinkWatchPlugin | false | undefined;
  /**
   * Retries wait while the page is hidden or the device offline (as `environment` tells), an
   * opt-in module: `pageAwareness: withPageAwareness()`. Off by default; on in `LifelineClient`.
   */
  readonly pageAwareness?: PageAwarenessPlugin | undefined;
  /**
   * Server retry hints in close reasons (`retry after N ms, spread over M ms`) set the retry
   * delay, an opt-in module: `retryHints: withRetryHints()`. Off by default; on in
   * `LifelineClient`. A refused handshake's Retry-After (Node) is honoured either way.
   */
  readonly retryHints?: RetryHintParser | undefined;
  /** Override the close-code policy: return an action, true (reconnect) or false (stop); undefined keeps the default. */
  readonly shouldReconnect?: (close: CloseInfo, decision: CloseDecision) => CloseAction | boolean | undefined;
  /** Override the delay before attempt `attempt` (1-based), ms. */
  readonly reconnectDelay?: (attempt: number, close: CloseInfo) => number | undefined;
  /** Initial `binaryType`. Default `'arraybuffer'` (the same on every platform). */
  readonly binaryType?: BinaryTypeName;
  /**
   * Where the client runs: whether the page is hidden or the device offline, as `pageAwareness`
   * and the heartbeat read it. Default: always visible and online. `browserEnvironment()` gives
   * the page's visibility and online/offline signals (as `LifelineClient` uses by default).
   */
  readonly environment?: ClientEnvironment;
  readonly clock?: Clock;
  readonly rng?: Rng;
}

export interface ResolvedClientOptions extends BackoffOptions {
  readonly startClosed: boolean;
  readonly debug: ClientOptions['debug'];
  readonly WebSocket: WebSocketConstructor;
  readonly connectTimeout: number;
  readonly stabilityWindow: number;
  readonly closeTimeout: number;
  readonly queue: QueueLimits;
  /** False when the app turned queueing off (`queue: false`): refusals are then expected, not errors. */
  readonly queueing: boolean;
  readonly heartbeat: LinkWatchPlugin | undefined;
  readonly pageAwareness: PageAwarenessPlugin | undefined;
  readonly retryHints: RetryHintParser | undefined;
  readonly shouldReconnect: ClientOptions['shouldReconnect'];
  readonly reconnectDelay: ClientOptions['reconnectDelay'];
  readonly binaryType: BinaryTypeName;
  readonly environment: ClientEnvironment;
  readonly clock: Clock;
  readonly rng: Rng;
}

export function check(name: string, value: number, min: number): number {
  // NaN fails the comparison too.
  if (typeof value !== 'number' || !(value >= min)) throw new InvalidOptionError(name, `must be a number >= ${min}`);
  return value;
}

/** The numeric options and their least allowed value, checked in this order (`queue.` ones in the queue limits). */
const minimums = { initialDelay: 0, factor: 1, maxDelay: 0, maxAttempts: 0, connectTimeout: 1, stabilityWindow: 0, closeTimeout: 1, maxMessages: 0, maxBytes: 0 };

/** The entries of `options` that are not undefined: an option given as undefined keeps its default. */
export function defined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter((entry) => entry[1] !== undefined)) as Partial<T>;
}

export function resolveClientOptions(options: ClientOptions): ResolvedClientOptions {
  const queueing = options.queue !== false;
  // With `queue: false` the limits keep their defaults, unused: send refuses before queueing.
  const queue = { ...defaultQueueLimits, ...defined(options.queue || {}) };
  const resolved = {
    ...defaultBackoff,
    connectTimeout: 10_000,
    stabilityWindow: 5_000,
    // As NodeWebSocket's default for ws (a literal here: an imported constant costs bundle bytes).
    closeTimeout: 5_000,
    binaryType: 'arraybuffer',
    clock: systemClock,
    rng: systemRng,
    environment: steadyEnvironment,
    WebSocket: (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket,
    // Options it does not know pass through unread.
    ...defined(options),
    startClosed: !!options.startClosed,
    queue,
    queueing,
    heartbeat: options.heartbeat || undefined,
  } as ResolvedClientOptions;
  if (!resolved.WebSocket) throw new InvalidOptionError('WebSocket', 'no WebSocket on this platform: pass one');
  // `true` or settings (the option's old form) would silently mean no heartbeat: refused instead.
  if (resolved.heartbeat && typeof resolved.heartbeat !== 'function') throw new InvalidOptionError('heartbeat', 'pass withHeartbeat()');
  for (const [name, min] of Object.entries(minimums)) {
    const inQueue = name in queue;
    check(inQueue ? `queue.${name}` : name, ((inQueue ? queue : resolved) as unknown as Record<string, number>)[name] as number, min);
  }
  return Object.freeze(resolved);
}
