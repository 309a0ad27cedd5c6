import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { LifelineLogger } from '../core/logger.js';
import { z } from 'zod';
import { systemClock, systemRng, type Clock, type Rng } from '../core/clock.js';
import type { Envelope } from '../core/envelope.js';
import { InvalidOptionError } from '../core/errors.js';
import type { Broker } from '../broker/broker.js';
import type { ChannelsConfig } from './protocol/channels.js';
import { pooledRandomBytes } from './random-pool.js';
import type { ChannelHooks } from './protocol/hub.js';
import { hasDotSegment } from './request-target.js';

/** What an `authenticate` hook sees of the opening handshake (or of the first message). */
export interface AuthRequest {
  readonly headers: IncomingMessage['headers'];
  readonly url: URL;
  readonly query: URLSearchParams;
  readonly cookies: Readonly<Record<string, string | undefined>>;
  readonly remoteAddress: string;
  /** In `authenticateOn: 'first-message'` mode, the first message the client sent. */
  readonly firstMessage?: Envelope;
  /** For a `refresh` on a live `lifeline.v1` connection: the new token. */
  readonly token?: string;
}

/** An `authenticate` hook's verdict: a user, or a refusal (401 by default, 403 for forbidden). */
export type AuthResult<User> =
  /** `expiresAt` (ms, on the server's clock: `Date.now()` by default): the connection is closed with 4000 then, unless refreshed. */
  | {
      readonly ok: true;
      readonly user: User;
      readonly expiresAt?: number;
      /**
       * The user was made up for this connection (no credentials): its session may be resumed by
       * another anonymous connection that presents the session's secret, which then gets the
       * session's user.
       */
      readonly anonymous?: boolean;
    }
  | { readonly ok: false; readonly status?: 401 | 403; readonly message?: string };

export type Authenticate<User> = (request: AuthRequest) => AuthResult<User> | Promise<AuthResult<User>>;

export interface DeflateOptions {
  /** Messages smaller than this many bytes are not compressed. Default 1024. */
  readonly threshold?: number;
  /** zlib level 0-9. Default 3 (cheap; compression is CPU per message). */
  readonly level?: number;
  /** Concurrent zlib jobs (ws). Default 10. */
  readonly concurrencyLimit?: number;
}

