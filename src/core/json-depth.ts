/**
 * How deeply a JSON value nests, checked to a limit (the check recurses no deeper than it):
 * JSON.parse accepts any depth, but recursive code later (schema checks, JSON.stringify)
 * overflows the stack on a few hundred kilobytes of `[[[[...]]]]`. A peer's message nested
 * deeper than a limit is refused up front.
 */
export const MAX_JSON_DEPTH = 100;

/** True when `value` nests arrays/objects more than `limit` levels deep. */
export function nestedDeeperThan(value: unknown, limit: number = MAX_JSON_DEPTH): boolean {
  return value !== null && typeof value === 'object' && reaches(value, limit);
}

/**
 * Whether a container (at the depth `left` counts down from) holds one `left` levels below it.
 * It recurses at most `limit` calls deep, however deep the value (deeper is refused before it
 * is walked), and allocates nothing: a message's depth is checked on every message.
 */
function reaches(value: object, left: number): boolean {
  if (left <= 0) return true;
  if (Array.isArray(value)) {
    for (const child of value as unknown[]) if (child !== null && typeof child === 'object' && reaches(child, left - 1)) return true;
    return false;
  }
  for (const key in value) {
    const child = (value as Record<string, unknown>)[key];
    if (child !== null && typeof child === 'object' && reaches(child, left - 1)) return true;
  }
  return false;
}
