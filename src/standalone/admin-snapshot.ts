import { hostname } from 'node:os';
import type { LifelineServer } from '../server/index.js';
import { admitted, type ApiKey } from './api-key.js';
import { sendJson } from './http-json.js';
import type { Route } from './router.js';

/** The connection and channel lists stop here (the totals still count everything). */
export const SNAPSHOT_LIST_CAP = 500;

export interface ConnectionRow {
  readonly id: string;
  readonly state: string;
  readonly user: string | null;
  /** The `lifeline.v1` session it carries, if any. */
  readonly session: string | null;
  readonly ageMs: number;
  readonly rttMs: number | null;
  readonly protocol: string;
  readonly subscriptions: number;
}

export interface AdminSnapshot {
  /** What the figures cover: this node only (every node keeps its own; ask each one). */
  readonly scope: 'node';
  /** Which node answered: `host:pid`. */
  readonly node: string;
  readonly at: number;
  readonly uptime: number;
  readonly connections: { readonly open: number; readonly list: readonly ConnectionRow[]; readonly truncated: boolean };
  readonly channels: readonly { readonly channel: string; readonly subscribers: number }[];
  readonly channelsTruncated: boolean;
  readonly totals: {
    readonly messagesIn: number;
    readonly messagesOut: number;
    readonly bytesIn: number;
    readonly bytesOut: number;
    readonly handshakes: Readonly<Record<string, number>>;
    readonly closes: Readonly<Record<string, number>>;
    readonly heartbeatTerminations: number;
    readonly slowConsumerCloses: number;
    readonly invalidMessages: number;
    readonly recoveries: { readonly recovered: number; readonly notRecovered: number };
  };
}

export interface SnapshotContext<User> {
  /** Wall-clock ms (`at`). */
  readonly now: number;
  /** When the server started, wall-clock ms (for `uptime`). */
  readonly startedAt: number;
  /** How a user shows in the list. */
  readonly userName: (user: User) => string | null;
}

/**
 * What the admin page draws: the open connections (oldest first, at most {@link SNAPSHOT_LIST_CAP}),
 * the busiest channels, and the server's totals, read from the same `server.stats` counters
 * /metrics exports, so the two always agree.
 */
export function adminSnapshot<User>(server: LifelineServer<User>, context: SnapshotContext<User>): AdminSnapshot {
  const { stats } = server;
  const clockNow = server.clock.now();
  const sessions = server.sessionsByConnection();
  const list: ConnectionRow[] = [];
  for (const connection of server.connections) {
    if (list.length === SNAPSHOT_LIST_CAP) break;
    const live = sessions.get(connection);
    list.push({
      id: connection.id,
      state: connection.state,
      user: context.userName(connection.user),
      session: live?.session ?? null,
      ageMs: Math.max(0, clockNow - connection.openedAt),
      rttMs: connection.rtt ?? null,
      protocol: connection.protocol,
      subscriptions: live?.subscriptions ?? 0,
    });
  }
  const channels = [...server.realtime.channels]
    .map(([channel, subscribers]) => ({ channel, subscribers }))
    .sort((a, b) => b.subscribers - a.subscribers || (a.channel < b.channel ? -1 : 1));
  return {
    scope: 'node',
    node: `${hostname()}:${process.pid}`,
    at: context.now,
    uptime: Math.max(0, context.now - context.startedAt) / 1000,
    connections: { open: server.connections.size, list, truncated: server.connections.size > list.length },
    channels: channels.slice(0, SNAPSHOT_LIST_CAP),
    channelsTruncated: channels.length > SNAPSHOT_LIST_CAP,
    totals: {
      messagesIn: stats.messagesIn,
      messagesOut: stats.messagesOut,
      bytesIn: stats.bytesIn,
      bytesOut: stats.bytesOut,
      handshakes: Object.fromEntries(stats.handshakes),
      closes: Object.fromEntries(stats.closes),
      heartbeatTerminations: stats.heartbeatTerminations,
      slowConsumerCloses: stats.slowConsumerCloses,
      invalidMessages: stats.invalidMessages,
      recoveries: { recovered: stats.recovered, notRecovered: stats.notRecovered },
    },
  };
}

/** `GET /admin/api/snapshot`, guarded by the API key; 404 when no key is configured. */
export function snapshotRoute<User>(server: LifelineServer<User>, key: ApiKey | undefined, context: () => SnapshotContext<User>): Route {
  return {
    method: 'GET',
    path: '/admin/api/snapshot',
    handle: (route) => {
      if (!admitted(key, route, 'the admin API')) return;
      sendJson(route.response, 200, adminSnapshot(server, context()));
    },
  };
}
