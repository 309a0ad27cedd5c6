// The pure parts of `lifeline connect`: the line parser, the flag parser and the wording of
// each event, without a socket.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseCommand } from '../../src/cli/connect-commands.js';
import { parseConnectArgs } from '../../src/cli/connect-options.js';
import { tokenFromOutput } from '../../src/cli/connect-token.js';
import { formatJson, formatText, type ConnectEvent } from '../../src/cli/connect-printer.js';
import { parseHeader, parseTarget, parseUrl, printableUrl } from '../../src/cli/connect-target.js';

describe('parseCommand', () => {
  test('plain lines are messages; "//" escapes a leading slash', () => {
    assert.deepEqual(parseCommand('hello'), { kind: 'send', text: 'hello' });
    assert.deepEqual(parseCommand(''), { kind: 'send', text: '' });
    assert.deepEqual(parseCommand('  /ping'), { kind: 'send', text: '  /ping' });
    assert.deepEqual(parseCommand('//ping'), { kind: 'send', text: '/ping' });
  });

  test('/close takes an optional code and a reason that keeps its inner spacing', () => {
    assert.deepEqual(parseCommand('/close'), { kind: 'close', code: 1000, reason: '' });
    assert.deepEqual(parseCommand('/close 4000'), { kind: 'close', code: 4000, reason: '' });
    assert.deepEqual(parseCommand('/close 4000 bye  now '), { kind: 'close', code: 4000, reason: 'bye  now' });
    assert.equal(parseCommand('/close x').kind, 'invalid');
    assert.equal(parseCommand('/close -1').kind, 'invalid');
  });

  test('channel commands: one channel; JSON checked before anything is sent', () => {
    assert.deepEqual(parseCommand('/sub chat:x'), { kind: 'sub', channel: 'chat:x' });
    assert.deepEqual(parseCommand('/unsub chat:x'), { kind: 'unsub', channel: 'chat:x' });
    assert.deepEqual(parseCommand('/pub chat:x {"a": [1, 2]}'), { kind: 'pub', channel: 'chat:x', data: { a: [1, 2] } });
    assert.deepEqual(parseCommand('/logout'), { kind: 'logout' });
    assert.deepEqual(parseCommand('/req rooms.list'), { kind: 'req', method: 'rooms.list', params: undefined });
    assert.deepEqual(parseCommand('/req echo {"x":1}'), { kind: 'req', method: 'echo', params: { x: 1 } });
    for (const bad of ['/sub', '/sub a b', '/pub chat:x', '/pub chat:x {nope', '/req', '/req m {', '/ping now', '/logout now']) {
      const command = parseCommand(bad);
      assert.equal(command.kind, 'invalid', bad);
    }
    const invalid = parseCommand('/pub chat:x {nope');
    assert.ok(invalid.kind === 'invalid' && invalid.message.startsWith('/pub: not valid JSON'));
  });

  test('/quit, /exit, /help, /? and unknown commands', () => {
    assert.deepEqual(parseCommand('/quit'), { kind: 'quit' });
    assert.deepEqual(parseCommand('/exit'), { kind: 'quit' });
    assert.deepEqual(parseCommand('/help'), { kind: 'help' });
    assert.deepEqual(parseCommand('/?'), { kind: 'help' });
    const unknown = parseCommand('/frobnicate now');
    assert.ok(unknown.kind === 'invalid' && unknown.message.includes('//frobnicate'));
  });
});

describe('connection flags', () => {
  test('URLs: ws and wss; http(s) read as ws(s); no fragment', () => {
    assert.equal(parseUrl('ws://localhost:8080/ws').ok, true);
    const https = parseUrl('https://example.com/ws?x=1');
    assert.ok(https.ok);
    assert.equal(https.value.href, 'wss://example.com/ws?x=1');
    for (const bad of ['ftp://x/', 'ws://x/#frag', 'localhost:8080', '']) assert.equal(parseUrl(bad).ok, false, bad);
  });

  test('headers: "Name: value", handshake headers refused, token and origin become headers', () => {
    assert.deepEqual(parseHeader('X-Tenant: acme corp'), { ok: true, value: ['X-Tenant', 'acme corp'] });
    assert.deepEqual(parseHeader('X-Empty:'), { ok: true, value: ['X-Empty', ''] });
    assert.equal(parseHeader('no colon').ok, false);
    assert.equal(parseHeader('Bad Name: x').ok, false);
    assert.equal(parseHeader('Upgrade: h2c').ok, false);
    const target = parseTarget({ url: 'ws://h/ws', headers: ['x-a: 1', 'X-A: 2'], protocols: ['chat'], token: 't0k', origin: 'https://app.example.com/' });
    assert.ok(target.ok);
    assert.deepEqual(target.value.headers, { 'X-A': '2', Origin: 'https://app.example.com', Authorization: 'Bearer t0k' });
    assert.deepEqual(target.value.protocols, ['chat']);
    assert.equal(parseTarget({ url: 'ws://h/', headers: [], protocols: ['a', 'a'] }).ok, false);
  });

  test('a password in the URL is masked when printed', () => {
    const url = parseUrl('ws://user:secret@h/ws');
    assert.ok(url.ok);
    assert.equal(printableUrl(url.value), 'ws://user:***@h/ws');
  });

  test('parseConnectArgs: lifeline mode from --protocol lifeline.v1, max attempts, json', () => {
    const outcome = parseConnectArgs(['ws://h/ws', '--protocol', 'lifeline.v1', '--json', '--max-attempts', '3']);
    assert.ok(outcome.kind === 'ok');
    assert.equal(outcome.value.lifeline, true);
    assert.equal(outcome.value.json, true);
    assert.equal(outcome.value.maxAttempts, 3);
    const plain = parseConnectArgs(['ws://h/ws']);
    assert.ok(plain.kind === 'ok');
    assert.equal(plain.value.lifeline, false);
    assert.equal(plain.value.maxAttempts, 10, 'the client default');
    assert.deepEqual(parseConnectArgs(['-h']), { kind: 'help' });
  });
});

