import { parseArgs } from 'node:util';
import { z } from 'zod';
import { parseFailure, type ParseOutcome } from './args.js';

/** Node timers overflow above 2^31-1 ms (about 24.8 days) and then fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

function integer(min: number, max: number) {
  const range = `must be an integer from ${min} to ${max}`;
  return z
    .string()
    .trim()
    .regex(/^\d+$/, range)
    .transform(Number)
    .pipe(z.number().min(min, range).max(max, range));
}

/** `*`, or a comma list of origins (`https://app.example.com`), normalized the way browsers send them. */
const originList = z
  .string()
  .trim()
  .min(1, 'must be "*" or a comma-separated list of origins')
  .transform((text, context): readonly string[] | '*' => {
    if (text === '*') return '*';
    const origins: string[] = [];
    for (const item of text.split(',').map((part) => part.trim()).filter((part) => part !== '')) {
      const origin = originOf(item);
      if (origin === undefined) {
        context.addIssue({ code: 'custom', message: `has "${item}", which is not an origin like https://app.example.com` });
        return z.NEVER;
      }
      origins.push(origin);
    }
    return origins;
  });

function originOf(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  const bare = url.pathname === '/' && url.search === '' && url.hash === '' && url.username === '';
  return bare && (url.protocol === 'http:' || url.protocol === 'https:') ? url.origin : undefined;
}

/**
 * Every `serve` setting: its parser from the command-line string, in the order help lists them.
 * The flag (`--max-payload`) and the env name (`LIFELINE_MAX_PAYLOAD`) derive from the key, so
 * a new setting is one line here plus one line of help.
 */
export const serveSchemas = {
  port: integer(0, 65535),
  host: z.string().trim().min(1, 'must not be empty'),
  path: z.string().regex(/^\/[\x21-\x7e]*$/, 'must start with "/" and contain no spaces'),
  allowedOrigins: originList,
  maxConnections: integer(1, Number.MAX_SAFE_INTEGER),
  maxPayload: integer(1, 2 ** 32),
  pingInterval: integer(0, MAX_TIMER_MS),
  pongTimeout: integer(1, MAX_TIMER_MS),
  handshakeTimeout: integer(1, MAX_TIMER_MS),
  drainTimeout: integer(0, MAX_TIMER_MS),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    error: 'must be one of fatal, error, warn, info, debug, trace, silent',
  }),
} as const;

export type ServeKey = keyof typeof serveSchemas;

/** The validated settings; absent ones take the server's documented defaults. */
export type ServeConfig = { readonly [K in ServeKey]?: z.output<(typeof serveSchemas)[K]> };

export const serveKeys = Object.keys(serveSchemas) as ServeKey[];

/** `maxPayload` -> `max-payload`. */
export function flagName(key: ServeKey): string {
  return key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** `maxPayload` -> `LIFELINE_MAX_PAYLOAD`. */
export function envName(key: ServeKey): string {
  return `LIFELINE_${flagName(key).replace(/-/g, '_').toUpperCase()}`;
}

const parseOptions = Object.fromEntries([
  ...serveKeys.map((key) => [flagName(key), { type: 'string' as const }]),
  ['help', { type: 'boolean' as const, short: 'h' }],
]);

/**
 * Flags, then `LIFELINE_*` env vars (a flag wins; an empty env var counts as unset), each
 * validated. Errors name where the bad value came from, so `LIFELINE_PORT=abc` is not
 * reported as `--port`.
 */
export function parseServeArgs(argv: readonly string[], env: NodeJS.ProcessEnv): ParseOutcome<ServeConfig> {
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
    const [source, raw] =
      typeof flagValue === 'string' ? [`--${flagName(key)}`, flagValue] : envValue !== undefined && envValue !== '' ? [envName(key), envValue] : [];
    if (source === undefined || raw === undefined) continue;
    const parsed = serveSchemas[key].safeParse(raw);
    if (!parsed.success) {
      const message = parsed.error.issues[0]?.message ?? 'is invalid';
      return { kind: 'error', message: `${source} ${message} (got "${raw}")` };
    }
    config[key] = parsed.data;
  }
  return { kind: 'ok', value: config as ServeConfig };
}
