import type { Position } from '../core/position.js';
import { ReplyError } from './reply-error.js';

export { PROTOCOL } from '../protocol/protocol-name.js';

/** A decoded server message: a JSON object with a string `type`; every other field still unchecked. */
export type ServerMessage = { readonly type: string; readonly [field: string]: unknown };

/** Parses one text frame; undefined for anything that is not a protocol message. */
export function decodeServerMessage(data: unknown): ServerMessage | undefined {
  try {
    // Binary data becomes "[object ArrayBuffer]" (or Blob), which is no JSON: it throws too.
    const value = JSON.parse(data as string) as { type?: unknown } | null;
    // A JSON string, number or array has no string `type` either.
    return typeof value?.type === 'string' ? (value as ServerMessage) : undefined;
  } catch {
    return undefined;
  }
}

export function isPosition(value: unknown): value is Position {
  const p = value as Partial<Position> | null | undefined;
  return typeof p?.epoch === 'string' && Number.isSafeInteger(p.offset);
}

/** The error a server `error` reply stands for. */
export function remoteError(message: ServerMessage): ReplyError {
  return new ReplyError(String(message.code), typeof message.message === 'string' ? message.message : String(message.code), true);
}

/** The messages that answer one of ours (by its `id`): `ack`, `result`, `subscribed`, `presence.list`, and `error` with an id. */
export const REPLIES: readonly string[] = ['ack', 'result', 'error', 'subscribed', 'presence.list'];