describe('event wording', () => {
  const text = (event: ConnectEvent): string => formatText(event).join('\n');

  test('a close the client retries after: code, name, countdown and why, then the meaning', () => {
    const event: ConnectEvent = {
      type: 'closed',
      code: 1013,
      reason: 'retry after 2000 ms, spread over 1000 ms',
      wasClean: true,
      then: { kind: 'reconnect', delayMs: 2_345, attempt: 1, maxAttempts: 10 },
    };
    assert.deepEqual(formatText(event), [
      'closed 1013 try again later: reconnecting in 2.3 s (retry 1 of 10, the server asked for 2000 ms plus up to 1000 ms)',
      '  the server is overloaded; reconnect later (after the retry hint, if any)',
      '  reason: retry after 2000 ms, spread over 1000 ms',
    ]);
    assert.deepEqual(JSON.parse(formatJson(event)), {
      event: 'closed',
      code: 1013,
      name: 'try again later',
      meaning: 'the server is overloaded; reconnect later (after the retry hint, if any)',
      reason: 'retry after 2000 ms, spread over 1000 ms',
      wasClean: true,
      reconnect: { delayMs: 2345, attempt: 1, maxAttempts: 10 },
    });
  });

  test('a refused handshake is worded by its status, with Retry-After', () => {
    const lines = formatText({
      type: 'closed',
      code: 1006,
      reason: 'handshake refused: HTTP 503',
      wasClean: false,
      status: 503,
      retryAfterMs: 5_000,
      then: { kind: 'reconnect', delayMs: 5_500, attempt: 2, maxAttempts: 10 },
    });
    assert.equal(lines[0], 'refused 503 Service Unavailable: reconnecting in 5.5 s (retry 2 of 10, Retry-After asked for 5.0 s)');
    assert.equal(lines.length, 2, 'the client-made reason is not repeated');
  });

  test('endings say why the session ends', () => {
    const end = (why: 'request' | 'stop' | 'fatal' | 'giveup', code = 1000): string =>
      formatText({ type: 'closed', code, reason: '', wasClean: true, then: { kind: 'end', why } })[0] ?? '';
    assert.equal(end('request'), 'closed 1000 normal closure: closed as asked');
    assert.equal(end('stop', 1001), 'closed 1001 going away: not reconnecting');
    assert.equal(end('fatal', 1009), 'closed 1009 message too big: not reconnecting: retrying cannot help');
    assert.equal(end('giveup', 1006), 'closed 1006 abnormal closure: out of retries');
    assert.equal(text({ type: 'giveup', attempts: 1 }), 'gave up after 1 retry (--max-attempts); exiting');
  });

  test('messages stay on one line; binary is shown as hex', () => {
    assert.equal(text({ type: 'message', text: 'a\nb\tc\u0001' }), '< a\\nb\\tc\\u0001');
    assert.equal(text({ type: 'binary', bytes: new Uint8Array([0, 255, 16]) }), '< binary 3 bytes: 00ff10');
    assert.equal(text({ type: 'sent', text: 'x', outcome: 'queued' }), '> x (queued: sent once connected)');
  });

  test('channel events carry channel and position; resubscribes say whether they recovered', () => {
    const position = { epoch: 'e1', offset: 7 };
    assert.equal(text({ type: 'event', channel: 'chat:x', position, data: { a: 1 } }), 'event chat:x offset 7 (epoch e1): {"a":1}');
    assert.equal(text({ type: 'ack', channel: 'chat:x', position }), 'ack chat:x offset 7 (epoch e1)');
    assert.equal(text({ type: 'subscribed', channel: 'c', position, recovered: true, again: false }), 'subscribed c at offset 7 (epoch e1)');
    assert.match(text({ type: 'subscribed', channel: 'c', position, recovered: true, again: true }), /^resubscribed c: recovered/);
    assert.match(text({ type: 'subscribed', channel: 'c', position, recovered: false, again: true }), /^resubscribed c: NOT recovered, events were missed/);
    assert.equal(text({ type: 'error', about: 'req m', code: 'no_method', message: 'no handler' }), 'error req m no_method: no handler');
    assert.deepEqual(JSON.parse(formatJson({ type: 'result', method: 'm', result: [1] })), { event: 'result', method: 'm', result: [1] });
  });
});

describe('tokenFromOutput', () => {
  test('the output itself, or the "token" field of JSON', () => {
    assert.equal(tokenFromOutput('abc.def\n'), 'abc.def');
    assert.equal(tokenFromOutput('{"token":"abc.def","user":"ann"}'), 'abc.def');
    assert.throws(() => tokenFromOutput('  \n'), /printed nothing/);
    assert.throws(() => tokenFromOutput('a b'), /more than one token/);
    assert.throws(() => tokenFromOutput('{"user":"ann"}'), /printed JSON without a "token" string/);
  });

  test('a token service\'s error answer is shown, not only that no token came', () => {
    // What a demo server answers for a visitor key that is too short (curl -s prints it, exit 0).
    const refusal = '{"error":{"code":"bad_request","message":"visitor must be 16-128 characters of A-Z a-z 0-9 _ -"}}';
    assert.throws(() => tokenFromOutput(refusal), { message: '--token-command printed an error instead of a token: visitor must be 16-128 characters of A-Z a-z 0-9 _ -' });
    assert.throws(() => tokenFromOutput('{"error":"invalid_client"}'), { message: '--token-command printed an error instead of a token: invalid_client' });
  });
});
