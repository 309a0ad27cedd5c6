/**
 * The settings of the standalone server (`lifeline serve`): each one's name and how its text
 * is validated. They belong to the server they configure; the CLI (src/cli) reads them from
 * flags, `LIFELINE_*` variables and the config file.
 */
import { z } from 'zod';
import { invalidPatterns } from './channel-grants.js';
import { hasDotSegment } from '../server/request-target.js';

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

/** A rate: a positive decimal number (`0.5` is one every two seconds). */
const rate = z
  .string()
  .trim()
  .regex(/^\d+(\.\d+)?$/, 'must be a positive number')
  .transform(Number)
  .pipe(z.number().positive('must be a positive number').max(1e9, 'must be at most 1000000000'));

const yes = new Set(['true', '1', 'yes', 'on']);
const no = new Set(['false', '0', 'no', 'off']);
const booleanText = z
  .string()
  .trim()
  .toLowerCase()
  .refine((text) => yes.has(text) || no.has(text), 'must be true or false')
  .transform((text) => yes.has(text));

/** `*`, or a comma list of origins (`https://app.example.com`), normalized the way browsers send them. */
const originList = z
  .string()
  .trim()
  .min(1, 'must be "*" or a comma-separated list of origins')
  .transform((text, context): readonly string[] | '*' => {
    if (text === '*') return '*';
    const origins: string[] = [];
    for (const item of commaList(text)) {
      const origin = originOf(item);
      if (origin === undefined) {
        context.addIssue({ code: 'custom', message: `has "${item}", which is not an origin like https://app.example.com` });
        return z.NEVER;
      }
      origins.push(origin);
    }
    return origins;
  });

function commaList(text: string): string[] {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
}

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

/** Subprotocol names (RFC 6455 §4.1: HTTP tokens), comma-separated, in preference order. */
const protocolList = z.string().transform((text, context): readonly string[] => {
  const names = commaList(text);
  const bad = names.find((name) => !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name));
  if (bad !== undefined) {
    context.addIssue({ code: 'custom', message: `has "${bad}", which is not a subprotocol name (an HTTP token)` });
    return z.NEVER;
  }
  return names;
});

const deflateObject = z.strictObject({
  threshold: z.number().int().nonnegative().optional(),
  level: z.number().int().min(0).max(9).optional(),
  concurrencyLimit: z.number().int().positive().optional(),
});
export type DeflateSetting = boolean | z.output<typeof deflateObject>;
export const deflateJson = z.union([z.boolean(), deflateObject], { error: 'must be true, false or {"threshold","level","concurrencyLimit"}' });

/** `true`/`false`, or the deflate settings as a JSON object. */
const deflateText = z.string().transform((text, context): DeflateSetting => {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) {
    const flag = booleanText.safeParse(trimmed);
    if (flag.success) return flag.data;
    context.addIssue({ code: 'custom', message: 'must be true, false or a JSON object {"threshold","level","concurrencyLimit"}' });
    return z.NEVER;
  }
  return fromJsonText(trimmed, deflateJson, context);
});

const historyJson = z.strictObject({
  size: z.number({ error: 'must be a number of events' }).int('must be an integer from 0 to 1000000').min(0, 'must be an integer from 0 to 1000000').max(1_000_000, 'must be an integer from 0 to 1000000'),
  ttl: z.number({ error: 'must be a number of ms' }).int(`must be an integer from 0 to ${MAX_TIMER_MS} (ms)`).min(0, `must be an integer from 0 to ${MAX_TIMER_MS} (ms)`).max(MAX_TIMER_MS, `must be an integer from 0 to ${MAX_TIMER_MS} (ms)`),
});
const namespaceJson = z.strictObject({ history: historyJson.optional(), presence: z.boolean().optional() });
/** Namespace name -> options; `*` covers every channel no other namespace names. */
export const channelsJson = z.record(z.string().regex(/^(\*|[A-Za-z0-9_\-.@/=]{1,100})$/, 'a namespace is "*" or 1-100 of A-Z a-z 0-9 _ - . @ / ='), namespaceJson);
export type ChannelsSetting = z.output<typeof channelsJson>;
const channelsText = z.string().transform((text, context): ChannelsSetting => fromJsonText(text, channelsJson, context));

function fromJsonText<T>(text: string, schema: z.ZodType<T>, context: z.RefinementCtx): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    context.addIssue({ code: 'custom', message: 'is not valid JSON' });
    return z.NEVER;
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  context.addIssue({ code: 'custom', message: issueText(parsed.error) });
  return z.NEVER;
}

export function issueText(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'is invalid';
  const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return `${where}${issue.message}`;
}

/** A key for the HTTP API and /metrics: visible ASCII (it travels in a header), at least 16 characters. */
const key = z.string().regex(/^[\x21-\x7e]{16,512}$/, 'must be 16-512 visible ASCII characters (no spaces)');

/**
 * Every `serve` setting: its parser from the command-line string, in the order help lists them.
 * The CLI derives the flag (`--max-payload`) and the env name (`LIFELINE_MAX_PAYLOAD`) from the
 * key, so a new setting is one line here plus one line of help. The config file uses the key itself.
 */
