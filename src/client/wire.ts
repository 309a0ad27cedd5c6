import type { Position } from '../core/position.js';
import { ReplyError } from './reply-error.js';
import type { PresenceMember } from './subscription.js';

export { PROTOCOL } from '../protocol/protocol-name.js';

/** A decoded server message: a JSON object with a string `type`; every other field still unchecked. */
export type ServerMessage = { readonly type: string; readonly [field: string]: unknown };

/** Parses one text frame; undefined for anything that is not a protocol message. */
export function decodeServerMessage(data: unknown): ServerMessage | undefined {
  if (typeof data !== 'string') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string' ? (value as ServerMessage) : undefined;
}

export function isPosition(value: unknown): value is Position {
  const p = value as Position | null;
  return typeof p === 'object' && p !== null && typeof p.epoch === 'string' && Number.isSafeInteger(p.offset);
}

/** The error a server `error` reply stands for. */
export function remoteError(message: ServerMessage): ReplyError {
  return new ReplyError(String(message.code), typeof message.message === 'string' ? message.message : String(message.code), true);
}

/** What the messages of a welcomed link are turned into. */
export interface ServerMessagePort {
  event(channel: string, data: unknown, position: Position): void;
  direct(seq: number, data: unknown): void;
  presence(channel: string, action: 'join' | 'leave', member: PresenceMember): void;
  /** A reply to one of our messages (`ack`, `result`, `subscribed`, `presence.list`, `error` with an id). */
  reply(id: number, message: ServerMessage): void;
  /** An `error` about the connection rather than one message. */
  error(error: ReplyError): void;
}

/** Checks the fields one message type needs and hands it on; malformed or unknown messages are dropped (unknown types are how later versions extend). */
export function routeServerMessage(message: ServerMessage, port: ServerMessagePort): void {
  const { type, id, channel } = message;
  if (typeof id === 'number' && (type === 'ack' || type === 'result' || type === 'error' || type === 'subscribed' || type === 'presence.list')) return port.reply(id, message);
  if (type === 'error') return port.error(remoteError(message));
  if (type === 'message' && Number.isSafeInteger(message.seq)) return port.direct(message.seq as number, message.data);
  if (typeof channel !== 'string') return;
  if (type === 'event') {
    const position = { epoch: message.epoch, offset: message.offset };
    if (isPosition(position)) port.event(channel, message.data, position);
  } else if (type === 'presence') {
    const member = (message.join ?? message.leave) as PresenceMember | undefined;
    if (typeof member?.client === 'string') port.presence(channel, message.join ? 'join' : 'leave', member);
  }
}
