import type { Logger } from 'pino';
import type { BackoffOptions } from '../core/backoff.js';
import { systemClock, type Rng } from '../core/clock.js';
import { BrokerUnavailableError } from '../core/errors.js';
import { Timer } from '../core/timer.js';
import { clusterLink, singleLink, type LinkSettings, type RedisLink } from './redis-link.js';

/**
 * Where the broker's way to Redis stands: `ready` (both connections up, or coming back without
 * a loss noticed yet), `lost` (a connection dropped: retried with backoff, every call fails at
 * once), `closed` (by {@link RedisConnection.close}; final).
 */
export type ConnectionState = 'ready' | 'lost' | 'closed';

/** What happened to a connection, as the state machine takes it. */
export type ConnectionSignal = 'lost' | 'restored' | 'close';

/**
 * The next state, and whether the subscriptions must be checked again (a connection came back:
 * what was published meanwhile is fetched). In a Cluster a connection to a new node may carry
 * subscriptions moved to it (resharding, failover), so every `restored` there asks for a check.
 */
export function nextState(state: ConnectionState, signal: ConnectionSignal, cluster: boolean): { readonly state: ConnectionState; readonly recheck: boolean } {
  if (state === 'closed' || signal === 'close') return { state: 'closed', recheck: false };
  if (signal === 'lost') return { state: 'lost', recheck: false };
  return { state: 'ready', recheck: state === 'lost' || cluster };
}

export interface ConnectionOptions {
  readonly url?: string;
  readonly cluster?: readonly string[];
  readonly connectTimeout?: number;
  /**
   * How long `close()` waits for the answers to commands in flight before it drops both
   * connections, ms: the broker's `commandTimeout` (an answer later than that was given up on by
   * its caller already). Default 5 000.
   */
  readonly commandTimeout?: number;
  readonly reconnect?: Pick<BackoffOptions, 'initialDelay' | 'maxDelay'>;
  readonly rng: Rng;
  readonly logger?: Logger;
}

/**
 * The broker's two connections to Redis (one for commands, one for pub/sub: a subscribed
 * connection takes no other command) and the state they are in together.
 */
export class RedisConnection {
  #state: ConnectionState = 'ready';
  /** The close under way (or done): every close() call waits for it. */
  #closing: Promise<void> | undefined;
  #onRestored: () => void = () => undefined;

  private constructor(
    readonly commands: RedisLink,
    readonly subscriber: RedisLink,
    /** A Redis Cluster (its topology may change under the connections). */
    readonly cluster: boolean,
    private readonly log: Logger | undefined,
    /** How long `close()` waits for commands in flight, ms. */
    private readonly closeGrace: number,
  ) {
    this.#watch(commands, 'commands');
    this.#watch(subscriber, 'subscriptions');
  }

  /**
   * Connects both links, retrying until `connectTimeout` (default 10 000 ms); past it, rejects
   * with a `BrokerUnavailableError` saying which Redis did not answer.
   */
  static async open(options: ConnectionOptions): Promise<RedisConnection> {
    const backoff: BackoffOptions = {
      initialDelay: options.reconnect?.initialDelay ?? 100,
      maxDelay: options.reconnect?.maxDelay ?? 5_000,
      factor: 2,
      maxAttempts: Infinity,
      jitter: 0.5,
    };
    const settings: LinkSettings = { backoff, rng: options.rng };
    const cluster = options.cluster !== undefined && options.cluster.length > 0 ? options.cluster : undefined;
    const url = options.url ?? 'redis://127.0.0.1:6379';
    const newLink = (): RedisLink => (cluster ? clusterLink(cluster, settings) : singleLink(url, settings));
    const connection = new RedisConnection(newLink(), newLink(), cluster !== undefined, options.logger, options.commandTimeout ?? 5_000);
    const deadline = options.connectTimeout ?? 10_000;
    try {
      if (!(await settledWithin(Promise.all([connection.commands.connect(), connection.subscriber.connect()]), deadline))) {
        const where = cluster ? `Redis Cluster at ${cluster.map(redactUrl).join(',')}` : `Redis at ${redactUrl(options.url)}`;
        throw new BrokerUnavailableError(`${where} did not answer within ${deadline} ms`, false);
      }
    } catch (error) {
      connection.destroy();
      throw error;
    }
    return connection;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** Both connections can take commands now. */
  get isReady(): boolean {
    return this.#state !== 'closed' && this.commands.isReady && this.subscriber.isReady;
  }

  /** Called once a connection is back (or, in a Cluster, a node's connection is new) and both are ready. */
  onRestored(listener: () => void): void {
    this.#onRestored = listener;
  }

  /**
   * Closes both connections: commands in flight may still be answered for up to `commandTimeout`,
   * then both are destroyed whatever is pending, which fails it. The client's graceful close
   * alone waits for every pending answer, and a Redis that hangs (or a Cluster node lost without
   * a reset) never gives one.
   */
  close(): Promise<void> {
    // A second call waits for the same close (it used to return at once, while the first drained).
    if (this.#closing === undefined && this.#state === 'closed') return Promise.resolve();
    return (this.#closing ??= this.#close());
  }

  async #close(): Promise<void> {
    this.#state = 'closed';
    try {
      await settledWithin(Promise.allSettled([this.commands.close(), this.subscriber.close()]), this.closeGrace);
    } finally {
      this.destroy();
    }
  }

  destroy(): void {
    this.#state = 'closed';
    this.commands.destroy();
    this.subscriber.destroy();
  }

  /** Logs connection loss and return once each, and tells the broker when a check is due. */
  #watch(link: RedisLink, role: string): void {
    link.on('lost', (error: unknown) => {
      const was = this.#state;
      this.#state = nextState(was, 'lost', this.cluster).state;
      if (was === 'ready') this.log?.warn({ err: error, role }, 'Redis connection lost; retrying with backoff');
    });
    link.on('restored', () => {
      // Until both connections are up, the other one's return brings the state back.
      if (this.#state === 'closed' || !this.isReady) return;
      const was = this.#state;
      const next = nextState(was, 'restored', this.cluster);
      this.#state = next.state;
      if (was === 'lost') this.log?.info('Redis connection restored');
      if (next.recheck) this.#onRestored();
    });
  }
}

/**
 * Whether `work` settled within `ms` (rejecting if it rejected by then). This is I/O: it waits in
 * real time whatever clock the broker's logic runs on, and keeps the process running meanwhile
 * (an app awaiting a connect or a close means to see it end).
 */
async function settledWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: Timer | undefined;
  const late = new Promise<false>((resolve) => {
    timer = new Timer(systemClock, () => resolve(false), true);
    timer.start(ms);
  });
  try {
    return await Promise.race([work.then(() => true), late]);
  } finally {
    timer?.stop();
  }
}

/** The URL without its password, for messages. */
function redactUrl(url: string | undefined): string {
  if (url === undefined) return 'redis://127.0.0.1:6379';
  if (!url.includes('://')) return url;
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the given URL';
  }
}
