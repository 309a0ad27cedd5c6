import { resolveServerOptions } from '../server/options.js';
import { DEFAULT_ADMISSION_RATE, DEFAULT_CHANNELS, DEFAULT_MAX_EVENT_LOOP_DELAY, DEFAULT_MAX_PENDING_PUBLISHES } from '../standalone/standalone.js';
import { envName, flagName, serveKeys, type ServeKey } from './serve-options.js';
import { closeActions, type CloseAction } from '../core/close-code.js';
import { commandDocs } from './connect-commands.js';
import { describeRefusal } from './probe-refusal.js';
import { DEFAULT_PROBE_TIMEOUT } from './probe-options.js';
import { DEFAULT_REDIS_IDLE_CHANNEL_TTL } from '../redis/redis-broker-options.js';

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

type Group = 'Server' | 'Authentication' | 'HTTP API, admin and metrics' | 'Channels and sessions' | 'Scaling' | 'Limits' | 'Keepalive and timeouts' | 'Protocol';
const groups: readonly Group[] = ['Server', 'Authentication', 'HTTP API, admin and metrics', 'Channels and sessions', 'Scaling', 'Limits', 'Keepalive and timeouts', 'Protocol'];

interface FlagDoc {
  readonly group: Group;
  /** The value's placeholder; empty for an on/off switch. */
  readonly value: string;
  readonly text: string;
  readonly fallback: string;
}

