import { hostname } from 'node:os';
import type { AdminConnectionRow, AdminSnapshot } from '../core/admin-snapshot.js';
import type { LifelineServer } from '../server/index.js';
import { admitted, type ApiKey } from './api-key.js';
import { sendJson } from './http-json.js';
import type { Route } from './router.js';

/** The connection and channel lists stop here (the totals still count everything). */
export const SNAPSHOT_LIST_CAP = 500;

export type { AdminChannelRow, AdminConnectionRow, AdminSnapshot, AdminTotals } from '../core/admin-snapshot.js';

export interface SnapshotContext<User> {
  /** Wall-clock ms (`at`). */
  readonly now: number;
  /** When the server started, wall-clock ms (for `uptime`). */
  readonly startedAt: number;
  /** How a user shows in the list. */
  readonly userName: (user: User) => string | null;
}

/** This node's id in snapshots: `host:pid`. */
function nodeId(): string {
  return `${hostname()}:${process.pid}`;
}

/**
 * What the admin page draws, for this node only (`scope: 'node'`, `node` its id): the open connections (oldest first, at most {@link SNAPSHOT_LIST_CAP}),
 * the busiest channels, and the server's totals, read from the same `server.stats` counters
 * /metrics exports, so the two always agree.
 */
export function adminSnapshot<User>(server: LifelineServer<User>, context: SnapshotContext<User>): AdminSnapshot {
  const { stats } = server;
  const clockNow = server.clock.now();
  const sessions = server.sessionsByConnection();
  const list: AdminConnectionRow[] = [];
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
    node: nodeId(),
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
