import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import type { IncomingMessage } from 'node:http';
import { connect as tcpConnect, createConnection, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import WebSocket from 'ws';
import { printableUrl, type ConnectTarget } from './connect-target.js';

/**
 * The I/O half of `lifeline probe`: one connection, step by step, each step timed. It records
 * what happened as plain data ({@link ProbeObservation}) and judges nothing; probe-verdict.ts
 * reads it. The name is looked up here and each address tried in turn (so the lookup, the TCP
 * connect and the TLS handshake are timed apart), then `ws` gets the connected socket through
 * `createConnection` for the opening handshake (RFC 6455 §4.1), a ping (§5.5.2) and a clean
 * close (§7.1.2).
 */
export type ProbePhase = 'dns' | 'tcp' | 'tls' | 'handshake' | 'ping' | 'close';

export interface ProbeObservation {
  /** The URL probed, as printed (a password masked). */
  readonly url: string;
  readonly secure: boolean;
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  readonly protocols: readonly string[];
  readonly dns?: { readonly addresses: readonly ResolvedAddress[]; readonly ms: number };
  readonly tcp?: { readonly address: string; readonly ms: number; readonly failed: readonly TcpFailure[] };
  readonly tls?: TlsInfo;
  readonly handshake?: HandshakeInfo;
  /** The accepted WebSocket's negotiated subprotocol and extensions ('' for none). */
  readonly open?: { readonly protocol: string; readonly extensions: string };
  readonly ping?: { readonly ms: number };
  readonly close?: CloseObservation;
  /** The step that failed, if one did. */
  readonly failure?: ProbeFailure;
  readonly totalMs: number;
}

export interface ResolvedAddress {
  readonly address: string;
  readonly family: number;
}

export interface TcpFailure {
  readonly address: string;
  readonly code: string | undefined;
  readonly message: string;
}

export interface TlsInfo {
  readonly ms: number;
  readonly protocol: string | null;
  readonly cipher: string | undefined;
  readonly alpn: string | false;
  readonly subject: string | undefined;
  readonly issuer: string | undefined;
  readonly validTo: string | undefined;
}

export interface HandshakeInfo {
  readonly status: number;
  readonly statusText: string;
  /** Response headers as sent: name (its spelling) and value, in order. */
  readonly headers: readonly (readonly [name: string, value: string])[];
  readonly ms: number;
  /** The start of a refusal's body (servers put the reason there). */
  readonly body?: string;
}

export interface CloseObservation {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  /** Who sent the first close frame: the probe (its clean close) or the server. */
  readonly by: 'client' | 'server';
  /** From the probe's close frame to the closed socket (the server's close included), ms. */
  readonly ms: number | undefined;
}

export interface ProbeFailure {
  readonly phase: ProbePhase;
  readonly code: string | undefined;
  readonly message: string;
  readonly timedOut: boolean;
}

export interface ProbeRequest {
  readonly target: ConnectTarget;
  readonly timeout: number;
}

/** The close frame the probe sends (RFC 6455 §7.4.1: 1000, the purpose is fulfilled). */
export const PROBE_CLOSE = { code: 1000, reason: 'probe done' } as const;

/** Keep this much of a refusal's body; a reason fits easily. */
const BODY_LIMIT = 2048;

class TimedOut extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

/** The server closed before the step finished: recorded as the close, not as a failure. */
class ClosedByServer extends Error {}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export function observe(request: ProbeRequest): Promise<ProbeObservation> {
  return new ProbeRun(request).run();
}

/** One probe: its steps in order, each timed, all of them bounded by one deadline. */
class ProbeRun {
  readonly #request: ProbeRequest;
  readonly #started = performance.now();
  readonly #o: Mutable<ProbeObservation>;
  #phase: ProbePhase = 'dns';
  /** The socket to drop at the end, whatever step it got to. */
  #socket: Socket | undefined;
  #ws: WebSocket | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #deadline: Promise<never>;

  constructor(request: ProbeRequest) {
    this.#request = request;
    const { url } = request.target;
    const secure = url.protocol === 'wss:';
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = Number(url.port || (secure ? 443 : 80));
    this.#o = { url: printableUrl(url), secure, host, port, timeoutMs: request.timeout, protocols: request.target.protocols, totalMs: 0 };
    this.#deadline = new Promise<never>((_resolve, reject) => {
      this.#timer = setTimeout(() => reject(new TimedOut(request.timeout)), request.timeout);
    });
    this.#deadline.catch(() => undefined);
  }

  async run(): Promise<ProbeObservation> {
    const o = this.#o;
    try {
      const addresses = await this.#lookup();
      let socket = await this.#tcp(addresses);
      if (o.secure) socket = await this.#tls(socket);
      const ws = await this.#handshake(socket);
      if (ws) await this.#pingAndClose(ws);
    } catch (error) {
      if (!(error instanceof ClosedByServer)) {
        const timedOut = error instanceof TimedOut;
        o.failure = { phase: this.#phase, code: timedOut ? 'ETIMEDOUT' : codeOf(error), message: messageOf(error), timedOut };
      }
    } finally {
      clearTimeout(this.#timer);
      this.#ws?.terminate();
      this.#socket?.destroy();
      o.totalMs = performance.now() - this.#started;
    }
    return o;
  }

  #bounded<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([promise, this.#deadline]);
  }

  async #lookup(): Promise<readonly ResolvedAddress[]> {
    const { host } = this.#o;
    const from = performance.now();
    const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await this.#bounded(lookup(host, { all: true }));
    this.#o.dns = { addresses, ms: performance.now() - from };
    return addresses;
  }

  /** Each address in turn, as a client would, until one connects. */
  async #tcp(addresses: readonly ResolvedAddress[]): Promise<Socket> {
    this.#phase = 'tcp';
    const failed: TcpFailure[] = [];
    for (const { address } of addresses) {
      const from = performance.now();
      const attempt = tcpConnect({ host: address, port: this.#o.port });
      // A late error (a reset while nobody listens) must not take the process down.
      attempt.on('error', () => undefined);
      this.#socket = attempt;
      try {
        await this.#bounded(connected(attempt, 'connect'));
        this.#o.tcp = { address, ms: performance.now() - from, failed };
        return attempt;
      } catch (error) {
        if (error instanceof TimedOut) throw error;
        failed.push({ address, code: codeOf(error), message: messageOf(error) });
        attempt.destroy();
      }
    }
    const last = failed.at(-1);
    throw Object.assign(new Error(last?.message ?? `no address for ${this.#o.host}`), { code: last?.code });
  }

  async #tls(socket: Socket): Promise<Socket> {
    this.#phase = 'tls';
    const { host } = this.#o;
    const from = performance.now();
    const tls = tlsConnect({ socket, servername: isIP(host) ? undefined : host, ALPNProtocols: ['http/1.1'] });
    tls.on('error', () => undefined);
    this.#socket = tls;
    await this.#bounded(connected(tls, 'secureConnect'));
    this.#o.tls = tlsInfo(tls, performance.now() - from);
    return tls;
  }

  /** The opening handshake over the connected socket; the open WebSocket, or undefined after a refusal. */
  async #handshake(socket: Socket): Promise<WebSocket | undefined> {
    this.#phase = 'handshake';
    const { target } = this.#request;
    const from = performance.now();
    const handOver: typeof createConnection = () => socket;
    const ws = new WebSocket(target.url, [...target.protocols], { headers: { ...target.headers }, createConnection: handOver });
    this.#ws = ws;
    // Never without an error listener: ws would throw it. Each step listens for its own.
    ws.on('error', () => undefined);
    const accepted = await this.#bounded(handshake(ws, (info) => (this.#o.handshake = { ...info, ms: performance.now() - from })));
    if (!accepted) return undefined;
    this.#o.open = { protocol: ws.protocol, extensions: ws.extensions };
    return ws;
  }

  async #pingAndClose(ws: WebSocket): Promise<void> {
    let closing = 0;
    const closed = closeOf(ws, () => closing);
    // The server may close first (accept-then-close): that close is the observation.
    void closed.then((close) => (this.#o.close = close));

    this.#phase = 'ping';
    let from = performance.now();
    await this.#bounded(Promise.race([pong(ws), closed.then(() => Promise.reject(new ClosedByServer()))]));
    this.#o.ping = { ms: performance.now() - from };

    this.#phase = 'close';
    from = performance.now();
    closing = from;
    ws.close(PROBE_CLOSE.code, PROBE_CLOSE.reason);
    this.#o.close = await this.#bounded(closed);
  }
}

