/**
 * Narrowing of raw Redis replies (RESP2: strings, integers, arrays, null) into what the broker
 * expects; a reply of another shape is a bug or a foreign key under our prefix, reported clearly.
 */

function unexpected(what: string, value: unknown): Error {
  return new Error(`unexpected Redis reply: expected ${what}, got ${JSON.stringify(value) ?? typeof value}`);
}

export function array(value: unknown): readonly unknown[] {
  if (!Array.isArray(value)) throw unexpected('an array', value);
  return value as readonly unknown[];
}

export function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  throw unexpected('a string', value);
}

/** A string reply, or undefined for a nil one (Lua `false` arrives as nil). */
export function optionalText(value: unknown): string | undefined {
  return value === null || value === undefined ? undefined : text(value);
}

export function integer(value: unknown): number {
  const number = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  if (!Number.isSafeInteger(number)) throw unexpected('an integer', value);
  return number;
}

/** `"<n>:<json>"` (a sorted-set member that carries its own score) -> [n, json]. */
export function splitMember(member: string): [number, string] {
  const colon = member.indexOf(':');
  return [integer(member.slice(0, colon)), member.slice(colon + 1)];
}

/** A stream entry `[id, [field, value, ...]]` with fields `o` (offset) and `d` (data JSON). */
export function parseEntry(entry: unknown): { readonly offset: number; readonly data: unknown } {
  const [, fields] = array(entry);
  const list = array(fields);
  let offset: number | undefined;
  let data: unknown;
  for (let i = 0; i + 1 < list.length; i += 2) {
    const field = text(list[i]);
    if (field === 'o') offset = integer(list[i + 1]);
    else if (field === 'd') data = JSON.parse(text(list[i + 1])) as unknown;
  }
  if (offset === undefined) throw unexpected('a history entry with an offset', entry);
  return { offset, data };
}
