import { createClient, createCluster, RootNodesUnavailableError } from '@redis/client';
import { backoffCeiling, jittered, type BackoffOptions } from '../core/backoff.js';
import { systemClock, type Rng, type TimerHandle } from '../core/clock.js';
import { handleClusterResubscribeRejections } from './handled-calls.js';

/** A pub/sub listener as node-redis calls it (text: no buffer mode is used). */
export type MessageListener = (message: string | Buffer) => void;

/**
 * One way to Redis, a single server or a Cluster, as the broker uses it: commands routed by
 * their first key, (sharded) pub/sub, readiness and the connection events that matter.
 */
export interface RedisLink {
  /** Sends one command; a Cluster routes it to the primary of its first key's slot (following MOVED/ASK). */
  send(args: readonly string[], timeout: number): Promise<unknown>;
  subscribe(name: string, listener: MessageListener, sharded: boolean): Promise<void>;
  unsubscribe(name: string, listener: MessageListener, sharded: boolean): Promise<void>;
  readonly isReady: boolean;
  /** `lost` on a connection error, `restored` once a connection (any node's, in a Cluster) is ready again. */
  on(event: 'lost', listener: (error: unknown) => void): void;
  on(event: 'restored', listener: () => void): void;
  connect(): Promise<void>;
  close(): Promise<void>;
  destroy(): void;
}

export interface LinkSettings {
  readonly backoff: BackoffOptions;
  readonly rng: Rng;
}

function reconnectStrategy({ backoff, rng }: LinkSettings): (retries: number) => number {
  return (retries) => Math.round(jittered(backoff, backoffCeiling(backoff, retries + 1), rng));
}

/** The key a command is about (what a Cluster routes it by): a script's first key, or the argument after the command name. */
export function firstKey(args: readonly string[]): string | undefined {
  const command = args[0]?.toUpperCase();
  if (command === 'EVAL' || command === 'EVALSHA') return Number(args[2]) > 0 ? args[3] : undefined;
  if (command === 'INFO' || command === 'PING') return undefined;
  return args[1];
}

/** One connection to one server, RESP2, failing fast while disconnected (no offline queue). */
export function singleLink(url: string, settings: LinkSettings): RedisLink {
  const client = createClient({
    url,
    RESP: 2,
    disableOfflineQueue: true,
    socket: { connectTimeout: 5_000, reconnectStrategy: reconnectStrategy(settings) },
  });
  return {
    send: (args, timeout) => client.sendCommand(args, { timeout }),
    subscribe: (name, listener, sharded) => (sharded ? client.sSubscribe(name, listener) : client.subscribe(name, listener)),
    unsubscribe: (name, listener, sharded) => (sharded ? client.sUnsubscribe(name, listener) : client.unsubscribe(name, listener)),
    get isReady() {
      return client.isReady;
    },
    on(event: 'lost' | 'restored', listener: ((error: unknown) => void) | (() => void)) {
      if (event === 'lost') client.on('error', listener);
      else client.on('ready', listener as () => void);
    },
    connect: async () => {
      await client.connect();
    },
    close: () => client.close(),
    destroy: () => client.destroy(),
  };
}

/**
 * A Redis Cluster client: discovers the topology from `seeds` (`host:port` or `redis://` URLs;
 * credentials and TLS of the first apply to every node), routes each command to its slot's
 * primary and each sharded subscription to its slot's shard, and follows resharding and
 * failover (MOVED, ASK, moved sharded channels).
 */
