/**
 * The argument steps of the WHATWG `WebSocket` constructor, so a bad URL or subprotocol list
 * throws at once, as it does for the platform's own `WebSocket`.
 */

/** A `SyntaxError` `DOMException` where the platform has one, else a plain `SyntaxError`. */
export function syntaxError(message: string): Error {
  return typeof DOMException === 'function' ? new DOMException(message, 'SyntaxError') : new SyntaxError(message);
}

/** The serialized URL to connect to (`http:`/`https:` become `ws:`/`wss:`), or a SyntaxError. */
export function websocketUrl(url: string | URL): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url, (globalThis as { location?: { href: string } }).location?.href);
  } catch {
    // reported below
  }
  const scheme = parsed?.protocol;
  if (parsed && (scheme === 'http:' || scheme === 'https:')) parsed.protocol = scheme === 'http:' ? 'ws:' : 'wss:';
  const href = parsed?.href;
  if (!href || !/^wss?:/.test(href) || href.includes('#')) throw syntaxError(`invalid WebSocket URL: ${String(url)}`);
  return href;
}

/**
 * The subprotocol list as WHATWG converts it (a string or a sequence of strings; `null`
 * becomes "null"), checked for duplicates and for characters a header token may not hold.
 */
export function subprotocols(value: unknown): string[] {
  const list =
    value === undefined ? [] : typeof value === 'object' && value !== null && Symbol.iterator in value ? [...(value as Iterable<unknown>)].map(String) : [String(value)];
  if (new Set(list).size !== list.length || !list.every((p) => /^[\w!#$%&'*+.^`|~-]+$/.test(p))) throw syntaxError(`invalid subprotocols: ${list.join(', ')}`);
  return list;
}
