import { LifelineClient, ReconnectingWebSocket } from '../client/node.js';
import type { ClientOptions } from '../client/options.js';
import { InvalidCloseError, LifelineError } from '../core/errors.js';
import { describeCloseCode } from '../core/close-codes.js';
import { withRetryHints } from '../core/retry-hint.js';
import { ExitCode } from './command.js';
import { commandDocs, lifelineCommands, type ConnectCommand } from './connect-commands.js';
import { LifelineCommands } from './connect-lifeline.js';
import type { ConnectConfig } from './connect-options.js';
import type { AfterClose, ClosedEvent, ConnectEvent } from './connect-printer.js';
import { SocketWatch } from './connect-socket.js';
import { printableUrl } from './connect-target.js';
import { runTokenCommand } from './connect-token.js';

/** A ping with no pong within this is reported as lost, ms. */
const PING_TIMEOUT = 10_000;
/** A close we asked for that the server does not answer within this is cut, ms (ws itself waits 30 s). */
const CLOSE_TIMEOUT = 5_000;

/**
 * One `lifeline connect` session: a reconnecting client (a {@link LifelineClient} when the
 * channel protocol is offered), the commands typed into it, and every lifecycle event reported
 * as a {@link ConnectEvent}. `ended` resolves with the exit code: 0 when we closed it or the
 * server closed with 1000/1001, 1 when it failed for good (a fatal close, out of retries).
 */
export class ConnectSession {
  readonly ended: Promise<number>;
  readonly #emit: (event: ConnectEvent) => void;
  readonly #watch: SocketWatch;
  readonly #transport: ReconnectingWebSocket;
  readonly #lifeline: LifelineCommands | undefined;
  readonly #url: string;
  #end!: (code: number) => void;
  #done = false;
  #closeRequested = false;
  /** The server refused credentials that retrying would only send again (or none were given). */
  #credentialsRefused = false;
  readonly #hint: string;
  #attemptStarted = performance.now();
  /** A close the client will retry after: printed with the delay, when `reconnecting` comes. */
  #pendingClose: Omit<ClosedEvent, 'then'> | undefined;
  /**
   * Input waiting for the first connection (open; with the channel protocol, ready), run in
   * order then; afterwards undefined. A piped script thus runs against a live connection.
   */
  #backlog: (() => void)[] | undefined = [];
  /** Pings waiting for their pong. */
  readonly #pings = new Set<Promise<void>>();
  /** Aborted when the session ends: a `--token-command` still running is killed. */
  readonly #running = new AbortController();

