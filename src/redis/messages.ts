/**
 * The pub/sub messages between nodes, as the scripts publish them: a channel event
 * (`<epoch> <offset> <data JSON>`), a direct message (`<seq> <data JSON>`), a control notice (JSON).
 */
import type { ChannelEvent, ControlNotice, DirectMessage } from '../broker/broker.js';

export function parseEvent(channel: string, message: string): ChannelEvent | undefined {
  const first = message.indexOf(' ');
  const second = message.indexOf(' ', first + 1);
  if (first < 0 || second < 0) return undefined;
  const offset = Number(message.slice(first + 1, second));
  if (!Number.isSafeInteger(offset)) return undefined;
  return { channel, epoch: message.slice(0, first), offset, data: JSON.parse(message.slice(second + 1)) as unknown };
}

export function parseDirect(message: string): DirectMessage | undefined {
  const space = message.indexOf(' ');
  const seq = Number(message.slice(0, space));
  if (space < 0 || !Number.isSafeInteger(seq)) return undefined;
  return { seq, data: JSON.parse(message.slice(space + 1)) as unknown };
}

/** A control notice as another node sent it; anything else (a foreign publisher) is ignored. */
export function parseNotice(message: string): ControlNotice | undefined {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const notice = value as Record<string, unknown>;
  const textOf = (key: string): boolean => typeof notice[key] === 'string';
  if (notice.kind === 'disconnect-user' && textOf('user') && textOf('reason')) return value as ControlNotice;
  if (notice.kind === 'disconnect-session' && textOf('session') && textOf('reason')) return value as ControlNotice;
  if (notice.kind === 'takeover' && textOf('session') && textOf('connection')) return value as ControlNotice;
  return undefined;
}
