// The `channels` claim: patterns with `*`, and what a claim may hold.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { granted, invalidPatterns, matchesPattern, MAX_PATTERNS } from '../../src/standalone/channel-grants.js';

test('a pattern without * matches only itself', () => {
  assert.equal(matchesPattern('chat:lobby', 'chat:lobby'), true);
  assert.equal(matchesPattern('chat:lobby', 'chat:lobby2'), false);
  assert.equal(matchesPattern('chat:lobby', 'chat'), false);
});

test('* matches any run of characters, colons included, but the fixed parts must all be there', () => {
  const cases: readonly [string, string, boolean][] = [
    ['chat:*', 'chat:lobby', true],
    ['chat:*', 'chat:team:ops', true],
    ['chat:*', 'chat:', true],
    ['chat:*', 'chat', false],
    ['chat:*', 'news:chat:x', false],
    ['*', 'anything:at:all', true],
    ['*:public', 'news:public', true],
    ['*:public', 'news:private', false],
    ['user:*:inbox', 'user:ada:inbox', true],
    ['user:*:inbox', 'user::inbox', true],
    ['user:*:inbox', 'user:inbox', false],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'axxbyyc', true],
    ['a*b*c', 'acb', false],
    ['ab*ba', 'aba', false], // the two ends may not share a character
    ['a**b', 'ab', true],
  ];
  for (const [pattern, channel, expected] of cases) assert.equal(matchesPattern(pattern, channel), expected, `${pattern} vs ${channel}`);
});

test('no claim grants everything; a claim grants what one of its patterns matches', () => {
  assert.equal(granted(undefined, 'x'), true);
  assert.equal(granted([], 'x'), false);
  assert.equal(granted(['chat:*', 'news:daily'], 'news:daily'), true);
  assert.equal(granted(['chat:*', 'news:daily'], 'news:weekly'), false);
});

test('a claim must be a bounded list of channel patterns', () => {
  assert.equal(invalidPatterns(['chat:*', 'user:ada:*']), undefined);
  assert.match(invalidPatterns('chat:*') ?? '', /must be a list/);
  assert.match(invalidPatterns([1]) ?? '', /invalid pattern 1/);
  assert.match(invalidPatterns(['']) ?? '', /invalid pattern ""/);
  assert.match(invalidPatterns(['has space']) ?? '', /invalid pattern/);
  assert.match(invalidPatterns(['x'.repeat(201)]) ?? '', /invalid pattern/);
  assert.match(invalidPatterns(Array.from({ length: MAX_PATTERNS + 1 }, () => 'a')) ?? '', /at most 100/);
});