  constructor(config: ConnectConfig, emit: (event: ConnectEvent) => void) {
    this.ended = new Promise((resolve) => (this.#end = resolve));
    // Nothing is reported once the session has ended (a late rejection of a publish, say).
    this.#emit = (event) => this.#done || emit(event);
    this.#url = printableUrl(config.target.url);
    this.#watch = new SocketWatch(config.target.headers);
    this.#hint = credentialsHint(config);
    const options: Omit<ClientOptions, 'heartbeat'> = {
      WebSocket: this.#watch.WebSocket,
      maxAttempts: config.maxAttempts,
      // A server's retry hint in a close reason sets the wait (opt-in for a bare ReconnectingWebSocket).
      retryHints: withRetryHints(),
      // Without a token command the next attempt sends the same credentials (or none): a server
      // that wants fresh ones refuses it the same way, so the session ends at once.
      shouldReconnect: (_close, decision) => {
        if (decision.action !== 'refresh-auth' || config.tokenCommand !== undefined) return undefined;
        this.#credentialsRefused = true;
        return 'fatal';
      },
    };
    const href = config.target.url.href;
    const { tokenCommand } = config;
    const watch = this.#watch;
    const { signal } = this.#running;
    const url =
      tokenCommand === undefined
        ? href
        : async (): Promise<string> => {
            watch.authorize(await runTokenCommand(tokenCommand, signal));
            return href;
          };
    // The lifecycle listeners go first, so "connected" is printed before the waiting input runs.
    if (config.lifeline) {
      const client = new LifelineClient(url, options);
      this.#transport = client.transport;
      this.#listen(this.#transport);
      this.#lifeline = new LifelineCommands(client, this.#emit);
      client.addEventListener('ready', () => this.#drain());
    } else {
      this.#transport = new ReconnectingWebSocket(url, [...config.target.protocols], options);
      this.#listen(this.#transport);
      this.#transport.addEventListener('message', (event) => this.#received(event.data));
      this.#transport.addEventListener('open', () => this.#drain());
    }
  }

  /** Carries out one typed command (once connected for the first time; help and mistakes at once). */
  run(command: ConnectCommand): void {
    if (this.#done) return;
    if (this.#backlog && command.kind !== 'help' && command.kind !== 'invalid') {
      if (this.#backlog.length === 0) this.#emit({ type: 'waiting' });
      this.#backlog.push(() => this.run(command));
      return;
    }
    if (lifelineCommands.has(command.kind) && !this.#lifeline) {
      this.#emit({ type: 'error', message: `/${command.kind} needs a Lifeline server: connect with --protocol lifeline.v1` });
      return;
    }
    switch (command.kind) {
      case 'send':
        return this.#send(command.text);
      case 'ping': {
        const ping = this.#watch.ping(PING_TIMEOUT).then(
          (ms) => this.#emit({ type: 'pong', ms }),
          (error: Error) => this.#emit({ type: 'error', about: 'ping', message: error.message }),
        );
        this.#pings.add(ping);
        void ping.finally(() => this.#pings.delete(ping));
        return;
      }
      case 'close':
        return this.#close(command.code, command.reason);
      case 'quit':
        return this.#close(1000, '');
      case 'logout':
        return this.#logout();
      case 'help':
        return this.#emit({ type: 'help', lines: helpLines(this.#lifeline !== undefined) });
      case 'invalid':
        return this.#emit({ type: 'error', message: command.message });
      case 'sub':
        return this.#lifeline?.sub(command.channel);
      case 'unsub':
        return this.#lifeline?.unsub(command.channel);
      case 'pub':
        return this.#lifeline?.pub(command.channel, command.data);
      case 'req':
        return this.#lifeline?.req(command.method, command.params);
    }
  }

  /**
   * End of input: what was typed still gets its chance (queued lines go out once connected,
   * publishes and requests get their answers), then the session closes with 1000.
   */
  finish(): void {
    if (this.#done) return;
    if (this.#backlog) {
      this.#backlog.push(() => this.finish());
      return;
    }
    const waits: Promise<unknown>[] = [...this.#pings];
    if (this.#lifeline) waits.push(this.#lifeline.settled());
    else if (this.#transport.queued > 0) waits.push(this.#transport.opened());
    void Promise.allSettled(waits).then(() => this.#close(1000, ''));
  }

  // ---- commands ------------------------------------------------------------------------------------

  #send(text: string): void {
    if (this.#lifeline) {
      // The server reads only protocol messages: a stray line would be malformed JSON to it, and
      // count toward its invalid-message limit. It is explained here and never sent.
      this.#emit({ type: 'error', about: 'send', message: 'not sent: a lifeline.v1 server takes only protocol messages; publish with /pub CHANNEL JSON (e.g. /pub chat:lobby {"text":"hi"}), /help lists the commands' });
      return;
    }
    const outcome = this.#transport.send(text);
    if (outcome === 'rejected') {
      const why = this.#transport.state === 'closed' || this.#transport.state === 'closing' ? 'the connection is closing' : 'not connected';
      this.#emit({ type: 'error', about: 'send', message: `not sent: ${why}` });
      return;
    }
    this.#emit({ type: 'sent', text, outcome });
  }

  #close(code: number, reason: string): void {
    if (this.#closeRequested) return;
    // Set first: while reconnecting, the client reports the close before close() returns.
    this.#closeRequested = true;
    try {
      this.#transport.close(code, reason);
    } catch (error) {
      this.#closeRequested = false;
      if (!(error instanceof InvalidCloseError)) throw error;
      const info = describeCloseCode(code);
      this.#emit({ type: 'error', about: 'close', message: `cannot close with ${code} (${info.name}): ${error.message}` });
      return;
    }
    if (this.#done) return;
    // A server that never answers our close frame does not get to hold the session open.
    const socket = this.#watch.socket;
    const timer = setTimeout(() => socket?.terminate(), CLOSE_TIMEOUT);
    void this.ended.finally(() => clearTimeout(timer));
  }

  /** `/logout`: the server ends the session (it closes with 1000 `session ended`), then the client closes. */
  #logout(): void {
    if (this.#closeRequested || !this.#lifeline) return;
    this.#closeRequested = true;
    void this.#lifeline.client.logout();
  }

  /** Ends the session at once, if it has not ended (a second Ctrl-C): nothing is waited for. */
  dispose(): void {
    this.#stop(ExitCode.FAILURE);
  }

  /** Ctrl-C: close with 1000 now, whatever is waiting. */
  interrupt(): void {
    this.#backlog = undefined;
    this.#close(1000, '');
  }

  #drain(): void {
    const backlog = this.#backlog;
    this.#backlog = undefined;
    for (const run of backlog ?? []) run();
  }

  #received(data: unknown): void {
    if (typeof data === 'string') this.#emit({ type: 'message', text: data });
    else if (data instanceof ArrayBuffer) this.#emit({ type: 'binary', bytes: new Uint8Array(data) });
    else if (ArrayBuffer.isView(data)) this.#emit({ type: 'binary', bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
  }

  // ---- the lifecycle ---------------------------------------------------------------------------------

  #listen(transport: ReconnectingWebSocket): void {
    const { maxAttempts } = transport.options;
    transport.addEventListener('connecting', (event) => {
      this.#attemptStarted = performance.now();
      this.#emit({ type: 'connecting', url: this.#url, attempt: event.attempt, maxAttempts });
    });
    transport.addEventListener('open', () => {
      this.#emit({ type: 'open', url: this.#url, ms: performance.now() - this.#attemptStarted, protocol: transport.protocol, extensions: transport.extensions });
    });
    transport.addEventListener('error', (event) => this.#error(event.error));
    transport.addEventListener('authRequired', (event) => this.#emit({ type: 'auth', code: event.code }));
    transport.addEventListener('close', (event) => {
      const socket = this.#watch.socket;
      const close = {
        type: 'closed' as const,
        code: event.code,
        reason: event.reason,
        wasClean: event.wasClean,
        status: socket?.handshakeStatus,
        retryAfterMs: socket?.retryAfterMs,
        serverReason: socket?.handshakeStatus === undefined ? undefined : socket.handshakeReason,
      };
      if (event.willReconnect) {
        this.#pendingClose = close;
        return;
      }
      const why: Extract<AfterClose, { kind: 'end' }>['why'] = this.#closeRequested
        ? 'request'
        : event.action === 'stop'
          ? 'stop'
          : this.#credentialsRefused
            ? 'credentials'
            : event.action === 'fatal'
              ? 'fatal'
              : 'giveup';
      this.#emit({ ...close, ...(why === 'credentials' ? { hint: this.#hint } : {}), then: { kind: 'end', why } });
      // Out of retries: the 'giveup' event follows in the same turn and ends the session.
      if (why === 'giveup') return;
      const clean = why === 'request' || (why === 'stop' && (event.code === 1000 || event.code === 1001));
      this.#stop(clean ? ExitCode.OK : ExitCode.FAILURE);
    });
    transport.addEventListener('reconnecting', (event) => {
      const close = this.#pendingClose ?? { type: 'closed' as const, code: event.code, reason: event.reason, wasClean: false };
      this.#pendingClose = undefined;
      this.#emit({ ...close, then: { kind: 'reconnect', delayMs: event.delay, attempt: event.attempt, maxAttempts } });
    });
    transport.addEventListener('giveup', (event) => {
      this.#emit({ type: 'giveup', attempts: event.attempts });
      this.#stop(ExitCode.FAILURE);
    });
  }

  #error(error: Error): void {
    if (error instanceof LifelineError && error.code === 'ERR_SOCKET') {
      // A refused handshake is reported by its status with the close that follows.
      if (this.#watch.socket?.handshakeStatus !== undefined || this.#closeRequested) return;
      this.#emit({ type: 'error', message: this.#watch.lastError?.message ?? error.message });
      return;
    }
    this.#emit({ type: 'error', code: error instanceof LifelineError ? error.code : undefined, message: error.message });
  }

  #stop(code: number): void {
    if (this.#done) return;
    this.#done = true;
    this.#running.abort();
    // The client may still hold subscriptions and listeners; it is finished with.
    this.#lifeline?.client.close();
    this.#transport.dispose();
    this.#end(code);
  }
}

/** How to connect with credentials; a demo server's `/demo/token` is next to its WebSocket endpoint. */
function credentialsHint(config: ConnectConfig): string {
  const web = new URL(config.target.url.href);
  web.protocol = web.protocol === 'wss:' ? 'https:' : 'http:';
  web.username = '';
  web.password = '';
  const tokenUrl = `${web.origin}/demo/token?user=NAME&visitor=SECRET`;
  const given = config.fixedCredentials ? 'the credentials sent were refused: ' : '';
  return `${given}pass --token TOKEN, or --token-command CMD (run before every attempt); a demo server (lifeline serve --demo) hands tokens out: --token-command "curl -s '${tokenUrl}'"`;
}

function helpLines(lifeline: boolean): string[] {
  const docs = commandDocs.filter((doc) => lifeline || !doc.lifeline);
  const width = Math.max(...docs.map((doc) => doc.usage.length));
  const lines = docs.map((doc) => `  ${doc.usage.padEnd(width)}  ${doc.text}`);
  return lifeline ? ['commands:', ...lines] : ['commands:', ...lines, '  (/sub, /unsub, /pub and /req need a Lifeline server: connect with --protocol lifeline.v1)'];
}
