import { resolveServerOptions } from '../server/options.js';
import { envName, flagName, serveKeys, type ServeKey } from './serve-options.js';

export interface CommandSummary {
  readonly name: string;
  readonly summary: string;
}

/** `lifeline --help`: the commands, from the dispatch table so a new command lists itself. */
export function mainHelp(version: string, commands: readonly CommandSummary[]): string {
  const width = Math.max(...commands.map((command) => command.name.length));
  return `lifeline ${version}: WebSocket connections that survive the real world

Usage: lifeline <command> [flags]

Commands:
${commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`).join('\n')}

Flags:
  -h, --help     show help (also: lifeline <command> --help)
  -v, --version  print the version

Exit codes: 0 success, 1 failure, 2 bad usage.
`;
}

const ms = (value: number): string => `${value} ms`;

/** What each setting does and its default, read from the server's own defaults so they cannot drift. */
function serveFlagDocs(): Record<ServeKey, { readonly value: string; readonly text: string; readonly fallback: string }> {
  const d = resolveServerOptions({});
  return {
    port: { value: 'N', text: 'TCP port to listen on; 0 picks a free one', fallback: String(d.port) },
    host: { value: 'ADDR', text: 'interface to bind (0.0.0.0 for every IPv4 interface)', fallback: d.host },
    path: { value: 'PATH', text: 'WebSocket endpoint path', fallback: d.paths.join(',') },
    allowedOrigins: {
      value: 'LIST',
      text: 'more Origins allowed to connect, comma-separated, or *',
      fallback: 'same-origin pages and clients sending no Origin',
    },
    maxConnections: { value: 'N', text: 'open connections at most; more get 503 + Retry-After', fallback: 'unlimited' },
    maxPayload: { value: 'BYTES', text: 'largest incoming message; larger closes with 1009', fallback: `${d.maxPayload} (1 MiB)` },
    pingInterval: { value: 'MS', text: 'keepalive ping period; 0 turns keepalive off', fallback: ms(d.pingInterval) },
    pongTimeout: { value: 'MS', text: 'a peer silent this long after a ping is dropped', fallback: ms(d.pongTimeout) },
    handshakeTimeout: { value: 'MS', text: 'the opening handshake must finish within this', fallback: ms(d.handshakeTimeout) },
    drainTimeout: { value: 'MS', text: 'on shutdown, clients get this long to close before they are cut', fallback: ms(d.drainTimeout) },
    logLevel: { value: 'LEVEL', text: 'fatal, error, warn, info, debug, trace or silent', fallback: 'info' },
  };
}

/** `lifeline serve --help`. */
export function serveHelp(): string {
  const docs = serveFlagDocs();
  const rows = serveKeys.map((key) => ({ flag: `--${flagName(key)} ${docs[key].value}`, key }));
  const width = Math.max(...rows.map((row) => row.flag.length));
  const pad = ' '.repeat(width + 4);
  const flags = rows
    .map(({ flag, key }) => `  ${flag.padEnd(width)}  ${docs[key].text}\n${pad}default: ${docs[key].fallback}; env: ${envName(key)}`)
    .join('\n');
  return `Usage: lifeline serve [flags]

Runs a standalone Lifeline server: a broadcast chat endpoint on the WebSocket path and a live
demo page on / that shows the client's connection lifecycle.

Flags (each also settable by its LIFELINE_* environment variable; a flag wins):
${flags}
  ${'-h, --help'.padEnd(width)}  show this help

When ready it prints one line to stdout, "listening on http://HOST:PORT"; logs go to stderr
as JSON lines. SIGTERM or SIGINT shuts down gracefully: clients are closed with 1012 (service
restart) and a retry hint, so they come back once the server is up again. A second signal
during the drain exits at once.

Exit codes: 0 clean shutdown, 1 failure (cannot listen, or forced exit by a second signal),
2 bad flag or value.

Examples:
  lifeline serve --port 0
  LIFELINE_PORT=9000 lifeline serve --allowed-origins https://app.example.com
`;
}