/** What each setting does and its default, read from the server's own defaults so they cannot drift. */
function serveFlagDocs(): Record<ServeKey, FlagDoc> {
  const d = resolveServerOptions({});
  const chat = DEFAULT_CHANNELS.chat?.history;
  return {
    port: { group: 'Server', value: 'N', text: 'TCP port to listen on; 0 picks a free one', fallback: String(d.port) },
    host: { group: 'Server', value: 'ADDR', text: 'interface to bind (0.0.0.0 for every IPv4 interface)', fallback: d.host },
    path: { group: 'Server', value: 'PATH', text: 'WebSocket endpoint path', fallback: d.paths.join(',') },
    allowedOrigins: { group: 'Server', value: 'LIST', text: 'the only Origins browser pages may connect from, comma-separated (recommended), or *', fallback: 'same-origin pages and clients sending no Origin' },
    config: { group: 'Server', value: 'FILE', text: 'JSON file of settings, keyed by name ("maxPayload", "jwtSecret", "channels", ...); flags and env win over it', fallback: 'none' },
    logLevel: { group: 'Server', value: 'LEVEL', text: 'fatal, error, warn, info, debug, trace or silent', fallback: 'info' },
    jwtSecret: { group: 'Authentication', value: 'SECRET', text: 'accept HS256 tokens signed with this secret (32 bytes or more)', fallback: 'none' },
    jwtPublicKey: { group: 'Authentication', value: 'FILE', text: 'accept RS256 (RSA) or ES256 (P-256) tokens verified with this PEM public key or certificate (file path, or the PEM text)', fallback: 'none' },
    jwtAudience: { group: 'Authentication', value: 'AUD', text: 'tokens must name this audience (aud)', fallback: 'not checked (a warning at start)' },
    jwtIssuer: { group: 'Authentication', value: 'ISS', text: 'tokens must come from this issuer (iss)', fallback: 'not checked' },
    allowAnonymous: { group: 'Authentication', value: '', text: 'a client without a token connects as anon-<random> (a bad token is still refused)', fallback: 'off' },
    allowTokensWithoutExp: { group: 'Authentication', value: '', text: 'accept tokens without an exp claim (they never expire; logged as a warning at start)', fallback: 'off: refused 401' },
    anonymousChannels: { group: 'Authentication', value: 'LIST', text: 'channels an anonymous client may use, comma-separated patterns (chat:*,news)', fallback: 'none with a JWT key, else all' },
    authenticateOn: { group: 'Authentication', value: 'WHEN', text: 'handshake (token in Authorization: Bearer or ?token=) or first-message ({"type":"auth","token"})', fallback: d.authenticateOn },
    handshakeRejection: { group: 'Authentication', value: 'MODE', text: 'status: refuse with HTTP 401/403/503; close: accept, then close with 4401/4403/4429/4503 (browsers can read those)', fallback: d.handshakeRejection },
    apiKey: { group: 'HTTP API, admin and metrics', value: 'KEY', text: 'key for /api/v1 and the admin page (Authorization: Bearer KEY or ?key=KEY; 16+ characters)', fallback: 'none: both answer 404' },
    metricsKey: { group: 'HTTP API, admin and metrics', value: 'KEY', text: 'require this key for /metrics', fallback: '/metrics is open' },
    redis: { group: 'Scaling', value: 'URL', text: 'share channels, history and sessions with every node on this Redis (redis://[user:pass@]host:port[/db], rediss:// for TLS)', fallback: 'one process, in memory' },
    redisCluster: { group: 'Scaling', value: 'NODES', text: 'the same on a Redis Cluster (7+): some of its nodes, host:port,host:port (redis:// or rediss:// URLs for credentials or TLS); instead of --redis', fallback: 'none' },
    redisPrefix: { group: 'Scaling', value: 'TEXT', text: 'prefix of every Redis key, so deployments can share a Redis', fallback: 'lifeline:' },
    demo: { group: 'HTTP API, admin and metrics', value: '', text: 'demo mode: GET /demo/token?user=NAME&visitor=SECRET hands out tokens (random secret unless --jwt-secret), an admin key is generated unless --api-key', fallback: 'off' },
    channels: {
      group: 'Channels and sessions',
      value: 'JSON',
      text: 'channel namespaces: {"chat":{"history":{"size":200,"ttl":600000},"presence":true},"*":{}}; replaces the default',
      fallback: `chat (history ${chat?.size ?? 0} events / ${ms(chat?.ttl ?? 0)}, presence on)`,
    },
    recoveryWindow: { group: 'Channels and sessions', value: 'MS', text: 'how long a session outlives its connection (resume, exactly-once resends)', fallback: ms(d.recoveryWindow) },
    requestTimeout: { group: 'Channels and sessions', value: 'MS', text: 'a request not answered by then gets a timeout error', fallback: ms(d.requestTimeout) },
    replyWindow: { group: 'Channels and sessions', value: 'N', text: 'replies remembered per session for exactly-once resends', fallback: String(d.replyWindow) },
    idempotencyWindow: { group: 'Channels and sessions', value: 'MS', text: 'how long a publish idempotency key is remembered (client key, HTTP Idempotency-Key)', fallback: ms(d.idempotencyWindow) },
    presenceGrace: { group: 'Channels and sessions', value: 'MS', text: 'a dropped presence member is told as left after this, so a resume is silent; 0 tells at once', fallback: ms(d.presenceGrace) },
    maxConnections: { group: 'Limits', value: 'N', text: 'open connections at most; more get 503 + Retry-After', fallback: 'unlimited' },
    admissionRate: { group: 'Limits', value: 'RATE', text: 'new handshakes per second; more get 503 + Retry-After', fallback: String(DEFAULT_ADMISSION_RATE) },
    maxEventLoopDelay: { group: 'Limits', value: 'MS', text: 'while the event loop is behind by more than this, new handshakes get 503 + Retry-After; 0 turns it off', fallback: ms(DEFAULT_MAX_EVENT_LOOP_DELAY) },
    maxPayload: { group: 'Limits', value: 'BYTES', text: 'largest incoming message (and HTTP API body); larger closes with 1009 (413)', fallback: `${d.maxPayload} (1 MiB)` },
    maxMessageRate: { group: 'Limits', value: 'RATE', text: 'messages per second per connection (bursts of as many); over it closes with 1008', fallback: String(d.maxMessageRate) },
    helloTimeout: { group: 'Limits', value: 'MS', text: 'a lifeline.v1 connection that sends no hello by then is closed with 4408', fallback: ms(d.helloTimeout) },
    maxSubscriptions: { group: 'Limits', value: 'N', text: 'channels one session may subscribe to; more are refused with error code limit', fallback: String(d.maxSubscriptions) },
    maxSessionsPerUser: { group: 'Limits', value: 'N', text: 'live sessions of one user on this node; a hello over it is closed with 1008', fallback: String(d.maxSessionsPerUser) },
    maxChannels: { group: 'Limits', value: 'N', text: 'channels with subscribers on this node; a subscribe to one more is refused (limit)', fallback: String(d.maxChannels) },
    maxPresenceMembers: { group: 'Limits', value: 'N', text: 'presence members of one channel on this node; more are refused (limit)', fallback: String(d.maxPresenceMembers) },
    maxQueuedMessages: { group: 'Limits', value: 'N', text: 'messages of one session waiting behind a slow one; past it the connection is not read until half have run', fallback: String(d.maxQueuedMessages) },
    maxReplayRate: { group: 'Limits', value: 'RATE', text: 'events per second one user (an anonymous session: itself) is sent from history (rewind, recovery) or listed as presence members, bursts of as many; past it the next subscribe or presence.get waits', fallback: String(d.maxReplayRate) },
    maxPendingDirect: { group: 'Limits', value: 'N', text: 'unacknowledged direct messages one session holds (library sendTo/sendToUser); a send past it is refused', fallback: String(d.maxPendingDirect) },
    historyBudget: { group: 'Limits', value: 'BYTES', text: 'channel history kept in memory across all channels (no --redis); the oldest is evicted first', fallback: `${d.historyBudget} (64 MiB)` },
    maxIdempotencyKeys: { group: 'Limits', value: 'N', text: 'idempotency records kept in memory (no --redis); the oldest is forgotten first', fallback: String(d.maxIdempotencyKeys) },
    maxKeysPerUser: { group: 'Limits', value: 'N', text: "idempotency-key records one user's client publishes keep (in memory or in Redis); that user's oldest is forgotten first", fallback: String(d.maxKeysPerUser) },
    maxPendingPublishes: { group: 'Limits', value: 'N', text: 'HTTP API publishes in progress at most; more get 429 + Retry-After', fallback: String(DEFAULT_MAX_PENDING_PUBLISHES) },
    httpRequestTimeout: { group: 'Keepalive and timeouts', value: 'MS', text: 'an HTTP request\'s headers and body must arrive by then (never sooner than --handshake-timeout), or it gets 408 and is dropped', fallback: ms(d.httpRequestTimeout) },
    idleChannelTtl: { group: 'Limits', value: 'MS', text: 'a channel with no subscriber and no unexpired history is forgotten after this', fallback: `${ms(d.idleChannelTtl)} (with --redis: ${ms(DEFAULT_REDIS_IDLE_CHANNEL_TTL)})` },
    maxInvalidMessages: { group: 'Limits', value: 'N', text: 'malformed messages tolerated per minute; over it closes with 1008', fallback: String(d.maxInvalidMessages) },
    outboundBudget: { group: 'Limits', value: 'BYTES', text: 'bytes buffered for one connection before it is closed as a slow consumer (4002)', fallback: `${d.outboundBudget} (4 MiB)` },
    binary: { group: 'Limits', value: 'POLICY', text: 'allow, or reject (binary messages close with 1003)', fallback: d.binary },
    retryAfter: { group: 'Limits', value: 'MS', text: 'the Retry-After hint sent with a 503', fallback: ms(d.retryAfter) },
    pingInterval: { group: 'Keepalive and timeouts', value: 'MS', text: 'keepalive ping period; 0 turns keepalive off', fallback: ms(d.pingInterval) },
    pongTimeout: { group: 'Keepalive and timeouts', value: 'MS', text: 'a peer silent this long after a ping is dropped', fallback: ms(d.pongTimeout) },
    appPings: { group: 'Keepalive and timeouts', value: 'BOOL', text: 'also send {"type":"ping"} for browser watchdogs', fallback: String(d.appPings) },
    handshakeTimeout: { group: 'Keepalive and timeouts', value: 'MS', text: 'the opening handshake must finish within this', fallback: ms(d.handshakeTimeout) },
    closeTimeout: { group: 'Keepalive and timeouts', value: 'MS', text: 'a peer that does not answer our close frame by then is cut', fallback: ms(d.closeTimeout) },
    drainDelay: { group: 'Keepalive and timeouts', value: 'MS', text: 'on shutdown, /readyz answers 503 for this long before clients are closed, so a load balancer stops sending new ones first (set above its health-check interval x fall count)', fallback: '0 ms' },
    drainTimeout: { group: 'Keepalive and timeouts', value: 'MS', text: 'on shutdown, clients get this long to close before they are cut', fallback: ms(d.drainTimeout) },
    protocols: { group: 'Protocol', value: 'LIST', text: 'more subprotocols to accept, comma-separated, in preference order (lifeline.v1 always)', fallback: 'none' },
    perMessageDeflate: { group: 'Protocol', value: 'SPEC', text: 'compression: true, false, or {"threshold":1024,"level":3,"concurrencyLimit":10}', fallback: String(d.perMessageDeflate) },
  };
}

