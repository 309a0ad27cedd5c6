/**
 * Fuzzing a live server over real sockets (fast-check): random and mutated frames, random
 * `lifeline.v1` envelopes and random handshake requests. Whatever arrives, the server never
 * crashes, never leaks a connection, and answers with a documented HTTP status, close code or
 * `error` reply. Runs are bounded: LIFELINE_FUZZ_RUNS (default 25 per property) sets how many;
 * `npm run fuzz` runs a longer version (scripts/fuzz.mjs: `--runs N`, `--ms N`). (HEAD is left out: its answer has no body to read.)
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { CloseReport } from '../../src/server/connection.js';
import type { ChannelsConfig } from '../../src/server/protocol/channels.js';
import { buildFrame, RawSocket } from '../helpers/raw-socket.js';
import { eventually, within } from '../helpers/wait.js';
import { serve } from '../server/support.js';
import { ProtocolClient } from '../server/protocol/protocol-client.js';

const RUNS = Math.max(1, Number(process.env.LIFELINE_FUZZ_RUNS ?? 25));
/** Each property stops early after this long, ms (a busy machine runs fewer cases, not longer). */
const BUDGET = Number(process.env.LIFELINE_FUZZ_MS ?? 20_000);

/** Close codes docs/reference/close-codes.md documents for what a peer can send. */
const DOCUMENTED_CLOSES = new Set([1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 4408]);
/** Statuses the handshake documents (docs/reference/server-options.md, docs/protocol.md). */
const DOCUMENTED_STATUSES = new Set([101, 400, 403, 404, 405, 408, 426, 431, 503]);
/** Error codes docs/protocol.md documents for `error` replies. */
const DOCUMENTED_ERRORS = new Set(['bad_json', 'bad_type', 'not_object', 'bad_message', 'unknown_type', 'hello_required', 'bad_state', 'forbidden', 'bad_channel', 'unavailable', 'no_method', 'timeout', 'failed', 'expired', 'unauthorized', 'limit']);
const REPLY_TYPES = new Set(['welcome', 'subscribed', 'unsubscribed', 'event', 'ack', 'result', 'error', 'message', 'presence', 'presence.list', 'ping', 'pong', 'refreshed']);

const channels: ChannelsConfig = { room: { history: { size: 10, ttl: 60_000 }, presence: true } };

const frameArb = fc.record({
  opcode: fc.oneof(fc.constantFrom(0x0, 0x1, 0x2, 0x8, 0x9, 0xa), fc.integer({ min: 0, max: 15 })),
  payload: fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
    fc.string({ maxLength: 200 }).map((text) => Buffer.from(text)),
    fc.jsonValue({ maxDepth: 4 }).map((value) => Buffer.from(JSON.stringify(value) ?? 'null')),
  ),
  fin: fc.oneof(fc.constant(true), fc.boolean()),
  masked: fc.oneof(fc.constant(true), fc.boolean()),
  rsv: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 7 })),
});

/** A valid frame with some bytes flipped, cut or appended. */
const mutatedArb = fc.tuple(frameArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat({ max: 20 })).map(([frame, flips, cut]) => {
  const bytes = Buffer.from(buildFrame(frame.opcode, frame.payload, frame));
  for (const [at, value] of flips) if (bytes.length > 0) bytes[at % bytes.length] = value;
  return cut > 0 && cut < bytes.length ? bytes.subarray(0, bytes.length - cut) : bytes;
});

function deadlineReached(started: number): boolean {
  return Date.now() - started > BUDGET;
}

