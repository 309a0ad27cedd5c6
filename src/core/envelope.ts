/**
 * Application framing: every text message is a JSON object with a string `type`. Binary frames
 * carry opaque payloads and are not decoded here.
 */
export interface Envelope {
  readonly type: string;
  readonly [field: string]: unknown;
}

export const MAX_TYPE_LENGTH = 64;

/** Stable codes for a text message that is not a valid envelope (sent in `error` replies). */
export type EnvelopeErrorCode = 'bad_json' | 'not_object' | 'bad_type';

export type DecodeResult =
  | { readonly ok: true; readonly message: Envelope }
  | { readonly ok: false; readonly code: EnvelopeErrorCode; readonly detail: string };

export function isEnvelope(value: unknown): value is Envelope {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const type = (value as { type?: unknown }).type;
  return typeof type === 'string' && type.length > 0 && type.length <= MAX_TYPE_LENGTH;
}

export function decodeEnvelope(text: string): DecodeResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, code: 'bad_json', detail: 'message is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'not_object', detail: 'message must be a JSON object' };
  }
  if (!isEnvelope(value)) {
    return { ok: false, code: 'bad_type', detail: `message needs a "type" string of 1-${MAX_TYPE_LENGTH} characters` };
  }
  return { ok: true, message: value };
}

/** Serializes an envelope; throws a TypeError for values JSON cannot carry (cycles, BigInt). */
export function encodeEnvelope(message: Envelope): string {
  if (!isEnvelope(message)) throw new TypeError(`an envelope needs a "type" string of 1-${MAX_TYPE_LENGTH} characters`);
  return JSON.stringify(message);
}

/** Lifeline's control messages that every endpoint understands. */
export const PING = '{"type":"ping"}';

/** Cheap test for the control messages, before any JSON parsing on the hot path. */
export function controlType(text: string): 'ping' | 'pong' | undefined {
  if (!text.startsWith('{"type":"p')) return undefined;
  if (text.startsWith('{"type":"ping"')) return 'ping';
  if (text.startsWith('{"type":"pong"')) return 'pong';
  return undefined;
}
