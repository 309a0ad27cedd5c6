/**
 * How deeply a JSON value nests, checked without recursion: JSON.parse accepts any depth, but
 * recursive code later (schema checks, JSON.stringify) overflows the stack on a few hundred
 * kilobytes of `[[[[...]]]]`. A peer's message nested deeper than a limit is refused up front.
 */
export const MAX_JSON_DEPTH = 100;

/** True when `value` nests arrays/objects more than `limit` levels deep. */
export function nestedDeeperThan(value: unknown, limit: number = MAX_JSON_DEPTH): boolean {
  if (value === null || typeof value !== 'object') return false;
  // A flat object or array (most messages) has nothing below it to walk: decided with no allocation.
  if (limit > 0 && !hasNested(value)) return false;
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

/** Whether an object or array holds an object or array. */
function hasNested(value: object): boolean {
  if (Array.isArray(value)) {
    for (const child of value as unknown[]) if (child !== null && typeof child === 'object') return true;
    return false;
  }
  for (const key in value) {
    const child = (value as Record<string, unknown>)[key];
    if (child !== null && typeof child === 'object') return true;
  }
  return false;
}