export interface ServerOptions<User = unknown> extends ChannelHooks<User> {
  /** Listen on this port (0 picks a free one). Ignored when `server` is given. Default 8080. */
  readonly port?: number;
  /** Interface to bind. Default 127.0.0.1. */
  readonly host?: string;
  /** Attach to an existing http(s) server (Express, Fastify, ...) instead of listening. */
  readonly server?: HttpServer | HttpsServer;
  /** Plain HTTP requests on a server Lifeline owns. Default: 404. */
  readonly onRequest?: (request: IncomingMessage, response: ServerResponse) => void;
  /** WebSocket endpoint path(s). Default `/ws`. */
  readonly path?: string | readonly string[];
  /**
   * The Origins browser pages may connect from (recommended), or `'*'`. With a list, only those
   * origins are let in (Host is not trusted: DNS rebinding is refused); without one (default),
   * same-origin pages are. Clients sending no Origin are always allowed.
   */
  readonly allowedOrigins?: readonly string[] | '*';
  /** Open connections at most; more get 503 + Retry-After. Default Infinity. */
  readonly maxConnections?: number;
  /** Largest incoming message in bytes (after decompression); larger closes with 1009. Default 1 MiB. */
  readonly maxPayload?: number;
  /** Protocol ping period, ms (0 disables keepalive). Default 25 000. */
  readonly pingInterval?: number;
  /** A peer silent this long after a ping is terminated, ms. Default 10 000. */
  readonly pongTimeout?: number;
  /** Also send `{"type":"ping"}` with every protocol ping (each `pingInterval`), for client watchdogs. Default true. */
  readonly appPings?: boolean;
  /** The opening handshake (headers, checks, authentication) must finish within this, ms. Default 10 000. */
  readonly handshakeTimeout?: number;
  /** On a server Lifeline owns: an HTTP request's headers and body must arrive within this, or it gets 408 and its socket is dropped, ms. Default 10 000. */
  readonly httpRequestTimeout?: number;
  /** A peer that does not answer our close frame within this is terminated, ms. Default 5 000. */
  readonly closeTimeout?: number;
  /** Default drain deadline for `close()`, ms. Default 10 000. */
  readonly drainTimeout?: number;
  /** Bytes buffered for one connection before it is closed as a slow consumer (4002). Default 4 MiB. */
  readonly outboundBudget?: number;
  /** `'reject'` closes with 1003 on a binary message. Default `'allow'`. */
  readonly binary?: 'allow' | 'reject';
  /** Messages per second per connection (bursts of as many); over it closes with 1008 "message rate exceeded". Default 1000. */
  readonly maxMessageRate?: number;
  /** A `lifeline.v1` connection that sends no `hello` within this is closed with 4408, ms. Default 10 000. */
  readonly helloTimeout?: number;
  /** Channels one `lifeline.v1` session may be subscribed to at once; more are refused with error code `limit`. Default 1000. */
  readonly maxSubscriptions?: number;
  /** Live `lifeline.v1` sessions per user on this node (anonymous users are not counted); a `hello` over it is closed with 1008. Default 100. */
  readonly maxSessionsPerUser?: number;
  /** Distinct channels with subscribers on this node; a subscribe to one more is refused with `limit`. Default 100 000. */
  readonly maxChannels?: number;
  /** Presence members per channel on this node; a subscribe over it is refused with `limit`. Default 1000. */
  readonly maxPresenceMembers?: number;
  /**
   * Messages of one `lifeline.v1` session received and waiting behind the one being processed (a
   * slow request, hook or broker); past it the connection is not read (TCP backpressure) until
   * half of them are processed, so what a client pipelines waits in the network. Default 64.
   */
  readonly maxQueuedMessages?: number;
  /**
   * Events one user's `lifeline.v1` sessions on this node are sent from history (a subscribe's
   * rewind or recovery) or listed as presence members, per second, in bursts of as many: a
   * replay is never cut, but past the burst the next subscribe waits until the replays before it
   * are paid for. An anonymous session has a budget of its own. Default 10 000.
   */
  readonly maxReplayRate?: number;
  /**
   * Unacknowledged direct messages one session's outbox holds (`sendTo`, `sendToUser`): a send to
   * a full outbox stores nothing, is logged, and `sendTo` resolves false (`sendToUser` does not
   * count that session). Bounds what a client that never acknowledges, or a session away for
   * long while the app keeps sending, makes the broker hold. Default 1000; `Infinity`: no cap.
   */
  readonly maxPendingDirect?: number;
  /** With the default in-memory broker: bytes of channel history kept across all channels (oldest evicted first). Default 64 MiB. */
  readonly historyBudget?: number;
  /** With the default in-memory broker: records of idempotency keys (and of sessions' publishes per channel) kept at most, oldest forgotten first. Default 100 000. */
  readonly maxIdempotencyKeys?: number;
  /** With the default in-memory broker: idempotency-key records one user's client publishes keep at most, that user's oldest forgotten first. Default 10 000. */
  readonly maxKeysPerUser?: number;
  /** With the default in-memory broker: a channel without subscribers or unexpired history is forgotten after this, ms. Default 10 000. */
  readonly idleChannelTtl?: number;
  /** Invalid application messages tolerated per minute; over it closes with 1008. Default 10. */
  readonly maxInvalidMessages?: number;
  /** New handshakes per second; over it gets 503 + Retry-After (4429 in close mode). Default Infinity. */
  readonly admissionRate?: number;
  /**
   * While the event loop is behind by more than this, ms, new handshakes get 503 + Retry-After
   * of 1-3 s (4503 in close mode): a node whose loop keeps running late admits no one until it
   * has caught up. Connected clients and their messages are never refused by it. 0 or
   * Infinity: off. Default 0.
   */
  readonly maxEventLoopDelay?: number;
  /** `'status'`: refuse handshakes with an HTTP status. `'close'`: for browsers, accept and close at once with 4401/4403/4429/4503. Default `'status'`. */
  readonly handshakeRejection?: 'status' | 'close';
  /** Subprotocols this server speaks, in preference order. Default none. */
  readonly protocols?: readonly string[];
  /** permessage-deflate; off by default (CPU and memory per connection). */
  readonly perMessageDeflate?: boolean | DeflateOptions;
  /** Hint for 503 refusals, ms. Default 5 000. */
  readonly retryAfter?: number;
  /** Credentials check. Without it every handshake that passes the checks is accepted. */
  readonly authenticate?: Authenticate<User>;
  /** Where credentials come from: the handshake request (default) or the first message. */
  readonly authenticateOn?: 'handshake' | 'first-message';
  /** Carries fan-out, history, sessions and presence between nodes. Default: an in-memory broker (one process). */
  readonly broker?: Broker;
  /** Channel namespaces for `lifeline.v1` clients, e.g. `{ chat: { history: { size: 100, ttl: 300_000 }, presence: true } }`. Default none. */
  readonly channels?: ChannelsConfig;
  /** How long a session outlives its connection, ms. Default 120 000. */
  readonly recoveryWindow?: number;
  /** A presence member whose connection closed is kept this long before its leave is told, so a resume within it is silent to other members, ms. Default 5 000. */
  readonly presenceGrace?: number;
  /** How long an idempotency key of a publish is remembered, ms. Default 86 400 000 (24 h). */
  readonly idempotencyWindow?: number;
  /** Random bytes for session resume secrets. Default: node:crypto's, drawn 4 kB at a time. */
  readonly randomBytes?: (size: number) => Uint8Array;
  /** A request handler that has not finished by then is answered `timeout`, ms. Default 10 000. */
  readonly requestTimeout?: number;
  /** Replies remembered per session for exactly-once resends. Default 1000. */
  readonly replyWindow?: number;
  /**
   * Where the server logs: any `{ debug, info, warn, error }` object (pino, console, an adapter),
   * each method called with a fields object and a message; `false` logs nothing. Default: pino at
   * level `warn` on stdout.
   */
  readonly logger?: LifelineLogger | false;
  readonly clock?: Clock;
  readonly rng?: Rng;
}

