// The demo page's data rules, without a browser: what counts as a chat message on the channel,
// how a presence member is named, and which names the page accepts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseChatMessage } from '../../src/demo/chat.js';
import { NAME_PATTERN } from '../../src/demo/identity.js';
import { userKey, userName } from '../../src/demo/presence.js';

test('a chat message needs a user and a text; the rest has defaults', () => {
  assert.deepEqual(parseChatMessage({ user: 'ada', text: 'hi', at: 5, mid: 'm1' }), { user: 'ada', text: 'hi', at: 5, mid: 'm1' });
  const partial = parseChatMessage({ user: 'ada', text: 'hi', at: 'later' });
  assert.equal(partial?.mid, '');
  assert.equal(typeof partial?.at, 'number');
  assert.equal(parseChatMessage({ user: 'ada', text: 'hi', id: 'ada~0123456789ab' })?.id, 'ada~0123456789ab', 'the sender id is kept');
  assert.equal(parseChatMessage({ user: 'ada', text: 'hi', id: 7 })?.id, undefined);
  for (const data of [null, 'hi', 42, { user: 'ada' }, { text: 'hi' }, { user: 1, text: 'hi' }, { user: 'ada', text: ['hi'] }]) {
    assert.equal(parseChatMessage(data), undefined, JSON.stringify(data));
  }
});

test('a presence member is named by the user the server authenticated, whatever its shape', () => {
  assert.equal(userName({ client: 's-1', user: 'ada' }), 'ada');
  assert.equal(userName({ client: 's-1', user: { id: 'bob', channels: ['chat:*'] } }), 'bob');
  assert.equal(userName({ client: 's-1', user: { name: 'cy' } }), 'cy');
  assert.equal(userName({ client: 's-1' }), 'someone');
  assert.equal(userName({ client: 's-1', user: { id: 7 } }), 'someone');
});

test('a presence member is told apart by its user id, so two people of one name are two', () => {
  assert.equal(userKey({ client: 's-1', user: { id: 'sam~0123456789ab', name: 'sam' } }), 'sam~0123456789ab');
  assert.notEqual(userKey({ client: 's-1', user: { id: 'sam~0123456789ab', name: 'sam' } }), userKey({ client: 's-2', user: { id: 'sam~ba9876543210', name: 'sam' } }));
  assert.equal(userKey({ client: 's-1', user: 'ada' }), 'ada', 'a plain user is its own id');
  assert.equal(userKey({ client: 's-1', user: { name: 'cy' } }), 'cy', 'no id: the name');
});

test('names: what the demo token endpoint accepts', () => {
  for (const ok of ['ada', 'guest-0042', 'Ada Lovelace', 'a_b', 'x'.repeat(32)]) assert.ok(NAME_PATTERN.test(ok), ok);
  for (const bad of ['', 'x'.repeat(33), 'a.b', 'ada!', '<b>', 'é']) assert.ok(!NAME_PATTERN.test(bad), bad);
});
