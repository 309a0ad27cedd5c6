// How a request-target is read: as sent, never resolved onto a path a proxy in front did not see.

/**
 * The URL of a request-target (RFC 9112 §3.2): a path (origin-form) stays a path, so `//host/x`
 * is the path `//host/x`, never the path `/x` of another host (resolved against a base it
 * would be; a proxy that guards `/metrics` by path passes `//x/metrics` on as it is, and it
 * must not be served as `/metrics`); a whole `http(s)://` URL (absolute-form) is taken
 * as one. Undefined for anything else.
 */
export function targetUrl(target: string): URL | undefined {
  try {
    if (target.startsWith('/')) return new URL(`http://localhost${target}`);
    const url = new URL(target);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/** The path of a request-target as sent: what comes before its query, past the authority of an absolute-form one. */
export function rawPath(target: string): string {
  const end = target.search(/[?#]/);
  const path = end === -1 ? target : target.slice(0, end);
  if (path.startsWith('/')) return path;
  const authority = path.indexOf('//');
  const slash = authority === -1 ? -1 : path.indexOf('/', authority + 2);
  return slash === -1 ? '' : path.slice(slash);
}

/**
 * Whether a request-target's path has a dot segment (`.` or `..`, any of its dots
 * percent-encoded) or a backslash (a URL parser takes it for a slash). A URL resolves them
 * (`/a/../metrics` is `/metrics`), so a proxy guarding a route by path would pass on what would
 * be served as that route: such a target is refused (HTTP routes) or names no endpoint
 * (WebSocket upgrades), never resolved.
 */
export function hasDotSegment(target: string): boolean {
  const path = rawPath(target);
  if (path.includes('\\')) return true;
  return path.split('/').some((segment) => DOT_SEGMENT.test(segment));
}

const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i;
