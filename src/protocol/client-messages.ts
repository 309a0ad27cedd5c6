import { z } from 'zod';
import type { Envelope } from '../core/envelope.js';
import { MAX_JSON_DEPTH, nestedDeeperThan } from '../core/json-depth.js';
import { MAX_REWIND_COUNT, MAX_REWIND_MS } from '../core/rewind.js';

/** An idempotency key: 1-255 printable ASCII characters (no space), as the HTTP header carries one. */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

const CHANNEL_NAME_RULE = /^[A-Za-z0-9:_\-.@/=]+$/;
const id = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
export const channelName = z.string().min(1).max(200).regex(CHANNEL_NAME_RULE, 'channel names use A-Z a-z 0-9 : _ - . @ / =');
const position = z.object({ epoch: z.string().min(1).max(64), offset: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER) });
const token = z.string().min(1).max(16_384);
/** A new subscriber's look back: the last `count` events, those of the last `ms`, or both. */
const rewind = z
  .object({ count: z.number().int().min(1).max(MAX_REWIND_COUNT).optional(), ms: z.number().int().min(1).max(MAX_REWIND_MS).optional() })
  .strict()
  .refine((value) => value.count !== undefined || value.ms !== undefined, 'wants count, ms or both');
/**
 * Any JSON value, kept as it arrived (the envelope came from JSON.parse, so it is JSON): not
 * rebuilt by the schema, which would drop a `__proto__` key and recurse over deep values.
 */
const jsonValue = z.unknown().refine((value) => value !== undefined, 'is required (any JSON value)');

/** Every message a client may send, by type: the validator is the protocol's single source of truth (the hot paths below follow it). */
export const clientMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), v: z.literal(1), session: z.string().min(1).max(64).optional(), secret: z.string().min(1).max(128).optional() }),
  z.object({ type: z.literal('subscribe'), id, channel: channelName, since: position.optional(), rewind: rewind.optional() }),
  z.object({ type: z.literal('unsubscribe'), id, channel: channelName }),
  z.object({ type: z.literal('publish'), id, channel: channelName, data: jsonValue, idempotencyKey: z.string().regex(IDEMPOTENCY_KEY, 'an idempotency key is 1-255 printable ASCII characters').optional() }),
  z.object({ type: z.literal('request'), id, method: z.string().min(1).max(100), params: z.unknown().optional() }),
  z.object({ type: z.literal('ack'), seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER) }),
  z.object({ type: z.literal('presence.get'), id, channel: channelName }),
  z.object({ type: z.literal('refresh'), token }),
  /** Ends the session for good (logging out): nothing after it on the connection is processed. */
  z.object({ type: z.literal('end') }),
]);

export type ClientMessage = z.infer<typeof clientMessageSchema>;
export type ClientMessageOf<T extends ClientMessage['type']> = Extract<ClientMessage, { type: T }>;

const knownTypes: ReadonlySet<string> = new Set(clientMessageSchema.options.map((option) => option.shape.type.value));

export type Parsed = { readonly ok: true; readonly message: ClientMessage } | { readonly ok: false; readonly code: 'unknown_type' | 'bad_message'; readonly detail: string; readonly id?: number };

/** Validates one envelope; a refusal names the first field at fault. */
export function parseClientMessage(envelope: Envelope): Parsed {
  if (!knownTypes.has(envelope.type)) return { ok: false, code: 'unknown_type', detail: `unknown message type "${envelope.type}"` };
  if (nestedDeeperThan(envelope)) return refusal(envelope, `${envelope.type}: nested more than ${MAX_JSON_DEPTH} levels deep`);
  const fast = hotMessage(envelope);
  if (fast) return { ok: true, message: fast };
  const result = clientMessageSchema.safeParse(envelope);
  if (result.success) return { ok: true, message: result.data };
  const issue = result.error.issues[0];
  const field = issue?.path.join('.') || 'message';
  return refusal(envelope, `${envelope.type}: ${field}: ${issue?.message ?? 'invalid'}`);
}

function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= Number.MAX_SAFE_INTEGER;
}

/**
 * The messages every client sends on connecting (`hello`, `subscribe` without `rewind`) and those
 * a busy client sends most (`request`, `publish` without an idempotency key), checked by hand
 * against the same rules as the schema and built the way it builds them (only the known
 * fields). Anything else, valid or not, is left to the schema (undefined).
 */
function hotMessage(envelope: Envelope): ClientMessage | undefined {
  if (envelope.type === 'hello') return hotHello(envelope);
  const { id } = envelope;
  if (!isId(id)) return undefined;
  if (envelope.type === 'request') {
    const { method, params } = envelope;
    if (typeof method !== 'string' || method.length < 1 || method.length > 100) return undefined;
    return 'params' in envelope ? { type: 'request', id, method, params } : { type: 'request', id, method };
  }
  if (envelope.type === 'publish') {
    const { channel, data } = envelope;
    if (data === undefined || envelope.idempotencyKey !== undefined || !isChannelName(channel)) return undefined;
    return { type: 'publish', id, channel, data };
  }
  if (envelope.type === 'subscribe') {
    const { channel, since } = envelope;
    if (envelope.rewind !== undefined || !isChannelName(channel)) return undefined;
    if (since === undefined) return { type: 'subscribe', id, channel };
    const position = hotPosition(since);
    return position && { type: 'subscribe', id, channel, since: position };
  }
  return undefined;
}

function hotHello(envelope: Envelope): ClientMessage | undefined {
  const { v, session, secret } = envelope;
  if (v !== 1 || !optionalText(session, 64) || !optionalText(secret, 128)) return undefined;
  if (session === undefined && secret === undefined) return { type: 'hello', v: 1 };
  return { type: 'hello', v: 1, ...(session === undefined ? {} : { session }), ...(secret === undefined ? {} : { secret }) };
}

function hotPosition(value: unknown): { epoch: string; offset: number } | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { epoch, offset } = value as { epoch?: unknown; offset?: unknown };
  if (typeof epoch !== 'string' || epoch.length < 1 || epoch.length > 64) return undefined;
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0 || offset > Number.MAX_SAFE_INTEGER) return undefined;
  return { epoch, offset };
}

function isChannelName(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= 200 && CHANNEL_NAME_RULE.test(value);
}

/** Absent, or a string of 1 to `max` characters. */
function optionalText(value: unknown, max: number): value is string | undefined {
  return value === undefined || (typeof value === 'string' && value.length >= 1 && value.length <= max);
}

/** A `bad_message`, answered to the message's id when it has a usable one. */
function refusal(envelope: Envelope, detail: string): Parsed {
  const rawId = envelope.id;
  return typeof rawId === 'number' && Number.isSafeInteger(rawId) && rawId > 0 ? { ok: false, code: 'bad_message', detail, id: rawId } : { ok: false, code: 'bad_message', detail };
}