export function clusterLink(seeds: readonly string[], settings: LinkSettings): RedisLink {
  const urls = seeds.map((seed) => (/^rediss?:\/\//.test(seed) ? seed : `redis://${seed}`));
  const first = new URL(urls[0] ?? 'redis://127.0.0.1:6379');
  const credentials = {
    ...(first.username === '' ? {} : { username: decodeURIComponent(first.username) }),
    ...(first.password === '' ? {} : { password: decodeURIComponent(first.password) }),
  };
  const tls = first.protocol === 'rediss:' ? { tls: true as const } : {};
  const cluster = createCluster({
    rootNodes: urls.map((url) => ({ url, socket: { connectTimeout: 5_000, ...tls, reconnectStrategy: false } })),
    RESP: 2,
    defaults: {
      ...credentials,
      disableOfflineQueue: true,
      socket: { connectTimeout: 5_000, ...tls, reconnectStrategy: reconnectStrategy(settings) },
    },
    // Topology is refreshed soon after a node drops (its replica may have taken over).
    topologyRefreshOnReconnectionAttemptStrategy: 500,
  });
  // The client's own resubscription after a failover drops the promises of its subscribe calls.
  handleClusterResubscribeRejections(cluster);
  // A topology discovery in flight when the cluster is destroyed (at connect, or after a node
  // dropped or answered MOVED) still creates and connects the node clients it found once its
  // node answers: connections nobody closes, retrying forever, keeping the process alive. A
  // node client that shows life after destroy() ends them all again.
  let destroyed = false;
  const destroyAgain = (): void => {
    if (destroyed) queueMicrotask(() => cluster.destroy());
  };
  cluster.on('node-ready', destroyAgain);
  cluster.on('node-reconnecting', destroyAgain);
  // The cluster's close() forgets its node clients at once, while they drain: its destroy()
  // would no longer reach one waiting for an answer that never comes. They are kept here.
  let closing: readonly Destroyable[] = [];
  // The client asks its seed nodes once at connect: a Cluster not up yet (its nodes starting)
  // is asked again with the reconnect backoff until it answers or the link is destroyed (what
  // RedisConnection.open does past connectTimeout).
  const retryDelay = reconnectStrategy(settings);
  let retry: { readonly handle: TimerHandle; readonly wake: () => void } | undefined;
  return {
    send: (args, timeout) => cluster.sendCommand(firstKey(args), false, [...args], { timeout }),
    subscribe: (name, listener, sharded) => (sharded ? cluster.sSubscribe(name, listener) : cluster.subscribe(name, listener)),
    unsubscribe: (name, listener, sharded) => (sharded ? cluster.sUnsubscribe(name, listener, false) : cluster.unsubscribe(name, listener, false)),
    get isReady() {
      return cluster.isReady;
    },
    on(event: 'lost' | 'restored', listener: ((error: unknown) => void) | (() => void)) {
      if (event === 'lost') {
        cluster.on('error', listener);
        cluster.on('node-error', listener);
      } else cluster.on('node-ready', listener as () => void);
    },
    connect: async () => {
      for (let retries = 0; ; retries++) {
        try {
          await cluster.connect();
          return;
        } catch (error) {
          if (destroyed || !(error instanceof RootNodesUnavailableError)) throw error;
          await new Promise<void>((wake) => (retry = { handle: systemClock.setTimeout(wake, retryDelay(retries), true), wake }));
          retry = undefined;
          if (destroyed) throw error;
        }
      }
    },
    close: () => {
      closing = nodeClients(cluster);
      return cluster.close();
    },
    destroy: () => {
      destroyed = true;
      if (retry !== undefined) {
        systemClock.clearTimeout(retry.handle);
        retry.wake();
      }
      cluster.destroy();
      for (const client of closing) client.destroy();
    },
  };
}

interface Destroyable {
  destroy(): void;
}

/** What {@link nodeClients} reads of a cluster client (its public node lists). */
interface ClusterNodes {
  readonly masters: readonly { readonly client?: Destroyable; readonly pubSub?: { readonly client: Destroyable } }[];
  readonly replicas: readonly { readonly client?: Destroyable }[];
  readonly pubSubNode?: { readonly client: Destroyable } | undefined;
}

/** Every client a cluster client holds now: one per node, sharded pub/sub ones, the pub/sub one. */
function nodeClients(cluster: ClusterNodes): Destroyable[] {
  const clients: Destroyable[] = [];
  for (const node of cluster.masters) {
    if (node.client) clients.push(node.client);
    if (node.pubSub) clients.push(node.pubSub.client);
  }
  for (const node of cluster.replicas) if (node.client) clients.push(node.client);
  if (cluster.pubSubNode) clients.push(cluster.pubSubNode.client);
  return clients;
}