export const serveSchemas = {
  port: integer(0, 65535),
  host: z.string().trim().min(1, 'must not be empty'),
  // A request's path never holds a query or a fragment, and a target is never resolved through dot
  // segments: such an endpoint could never be reached.
  path: z
    .string()
    .regex(/^\/[\x21-\x7e]*$/, 'must start with "/" and contain no spaces')
    .regex(/^[^?#]*$/, 'must be a path alone, without "?" or "#"')
    .refine((path) => !hasDotSegment(path), 'must have no "." or ".." segment and no backslash (targets are never resolved)'),
  allowedOrigins: originList,
  config: z.string().trim().min(1, 'must name a JSON file'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    error: 'must be one of fatal, error, warn, info, debug, trace, silent',
  }),
  jwtSecret: z.string().refine((text) => Buffer.byteLength(text) >= 32, 'must be at least 32 bytes (HS256 needs a 256-bit key)'),
  jwtPublicKey: z.string().trim().min(1, 'must be a PEM file (or PEM text)'),
  jwtAudience: z.string().trim().min(1, 'must not be empty'),
  jwtIssuer: z.string().trim().min(1, 'must not be empty'),
  allowAnonymous: booleanText,
  allowTokensWithoutExp: booleanText,
  anonymousChannels: z
    .string()
    .trim()
    .transform((text) => (text === '' ? [] : text.split(',').map((item) => item.trim())))
    .superRefine((patterns, context) => {
      const invalid = invalidPatterns(patterns);
      if (invalid !== undefined) context.addIssue({ code: 'custom', message: `must be a comma-separated list of channel patterns (${invalid.replace('the channels claim ', '')})` });
    }),
  authenticateOn: z.enum(['handshake', 'first-message'], { error: 'must be handshake or first-message' }),
  handshakeRejection: z.enum(['status', 'close'], { error: 'must be status or close' }),
  apiKey: key,
  metricsKey: key,
  demo: booleanText,
  redis: z
    .string()
    .trim()
    .refine((text) => /^rediss?:\/\/[^\s]+$/.test(text) && URL.canParse(text), 'must be a redis:// or rediss:// URL, like redis://127.0.0.1:6379'),
  redisCluster: z
    .string()
    .trim()
    .min(1, 'must list Redis Cluster nodes, like 10.0.0.1:6379,10.0.0.2:6379')
    .transform((text, context): readonly string[] => {
      const nodes = commaList(text);
      for (const node of nodes) {
        const url = /^rediss?:\/\//.test(node) ? node : `redis://${node}`;
        if (!/^rediss?:\/\/[^\s/]+:\d+\/?$/.test(url) || !URL.canParse(url)) {
          context.addIssue({ code: 'custom', message: 'must list Redis Cluster nodes as host:port (or redis://, rediss:// URLs), comma-separated' });
          return z.NEVER;
        }
      }
      return nodes;
    }),
  redisPrefix: z.string().regex(/^[\x21-\x7a|~]{1,64}$/, 'must be 1-64 visible ASCII characters, without "{" or "}"'),
  channels: channelsText,
  recoveryWindow: integer(1, MAX_TIMER_MS),
  requestTimeout: integer(1, MAX_TIMER_MS),
  replyWindow: integer(1, 100_000),
  idempotencyWindow: integer(1, MAX_TIMER_MS),
  presenceGrace: integer(0, MAX_TIMER_MS),
  maxConnections: integer(1, Number.MAX_SAFE_INTEGER),
  admissionRate: rate,
  maxEventLoopDelay: integer(0, MAX_TIMER_MS),
  maxPayload: integer(1, 2 ** 32),
  maxMessageRate: rate,
  helloTimeout: integer(1, MAX_TIMER_MS),
  maxSubscriptions: integer(1, Number.MAX_SAFE_INTEGER),
  maxSessionsPerUser: integer(1, Number.MAX_SAFE_INTEGER),
  maxChannels: integer(1, Number.MAX_SAFE_INTEGER),
  maxPresenceMembers: integer(1, Number.MAX_SAFE_INTEGER),
  maxQueuedMessages: integer(1, Number.MAX_SAFE_INTEGER),
  maxReplayRate: rate,
  maxPendingDirect: integer(1, Number.MAX_SAFE_INTEGER),
  historyBudget: integer(0, Number.MAX_SAFE_INTEGER),
  maxIdempotencyKeys: integer(1, Number.MAX_SAFE_INTEGER),
  maxKeysPerUser: integer(1, Number.MAX_SAFE_INTEGER),
  idleChannelTtl: integer(1, MAX_TIMER_MS),
  maxPendingPublishes: integer(1, Number.MAX_SAFE_INTEGER),
  httpRequestTimeout: integer(1, MAX_TIMER_MS),
  maxInvalidMessages: integer(0, 1_000_000),
  outboundBudget: integer(1, Number.MAX_SAFE_INTEGER),
  binary: z.enum(['allow', 'reject'], { error: 'must be allow or reject' }),
  retryAfter: integer(0, MAX_TIMER_MS),
  pingInterval: integer(0, MAX_TIMER_MS),
  pongTimeout: integer(1, MAX_TIMER_MS),
  appPings: booleanText,
  handshakeTimeout: integer(1, MAX_TIMER_MS),
  closeTimeout: integer(1, MAX_TIMER_MS),
  drainTimeout: integer(0, MAX_TIMER_MS),
  drainDelay: integer(0, MAX_TIMER_MS),
  protocols: protocolList,
  perMessageDeflate: deflateText,
} as const;

export type ServeKey = keyof typeof serveSchemas;

/** The validated settings; absent ones take the documented defaults. */
export type ServeConfig = { readonly [K in ServeKey]?: z.output<(typeof serveSchemas)[K]> };

export const serveKeys = Object.keys(serveSchemas) as ServeKey[];

