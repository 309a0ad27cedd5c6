/**
 * The hand-written checks of the messages clients send most (hello, subscribe, request,
 * publish) against the schema, the protocol's single source of truth: every envelope is
 * accepted or refused as the schema decides, and an accepted one is built as the schema
 * builds it (the known fields only, none added).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Envelope } from '../../src/core/envelope.js';
import { clientMessageSchema, parseClientMessage } from '../../src/protocol/client-messages.js';

const epoch = 'e'.repeat(64);
const cases: Envelope[] = [
  { type: 'hello', v: 1 },
  { type: 'hello', v: 1, extra: true },
  { type: 'hello', v: 1, session: 's-1', secret: 'k' },
  { type: 'hello', v: 1, session: 's-1' },
  { type: 'hello', v: 1, secret: 'x'.repeat(128) },
  { type: 'hello', v: 1, secret: 'x'.repeat(129) },
  { type: 'hello', v: 1, session: 'x'.repeat(64) },
  { type: 'hello', v: 1, session: 'x'.repeat(65) },
  { type: 'hello', v: 1, session: '' },
  { type: 'hello', v: 1, session: null },
  { type: 'hello', v: 1, session: 7 },
  { type: 'hello', v: 2 },
  { type: 'hello', v: '1' },
  { type: 'hello' },
  { type: 'subscribe', id: 1, channel: 'chat:a' },
  { type: 'subscribe', id: 1, channel: 'chat:a', extra: [1] },
  { type: 'subscribe', id: Number.MAX_SAFE_INTEGER, channel: 'a-Z_0.9@/=:b' },
  { type: 'subscribe', id: Number.MAX_SAFE_INTEGER + 1, channel: 'chat' },
  { type: 'subscribe', id: 0, channel: 'chat' },
  { type: 'subscribe', id: 1.5, channel: 'chat' },
  { type: 'subscribe', id: '1', channel: 'chat' },
  { type: 'subscribe', channel: 'chat' },
  { type: 'subscribe', id: 1, channel: '' },
  { type: 'subscribe', id: 1, channel: 'c'.repeat(200) },
  { type: 'subscribe', id: 1, channel: 'c'.repeat(201) },
  { type: 'subscribe', id: 1, channel: 'chat room' },
  { type: 'subscribe', id: 1, channel: 'chät' },
  { type: 'subscribe', id: 1 },
  { type: 'subscribe', id: 1, channel: 'chat', since: { epoch, offset: 0 } },
  { type: 'subscribe', id: 1, channel: 'chat', since: { epoch: 'ab', offset: 12, extra: 1 } },
  { type: 'subscribe', id: 1, channel: 'chat', since: { epoch: 'ab', offset: Number.MAX_SAFE_INTEGER } },
  { type: 'subscribe', id: 1, channel: 'chat', since: { epoch: 'ab', offset: Number.MAX_SAFE_INTEGER + 2 } },
  { type: 'subscribe', id: 1, channel: 'chat', since: { epoch: 'ab', offset: -1 } },
  { type: 'subscribe', id: 1, channel: 'chat', since: { epoch: 'ab', offset: 1.5 } },
  { type: 'subscribe', id: 1, channel: 'chat', since: { epoch: 'ab', offset: '1' } },
  { type: 'subscribe', id: 1, channel: 'chat', since: { epoch: '', offset: 1 } },
  { type: 'subscribe', id: 1, channel: 'chat', since: { epoch: `${epoch}x`, offset: 1 } },
  { type: 'subscribe', id: 1, channel: 'chat', since: { offset: 1 } },
  { type: 'subscribe', id: 1, channel: 'chat', since: null },
  { type: 'subscribe', id: 1, channel: 'chat', since: [] },
  { type: 'subscribe', id: 1, channel: 'chat', since: 'ab:1' },
  { type: 'subscribe', id: 1, channel: 'chat', rewind: { count: 5 } },
  { type: 'subscribe', id: 1, channel: 'chat', rewind: {} },
  { type: 'subscribe', id: 1, channel: 'chat', rewind: null },
  { type: 'request', id: 3, method: 'echo', params: { a: 1 } },
  { type: 'request', id: 3, method: 'echo' },
  { type: 'request', id: 3, method: '' },
  { type: 'publish', id: 4, channel: 'chat', data: null },
  { type: 'publish', id: 4, channel: 'chat' },
  { type: 'publish', id: 4, channel: 'chat', data: 1, idempotencyKey: 'k-1' },
];

test('the hot paths accept and build exactly what the schema does', () => {
  for (const envelope of cases) {
    const parsed = parseClientMessage(envelope);
    const schema = clientMessageSchema.safeParse(envelope);
    const what = JSON.stringify(envelope).slice(0, 120);
    assert.equal(parsed.ok, schema.success, what);
    if (parsed.ok && schema.success) assert.deepStrictEqual(parsed.message, schema.data, what);
  }
});

test('property: for generated hello, subscribe, request and publish envelopes, the hot paths agree with the schema', () => {
  // Values near each rule's edges, and of the wrong types, for every field a hot path reads.
  const text = (max: number) => fc.oneof(fc.string({ minLength: 0, maxLength: 3 }), fc.constantFrom('', 'x'.repeat(max), 'x'.repeat(max + 1)), fc.string({ unit: 'grapheme', maxLength: 4 }));
  const wrong = fc.constantFrom<unknown>(null, 0, 1, -1, 1.5, true, [], {}, '1', Number.MAX_SAFE_INTEGER + 1);
  const number = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, 0.5, -0), wrong);
  const channel = fc.oneof(fc.constantFrom('chat', 'a-Z_0.9@/=:b', 'c'.repeat(200), 'c'.repeat(201), 'chat room', 'chät', ''), fc.stringMatching(/^[a-z:#]{0,6}$/), wrong);
  const position = fc.oneof(fc.record({ epoch: fc.oneof(text(64), wrong), offset: number }, { requiredKeys: [] }), wrong);
  const maybe = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined });
  const envelope = fc.oneof(
    fc.record({ type: fc.constant('hello'), v: fc.oneof(fc.constant(1), number), session: maybe(fc.oneof(text(64), wrong)), secret: maybe(fc.oneof(text(128), wrong)), extra: maybe(wrong) }),
    fc.record({ type: fc.constant('subscribe'), id: number, channel, since: maybe(position), rewind: maybe(fc.oneof(fc.record({ count: number }), wrong)) }),
    fc.record({ type: fc.constant('request'), id: number, method: fc.oneof(text(100), wrong), params: maybe(fc.jsonValue({ maxDepth: 2 })) }),
    fc.record({ type: fc.constant('publish'), id: number, channel, data: maybe(fc.jsonValue({ maxDepth: 2 })), idempotencyKey: maybe(fc.oneof(text(255), wrong)) }),
  );
  const seen = { accepted: 0, refused: 0 };
  fc.assert(
    fc.property(envelope, (generated) => {
      // As JSON.parse gives it: an absent field is not there at all.
      const message = JSON.parse(JSON.stringify(generated)) as Envelope;
      const parsed = parseClientMessage(message);
      const schema = clientMessageSchema.safeParse(message);
      seen[schema.success ? 'accepted' : 'refused']++;
      assert.equal(parsed.ok, schema.success, JSON.stringify(message));
      if (parsed.ok && schema.success) assert.deepStrictEqual(parsed.message, schema.data, JSON.stringify(message));
    }),
    { numRuns: 5000, seed: 20261207 },
  );
  // Both sides of every rule were reached, not only refusals.
  assert.ok(seen.accepted >= 250 && seen.refused >= 250, JSON.stringify(seen));
});

test('a refused hello or subscribe names the field at fault, as the schema does', () => {
  assert.deepEqual(parseClientMessage({ type: 'hello', v: 1, session: '' }), { ok: false, code: 'bad_message', detail: 'hello: session: Too small: expected string to have >=1 characters' });
  const since = parseClientMessage({ type: 'subscribe', id: 9, channel: 'chat', since: { epoch: 'ab', offset: -1 } });
  assert.equal(since.ok, false);
  assert.equal(!since.ok && since.id, 9);
  assert.match(!since.ok ? since.detail : '', /^subscribe: since\.offset: /);
});
