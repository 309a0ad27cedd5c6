import type { Logger } from 'pino';
import type { BackoffOptions } from '../core/backoff.js';
import type { Clock, Rng } from '../core/clock.js';

/** What `RedisBroker.connect` takes; every field is optional (defaults in the comments). */
export interface RedisBrokerOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://` for TLS. Default `redis://127.0.0.1:6379`. */
  readonly url?: string;
  /**
   * A Redis Cluster instead of one server: some of its nodes, `host:port` or `redis://` URLs
   * (credentials and TLS of the first apply to every node). The topology is discovered from them.
   * Takes precedence over `url`. Needs Redis 7 (sharded pub/sub).
   */
  readonly cluster?: readonly string[];
  /** Prefix of every key and pub/sub channel, so deployments can share a server. Default `lifeline:`. */
  readonly prefix?: string;
  /**
   * A command not answered within this fails (the node stays up; the client gets `unavailable`),
   * ms; `close()` waits as long for commands in flight before it drops the connections. Default 5 000.
   */
  readonly commandTimeout?: number;
  /** `connect()` gives up when Redis does not answer within this, ms. Default 10 000. */
  readonly connectTimeout?: number;
  /** A channel with no publish for this long (and longer than its history's ttl) is forgotten, ms. Default one hour. */
  readonly idleChannelTtl?: number;
  /**
   * A subscribed channel (or session's direct messages) that heard nothing for this long reads
   * its head (one `HMGET`/`HGET` each, pipelined per Redis node) and fetches what it missed, ms:
   * the bound on how late an event published while a Cluster resharding silently moved the
   * subscription can arrive (at most 1.5 times this plus a round trip). Only on a Cluster: one
   * server moves no subscription without a new connection, so there it is off. `0` turns it
   * off. Default 5 000.
   */
  readonly quietCheck?: number;
  /**
   * A gap in what this node hears (pub/sub drops messages while its connection is down) is
   * filled from the channel's history or the session's outbox; when that read fails (Redis
   * unreachable, a failover under way) it is tried again, 100 ms doubling to 2 s, for this long
   * before the events are delivered with the hole and the node's clients of that channel are
   * sent 1013 to resynchronise, ms. The default covers a Cluster failover at Redis's default
   * `cluster-node-timeout` (15 s). `0` gives up at the first failure. Default 20 000.
   */
  readonly gapRetry?: number;
  /** Reconnect delays after a lost connection (backoff, each delay between half and all of its ceiling). Default 100 ms doubling to 5 s. */
  readonly reconnect?: Pick<BackoffOptions, 'initialDelay' | 'maxDelay'>;
  /**
   * Idempotency-key records one holder (a client publisher's user, `KeyOrigin.holder`) keeps
   * at most; past it that holder's oldest record is deleted first, so one client publishing
   * under a new key each time cannot fill Redis with records for the whole idempotency window.
   * The server's own publishes count against no holder. Default 10 000.
   */
  readonly maxKeysPerUser?: number;
  /** Sharded pub/sub (SPUBLISH/SSUBSCRIBE): `'auto'` uses it on Redis 7 and later. Default `'auto'`. */
  readonly sharded?: boolean | 'auto';
  readonly logger?: Logger;
  /** Logical time for every expiry (sessions, history age, presence); real key expiry only backs it up. */
  readonly clock?: Clock;
  readonly rng?: Rng;
  /** Names a new channel history. Default: 12 random hex characters. */
  readonly newEpoch?: () => string;
}

/** How long a channel with no publish is kept, by default, ms (`idleChannelTtl`). */
export const DEFAULT_REDIS_IDLE_CHANNEL_TTL = 3_600_000;