describe('fuzz: a live server', () => {
  test('random and mutated frames: a documented close code or nothing, never a crash or a leaked connection', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, closeTimeout: 500, channels });
    const reports: CloseReport[] = [];
    fixture.server.on('disconnect', (_connection, report) => reports.push(report));
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(frameArb.map((f) => buildFrame(f.opcode, f.payload, f)), mutatedArb), { minLength: 1, maxLength: 8 }), async (frames) => {
        if (deadlineReached(started)) return;
        const { raw, response } = await RawSocket.upgrade(fixture.port, { headers: { 'Sec-WebSocket-Protocol': 'lifeline.v1' } });
        try {
          assert.equal(response.status, 101);
          for (const bytes of frames) raw.write(bytes);
        } finally {
          raw.destroy();
        }
        await eventually(() => fixture.server.connections.size === 0, 'every fuzzed connection gone', 10_000);
      }),
      { numRuns: RUNS },
    );
    for (const report of reports) assert.ok(DOCUMENTED_CLOSES.has(report.code), `close code ${report.code} (${report.reason})`);
    // Still serving.
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    await client.subscribe(1, 'room:after');
  });

  test('random envelopes after hello: every reply is a documented message, and errors carry documented codes', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, closeTimeout: 500, channels, maxInvalidMessages: 1_000 });
    const started = Date.now();
    const type = fc.constantFrom('hello', 'subscribe', 'unsubscribe', 'publish', 'request', 'presence.get', 'ack', 'refresh', 'end', 'ping', 'auth', 'nope');
    const field = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom('room:1', 'room', 'other:1', '', 'x'.repeat(300)), fc.integer({ min: -2, max: 2 ** 53 }));
    const envelope = fc.record({ type, id: fc.option(field, { nil: undefined }), channel: fc.option(field, { nil: undefined }), data: fc.option(field, { nil: undefined }), seq: fc.option(field, { nil: undefined }), since: fc.option(field, { nil: undefined }), method: fc.option(field, { nil: undefined }) }, { requiredKeys: ['type'] });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(envelope.map((e) => JSON.stringify(e)), fc.string({ maxLength: 100 })), { minLength: 1, maxLength: 10 }), async (texts) => {
        if (deadlineReached(started)) return;
        const client = await ProtocolClient.open(fixture.wsUrl);
        try {
          await client.hello();
          for (const text of texts) client.sendText(text);
          client.send({ type: 'unsubscribe', id: 999_999, channel: 'room:sync' });
          await Promise.race([client.reply(999_999, 10_000).catch(() => undefined), client.closed]);
          for (const message of client.log) {
            assert.ok(REPLY_TYPES.has(message.type), `reply type ${message.type}`);
            if (message.type === 'error') assert.ok(DOCUMENTED_ERRORS.has(message.code), `error code ${message.code}: ${message.message}`);
          }
        } finally {
          await client.dispose();
        }
        await eventually(() => fixture.server.connections.size === 0, 'every fuzzed connection gone', 10_000);
      }),
      { numRuns: RUNS },
    );
    await eventually(() => fixture.server.realtime.sessions === 0, 'every session parked', 10_000);
  });

  test('random handshake requests: a documented status every time, and no connection left behind', async (t) => {
    const fixture = await serve(t, { pingInterval: 0, handshakeTimeout: 1_000, channels });
    const started = Date.now();
    const headerValue = fc.option(fc.oneof(fc.constantFrom('websocket', 'Upgrade', '13', '8', 'lifeline.v1', 'http://evil.example', 'dGhlIHNhbXBsZSBub25jZQ=='), fc.stringMatching(/^[\x21-\x7e]{0,40}$/)), { nil: undefined });
    const request = fc.record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'),
      path: fc.oneof(fc.constantFrom('/ws', '/', '/ws?x=1', '/nope'), fc.stringMatching(/^\/[\x21-\x7e]{0,30}$/)),
      headers: fc.record({ Upgrade: headerValue, Connection: headerValue, 'Sec-WebSocket-Key': headerValue, 'Sec-WebSocket-Version': headerValue, Origin: headerValue, 'Sec-WebSocket-Protocol': headerValue }),
    });
    await fc.assert(
      fc.asyncProperty(request, async ({ method, path, headers }) => {
        if (deadlineReached(started)) return;
        const raw = await RawSocket.request(fixture.port, { method, path, headers });
        try {
          const response = await within(raw.readResponse(5_000), 6_000, 'a response');
          assert.ok(DOCUMENTED_STATUSES.has(response.status), `status ${response.status} for ${method} ${path} ${JSON.stringify(headers)}`);
        } finally {
          raw.destroy();
        }
        await eventually(() => fixture.server.connections.size === 0, 'no connection left', 10_000);
      }),
      { numRuns: RUNS },
    );
  });
});
