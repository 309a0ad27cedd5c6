import { MAX_TIMER_MS } from '../core/clock.js';
import { parseUrlCommand, type ParseOutcome } from './args.js';
import { parseTarget, type ConnectTarget } from './connect-target.js';

export interface ProbeConfig {
  readonly target: ConnectTarget;
  readonly json: boolean;
  /** The whole probe (lookup to close) must finish within this, ms. */
  readonly timeout: number;
}

export const DEFAULT_PROBE_TIMEOUT = 10_000;

const options = {
  json: { type: 'boolean' },
  origin: { type: 'string' },
  header: { type: 'string', multiple: true, short: 'H' },
  protocol: { type: 'string', multiple: true },
  token: { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `lifeline probe URL [flags]`, checked; nothing connects here. */
export function parseProbeArgs(argv: readonly string[]): ParseOutcome<ProbeConfig> {
  const parsed = parseUrlCommand(argv, options, 'lifeline probe ws://localhost:8080/ws');
  if (parsed.kind !== 'ok') return parsed;
  const { values, url } = parsed;
  const target = parseTarget({
    url,
    headers: values.header ?? [],
    protocols: values.protocol ?? [],
    token: values.token,
    origin: values.origin,
  });
  if (!target.ok) return { kind: 'error', message: target.message };
  let timeout = DEFAULT_PROBE_TIMEOUT;
  if (values.timeout !== undefined) {
    const text = values.timeout.trim();
    timeout = /^\d{1,10}$/.test(text) ? Number(text) : Number.NaN;
    if (!(timeout >= 1 && timeout <= MAX_TIMER_MS)) return { kind: 'error', message: `--timeout must be an integer from 1 to ${MAX_TIMER_MS} ms (got "${values.timeout}")` };
  }
  return { kind: 'ok', value: { target: target.value, json: values.json === true, timeout } };
}