/** Help text is wrapped to fit a terminal of this many columns. */
const HELP_WIDTH = 100;

/** Splits `text` into lines of at most `width` characters, at spaces (a longer word gets a line of its own). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines;
}

/** `lifeline serve --help`. */
export function serveHelp(): string {
  const docs = serveFlagDocs();
  const flagOf = (key: ServeKey): string => `--${flagName(key)}${docs[key].value === '' ? '' : ` ${docs[key].value}`}`;
  const width = Math.max(...serveKeys.map((key) => flagOf(key).length));
  const pad = ' '.repeat(width + 4);
  const sections = groups.map((group) => {
    const rows = serveKeys
      .filter((key) => docs[key].group === group)
      .map((key) => `  ${flagOf(key).padEnd(width)}  ${wrap(`${docs[key].text}. Default: ${docs[key].fallback}. Env: ${envName(key)}${docs[key].value === '' ? '=true' : ''}`, HELP_WIDTH - pad.length).join(`\n${pad}`)}`);
    return `${group}:\n${rows.join('\n')}`;
  });
  return `Usage: lifeline serve [flags]

Runs the standalone Lifeline realtime server: lifeline.v1 channels (the "chat" namespace by
default) for clients with signed tokens (JWT), an HTTP API for backends under /api/v1, /healthz,
/readyz and Prometheus /metrics, and the demo and admin pages. Clients must present a token
unless --allow-anonymous; --demo runs it with a demo token endpoint and nothing to configure.

Each flag can also be set by its LIFELINE_* environment variable or in the --config file
(key = the setting's name, e.g. "maxPayload"); a flag wins over env, env over the file.

${sections.join('\n\n')}

  ${'-h, --help'.padEnd(width)}  show this help

HTTP: GET /healthz (200 while up), GET /readyz (200 ready, 503 draining or broker down),
GET /metrics, GET /admin/api/snapshot (API key), /api/v1/... (API key; see docs/http-api.md),
GET /demo/token?user=NAME&visitor=SECRET&ttl=SECONDS (demo mode only).

When ready it prints one line to stdout, "listening on http://HOST:PORT"; logs go to stderr
as JSON lines. SIGTERM or SIGINT shuts down gracefully: /readyz turns 503, clients are closed
with 1012 (service restart) and a retry hint, so they come back once the server is up again.
A second signal during the drain exits at once.

Exit codes: 0 clean shutdown, 1 failure (cannot listen, or forced exit by a second signal),
2 bad flag, value or config file, or no way to authenticate clients.

Examples:
  lifeline serve --demo
  LIFELINE_JWT_SECRET=... LIFELINE_API_KEY=... lifeline serve --host 0.0.0.0 --port 8080
  lifeline serve --config lifeline.json --jwt-public-key issuer.pem --jwt-issuer https://id.example
`;
}

