import { z } from 'zod';
import { MAX_JSON_DEPTH, nestedDeeperThan } from '../core/json-depth.js';
import type { Broker, ControlNotice, Unsubscribe } from '../broker/broker.js';
import type { Position } from '../core/position.js';
import { BrokerUnavailableError } from '../core/errors.js';
import { IdempotencyConflictError, LifelineError, type LifelineServer } from '../server/index.js';
import { resolveChannel, type ChannelsConfig, type ResolvedChannel } from '../server/protocol/channels.js';
import { channelName, IDEMPOTENCY_KEY } from '../protocol/client-messages.js';
import { admitted, type ApiKey } from './api-key.js';
import { readJsonBody, sendError, sendJson } from './http-json.js';
import type { Route, RouteContext } from './router.js';

export const API_PREFIX = '/api/v1/';
/** The close code for a connection the API disconnects: 4001 kicked (clients do not reconnect). */
export const KICKED = 4001;
export const HISTORY_LIMIT = { default: 100, max: 1000 } as const;

export interface HttpApiOptions<User> {
  readonly server: LifelineServer<User>;
  /** The broker the server publishes through (history and presence are read from it). */
  readonly broker: Broker;
  readonly channels: ChannelsConfig;
  /** Without a key every route answers 404 `api_disabled`. */
  readonly key: ApiKey | undefined;
  /** Request bodies larger than this get 413. */
  readonly maxBody: number;
  /** Publishes in progress at most; more are answered 429 with Retry-After (the node is behind). */
  readonly maxPendingPublishes: number;
  /** How a user is named in URLs and answers. */
  readonly userName: (user: User) => string | null;
}

/** `data` is any JSON value, kept as parsed (a rebuilt copy would lose a `__proto__` key); depth is checked before. */
const publishBody = z.strictObject({ data: z.unknown().refine((value) => value !== undefined, 'is required (any JSON value)') });
const disconnectBody = z
  .strictObject({ reason: z.string().refine((reason) => Buffer.byteLength(reason) <= 120, 'reason must be at most 120 bytes of UTF-8').optional() })
  .optional();
const sinceParam = /^(.{1,64}):(\d{1,16})$/;

/**
 * The HTTP API for backends, under `/api/v1/`, guarded by the API key (docs/http-api.md): publish
 * to a channel, read its history and presence, disconnect a user's or a session's connections.
 */