const ms = z.number().int().nonnegative();
/** A positive number, or Infinity (no limit). */
const positive = z.union([z.number().positive(), z.literal(Infinity)]);

/** A count or a duration a namespace's history keeps: 0 or more, or Infinity (everything). */
const kept = z.union([z.number().nonnegative(), z.literal(Infinity)], { error: 'must be a number of 0 or more, or Infinity' });
/** Channel namespaces: validated here, passed on as given. */
const channelsSchema = z.record(z.string(), z.object({ history: z.object({ size: kept, ttl: kept }).optional(), presence: z.boolean().optional() }));

/** The numeric and enum options, validated in one place. Hooks are passed through as typed. */
const schema = z.object({
  port: z.number().int().min(0).max(65535).default(8080),
  host: z.string().min(1).default('127.0.0.1'),
  path: z.union([z.string(), z.array(z.string()).min(1)]).default('/ws'),
  allowedOrigins: z.union([z.literal('*'), z.array(z.string())]).default([]),
  maxConnections: positive.default(Infinity),
  maxPayload: z.number().int().positive().default(1024 * 1024),
  pingInterval: ms.default(25_000),
  pongTimeout: z.number().int().positive().default(10_000),
  appPings: z.boolean().default(true),
  handshakeTimeout: z.number().int().positive().default(10_000),
  closeTimeout: z.number().int().positive().default(5_000),
  httpRequestTimeout: z.number().int().positive().default(10_000),
  drainTimeout: ms.default(10_000),
  outboundBudget: z.number().int().positive().default(4 * 1024 * 1024),
  binary: z.enum(['allow', 'reject']).default('allow'),
  maxMessageRate: positive.default(1000),
  helloTimeout: z.number().int().positive().default(10_000),
  maxSubscriptions: z.number().int().positive().default(1000),
  maxSessionsPerUser: z.number().int().positive().default(100),
  maxChannels: z.number().int().positive().default(100_000),
  maxPresenceMembers: z.number().int().positive().default(1000),
  maxQueuedMessages: z.number().int().positive().default(64),
  maxReplayRate: positive.default(10_000),
  maxPendingDirect: z.union([z.number().int().positive(), z.literal(Infinity)]).default(1000),
  historyBudget: z.number().int().nonnegative().default(64 * 1024 * 1024),
  idleChannelTtl: z.number().int().positive().default(10_000),
  maxIdempotencyKeys: z.number().int().positive().default(100_000),
  maxKeysPerUser: z.number().int().positive().default(10_000),
  maxInvalidMessages: z.number().int().nonnegative().default(10),
  admissionRate: positive.default(Infinity),
  maxEventLoopDelay: z.union([z.number().nonnegative(), z.literal(Infinity)]).default(0),
  handshakeRejection: z.enum(['status', 'close']).default('status'),
  protocols: z.array(z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'a subprotocol is an HTTP token')).default([]),
  perMessageDeflate: z
    .union([
      z.boolean(),
      z.object({
        threshold: z.number().int().nonnegative().optional(),
        level: z.number().int().min(0).max(9).optional(),
        concurrencyLimit: z.number().int().positive().optional(),
      }),
    ])
    .default(false),
  retryAfter: ms.default(5_000),
  authenticateOn: z.enum(['handshake', 'first-message']).default('handshake'),
  recoveryWindow: z.number().int().positive().default(120_000),
  presenceGrace: ms.default(5_000),
  idempotencyWindow: z.number().int().positive().default(86_400_000),
  requestTimeout: z.number().int().positive().default(10_000),
  replyWindow: z.number().int().positive().max(100_000).default(1000),
  channels: channelsSchema.optional(),
});

