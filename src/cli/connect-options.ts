import { defaultBackoff } from '../core/backoff.js';
import { PROTOCOL } from '../protocol/protocol-name.js';
import { parseUrlCommand, type ParseOutcome } from './args.js';
import { parseTarget, type ConnectTarget } from './connect-target.js';

/** The channel protocol's subprotocol: offering it makes `connect` a Lifeline client. */
export const LIFELINE_PROTOCOL = PROTOCOL;

export interface ConnectConfig {
  readonly target: ConnectTarget;
  /** Speak the channel protocol (`--protocol lifeline.v1`): `/sub`, `/pub`, `/req` work. */
  readonly lifeline: boolean;
  /** One JSON object per output line instead of text. */
  readonly json: boolean;
  /** Retries after a failure before giving up (the client's `maxAttempts`). */
  readonly maxAttempts: number;
  /** `--token-command`: run before every attempt; it prints the token to send. */
  readonly tokenCommand: string | undefined;
  /** Credentials are sent as given (`--token`, or an Authorization header): a refusal of them is final. */
  readonly fixedCredentials: boolean;
}

const options = {
  protocol: { type: 'string', multiple: true },
  header: { type: 'string', multiple: true, short: 'H' },
  token: { type: 'string' },
  'token-command': { type: 'string' },
  json: { type: 'boolean' },
  'max-attempts': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `lifeline connect URL [flags]`, checked; nothing connects here. */
export function parseConnectArgs(argv: readonly string[]): ParseOutcome<ConnectConfig> {
  const parsed = parseUrlCommand(argv, options, 'lifeline connect ws://localhost:8080/ws');
  if (parsed.kind !== 'ok') return parsed;
  const { values, url } = parsed;
  const target = parseTarget({ url, headers: values.header ?? [], protocols: values.protocol ?? [], token: values.token });
  if (!target.ok) return { kind: 'error', message: target.message };
  const { protocols } = target.value;
  const lifeline = protocols.includes(LIFELINE_PROTOCOL);
  if (lifeline && protocols.length > 1) {
    return { kind: 'error', message: `--protocol ${LIFELINE_PROTOCOL} makes this a Lifeline client and cannot be offered with other subprotocols` };
  }
  const attempts = values['max-attempts'];
  let maxAttempts = defaultBackoff.maxAttempts;
  if (attempts !== undefined) {
    if (!/^\d{1,9}$/.test(attempts.trim())) return { kind: 'error', message: `--max-attempts must be an integer of 0 or more (got "${attempts}")` };
    maxAttempts = Number(attempts.trim());
  }
  const tokenCommand = values['token-command'];
  if (tokenCommand !== undefined && tokenCommand.trim() === '') return { kind: 'error', message: '--token-command wants a command that prints a token' };
  if (tokenCommand !== undefined && values.token !== undefined) return { kind: 'error', message: '--token and --token-command cannot be given together' };
  const fixedCredentials = Object.keys(target.value.headers).some((name) => name.toLowerCase() === 'authorization');
  return { kind: 'ok', value: { target: target.value, lifeline, json: values.json === true, maxAttempts, tokenCommand, fixedCredentials } };
}
