/**
 * Where a client command connects and what it sends on the opening handshake: the URL, extra
 * headers and the subprotocols offered. Shared by `lifeline connect` and `lifeline probe`, so
 * both read their flags the same way and word their errors alike.
 */
export interface ConnectTarget {
  /** A ws: or wss: URL (http: and https: are read as ws: and wss:, as ws itself does). */
  readonly url: URL;
  /** Header name -> value, in the order given; a later flag for the same name wins. */
  readonly headers: Readonly<Record<string, string>>;
  readonly protocols: readonly string[];
}

export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
const fail = (message: string): Checked<never> => ({ ok: false, message });

/** An HTTP token (RFC 9110 §5.6.2): what a header name and a subprotocol must be. */
const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Header names ws writes itself; setting them by hand would break the handshake. */
const reserved = new Set(['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol', 'sec-websocket-extensions', 'connection', 'upgrade', 'host']);

/** `ws://`, `wss://`, or `http(s)://` (read as ws/wss); a fragment is refused (RFC 6455 §3). */
export function parseUrl(text: string): Checked<URL> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return fail(`"${text}" is not a URL; write it like ws://localhost:8080/ws`);
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') url = new URL(`${url.protocol === 'http:' ? 'ws' : 'wss'}:${url.href.slice(url.protocol.length)}`);
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') return fail(`"${text}" must start with ws:// or wss://`);
  if (url.hash !== '') return fail(`"${text}" has a fragment (#...), which a WebSocket URL may not have`);
  if (url.hostname === '') return fail(`"${text}" has no host`);
  return ok(url);
}

/** `Name: value` (or `Name:value`) for `--header`. */
export function parseHeader(text: string): Checked<readonly [name: string, value: string]> {
  const colon = text.indexOf(':');
  const name = colon === -1 ? '' : text.slice(0, colon).trim();
  if (colon === -1 || !token.test(name)) return fail(`--header wants "Name: value" (got "${text}")`);
  if (reserved.has(name.toLowerCase())) return fail(`--header ${name} is set by the WebSocket handshake itself${name.toLowerCase() === 'sec-websocket-protocol' ? '; use --protocol' : ''}`);
  const value = text.slice(colon + 1).trim();
  if (/[\r\n\0]/.test(value)) return fail(`--header ${name} has a line break in its value`);
  return ok([name, value]);
}

export function parseProtocol(text: string): Checked<string> {
  return token.test(text) ? ok(text) : fail(`--protocol wants a subprotocol name such as lifeline.v1 (got "${text}")`);
}

export interface TargetFlags {
  readonly url: string;
  readonly headers: readonly string[];
  readonly protocols: readonly string[];
  readonly token?: string | undefined;
  readonly origin?: string | undefined;
}

/** Checks every connection flag; `--token T` becomes `Authorization: Bearer T`, `--origin` the Origin header. */
export function parseTarget(flags: TargetFlags): Checked<ConnectTarget> {
  const url = parseUrl(flags.url);
  if (!url.ok) return url;
  const headers: Record<string, string> = {};
  const set = (name: string, value: string): void => {
    // Case-insensitive names: the later flag replaces the earlier one, keeping its spelling.
    for (const existing of Object.keys(headers)) if (existing.toLowerCase() === name.toLowerCase()) delete headers[existing];
    headers[name] = value;
  };
  for (const text of flags.headers) {
    const header = parseHeader(text);
    if (!header.ok) return header;
    set(...header.value);
  }
  if (flags.origin !== undefined) {
    const origin = originOf(flags.origin);
    if (origin === undefined) return fail(`--origin wants an origin like https://app.example.com (got "${flags.origin}")`);
    set('Origin', origin);
  }
  if (flags.token !== undefined) {
    if (flags.token === '' || /[\s\0]/.test(flags.token)) return fail('--token wants a token without spaces or line breaks');
    set('Authorization', `Bearer ${flags.token}`);
  }
  const protocols: string[] = [];
  for (const text of flags.protocols) {
    const protocol = parseProtocol(text);
    if (!protocol.ok) return protocol;
    if (protocols.includes(protocol.value)) return fail(`--protocol ${protocol.value} is given twice`);
    protocols.push(protocol.value);
  }
  return ok({ url: url.value, headers, protocols });
}

function originOf(text: string): string | undefined {
  try {
    const url = new URL(text);
    return url.origin === 'null' ? undefined : url.origin;
  } catch {
    return undefined;
  }
}

/** The URL with any password masked, for printing. */
export function printableUrl(url: URL): string {
  if (url.password === '') return url.href;
  const copy = new URL(url.href);
  copy.password = '***';
  return copy.href;
}
