import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Broker } from '../broker/broker.js';
import { MemoryBroker } from '../broker/memory-broker.js';
import { createServer, type LifelineServer } from '../server/index.js';
import type { ChannelsConfig } from '../server/protocol/channels.js';
import type { ServeConfig } from './serve-config.js';
import { snapshotRoute } from './admin-snapshot.js';
import { ApiKey } from './api-key.js';
import { attachDemoHandlers, checkChatMessage } from './demo-handlers.js';
import { demoTokenRoute } from './demo-tokens.js';
import { healthRoutes, notReadyReason } from './health.js';
import { API_PREFIX, hearDisconnects, httpApiRoutes } from './http-api.js';
import { tokenAuth, type TokenUser } from './jwt-auth.js';
import { loadPublicKey } from './jwt-keys.js';
import { createMetrics, metricsRoute, type Metrics } from './metrics.js';
import { createRouter, type Route } from './router.js';
import { timedBroker } from './timed-broker.js';
import { UsageError } from './usage-error.js';

/** What `lifeline serve` sets up unless the settings name channels: the demo's chat rooms (`chat:lobby`, ...). */
export const DEFAULT_CHANNELS: ChannelsConfig = {
  chat: { history: { size: 200, ttl: 10 * 60_000 }, presence: true },
};

/**
 * New handshakes per second before more are answered 503 + Retry-After (docs/reliability.md,
 * "Overload"): about a fifth of a core at the ~400 µs a full connection costs, the pace the
 * drain hint spreads a returning crowd at (2 ms a connection).
 */
export const DEFAULT_ADMISSION_RATE = 500;

/**
 * While the event loop is behind by more than this, ms, new handshakes are answered 503 +
 * Retry-After (docs/reliability.md, "Overload"; decision 47). Off (0) unless asked for: at 100 ms
 * it refused legitimate clients of a node sharing a busy machine, and it did not measurably
 * help the connected clients during a storm.
 */
export const DEFAULT_MAX_EVENT_LOOP_DELAY = 0;

/** HTTP publishes in progress at most before more are answered 429 (docs/http-api.md). */
export const DEFAULT_MAX_PENDING_PUBLISHES = 256;

/** The settings that are the Lifeline server's own options (the rest shape the standalone server around it). */
type ServerSettings = Omit<ServeConfig, 'config' | 'logLevel' | 'jwtSecret' | 'jwtPublicKey' | 'jwtAudience' | 'jwtIssuer' | 'allowAnonymous' | 'allowTokensWithoutExp' | 'anonymousChannels' | 'apiKey' | 'metricsKey' | 'demo' | 'channels' | 'maxPendingPublishes' | 'historyBudget' | 'maxIdempotencyKeys' | 'maxKeysPerUser' | 'idleChannelTtl'>;

export interface StandaloneOptions {
  readonly log: Logger;
  /** Plain HTTP requests no route claims (the demo page and its assets). Default 404. */
  readonly fallback?: (request: IncomingMessage, response: ServerResponse) => void;
  /** The broker (closed with the server). Default: the in-memory one. */
  readonly broker?: Broker;
}

export interface Standalone {
  readonly server: LifelineServer<TokenUser>;
  readonly metrics: Metrics;
  /** The API key in force (given, or generated in demo mode), if any. */
  readonly apiKey: string | undefined;
  /** Logs what an operator needs once the server listens at `url` (demo mode: the admin key). */
  announce(url: string): void;
  /** Releases what the server does not own (the broker), once it has closed. */
  close(): Promise<void>;
  /** /readyz answers 503 from now on (leaving the load balancer before a drain); the server still serves. */
  leave(): void;
}

/**
 * The standalone realtime server behind `lifeline serve`: a Lifeline server with signed-token
 * authentication and channel grants, the `chat` namespace (or the configured ones), and its
 * HTTP side: /healthz, /readyz, /metrics, the admin snapshot, the backend API under /api/v1/,
 * and in demo mode /demo/token. Throws {@link UsageError} for settings it cannot run with.
 */