export function httpApiRoutes<User>(options: HttpApiOptions<User>): Route[] {
  const { server, broker, channels, key, maxBody, maxPendingPublishes, userName } = options;
  let pendingPublishes = 0;
  const guarded = (method: Route['method'], path: string, handle: (context: RouteContext) => Promise<void>): Route => ({
    method,
    path: `${API_PREFIX}${path}`,
    handle: async (context) => {
      if (!admitted(key, context, 'the HTTP API')) return;
      try {
        await handle(context);
      } catch (error) {
        // A networked broker that cannot be reached is a moment's outage, not a server fault.
        if (!(error instanceof LifelineError && error.code === 'ERR_BROKER_UNAVAILABLE') || context.response.headersSent) throw error;
        server.log.warn({ err: error, path: context.url.pathname }, 'HTTP API: the broker is unavailable');
        sendError(context.response, 503, 'unavailable', 'the broker is unavailable; try again shortly', { 'Retry-After': '1' });
      }
    },
  });

  /** The channel in the path, validated, with its namespace's options; or undefined once answered 400. */
  const channelOf = ({ params, response }: RouteContext): { readonly name: string; readonly options: ResolvedChannel } | undefined => {
    const name = params.channel ?? '';
    const valid = channelName.safeParse(name);
    if (!valid.success) {
      sendError(response, 400, 'bad_channel', `"${name.slice(0, 200)}" is not a channel name: ${valid.error.issues[0]?.message ?? 'invalid'}`);
      return undefined;
    }
    const resolved = resolveChannel(channels, name);
    if (!resolved) {
      sendError(response, 400, 'bad_channel', `no namespace allows channel "${name}" (configure one under "channels")`);
      return undefined;
    }
    return { name, options: resolved };
  };

  /** The parsed body, or undefined once answered (413, 415, 400). */
  const bodyOf = async <T>(context: RouteContext, schema: z.ZodType<T>, what: string): Promise<{ readonly value: T } | undefined> => {
    const read = await readJsonBody(context.request, maxBody);
    if (!read.ok) {
      sendError(context.response, read.status, read.code, read.message, read.status === 413 ? { Connection: 'close' } : {});
      return undefined;
    }
    if (nestedDeeperThan(read.value)) {
      sendError(context.response, 400, 'bad_request', `the body is nested more than ${MAX_JSON_DEPTH} levels deep`);
      return undefined;
    }
    const parsed = schema.safeParse(read.value);
    if (parsed.success) return { value: parsed.data };
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') ?? '';
    let message: string;
    if (read.value === undefined) message = `the body must be ${what}`;
    else if (field === '') message = `the body must be ${what} (${issue?.message ?? 'invalid'})`;
    // z.json() fails only when the field is absent (any JSON value fits it).
    else message = `${field}: ${issue?.code === 'invalid_union' ? 'is required (any JSON value)' : (issue?.message ?? 'is invalid')}`;
    sendError(context.response, 400, 'bad_request', message);
    return undefined;
  };

  /** Closes this node's matching connections, then tells every other node to close theirs. */
  const disconnect = async (context: RouteContext, notice: (reason: string) => ControlNotice): Promise<void> => {
    const body = await bodyOf(context, disconnectBody, 'empty or a JSON object {"reason"}');
    if (!body) return;
    const sent = notice(body.value?.reason ?? 'kicked');
    const closed = kick(server, sent, userName);
    let everywhere = false;
    if (broker.broadcast) {
      try {
        await broker.broadcast(sent);
        everywhere = true;
      } catch (error) {
        server.log.warn({ err: error }, 'HTTP API: the disconnect reached this node only (the broker is unavailable)');
      }
    }
    sendJson(context.response, 200, { closed, everywhere });
  };

  return [
    guarded('POST', 'channels/:channel/publish', async (context) => {
      // Backpressure: while this many publishes are still in progress the node is behind; the
      // caller is told when to come back instead of queueing without bound.
      if (pendingPublishes >= maxPendingPublishes) {
        return sendError(context.response, 429, 'busy', `${pendingPublishes} publishes are in progress; nothing was published, retry later`, { 'Retry-After': '1', Connection: 'close' });
      }
      pendingPublishes++;
      try {
        const channel = channelOf(context);
        if (!channel) return;
        const idempotencyKey = idempotencyKeyOf(context.request.headers['idempotency-key']);
        if (idempotencyKey === null) {
          return sendError(context.response, 400, 'bad_idempotency_key', 'Idempotency-Key must be one string of 1-255 printable ASCII characters, e.g. "8e03978e-40d5-43e8-bc93-6894a57f9324"');
        }
        const body = await bodyOf(context, publishBody, 'a JSON object {"data": ...}');
        if (!body) return;
        let position: Position;
        try {
          position = await server.publish(channel.name, body.value.data, idempotencyKey === undefined ? {} : { idempotencyKey });
        } catch (error) {
          if (error instanceof IdempotencyConflictError) return sendError(context.response, 422, 'idempotency_conflict', 'this Idempotency-Key was already used for a different message; nothing was published');
          server.log.error({ err: error, channel: channel.name }, 'HTTP publish failed');
          // The command reached the broker and its answer was lost: the event may well be stored.
          const maybe = error instanceof BrokerUnavailableError && error.sent;
          const message = maybe ? 'the publish may have been stored (the broker did not answer); retry with the same Idempotency-Key, or a retry may publish it twice' : 'the message could not be published; nothing was published';
          return sendError(context.response, 503, 'unavailable', message, { 'Retry-After': '1' });
        }
        sendJson(context.response, 200, { position });
      } finally {
        pendingPublishes--;
      }
    }),

    guarded('GET', 'channels/:channel/history', async (context) => {
      const channel = channelOf(context);
      if (!channel) return;
      const query = historyQuery(context.url.searchParams);
      if ('error' in query) return sendError(context.response, 400, 'bad_request', query.error);
      const { limit, since } = query;
      // Without `since`, the newest kept events ending at the head, read in one step (the broker's
      // rewind): a publish landing meanwhile cannot shift the answer off the head it names.
      const page = await server.history(channel.name, { limit, ...(since === undefined ? {} : { since }) });
      const events = page.events.map((event) => ({ epoch: event.epoch, offset: event.offset, data: event.data }));
      sendJson(context.response, 200, { channel: channel.name, position: page.head, recovered: page.recovered, events, more: page.more });
    }),

    guarded('GET', 'channels/:channel/presence', async (context) => {
      const channel = channelOf(context);
      if (!channel) return;
      if (!channel.options.presence) return sendError(context.response, 400, 'presence_off', `presence is off for the namespace of "${channel.name}"`);
      const members = await broker.presence(channel.name);
      sendJson(context.response, 200, {
        channel: channel.name,
        // Members are stored as the server shows them (presenceUser: the token's sub).
        members: members.map((member) => ({ client: member.client, user: typeof member.user === 'string' ? member.user : userName(member.user as User) })),
      });
    }),

    guarded('POST', 'users/:user/disconnect', (context) => disconnect(context, (reason) => ({ kind: 'disconnect-user', user: context.params.user ?? '', reason }))),

    guarded('POST', 'sessions/:session/disconnect', (context) => disconnect(context, (reason) => ({ kind: 'disconnect-session', session: context.params.session ?? '', reason }))),
  ];
}

