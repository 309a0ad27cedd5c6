import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { RedisBroker } from '../redis/index.js';
import { InvalidOptionError, type ListenInfo } from '../server/index.js';
import { resolveServerOptions } from '../server/options.js';
import { createStandalone, type Standalone } from '../standalone/standalone.js';
import { UsageError } from '../standalone/usage-error.js';
import { ExitCode, type CliIo, type Command } from './command.js';
import { demoAssetsDir, demoRequestHandler, loadDemoAssets } from './demo-assets.js';
import { serveHelp } from './help.js';
import { parseServeArgs, type ServeConfig } from './serve-options.js';
import { untilShutdown } from './shutdown.js';

/** How long serve waits for Redis at start before giving up (a supervisor restarts it), ms. */
const REDIS_CONNECT_TIMEOUT = 5_000;

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the standalone realtime server (token auth, channels, HTTP API, metrics, demo, admin)',
  run: serve,
};

async function serve(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseServeArgs(argv, io.env);
  if (parsed.kind === 'help') {
    io.stdout.write(serveHelp());
    return ExitCode.OK;
  }
  if (parsed.kind === 'error') return usage(io, parsed.message);
  const config = parsed.value;
  // Synchronous writes to fd 2: stdout carries only the "listening on" line, and a log line
  // written just before exit is never lost in a buffer.
  const log = pino({ level: config.logLevel ?? 'info', name: 'lifeline' }, pino.destination({ dest: 2, sync: true }));
  let broker: RedisBroker | undefined;
  if (config.redis !== undefined && config.redisCluster !== undefined) return usage(io, 'use --redis (one server) or --redis-cluster (a Redis Cluster), not both');
  if (config.redis !== undefined || config.redisCluster !== undefined) {
    try {
      const where = config.redisCluster === undefined ? { url: config.redis } : { cluster: config.redisCluster };
      broker = await RedisBroker.connect({ ...where, connectTimeout: REDIS_CONNECT_TIMEOUT, ...(config.redisPrefix === undefined ? {} : { prefix: config.redisPrefix }), ...(config.idleChannelTtl === undefined ? {} : { idleChannelTtl: config.idleChannelTtl }), ...(config.maxKeysPerUser === undefined ? {} : { maxKeysPerUser: config.maxKeysPerUser }), logger: log });
    } catch (error) {
      io.stderr.write(`lifeline serve: cannot use Redis: ${error instanceof Error ? error.message : String(error)}\n`);
      return ExitCode.FAILURE;
    }
    log.info({ sharded: broker.sharded, cluster: config.redisCluster !== undefined }, 'using Redis: channels, history and sessions are shared with every node on it');
  }
  let standalone: Standalone;
  try {
    standalone = await build(config, log, broker);
  } catch (error) {
    await broker?.close();
    // The server validates its options too; anything it refuses is still a usage error.
    if (error instanceof UsageError || error instanceof InvalidOptionError) return usage(io, error.message);
    throw error;
  }
  const { server } = standalone;
  let info: ListenInfo;
  try {
    info = await server.listen();
  } catch (error) {
    io.stderr.write(`lifeline serve: ${listenFailure(error, config)}\n`);
    await server.close().catch(() => undefined);
    return ExitCode.FAILURE;
  }
  io.stdout.write(`listening on ${info.url}\n`);
  log.info({ url: info.url, paths: server.options.paths }, 'listening');
  standalone.announce(info.url);
  const code = await untilShutdown(server, log, process, { delay: config.drainDelay ?? 0, start: () => standalone.leave() });
  // A forced exit leaves the drain running: the broker stays as it is, the process ends anyway.
  if (code === ExitCode.OK) await standalone.close();
  return code;
}

function usage(io: CliIo, message: string): number {
  io.stderr.write(`lifeline serve: ${message}; see lifeline serve --help\n`);
  return ExitCode.USAGE;
}

async function build(config: ServeConfig, log: Logger, broker: RedisBroker | undefined): Promise<Standalone> {
  // The pages are loaded once the settings are known to work, for the endpoint path they name.
  let pages: (request: IncomingMessage, response: ServerResponse) => void = (_request, response) => response.writeHead(503).end();
  const standalone = createStandalone(config, { log, fallback: (request, response) => pages(request, response), ...(broker ? { broker } : {}) });
  const routes = await loadDemoAssets(demoAssetsDir, standalone.server.options.paths[0] ?? '/ws');
  if (!routes.has('/client.js') || !routes.has('/')) {
    log.warn({ dir: fileURLToPath(demoAssetsDir) }, 'demo page not built (run npm run build): / answers 404');
  }
  pages = demoRequestHandler(routes);
  return standalone;
}

function listenFailure(error: unknown, config: ServeConfig): string {
  const defaults = resolveServerOptions({});
  const where = `${config.host ?? defaults.host}:${config.port ?? defaults.port}`;
  const code = (error as { code?: unknown }).code;
  if (code === 'EADDRINUSE') return `cannot listen on ${where}: address already in use`;
  if (code === 'EACCES') return `cannot listen on ${where}: permission denied`;
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return `cannot listen on ${where}: no such local address`;
  return `cannot listen on ${where}: ${error instanceof Error ? error.message : String(error)}`;
}
