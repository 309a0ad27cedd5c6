import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { z } from 'zod';
import { parseFailure, type ParseOutcome } from './args.js';
import { channelsJson, deflateJson, issueText, serveKeys, serveSchemas, type ServeConfig, type ServeKey } from '../standalone/serve-config.js';

export { serveKeys, serveSchemas, type ServeConfig, type ServeKey } from '../standalone/serve-config.js';

/** On/off flags: `--demo` alone means on (their env vars and config keys take true/false). */
export const switchKeys: ReadonlySet<ServeKey> = new Set<ServeKey>(['demo', 'allowAnonymous', 'allowTokensWithoutExp']);

/** Settings whose config-file value is structured JSON, validated as such (the rest are strings, numbers, booleans or lists). */
const configSchemas: { readonly [K in ServeKey]?: z.ZodType<z.output<(typeof serveSchemas)[K]>> } = {
  channels: channelsJson,
  perMessageDeflate: deflateJson,
};

/** `maxPayload` -> `max-payload`. */
export function flagName(key: ServeKey): string {
  return key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** `maxPayload` -> `LIFELINE_MAX_PAYLOAD`. */
export function envName(key: ServeKey): string {
  return `LIFELINE_${flagName(key).replace(/-/g, '_').toUpperCase()}`;
}

const parseOptions = Object.fromEntries([
  ...serveKeys.map((key) => [flagName(key), { type: switchKeys.has(key) ? ('boolean' as const) : ('string' as const) }]),
  ['help', { type: 'boolean' as const, short: 'h' }],
]);

/** Reads the config file; injected so the parser stays testable without a disk. */
export type ReadText = (path: string) => string;

const readUtf8: ReadText = (path) => readFileSync(path, 'utf8');

/**
 * Flags, then `LIFELINE_*` env vars (an empty one counts as unset), then the `--config` JSON
 * file, each validated; what none of them sets takes its default. Errors name where the bad
 * value came from, so `LIFELINE_PORT=abc` is not reported as `--port`.
 */
export function parseServeArgs(argv: readonly string[], env: NodeJS.ProcessEnv, readText: ReadText = readUtf8): ParseOutcome<ServeConfig> {
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    values = parseArgs({ args: [...argv], options: parseOptions, strict: true, allowPositionals: false }).values;
  } catch (error) {
    return parseFailure(error);
  }
  if (values.help === true) return { kind: 'help' };
  const config: Record<string, unknown> = {};
  for (const key of serveKeys) {
    const flagValue = values[flagName(key)];
    const envValue = env[envName(key)];
    let source: string;
    let raw: string;
    if (flagValue === true) {
      config[key] = true;
      continue;
    } else if (typeof flagValue === 'string') [source, raw] = [`--${flagName(key)}`, flagValue];
    else if (envValue !== undefined && envValue !== '') [source, raw] = [envName(key), envValue];
    else continue;
    const parsed = serveSchemas[key].safeParse(raw);
    if (!parsed.success) return { kind: 'error', message: `${source} ${issueText(parsed.error)} (got "${shown(key, raw)}")` };
    config[key] = parsed.data;
  }
  if (typeof config.config === 'string') {
    const fromFile = readConfigFile(config.config, readText);
    if (fromFile.kind !== 'ok') return fromFile;
    for (const [key, value] of Object.entries(fromFile.value)) if (!(key in config)) config[key] = value;
  }
  return { kind: 'ok', value: config as ServeConfig };
}

/** Secrets are never echoed back in an error message. */
function shown(key: ServeKey, raw: string): string {
  // A Redis URL may carry a password.
  return key === 'jwtSecret' || key === 'apiKey' || key === 'metricsKey' || key === 'redis' || key === 'redisCluster' ? '(hidden)' : raw;
}

/** The `--config` file: a JSON object whose keys are the settings' names (`maxPayload`, `jwtSecret`, `channels`, ...). */
export function readConfigFile(path: string, readText: ReadText = readUtf8): ParseOutcome<ServeConfig> {
  let text: string;
  try {
    text = readText(path);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return { kind: 'error', message: `cannot read config file ${path}: ${code === 'ENOENT' ? 'no such file' : String(code ?? error)}` };
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    // Where, never what: the parser's message quotes the file's text, which may hold secrets.
    const at = /position (\d+)/.exec(error instanceof Error ? error.message : '')?.[1];
    return { kind: 'error', message: `config file ${path} is not valid JSON${at === undefined ? '' : ` (at character ${at})`}` };
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    return { kind: 'error', message: `config file ${path} must hold a JSON object of settings` };
  }
  const config: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(document)) {
    const key = serveKeys.find((candidate) => candidate === name);
    if (key === 'config') return { kind: 'error', message: `config file ${path}: "config" cannot name another config file` };
    if (key === undefined) return { kind: 'error', message: `config file ${path}: unknown key "${name}"${hint(name)}` };
    const parsed = parseConfigValue(key, value);
    if (!parsed.success) return { kind: 'error', message: `config file ${path}: ${key} ${parsed.message}` };
    config[key] = parsed.value;
  }
  return { kind: 'ok', value: config as ServeConfig };
}

function parseConfigValue(key: ServeKey, value: unknown): { success: true; value: unknown } | { success: false; message: string } {
  const structured = configSchemas[key];
  if (structured) {
    const parsed = structured.safeParse(value);
    return parsed.success ? { success: true, value: parsed.data } : { success: false, message: issueText(parsed.error) };
  }
  // Scalars and lists go through the same parser as a flag, so both are checked alike.
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean') text = String(value);
  else if (Array.isArray(value) && value.every((item) => typeof item === 'string')) text = value.join(',');
  else return { success: false, message: `must be a string, number or boolean (got ${shown(key, JSON.stringify(value))})` };
  const parsed = serveSchemas[key].safeParse(text);
  return parsed.success ? { success: true, value: parsed.data } : { success: false, message: `${issueText(parsed.error)} (got ${shown(key, JSON.stringify(value))})` };
}

/** `max-payload` or `MAX_PAYLOAD` written in a config file: name the key that was meant. */
function hint(name: string): string {
  const normalized = name.toLowerCase().replace(/[-_]/g, '');
  const meant = serveKeys.find((key) => key.toLowerCase() === normalized);
  return meant === undefined ? '' : ` (did you mean "${meant}"?)`;
}
