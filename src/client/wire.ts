import type { Position } from '../core/position.js';
import { ReplyError } from './reply-error.js';

/** The subprotocol of the channel protocol (docs/protocol.md); the server's `PROTOCOL`, without its validator. */
export const PROTOCOL = 'lifeline.v1';

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
