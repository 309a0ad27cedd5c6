// Demo mode's rule for chat messages: the sender's own name, 1-500 characters of text, and a
// small message as a whole (every later visitor's page replays the last ones).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkChatMessage } from '../../src/standalone/demo-handlers.js';

const ann = { id: 'ann~0123456789ab', name: 'ann' };

test('a demo chat message is the sender\'s own (name, and id if given), 1-500 characters of text, at most 2 KiB as JSON', () => {
  assert.equal(checkChatMessage(ann, 'chat:lobby', { user: 'ann', text: 'hi', at: 1, mid: 'm-1' }), true);
  assert.equal(checkChatMessage(ann, 'chat:lobby', { user: 'ann', id: ann.id, text: 'hi' }), true, 'with its own id');
  assert.equal(checkChatMessage(ann, 'news:today', { anything: 'x'.repeat(100_000) }), true, 'other channels are not the demo chat');
  const refusals = [
    { user: 'bob', text: 'hi' },
    // Another visitor's id (presence shows it): their page would read this message as "(you)".
    { user: 'ann', id: 'ann~ba9876543210', text: 'hi' },
    { user: 'ann', id: 7, text: 'hi' },
    { user: 'ann', text: '' },
    { user: 'ann', text: 'x'.repeat(501) },
    // A megabyte hidden beside a short text: every later visitor would download it.
    { user: 'ann', text: 'hi', padding: 'x'.repeat(1_000_000) },
  ];
  for (const message of refusals) {
    const verdict = checkChatMessage(ann, 'chat:lobby', message);
    assert.notEqual(verdict, true, JSON.stringify(message).slice(0, 60));
    assert.match((verdict as { refused: string }).refused, /at most 2048 characters as JSON/);
  }
});
