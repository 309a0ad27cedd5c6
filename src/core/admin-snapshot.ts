/**
 * The document `GET /admin/api/snapshot` answers (`lifeline serve`), declared once: the server
 * builds it (src/standalone/admin-snapshot.ts) and the admin page reads it
 * (src/demo/admin/snapshot.ts). Plain data, no behaviour.
 */

/** One open connection, as the snapshot lists it. */
export interface AdminConnectionRow {
  readonly id: string;
  /** `authenticating`, `open` or `closing`. */
  readonly state: string;
  /** How the user shows (its name or id); null for an anonymous connection. */
  readonly user: string | null;
  /** The `lifeline.v1` session it carries, if any. */
  readonly session: string | null;
  readonly ageMs: number;
  /** Last heartbeat round trip, ms; null before the first pong. */
  readonly rttMs: number | null;
  /** The negotiated subprotocol, '' when none. */
  readonly protocol: string;
  /** How many channels its session is subscribed to. */
  readonly subscriptions: number;
}

export interface AdminChannelRow {
  readonly channel: string;
  /** Subscribers on this node. */
  readonly subscribers: number;
}

export interface AdminTotals {
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Handshakes by HTTP status (`"101"`: accepted). */
  readonly handshakes: Readonly<Record<string, number>>;
  /** Closes by close code. */
  readonly closes: Readonly<Record<string, number>>;
  readonly heartbeatTerminations: number;
  readonly slowConsumerCloses: number;
  readonly invalidMessages: number;
  readonly recoveries: { readonly recovered: number; readonly notRecovered: number };
}

export interface AdminSnapshot {
  /**
   * What the figures cover: `'node'`, this node only. Every node of a cluster keeps its own
   * connections and counters: ask each one (its `node` says which answered).
   */
  readonly scope: 'node';
  /** Which node answered: its node id, `host:pid`. */
  readonly node: string;
  /** Wall-clock time of the snapshot, ms. */
  readonly at: number;
  /** How long the node has run, s. */
  readonly uptime: number;
  /** `open` counts every connection; `list` stops at the cap (`truncated` then). */
  readonly connections: { readonly open: number; readonly list: readonly AdminConnectionRow[]; readonly truncated: boolean };
  /** The busiest channels first, at most the cap. */
  readonly channels: readonly AdminChannelRow[];
  readonly channelsTruncated: boolean;
  readonly totals: AdminTotals;
}
