import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { createServer, InvalidOptionError, type ListenInfo, type LifelineServer } from '../server/index.js';
import { resolveServerOptions } from '../server/options.js';
import { attachChat } from './chat.js';
import { ExitCode, type CliIo, type Command } from './command.js';
import { demoAssetsDir, demoRequestHandler, loadDemoAssets } from './demo-assets.js';
import { serveHelp } from './help.js';
import { parseServeArgs, type ServeConfig } from './serve-options.js';
import { untilShutdown } from './shutdown.js';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run a standalone server: broadcast chat on /ws and a live demo page on /',
  run: serve,
};

async function serve(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseServeArgs(argv, io.env);
  if (parsed.kind === 'help') {
    io.stdout.write(serveHelp());
    return ExitCode.OK;
  }
  if (parsed.kind === 'error') {
    io.stderr.write(`lifeline serve: ${parsed.message}; see lifeline serve --help\n`);
    return ExitCode.USAGE;
  }
  const { logLevel = 'info', ...options } = parsed.value;
  // Synchronous writes to fd 2: stdout carries only the "listening on" line, and a log line
  // written just before exit is never lost in a buffer.
  const log = pino({ level: logLevel, name: 'lifeline' }, pino.destination({ dest: 2, sync: true }));
  let server: LifelineServer;
  try {
    server = await buildServer(options, log);
  } catch (error) {
    // The server validates its options too; anything it refuses is still a usage error.
    if (!(error instanceof InvalidOptionError)) throw error;
    io.stderr.write(`lifeline serve: ${error.message}; see lifeline serve --help\n`);
    return ExitCode.USAGE;
  }
  let info: ListenInfo;
  try {
    info = await server.listen();
  } catch (error) {
    io.stderr.write(`lifeline serve: ${listenFailure(error, server)}\n`);
    return ExitCode.FAILURE;
  }
  io.stdout.write(`listening on ${info.url}\n`);
  log.info({ url: info.url, paths: server.options.paths }, 'listening');
  return untilShutdown(server, log);
}

async function buildServer(options: Omit<ServeConfig, 'logLevel'>, log: Logger): Promise<LifelineServer> {
  // Resolved first so the page learns the same endpoint path the server will use.
  const { paths } = resolveServerOptions(options);
  const routes = await loadDemoAssets(demoAssetsDir, paths[0] ?? '/ws');
  if (!routes.has('/client.js') || !routes.has('/')) {
    log.warn({ dir: fileURLToPath(demoAssetsDir) }, 'demo page not built (run npm run build): / answers 404');
  }
  const server = createServer({ ...options, logger: log, onRequest: demoRequestHandler(routes) });
  attachChat(server, { log });
  return server;
}

function listenFailure(error: unknown, server: LifelineServer): string {
  const where = `${server.options.host}:${server.options.port}`;
  const code = (error as { code?: unknown }).code;
  if (code === 'EADDRINUSE') return `cannot listen on ${where}: address already in use`;
  if (code === 'EACCES') return `cannot listen on ${where}: permission denied`;
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return `cannot listen on ${where}: no such local address`;
  return `cannot listen on ${where}: ${error instanceof Error ? error.message : String(error)}`;
}