function connected(socket: Socket, event: 'connect' | 'secureConnect'): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once(event, () => {
      socket.off('error', reject);
      resolve();
    });
    socket.once('error', reject);
  });
}

/** Resolves true when the socket is open, false on a refusal (whose body has been read). */
function handshake(ws: WebSocket, seen: (info: Omit<HandshakeInfo, 'ms'>) => void): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const response = (res: IncomingMessage): Omit<HandshakeInfo, 'ms'> => ({
      status: res.statusCode ?? 0,
      statusText: res.statusMessage ?? '',
      headers: pairs(res.rawHeaders),
    });
    ws.once('upgrade', (res) => seen(response(res)));
    ws.once('unexpected-response', (_request, res) => {
      const info = response(res);
      seen(info);
      let body = '';
      const finish = (): void => {
        seen(body.trim() === '' ? info : { ...info, body: body.trim() });
        // Aborts the request and drops the socket (a refused handshake has nothing more to say).
        ws.terminate();
        resolve(false);
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
        if (body.length >= BODY_LIMIT) {
          body = body.slice(0, BODY_LIMIT);
          finish();
        }
      });
      res.once('end', finish);
      res.once('error', finish);
    });
    ws.once('open', () => resolve(true));
    ws.once('error', reject);
  });
}

function pong(ws: WebSocket): Promise<void> {
  // A payload of our own: an unsolicited pong (RFC 6455 §5.5.3) is not the answer.
  const payload = randomBytes(8);
  return new Promise((resolve) => {
    const onPong = (data: Buffer): void => {
      if (!data.equals(payload)) return;
      ws.off('pong', onPong);
      resolve();
    };
    ws.on('pong', onPong);
    ws.ping(payload);
  });
}