export function createStandalone(config: ServeConfig, options: StandaloneOptions): Standalone {
  const { log } = options;
  const demo = config.demo ?? false;
  const allowAnonymous = config.allowAnonymous ?? false;
  const secret = config.jwtSecret !== undefined ? new TextEncoder().encode(config.jwtSecret) : demo ? new Uint8Array(randomBytes(32)) : undefined;
  const publicKey = config.jwtPublicKey === undefined ? undefined : loadPublicKey(config.jwtPublicKey, '--jwt-public-key');
  if (!secret && !publicKey) {
    if (!allowAnonymous) {
      throw new UsageError('no way to authenticate clients: set --jwt-secret (HS256) or --jwt-public-key (RS256), or --allow-anonymous to let anyone in (or --demo to try it out)');
    }
    if (config.jwtAudience !== undefined || config.jwtIssuer !== undefined || config.allowTokensWithoutExp === true) throw new UsageError('--jwt-audience, --jwt-issuer and --allow-tokens-without-exp need --jwt-secret or --jwt-public-key');
  }
  warnAboutTokens(config, log);
  const apiKeyText = config.apiKey ?? (demo ? ApiKey.generate() : undefined);
  const apiKey = apiKeyText === undefined ? undefined : new ApiKey(apiKeyText);
  const metricsKey = config.metricsKey === undefined ? undefined : new ApiKey(config.metricsKey);
  const channels = config.channels ?? DEFAULT_CHANNELS;
  const auth = tokenAuth({ secret, publicKey, audience: config.jwtAudience, issuer: config.jwtIssuer, allowTokensWithoutExp: config.allowTokensWithoutExp ?? false, allowAnonymous, names: demo, ...(config.anonymousChannels === undefined ? {} : { anonymousChannels: config.anonymousChannels }) });

  // The metrics need the server, the server needs the broker: its timings find them once they exist.
  const brokerTimings: { observe?: Metrics['observeBroker'] } = {};
  const inner = options.broker ?? new MemoryBroker(memoryLimits(config));
  // An in-memory broker's history budget is shown in /metrics.
  const memory = inner instanceof MemoryBroker ? inner : undefined;
  const broker = timedBroker(inner, (operation, seconds) => brokerTimings.observe?.(operation, seconds));
  let handler: (request: IncomingMessage, response: ServerResponse) => void = (_request, response) => response.writeHead(503).end();
  const server = createServer<TokenUser>({
    ...serverSettings(config),
    admissionRate: config.admissionRate ?? DEFAULT_ADMISSION_RATE,
    maxEventLoopDelay: config.maxEventLoopDelay ?? DEFAULT_MAX_EVENT_LOOP_DELAY,
    channels,
    broker,
    logger: log,
    ...auth,
    // In demo mode anyone may get a token: a chat message must at least carry its sender's own name.
    ...(demo ? { canPublish: (context: Parameters<typeof auth.canPublish>[0]) => (auth.canPublish(context) ? checkChatMessage({ id: context.user.id, name: context.user.name ?? context.user.id }, context.channel, context.data) : false) } : {}),
    onRequest: (request, response) => handler(request, response),
  });
  let leaving = false;
  // /metrics reports what /readyz answers: while leaving the load balancer both say not ready.
  const metrics = createMetrics(server, memory && (() => memory.history), () => notReadyReason(server, leaving) === undefined);
  brokerTimings.observe = metrics.observeBroker;

  const startedAt = Date.now();
  const userName = (user: TokenUser | undefined): string | null => user?.id ?? null;
  const routes: Route[] = [
    ...healthRoutes(server, () => leaving),
    metricsRoute(metrics, metricsKey),
    snapshotRoute(server, apiKey, () => ({ now: Date.now(), startedAt, userName })),
    ...httpApiRoutes({ server, broker, channels, key: apiKey, maxBody: server.options.maxPayload, maxPendingPublishes: config.maxPendingPublishes ?? DEFAULT_MAX_PENDING_PUBLISHES, userName }),
  ];
  const heard = hearDisconnects(server, broker, userName);
  heard?.catch((error: unknown) => log.warn({ err: error }, 'cannot hear other nodes: HTTP API disconnects sent to them will not reach this node'));
  if (demo && secret) {
    routes.push(demoTokenRoute({ secret, audience: config.jwtAudience, issuer: config.jwtIssuer }));
    attachDemoHandlers(server);
  }
  const fallback = options.fallback ?? ((_request: IncomingMessage, response: ServerResponse) => response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n'));
  const observe = metrics.observeHttp;
  handler = createRouter(routes, { fallback, apiPrefixes: [API_PREFIX, '/admin/api/'], log, observe });

  return {
    server,
    metrics,
    leave: () => {
      leaving = true;
    },
    apiKey: apiKeyText,
    announce: (url) => {
      const tokens = { hs256: secret !== undefined, publicKey: publicKey?.algorithm ?? null, anonymous: allowAnonymous };
      log.info({ tokens, api: apiKey !== undefined, metricsProtected: metricsKey !== undefined, channels: Object.keys(channels) }, 'standalone server ready');
      if (demo) {
        // A generated key is shown once, or nobody could use it; a key the operator gave is never logged.
        const generated = config.apiKey === undefined;
        log.warn(
          generated ? { admin: `${url}/admin#key=${encodeURIComponent(apiKeyText ?? '')}`, apiKey: apiKeyText } : { admin: `${url}/admin` },
          generated ? 'demo mode: anyone can get a token from /demo/token; the admin page and /api/v1 use this generated API key' : 'demo mode: anyone can get a token from /demo/token',
        );
      }
    },
    close: async () => {
      await heard?.then((stop) => stop()).catch(() => undefined);
      await broker.close();
    },
  };
}

/**
 * One warning line at start for each token check an operator left off: no audience (a token the
 * same issuer signed for another service opens connections here), and tokens that never expire.
 * Not for a secret demo mode generated: only this process signs with it.
 */
function warnAboutTokens(config: ServeConfig, log: Logger): void {
  if (config.jwtSecret === undefined && config.jwtPublicKey === undefined) return;
  if (config.jwtAudience === undefined) {
    log.warn({ setting: 'jwtAudience' }, 'no --jwt-audience: tokens are accepted whatever their aud claim, so a token signed with this key for another service opens connections here; set --jwt-audience to the audience your issuer puts in tokens for this server');
  }
  if (config.allowTokensWithoutExp === true) {
    log.warn({ setting: 'allowTokensWithoutExp' }, '--allow-tokens-without-exp: tokens without an exp claim are accepted and never expire; a leaked one stays good until the key changes');
  }
}

/** The in-memory broker's budget and idle-channel settings, where given (its defaults otherwise); forgotten channels' positions last the recovery window. */
function memoryLimits(config: ServeConfig): { historyBudget?: number; maxIdempotencyKeys?: number; maxKeysPerUser?: number; idleChannelTtl?: number; positionTtl?: number } {
  return {
    ...(config.historyBudget === undefined ? {} : { historyBudget: config.historyBudget }),
    ...(config.maxIdempotencyKeys === undefined ? {} : { maxIdempotencyKeys: config.maxIdempotencyKeys }),
    ...(config.maxKeysPerUser === undefined ? {} : { maxKeysPerUser: config.maxKeysPerUser }),
    ...(config.idleChannelTtl === undefined ? {} : { idleChannelTtl: config.idleChannelTtl }),
    ...(config.recoveryWindow === undefined ? {} : { positionTtl: config.recoveryWindow }),
  };
}

/** The settings that are the Lifeline server's own options, as it takes them. */
function serverSettings(config: ServeConfig): ServerSettings {
  const { config: _file, logLevel: _log, jwtSecret: _secret, jwtPublicKey: _key, jwtAudience: _aud, jwtIssuer: _iss, allowAnonymous: _anon, allowTokensWithoutExp: _noExp, anonymousChannels: _anonChannels, apiKey: _api, metricsKey: _metrics, demo: _demo, channels: _channels, maxPendingPublishes: _pending, historyBudget: _budget, maxIdempotencyKeys: _keys, maxKeysPerUser: _userKeys, idleChannelTtl: _idle, ...server } = config;
  return server;
}
