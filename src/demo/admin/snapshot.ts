/**
 * What `GET /admin/api/snapshot` answers, read defensively (a field of the wrong shape becomes a
 * neutral value, never an exception), and the per-second rates derived from two snapshots.
 * Pure: no DOM, no clock; the admin page and its tests share it.
 */

export interface ConnectionRow {
  readonly id: string;
  readonly state: string;
  readonly user: string;
  readonly ageMs: number;
  /** Last heartbeat round trip, ms; undefined before the first pong. */
  readonly rttMs: number | undefined;
  readonly protocol: string;
  /** The channels it is subscribed to, when the server lists them; else only their number. */
  readonly subscriptions: readonly string[];
  readonly subscriptionCount: number;
}

export interface ChannelRow {
  readonly channel: string;
  readonly subscribers: number;
}

export interface Totals {
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Handshakes by HTTP status (101: accepted). */
  readonly handshakes: ReadonlyMap<number, number>;
  /** Closes by close code. */
  readonly closes: ReadonlyMap<number, number>;
  readonly heartbeatTerminations: number;
  readonly slowConsumerCloses: number;
}

export interface Snapshot {
  /** Server time of the snapshot, ms. */
  readonly at: number;
  /** How long the server has run, s. */
  readonly uptime: number;
  readonly open: number;
  readonly connections: readonly ConnectionRow[];
  /** The list is cut short (`open` still counts every connection). */
  readonly truncated: boolean;
  readonly channels: readonly ChannelRow[];
  readonly totals: Totals;
}

type Json = Readonly<Record<string, unknown>>;

function object(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0;
}

function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object' && value !== null) {
    const named = object(value);
    for (const key of ['name', 'user', 'sub', 'id']) if (typeof named[key] === 'string') return named[key];
    return JSON.stringify(value);
  }
  return '';
}

/** `{ "101": 4, "401": 1 }` as a map of numbers, keys that are not codes dropped. */
function byCode(value: unknown): Map<number, number> {
  const map = new Map<number, number>();
  for (const [key, n] of Object.entries(object(value))) {
    const code = Number(key);
    if (Number.isInteger(code) && count(n) > 0) map.set(code, count(n));
  }
  return map;
}

function connectionRow(value: unknown): ConnectionRow {
  const row = object(value);
  const subs = row.subscriptions;
  const list = Array.isArray(subs) ? subs.map(text) : [];
  return {
    id: text(row.id),
    state: text(row.state),
    user: text(row.user),
    ageMs: count(row.ageMs),
    rttMs: typeof row.rttMs === 'number' && Number.isFinite(row.rttMs) ? row.rttMs : undefined,
    protocol: text(row.protocol),
    subscriptions: list,
    subscriptionCount: Array.isArray(subs) ? list.length : count(subs),
  };
}

/** The snapshot, or undefined when the body is not one at all (no `connections` and no `totals`). */
export function parseSnapshot(body: unknown): Snapshot | undefined {
  const root = object(body);
  if (!('connections' in root) && !('totals' in root)) return undefined;
  const connections = object(root.connections);
  const totals = object(root.totals);
  const list = Array.isArray(connections.list) ? connections.list.map(connectionRow) : [];
  const channels = Array.isArray(root.channels)
    ? root.channels.map((item) => {
        const row = object(item);
        return { channel: text(row.channel), subscribers: count(row.subscribers) };
      })
    : [];
  return {
    at: count(root.at),
    uptime: count(root.uptime),
    open: typeof connections.open === 'number' ? count(connections.open) : list.length,
    connections: list,
    truncated: connections.truncated === true,
    channels,
    totals: {
      messagesIn: count(totals.messagesIn),
      messagesOut: count(totals.messagesOut),
      bytesIn: count(totals.bytesIn),
      bytesOut: count(totals.bytesOut),
      handshakes: byCode(totals.handshakes),
      closes: byCode(totals.closes),
      heartbeatTerminations: count(totals.heartbeatTerminations),
      slowConsumerCloses: count(totals.slowConsumerCloses),
    },
  };
}

/** One point of the charts. */
export interface Sample {
  readonly at: number;
  readonly open: number;
  /** Messages per second since the previous snapshot (undefined for the first, or after a counter went back). */
  readonly inRate: number | undefined;
  readonly outRate: number | undefined;
}

/** Per-second rate of a counter between two snapshots; undefined when time did not move or the counter went back (a restart). */
export function rate(before: number, after: number, elapsedMs: number): number | undefined {
  if (elapsedMs <= 0 || after < before) return undefined;
  return ((after - before) * 1000) / elapsedMs;
}

/**
 * The last `windowMs` of snapshots as chart samples: open connections as they were, messages
 * per second from the difference of the totals between consecutive snapshots.
 */
export class History {
  readonly #samples: Sample[] = [];
  #last: Snapshot | undefined;

  constructor(readonly windowMs = 120_000) {}

  get samples(): readonly Sample[] {
    return this.#samples;
  }

  push(snapshot: Snapshot): Sample {
    const last = this.#last;
    const elapsed = last ? snapshot.at - last.at : 0;
    const sample: Sample = {
      at: snapshot.at,
      open: snapshot.open,
      inRate: last ? rate(last.totals.messagesIn, snapshot.totals.messagesIn, elapsed) : undefined,
      outRate: last ? rate(last.totals.messagesOut, snapshot.totals.messagesOut, elapsed) : undefined,
    };
    // A clock that went back (a restarted server) starts the charts over.
    if (last && elapsed < 0) this.#samples.length = 0;
    this.#last = snapshot;
    this.#samples.push(sample);
    while (this.#samples.length > 0 && (this.#samples[0]?.at ?? 0) < snapshot.at - this.windowMs) this.#samples.shift();
    return sample;
  }
}
