/**
 * What `GET /admin/api/snapshot` answers (the one {@link AdminSnapshot} type the server builds),
 * read defensively (a field of the wrong shape becomes a neutral value, never an exception), and
 * the per-second rates derived from two snapshots. Pure: no DOM, no clock; the admin page and
 * its tests share it.
 */
import type { AdminConnectionRow, AdminSnapshot } from '../../core/admin-snapshot.js';

export type { AdminChannelRow, AdminConnectionRow, AdminSnapshot } from '../../core/admin-snapshot.js';

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
export function byCode(value: unknown): Map<number, number> {
  const map = new Map<number, number>();
  for (const [key, n] of Object.entries(object(value))) {
    const code = Number(key);
    if (Number.isInteger(code) && count(n) > 0) map.set(code, count(n));
  }
  return map;
}

/** Only the codes, each with a positive count. */
function codeCounts(value: unknown): Record<string, number> {
  return Object.fromEntries([...byCode(value)].map(([code, n]) => [String(code), n]));
}

function orNull<T>(value: T | ''): T | null {
  return value === '' ? null : value;
}

function connectionRow(value: unknown): AdminConnectionRow {
  const row = object(value);
  const subs = row.subscriptions;
  return {
    id: text(row.id),
    state: text(row.state),
    user: orNull(text(row.user)),
    session: orNull(text(row.session)),
    ageMs: count(row.ageMs),
    rttMs: typeof row.rttMs === 'number' && Number.isFinite(row.rttMs) ? row.rttMs : null,
    protocol: text(row.protocol),
    // A list (an older server) counts its entries.
    subscriptions: Array.isArray(subs) ? subs.length : count(subs),
  };
}

/** The snapshot, or undefined when the body is not one at all (no `connections` and no `totals`). */
export function parseSnapshot(body: unknown): AdminSnapshot | undefined {
  const root = object(body);
  if (!('connections' in root) && !('totals' in root)) return undefined;
  const connections = object(root.connections);
  const totals = object(root.totals);
  const recoveries = object(totals.recoveries);
  const list = Array.isArray(connections.list) ? connections.list.map(connectionRow) : [];
  const channels = Array.isArray(root.channels)
    ? root.channels.map((item) => {
        const row = object(item);
        return { channel: text(row.channel), subscribers: count(row.subscribers) };
      })
    : [];
  return {
    scope: 'node',
    node: text(root.node),
    at: count(root.at),
    uptime: count(root.uptime),
    connections: { open: typeof connections.open === 'number' ? count(connections.open) : list.length, list, truncated: connections.truncated === true },
    channels,
    channelsTruncated: root.channelsTruncated === true,
    totals: {
      messagesIn: count(totals.messagesIn),
      messagesOut: count(totals.messagesOut),
      bytesIn: count(totals.bytesIn),
      bytesOut: count(totals.bytesOut),
      handshakes: codeCounts(totals.handshakes),
      closes: codeCounts(totals.closes),
      heartbeatTerminations: count(totals.heartbeatTerminations),
      slowConsumerCloses: count(totals.slowConsumerCloses),
      invalidMessages: count(totals.invalidMessages),
      recoveries: { recovered: count(recoveries.recovered), notRecovered: count(recoveries.notRecovered) },
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
  #last: AdminSnapshot | undefined;

  constructor(readonly windowMs = 120_000) {}

  get samples(): readonly Sample[] {
    return this.#samples;
  }

  push(snapshot: AdminSnapshot): Sample {
    const last = this.#last;
    const elapsed = last ? snapshot.at - last.at : 0;
    const sample: Sample = {
      at: snapshot.at,
      open: snapshot.connections.open,
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
