/**
 * The hand-written checks of the messages clients send most (hello, subscribe, request,
 * publish) against the schema, the protocol's single source of truth: every envelope is
 * accepted or refused as the schema decides, and an accepted one is built as the schema
 * builds it (the known fields only, none added).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
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

test('a refused hello or subscribe names the field at fault, as the schema does', () => {
  assert.deepEqual(parseClientMessage({ type: 'hello', v: 1, session: '' }), { ok: false, code: 'bad_message', detail: 'hello: session: Too small: expected string to have >=1 characters' });
  const since = parseClientMessage({ type: 'subscribe', id: 9, channel: 'chat', since: { epoch: 'ab', offset: -1 } });
  assert.equal(since.ok, false);
  assert.equal(!since.ok && since.id, 9);
  assert.match(!since.ok ? since.detail : '', /^subscribe: since\.offset: /);
});
