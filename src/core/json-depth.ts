/**
 * How deeply a JSON value nests, checked without recursion: JSON.parse accepts any depth, but
 * recursive code later (schema checks, JSON.stringify) overflows the stack on a few hundred
 * kilobytes of `[[[[...]]]]`. A peer's message nested deeper than a limit is refused up front.
 */
export const MAX_JSON_DEPTH = 100;

/** True when `value` nests arrays/objects more than `limit` levels deep. */
export function nestedDeeperThan(value: unknown, limit: number = MAX_JSON_DEPTH): boolean {
  const stack: { readonly value: unknown; readonly depth: number }[] = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop() as { value: unknown; depth: number };
    if (current === null || typeof current !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (child !== null && typeof child === 'object') stack.push({ value: child, depth: depth + 1 });
    }
  }
  return false;
}