/** `1007-1010, 4403`: codes in order, runs of consecutive ones as ranges. */
function codeRuns(codes: readonly number[]): string {
  const runs: string[] = [];
  const sorted = [...codes].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === (sorted[j] ?? 0) + 1) j++;
    runs.push(j > i + 1 ? `${sorted[i]}-${sorted[j]}` : sorted.slice(i, j + 1).join(', '));
    i = j + 1;
  }
  return runs.join(', ');
}

/** Words joined into lines of at most `width` characters. */
function paragraph(text: string, width = 95): string {
  return wrap(text, width).join('\n');
}

/** The client's reconnect policy in one paragraph, read from the policy table so it cannot drift. */
function reconnectPolicy(): string {
  const codes = (action: CloseAction): number[] =>
    Object.entries(closeActions)
      .filter(([, a]) => a === action)
      .map(([code]) => Number(code));
  const statuses = (actions: readonly CloseAction[]): string => [400, 401, 403, 404, 408, 426, 429, 503].filter((status) => actions.includes(describeRefusal(status).action)).join(', ');
  return paragraph(
    `After a close the client follows its reconnect policy: ${codeRuns(codes('stop'))} end the session; ${codeRuns(codes('reconnect'))} ` +
      `reconnect (after the server's retry hint, if it sent one); ${codeRuns(codes('refresh-auth'))} reconnect for fresh credentials ` +
      `(with --token-command, which runs again; without it the session ends, since the same credentials would be refused again); ${codeRuns(codes('fatal'))} end it as fatal; other 3000-4999 codes reconnect. A handshake refused ` +
      `with HTTP ${statuses(['reconnect', 'refresh-auth'])} (or another 5xx) is retried, with ${statuses(['fatal'])} given up.`,
  );
}

