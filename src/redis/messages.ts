/**
 * The pub/sub messages between nodes, as the scripts publish them: a channel event
 * (`<epoch> <offset> <data JSON>`), a direct message (`<seq> <data JSON>`), a control notice (JSON).
 * Anything else on those channels (another Lifeline version during a rolling upgrade, a foreign
 * publisher) parses as undefined, never throws: a throw inside the client's message handler
 * would reset its decoder and silently drop every later message on the subscriber connection.
 */
import type { ChannelEvent, ControlNotice, DirectMessage } from '../broker/broker.js';

export function parseEvent(channel: string, message: string): ChannelEvent | undefined {
  const first = message.indexOf(' ');
  const second = message.indexOf(' ', first + 1);
  if (first < 0 || second < 0) return undefined;
  const offset = Number(message.slice(first + 1, second));
  if (!Number.isSafeInteger(offset) || offset < 1) return undefined;
  const data = parseJson(message.slice(second + 1));
  return data && { channel, epoch: message.slice(0, first), offset, data: data.value };
}

export function parseDirect(message: string): DirectMessage | undefined {
  const space = message.indexOf(' ');
  const seq = Number(message.slice(0, space));
  if (space < 1 || !Number.isSafeInteger(seq) || seq < 1) return undefined;
  const data = parseJson(message.slice(space + 1));
  return data && { seq, data: data.value };
}

/** The value of `json`, or undefined when it is not JSON. */
function parseJson(json: string): { readonly value: unknown } | undefined {
  try {
    return { value: JSON.parse(json) as unknown };
  } catch {
    return undefined;
  }
}

/** A control notice as another node sent it; anything else (a foreign publisher) is ignored. */
export function parseNotice(message: string): ControlNotice | undefined {
  const value = parseJson(message)?.value;
  if (typeof value !== 'object' || value === null) return undefined;
  const notice = value as Record<string, unknown>;
  const textOf = (key: string): boolean => typeof notice[key] === 'string';
  if (notice.kind === 'disconnect-user' && textOf('user') && textOf('reason')) return value as ControlNotice;
  if (notice.kind === 'disconnect-session' && textOf('session') && textOf('reason')) return value as ControlNotice;
  if (notice.kind === 'end' && textOf('session') && textOf('connection')) return value as ControlNotice;
  if (notice.kind === 'takeover' && textOf('session') && textOf('connection') && (notice.generation === undefined || Number.isSafeInteger(notice.generation))) return value as ControlNotice;
  return undefined;
}
