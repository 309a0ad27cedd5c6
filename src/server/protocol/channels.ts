import type { HistoryPolicy } from '../../broker/broker.js';

/** What a namespace of channels gets. */
export interface ChannelOptions {
  /** History kept per channel for recovery. Default none (a reconnect after missing events reports `recovered: false`). */
  readonly history?: HistoryPolicy;
  /** Join/leave events and `presence.get` for subscribers. Default false. */
  readonly presence?: boolean;
}

/** Namespaces: `'chat'` covers `chat` and `chat:anything`; `'*'` covers every other name. Without a match a channel is refused (`bad_channel`). */
export type ChannelsConfig = Readonly<Record<string, ChannelOptions>>;

export interface ResolvedChannel {
  readonly history: HistoryPolicy;
  readonly presence: boolean;
}

const noHistory: HistoryPolicy = { size: 0, ttl: 0 };

/** Finds a channel's options: its namespace (the part before the first ':'), else `'*'`. */
export function resolveChannel(config: ChannelsConfig, channel: string): ResolvedChannel | undefined {
  const colon = channel.indexOf(':');
  const namespace = colon === -1 ? channel : channel.slice(0, colon);
  const options = Object.hasOwn(config, namespace) ? config[namespace] : Object.hasOwn(config, '*') ? config['*'] : undefined;
  if (!options) return undefined;
  return { history: options.history ?? noHistory, presence: options.presence ?? false };
}
