import type { IncomingMessage } from 'node:http';
import { LifelineClient, NodeWebSocket, ReplyError, type LifelineCloseEvent, type WebSocketConstructor } from '../../src/client/node.js';
import type { Rng } from '../../src/core/clock.js';
import type { Connection } from '../../src/server/connection.js';
import type { FaultLink, FaultProxy } from '../../src/testing/fault-proxy.js';
import { keyOf, type PublishRecord, type Received } from './ledger.js';

/** A `ws` socket that reports its local port once upgraded: the proxy names its link by that port. */
function portReporting(report: (port: number) => void): WebSocketConstructor {
  return class PortReportingWebSocket extends NodeWebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      this.once('upgrade', (response: IncomingMessage) => report(response.socket.localPort ?? 0));
    }
  };
}

export interface MemberOptions {
  readonly index: number;
  readonly url: string;
  readonly channels: readonly string[];
  readonly rng: Rng;
  /** It connects without credentials: the server makes up a user for each of its connections. */
  readonly anonymous?: boolean;
}

/**
 * One client of the fleet and everything it saw: each channel's events (offset and payload), its
 * `subscribed` reports, its sessions and closes, and the server connection and proxy link it is on
 * now (found by the `?c=` query parameter and by its local port).
 */
export class Member {
  readonly index: number;
  readonly client: LifelineClient;
  readonly channels: readonly string[];
  readonly anonymous: boolean;
  /** The user its session began with (an anonymous client's must come back on every resume), set by its first `session`. */
  firstUser: unknown;
  readonly received = new Map<string, Received[]>();
  /** `subscribed` with `recovered: false`, by channel. */
  readonly unrecovered: string[] = [];
  readonly sessions: { readonly id: string; readonly resumed: boolean }[] = [];
  readonly closes: { readonly code: number; readonly willReconnect: boolean }[] = [];
  /** Subscriptions the server refused (the subscription ended). */
  readonly refusals: string[] = [];
  /** The server side of its current link (set by the fleet from the server's `connection` event). */
  connection: Connection | undefined;
  #localPort = 0;
  #n = 0;

  constructor(options: MemberOptions) {
    this.index = options.index;
    this.channels = options.channels;
    this.anonymous = options.anonymous === true;
    this.client = new LifelineClient(`${options.url}?c=${options.index}${this.anonymous ? '&anonymous=1' : ''}`, {
      WebSocket: portReporting((port) => (this.#localPort = port)),
      initialDelay: 20,
      maxDelay: 200,
      maxAttempts: Infinity,
      connectTimeout: 2_000,
      // The server sends an app ping every pingInterval (500 ms): 2 s of silence is a dead
      // (blackholed) link. Not less: on a busy machine this one process (server, proxy and 50
      // clients) can stall for most of a second, and a shorter watchdog would cut healthy links.
      heartbeat: { watchdog: 2_000, pingInterval: 0 },
      // No publish timeout: a publish settles with its ack (or an error), never "maybe".
      publishTimeout: 0,
      rng: options.rng,
    });
    this.client.addEventListener('session', (e) => {
      this.sessions.push({ id: e.id, resumed: e.resumed });
      // The user of the connection its session began on (not of the first attempt, which may
      // have failed before its hello on a busy machine).
      if (this.sessions.length === 1) this.firstUser = this.connection?.user;
    });
    this.client.addEventListener('close', (e: LifelineCloseEvent) => this.closes.push({ code: e.code, willReconnect: e.willReconnect }));
    for (const channel of this.channels) {
      const events: Received[] = [];
      this.received.set(channel, events);
      this.client.subscribe(channel, {
        event: (e) => events.push({ position: e.position, key: keyOf(e.data) }),
        subscribed: (e) => {
          if (!e.recovered) this.unrecovered.push(channel);
        },
        error: (e) => this.refusals.push(`${channel}: ${e.error.code}`),
      });
    }
  }

  /** The proxy link this client is on now, if it is connected. */
  link(proxy: FaultProxy): FaultLink | undefined {
    return proxy.connections.find((link) => link.clientPort === this.#localPort);
  }

  /** Publishes `{ from: c<index>, n }` and records how it ends. */
  publish(channel: string, records: PublishRecord[]): Promise<void> {
    const record: PublishRecord = { channel, from: `c${this.index}`, n: ++this.#n, outcome: { kind: 'pending' } };
    records.push(record);
    return this.client.publish(channel, { from: record.from, n: record.n }).then(
      (position) => void (record.outcome = { kind: 'acked', position }),
      (error: unknown) => void (record.outcome = { kind: 'rejected', code: error instanceof ReplyError ? error.code : String(error) }),
    );
  }

  /** Ready, and holding every channel up to `heads`. */
  caughtUp(heads: ReadonlyMap<string, { readonly offset: number }>): boolean {
    if (this.client.state !== 'ready') return false;
    for (const channel of this.channels) {
      const sub = this.client.subscriptions.get(channel);
      if (sub?.state !== 'subscribed' || sub.position?.offset !== heads.get(channel)?.offset) return false;
    }
    return true;
  }

  /** One line on where it stands, for a failure message. */
  describe(heads: ReadonlyMap<string, { readonly offset: number }>): string {
    const subs = this.channels.map((channel) => {
      const sub = this.client.subscriptions.get(channel);
      return `${channel}=${sub?.state ?? 'gone'}@${sub?.position?.offset ?? '-'}/${heads.get(channel)?.offset ?? '?'}`;
    });
    return `c${this.index}${this.anonymous ? ' (anonymous)' : ''} ${this.client.state} ${subs.join(' ')} closes=${this.closes.map((c) => c.code).join(',')}`;
  }
}
