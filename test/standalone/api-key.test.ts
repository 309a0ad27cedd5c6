// The API key: where a request presents it, and the comparison.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { ApiKey, presentedKey } from '../../src/standalone/api-key.js';

const request = (authorization?: string): IncomingMessage => ({ headers: authorization === undefined ? {} : { authorization } }) as IncomingMessage;

test('a key matches itself only', () => {
  const key = new ApiKey('0123456789abcdef');
  assert.equal(key.matches('0123456789abcdef'), true);
  assert.equal(key.matches('0123456789abcdeF'), false);
  assert.equal(key.matches('0123456789abcdef0'), false, 'a longer key');
  assert.equal(key.matches(''), false);
  assert.equal(key.matches(undefined), false);
});

test('generated keys are long, URL-safe and different each time', () => {
  const a = ApiKey.generate();
  const b = ApiKey.generate();
  assert.match(a, /^[A-Za-z0-9_-]{32}$/);
  assert.notEqual(a, b);
});

test('the key comes from Authorization: Bearer, else from ?key=', () => {
  const url = new URL('http://x/admin/api/snapshot?key=from-query');
  assert.equal(presentedKey(request('Bearer from-header'), url), 'from-header');
  assert.equal(presentedKey(request('bearer  from-header '), url), 'from-header');
  assert.equal(presentedKey(request(), url), 'from-query');
  assert.equal(presentedKey(request(), new URL('http://x/')), undefined);
  // A header of another scheme is not ours (a proxy's Basic credentials, resent by a browser):
  // the query speaks; a Bearer header without a token presents nothing.
  assert.equal(presentedKey(request('Basic dXNlcjpwYXNz'), url), 'from-query');
  assert.equal(presentedKey(request('Basic dXNlcjpwYXNz'), new URL('http://x/')), undefined);
  assert.equal(presentedKey(request('Bearer'), url), undefined);
  const key = new ApiKey('from-header');
  assert.equal(key.admits(request('Bearer from-header'), url), true);
  assert.equal(key.admits(request(), url), false);
});
