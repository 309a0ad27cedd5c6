import type { OutboxEntry, OutboxSnapshot } from './outbox-store.js';

/** The longest session id and resume secret a `hello` carries (docs/protocol.md §1). */
const MAX_SESSION = 64;
const MAX_SECRET = 128;

/**
 * What a store handed back, checked field by field before a client trusts it: a session and
 * secret a `hello` can carry, and entries the server can answer (a body that is the JSON object
 * of a publish or request; an id that is 0 or a positive integer no other entry holds). Throws an
 * Error naming the first field at fault: an entry the server could not answer would stay pending
 * (and stored) for ever, and a session it refuses would keep every `hello` unanswered.
 */
export function outboxSnapshot(value: unknown): OutboxSnapshot {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
  const { session, secret, entries } = value as { session?: unknown; secret?: unknown; entries?: unknown };
  if (session !== undefined && !isText(session, MAX_SESSION)) throw new Error(`"session" is not a string of 1-${MAX_SESSION} characters`);
  if (secret !== undefined && !isText(secret, MAX_SECRET)) throw new Error(`"secret" is not a string of 1-${MAX_SECRET} characters`);
  if (!Array.isArray(entries)) throw new Error('"entries" is not an array');
  const ids = new Set<number>();
  entries.forEach((entry: unknown, index) => {
    if (!isEntry(entry)) throw new Error(`entries[${index}] is not an outbox entry`);
    if (entry.id === 0) return;
    if (ids.has(entry.id)) throw new Error(`entries[${index}] has the id of an entry before it (${entry.id})`);
    ids.add(entry.id);
  });
  return { ...(session === undefined ? {} : { session }), ...(secret === undefined ? {} : { secret }), entries: entries as OutboxEntry[] };
}

function isText(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= max;
}

function isEntry(value: unknown): value is OutboxEntry {
  const entry = value as Partial<Record<keyof OutboxEntry, unknown>> | null;
  return typeof entry === 'object' && entry !== null && (entry.kind === 'publish' || entry.kind === 'request') && Number.isSafeInteger(entry.id) && (entry.id as number) >= 0 && isBodyOf(entry.body, entry.kind);
}

/** JSON text of an object whose `type` is the entry's kind (as the client wrote it: no id). */
function isBodyOf(body: unknown, kind: string): boolean {
  if (typeof body !== 'string' || !body.startsWith('{')) return false;
  try {
    const message = JSON.parse(body) as { type?: unknown; id?: unknown } | null;
    return typeof message === 'object' && message !== null && message.type === kind && message.id === undefined;
  } catch {
    return false;
  }
}