type Validated = z.infer<typeof schema>;

export interface ResolvedServerOptions<User> extends Readonly<Omit<Validated, 'path' | 'allowedOrigins' | 'protocols' | 'channels'>>, ChannelHooks<User> {
  readonly paths: readonly string[];
  readonly allowedOrigins: readonly string[] | '*';
  readonly protocols: readonly string[];
  readonly server: HttpServer | HttpsServer | undefined;
  readonly onRequest: ((request: IncomingMessage, response: ServerResponse) => void) | undefined;
  readonly authenticate: Authenticate<User> | undefined;
  readonly broker: Broker | undefined;
  readonly channels: ChannelsConfig;
  readonly logger: LifelineLogger | false | undefined;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly randomBytes: (size: number) => Uint8Array;
}

/** Validates and fills defaults once; throws {@link InvalidOptionError} naming the option. */
export function resolveServerOptions<User>(options: ServerOptions<User>): ResolvedServerOptions<User> {
  const { server, onRequest, authenticate, broker, channels, canSubscribe, canPublish, presenceUser, logger, clock, rng, randomBytes, ...plain } = options;
  const parsed = schema.safeParse({ ...plain, channels });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidOptionError(issue?.path.join('.') || 'options', issue?.message ?? 'invalid');
  }
  const { path, allowedOrigins, protocols, channels: _checked, ...rest } = parsed.data;
  const paths = typeof path === 'string' ? [path] : path;
  for (const p of paths) if (!p.startsWith('/')) throw new InvalidOptionError('path', `"${p}" must start with "/"`);
  for (const p of paths) if (/[?#]/.test(p)) throw new InvalidOptionError('path', `"${p}" must be a path alone, without "?" or "#" (a request's path never holds them)`);
  for (const p of paths) if (hasDotSegment(p)) throw new InvalidOptionError('path', `"${p}" has a "." or ".." segment or a backslash: no request-target names it as sent (such targets are never resolved)`);
  return Object.freeze({
    ...rest,
    paths: Object.freeze([...paths]),
    allowedOrigins: allowedOrigins === '*' ? '*' : Object.freeze([...allowedOrigins]),
    protocols: Object.freeze([...protocols]),
    server,
    onRequest,
    authenticate,
    broker,
    channels: channels ?? {},
    canSubscribe,
    canPublish,
    presenceUser,
    logger,
    clock: clock ?? systemClock,
    rng: rng ?? systemRng,
    randomBytes: randomBytes ?? pooledRandomBytes,
  });
}

/** ws's permessage-deflate settings for an option value: off, or on with safe limits. */
export function deflateOptions(option: boolean | DeflateOptions, maxPayload: number): false | object {
  if (option === false) return false;
  const custom = option === true ? {} : option;
  return {
    threshold: custom.threshold ?? 1024,
    concurrencyLimit: custom.concurrencyLimit ?? 10,
    zlibDeflateOptions: { level: custom.level ?? 3 },
    // Inflated size is bounded by maxPayload (ws checks it while inflating: zip-bomb safe).
    zlibInflateOptions: { maxOutputLength: maxPayload },
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
  };
}
