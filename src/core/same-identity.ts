/**
 * Do two users (as an `authenticate` hook returns them) name the same identity? Compared by
 * value, not by reference and not by serialized text: plain objects with the same keys and
 * values match whatever their key order; arrays match element by element, in order; primitives
 * match by `Object.is`. Anything else (a class instance, a function) matches only itself.
 */
export function sameIdentity(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, index) => sameIdentity(item, b[index]));
  }
  if (!isPlainObject(a) || !isPlainObject(b)) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && sameIdentity(a[key], b[key]));
}

function isPlainObject(value: unknown): value is Readonly<Record<string, unknown>> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