/**
 * The `Idempotency-Key` header (draft-ietf-httpapi-idempotency-key-header: a structured-field
 * string, so quoted; a bare key is taken as well): the key, undefined when absent, null when
 * malformed (several keys, empty, too long, or characters outside printable ASCII).
 */
function idempotencyKeyOf(header: string | string[] | undefined): string | undefined | null {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) return null;
  const quoted = /^"((?:[^"\\]|\\["\\])*)"$/.exec(header.trim());
  const key = quoted?.[1] === undefined ? header.trim() : quoted[1].replace(/\\(["\\])/g, '$1');
  return IDEMPOTENCY_KEY.test(key) ? key : null;
}

function historyQuery(query: URLSearchParams): { readonly limit: number; readonly since: Position | undefined } | { readonly error: string } {
  const limitText = query.get('limit');
  const limit = limitText === null ? HISTORY_LIMIT.default : Number(limitText);
  if (!/^\d+$/.test(limitText ?? '1') || limit < 1 || limit > HISTORY_LIMIT.max) return { error: `limit must be an integer from 1 to ${HISTORY_LIMIT.max}` };
  const sinceText = query.get('since');
  if (sinceText === null) return { limit, since: undefined };
  const match = sinceParam.exec(sinceText);
  const offset = Number(match?.[2]);
  if (!match?.[1] || !Number.isSafeInteger(offset)) return { error: 'since must be EPOCH:OFFSET, a position from an event or a publish (e.g. since=3f9a1c2e:41)' };
  return { limit, since: { epoch: match[1], offset } };
}

/** Closes this node's connections a disconnect notice names (4001); how many it closed. */
function kick<User>(server: LifelineServer<User>, notice: ControlNotice, userName: (user: User) => string | null): number {
  let targets: Iterable<{ close(code: number, reason: string): void; readonly state: string }>;
  if (notice.kind === 'disconnect-user') targets = [...server.connections].filter((connection) => userName(connection.user) === notice.user);
  else if (notice.kind === 'disconnect-session') targets = [...server.sessionsByConnection()].filter(([, live]) => live.session === notice.session).map(([connection]) => connection);
  else return 0;
  let closed = 0;
  for (const connection of targets) {
    if (connection.state !== 'open' && connection.state !== 'authenticating') continue;
    connection.close(KICKED, notice.reason);
    closed++;
  }
  return closed;
}

/** This node carries out the disconnects the HTTP API of any node on the broker asks for. */
export function hearDisconnects<User>(server: LifelineServer<User>, broker: Broker, userName: (user: User | undefined) => string | null): Promise<Unsubscribe> | undefined {
  return broker.onBroadcast?.((notice) => void kick(server, notice, userName));
}
