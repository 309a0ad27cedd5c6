/**
 * What one line typed into `lifeline connect` asks for. Pure: a line goes in, a command comes
 * out; the session carries it out. A line that does not start with "/" is a message to send
 * (write "//text" to send a message that starts with "/").
 */
export type ConnectCommand =
  | { readonly kind: 'send'; readonly text: string }
  | { readonly kind: 'ping' }
  | { readonly kind: 'close'; readonly code: number; readonly reason: string }
  | { readonly kind: 'quit' }
  | { readonly kind: 'logout' }
  | { readonly kind: 'help' }
  | { readonly kind: 'sub'; readonly channel: string }
  | { readonly kind: 'unsub'; readonly channel: string }
  | { readonly kind: 'pub'; readonly channel: string; readonly data: unknown }
  | { readonly kind: 'req'; readonly method: string; readonly params: unknown }
  | { readonly kind: 'invalid'; readonly message: string };

/** Commands of the channel protocol: they need a Lifeline server (`--protocol lifeline.v1`). */
export const lifelineCommands: ReadonlySet<ConnectCommand['kind']> = new Set(['sub', 'unsub', 'pub', 'req', 'logout']);

interface CommandDoc {
  readonly usage: string;
  readonly text: string;
  readonly lifeline?: boolean;
}

/** `/help`'s list, also printed by `lifeline connect --help`. */
export const commandDocs: readonly CommandDoc[] = [
  { usage: '/ping', text: 'send a WebSocket ping and print the round trip' },
  { usage: '/close [CODE [REASON]]', text: 'close cleanly with CODE (1000, or 3000-4999) and exit' },
  { usage: '/quit', text: 'close with 1000 and exit (as does end of input, Ctrl-D)' },
  { usage: '/help', text: 'list these commands' },
  { usage: '/sub CHANNEL', text: 'subscribe; prints each event with its offset', lifeline: true },
  { usage: '/unsub CHANNEL', text: 'unsubscribe', lifeline: true },
  { usage: '/pub CHANNEL JSON', text: 'publish JSON (once, even across reconnects); prints the ack', lifeline: true },
  { usage: '/req METHOD [JSON]', text: 'call a server handler; prints its result or error code', lifeline: true },
  { usage: '/logout', text: 'end the session on the server (it cannot be resumed) and exit', lifeline: true },
  { usage: 'TEXT', text: 'other lines are sent as text ("//x" sends "/x"); not with lifeline.v1' },
];

const invalid = (message: string): ConnectCommand => ({ kind: 'invalid', message });

export function parseCommand(line: string): ConnectCommand {
  if (!line.startsWith('/')) return { kind: 'send', text: line };
  if (line.startsWith('//')) return { kind: 'send', text: line.slice(1) };
  const trimmed = line.trim();
  const space = trimmed.search(/\s/);
  const name = space === -1 ? trimmed : trimmed.slice(0, space);
  const rest = space === -1 ? '' : trimmed.slice(space).trim();
  switch (name) {
    case '/ping':
      return rest === '' ? { kind: 'ping' } : invalid('/ping takes no arguments');
    case '/quit':
    case '/exit':
      return { kind: 'quit' };
    case '/logout':
      return rest === '' ? { kind: 'logout' } : invalid('/logout takes no arguments');
    case '/help':
    case '/?':
      return { kind: 'help' };
    case '/close':
      return closeCommand(rest);
    case '/sub':
    case '/unsub':
      return channelCommand(name, rest);
    case '/pub':
      return pubCommand(rest);
    case '/req':
      return reqCommand(rest);
    default:
      return invalid(`unknown command ${name}; /help lists the commands (write //${name.slice(1)} to send it as text)`);
  }
}

function closeCommand(rest: string): ConnectCommand {
  if (rest === '') return { kind: 'close', code: 1000, reason: '' };
  const [codeText = '', ...words] = rest.split(/\s+/);
  if (!/^\d{1,5}$/.test(codeText)) return invalid(`/close wants a numeric close code, e.g. /close 4000 done (got "${codeText}")`);
  // The reason keeps its inner spacing: only the code is split off.
  return { kind: 'close', code: Number(codeText), reason: words.length === 0 ? '' : rest.slice(codeText.length).trim() };
}

function channelCommand(name: '/sub' | '/unsub', rest: string): ConnectCommand {
  if (rest === '' || /\s/.test(rest)) return invalid(`${name} wants one channel name, e.g. ${name} chat:lobby`);
  return { kind: name === '/sub' ? 'sub' : 'unsub', channel: rest };
}

function pubCommand(rest: string): ConnectCommand {
  const space = rest.search(/\s/);
  if (rest === '' || space === -1) return invalid('/pub wants a channel and JSON, e.g. /pub chat:lobby {"text":"hi"}');
  const json = parseJson(rest.slice(space).trim());
  if (!json.ok) return invalid(`/pub: ${json.message}`);
  return { kind: 'pub', channel: rest.slice(0, space), data: json.value };
}

function reqCommand(rest: string): ConnectCommand {
  if (rest === '') return invalid('/req wants a method and optional JSON params, e.g. /req rooms.list {}');
  const space = rest.search(/\s/);
  if (space === -1) return { kind: 'req', method: rest, params: undefined };
  const json = parseJson(rest.slice(space).trim());
  if (!json.ok) return invalid(`/req: ${json.message}`);
  return { kind: 'req', method: rest.slice(0, space), params: json.value };
}

function parseJson(text: string): { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly message: string } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, message: `not valid JSON (${error instanceof Error ? error.message : String(error)}): ${text}` };
  }
}
