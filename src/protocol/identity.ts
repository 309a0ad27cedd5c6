/**
 * Who a session belongs to, compared by value: two users are the same when their JSON values are
 * equal, whatever the order of their object keys (a token decoded twice may list claims in
 * another order).
 */

/** JSON text of `value` with every object's keys sorted: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, field: unknown) => {
    if (typeof field !== 'object' || field === null || Array.isArray(field)) return field;
    const sorted = Object.create(null) as Record<string, unknown>; // a `__proto__` key stays a key
    for (const key of Object.keys(field).sort()) sorted[key] = (field as Record<string, unknown>)[key];
    return sorted;
  });
}

/** Whether two users are the same identity (null and absent are the same: anonymous). */
export function sameIdentity(a: unknown, b: unknown): boolean {
  return canonicalJson(a ?? null) === canonicalJson(b ?? null);
}

/** The key a user's sessions are counted under; undefined for an anonymous (null or absent) user. */
export function identityKey(user: unknown): string | undefined {
  return user === undefined || user === null ? undefined : canonicalJson(user);
}