/** `lifeline connect --help`; the command list is the one `/help` prints. */
export function connectHelp(): string {
  const width = Math.max(...commandDocs.map((doc) => doc.usage.length));
  const commands = commandDocs.map((doc) => `  ${doc.usage.padEnd(width)}  ${doc.text}${doc.lifeline ? ' *' : ''}`).join('\n');
  return `Usage: lifeline connect URL [flags]

An interactive WebSocket client that reconnects. Lines read from stdin are sent as text
messages, or are commands; everything that happens is printed on stdout, one event a line
(details indented below it): connecting, connected, each close with its code and what it
means, the reconnect delay and why (backoff, or the server's retry hint), give-up.

Flags:
  --protocol NAME     offer a subprotocol (repeatable); lifeline.v1 speaks the channel
                      protocol of a Lifeline server and enables the commands marked *
  -H, --header K:V    send a header on the opening handshake (repeatable)
  --token T           send "Authorization: Bearer T" on the opening handshake
  --token-command CMD run CMD (with sh) before every attempt and send the token it prints
                      (the output, or its JSON "token" field: a demo server's /demo/token fits)
  --max-attempts N    retries before giving up (default 10; 0 gives up at the first failure)
  --json              print one JSON object per event instead of text
  -h, --help          show this help

Commands:
${commands}

${reconnectPolicy()}

Exit codes: 0 closed on purpose (/quit, /close, end of input, or the server closed with 1000 or
1001), 1 could not connect or gave up (a fatal close, or out of retries), 2 bad URL or flag.

Examples:
  lifeline connect ws://localhost:8080/ws
  lifeline connect wss://example.com/ws --token "$TOKEN" --header "X-Tenant: acme"
  lifeline connect ws://localhost:8080/ws --protocol lifeline.v1 \\
    --token-command "curl -s 'http://localhost:8080/demo/token?user=ann&visitor=ann-keeps-a-secret'"
  echo '/req rooms.list {}' | lifeline connect ws://localhost:8080/ws --protocol lifeline.v1 --json
`;
}

/** `lifeline probe --help`. */
export function probeHelp(): string {
  return `Usage: lifeline probe URL [flags]

Connects once and reports each step: DNS lookup, TCP connect and TLS handshake (wss: only),
each timed in ms; the opening handshake's HTTP status and response headers; for a refusal,
what the status means (400, 401, 403, 404, 426, 429, 503 and others) and what a client should
do, with Retry-After; the negotiated subprotocol and extensions; a ping's round trip; then a
clean close (1000) and the close code and reason the server answered with.

Flags:
  --origin ORIGIN     send this Origin (as a browser page on ORIGIN would)
  -H, --header K:V    send a header on the opening handshake (repeatable)
  --token T           send "Authorization: Bearer T"
  --protocol NAME     offer a subprotocol (repeatable), e.g. lifeline.v1
  --timeout MS        the whole probe must finish within this (default ${DEFAULT_PROBE_TIMEOUT})
  --json              print one JSON document instead of text
  -h, --help          show this help

Exit codes: 0 healthy (accepted, answered the ping, closed cleanly), 1 unreachable, refused or
unhealthy (the last line says why), 2 bad URL or flag.

Examples:
  lifeline probe ws://localhost:8080/ws
  lifeline probe wss://example.com/ws --origin https://example.com --timeout 3000
  lifeline probe ws://localhost:8080/ws --protocol lifeline.v1 --json | jq .handshake.status
`;
}