/** The socket's close, whoever starts it; `closingSince` is when the probe sent its own close frame (0: not yet). */
function closeOf(ws: WebSocket, closingSince: () => number): Promise<CloseObservation> {
  return new Promise((resolve) => {
    ws.addEventListener(
      'close',
      (event) => {
        const since = closingSince();
        resolve({ code: event.code, reason: event.reason, wasClean: event.wasClean, by: since === 0 ? 'server' : 'client', ms: since === 0 ? undefined : performance.now() - since });
      },
      { once: true },
    );
  });
}

function tlsInfo(socket: TLSSocket, ms: number): TlsInfo {
  const certificate = socket.getPeerCertificate();
  const name = (entry: Record<string, string | string[] | undefined> | undefined): string | undefined => {
    const value = entry?.CN ?? entry?.O;
    return Array.isArray(value) ? value.join(', ') : value;
  };
  return {
    ms,
    protocol: socket.getProtocol(),
    cipher: socket.getCipher()?.name,
    alpn: socket.alpnProtocol ?? false,
    subject: name(certificate.subject as Record<string, string | string[] | undefined> | undefined),
    issuer: name(certificate.issuer as Record<string, string | string[] | undefined> | undefined),
    validTo: certificate.valid_to,
  };
}

function pairs(raw: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i] ?? '', raw[i + 1] ?? '']);
  return out;
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
