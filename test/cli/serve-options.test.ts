// The flag, env and config-file parser on its own: precedence, normalization and the wording of errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { envName, flagName, parseServeArgs, readConfigFile, serveKeys } from '../../src/cli/serve-options.js';
import { resolveServerOptions } from '../../src/server/options.js';

/** A config "file" from memory: the parser reads through the injected reader. */
const files =
  (contents: Record<string, string>) =>
  (path: string): string => {
    const text = contents[path];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return text;
  };

test('flag and env names derive from the setting', () => {
  assert.equal(flagName('maxPayload'), 'max-payload');
  assert.equal(envName('maxPayload'), 'LIFELINE_MAX_PAYLOAD');
  assert.equal(envName('allowedOrigins'), 'LIFELINE_ALLOWED_ORIGINS');
  assert.equal(flagName('jwtPublicKey'), 'jwt-public-key');
  assert.equal(envName('perMessageDeflate'), 'LIFELINE_PER_MESSAGE_DEFLATE');
});

test('every server option that has a plain value is a setting (hooks, clock and logger are not)', () => {
  const hooks = new Set(['server', 'onRequest', 'authenticate', 'broker', 'canSubscribe', 'canPublish', 'presenceUser', 'logger', 'clock', 'rng', 'randomBytes', 'paths']);
  const options = Object.keys(resolveServerOptions({})).filter((key) => !hooks.has(key));
  const settings = new Set<string>(serveKeys);
  for (const option of [...options, 'path']) assert.ok(settings.has(option), `${option} has a flag`);
});

test('no flags and no env: nothing set, so the defaults apply', () => {
  assert.deepEqual(parseServeArgs([], {}), { kind: 'ok', value: {} });
});

test('flags parse to typed values; a flag wins over env; an empty env var is unset', () => {
  const outcome = parseServeArgs(['--port', '9000', '--ping-interval=0', '--drain-timeout', '250'], {
    LIFELINE_PORT: '1',
    LIFELINE_HOST: '0.0.0.0',
    LIFELINE_PATH: '',
    LIFELINE_MAX_CONNECTIONS: '100',
  });
  assert.deepEqual(outcome, { kind: 'ok', value: { port: 9000, host: '0.0.0.0', maxConnections: 100, pingInterval: 0, drainTimeout: 250 } });
});

test('every kind of value: rates, booleans, enums, lists, deflate and channel JSON', () => {
  const outcome = parseServeArgs(
    [
      '--admission-rate',
      '0.5',
      '--app-pings',
      'off',
      '--binary',
      'reject',
      '--handshake-rejection',
      'close',
      '--authenticate-on',
      'first-message',
      '--protocols',
      'chat.v2, json',
      '--per-message-deflate',
      '{"threshold":256,"level":1}',
      '--channels',
      '{"news":{"history":{"size":10,"ttl":1000}},"*":{}}',
      '--demo',
      '--allow-anonymous',
    ],
    { LIFELINE_RECOVERY_WINDOW: '5000', LIFELINE_MAX_MESSAGE_RATE: '20' },
  );
  assert.deepEqual(outcome, {
    kind: 'ok',
    value: {
      admissionRate: 0.5,
      appPings: false,
      binary: 'reject',
      handshakeRejection: 'close',
      authenticateOn: 'first-message',
      protocols: ['chat.v2', 'json'],
      perMessageDeflate: { threshold: 256, level: 1 },
      channels: { news: { history: { size: 10, ttl: 1000 } }, '*': {} },
      demo: true,
      allowAnonymous: true,
      recoveryWindow: 5000,
      maxMessageRate: 20,
    },
  });
  assert.deepEqual(parseServeArgs(['--per-message-deflate', 'true'], {}), { kind: 'ok', value: { perMessageDeflate: true } });
  assert.deepEqual(parseServeArgs([], { LIFELINE_DEMO: 'false', LIFELINE_ALLOW_ANONYMOUS: 'yes' }), { kind: 'ok', value: { demo: false, allowAnonymous: true } });
});

test('allowed origins are normalized the way browsers send them, or "*"', () => {
  const outcome = parseServeArgs(['--allowed-origins', 'https://App.Example.com/, http://localhost:3000'], {});
  assert.deepEqual(outcome, { kind: 'ok', value: { allowedOrigins: ['https://app.example.com', 'http://localhost:3000'] } });
  assert.deepEqual(parseServeArgs([], { LIFELINE_ALLOWED_ORIGINS: '*' }), { kind: 'ok', value: { allowedOrigins: '*' } });
  for (const bad of ['ftp://x.example', 'https://x.example/path', 'example.com']) {
    const result = parseServeArgs(['--allowed-origins', bad], {});
    assert.equal(result.kind, 'error', bad);
  }
});

test('errors name the source of the bad value, flag or env', () => {
  assert.deepEqual(parseServeArgs(['--port', '65536'], {}), { kind: 'error', message: '--port must be an integer from 0 to 65535 (got "65536")' });
  assert.deepEqual(parseServeArgs([], { LIFELINE_PONG_TIMEOUT: '0' }), {
    kind: 'error',
    message: 'LIFELINE_PONG_TIMEOUT must be an integer from 1 to 2147483647 (got "0")',
  });
  assert.deepEqual(parseServeArgs(['--port', '1.5'], {}), { kind: 'error', message: '--port must be an integer from 0 to 65535 (got "1.5")' });
  assert.deepEqual(parseServeArgs(['--app-pings', 'maybe'], {}), { kind: 'error', message: '--app-pings must be true or false (got "maybe")' });
  assert.deepEqual(parseServeArgs(['--protocols', 'a b'], {}), { kind: 'error', message: '--protocols has "a b", which is not a subprotocol name (an HTTP token) (got "a b")' });
  assert.deepEqual(parseServeArgs(['--channels', '{"chat":{"history":{"size":-1,"ttl":0}}}'], {}), {
    kind: 'error',
    message: '--channels chat.history.size: must be an integer from 0 to 1000000 (got "{"chat":{"history":{"size":-1,"ttl":0}}}")',
  });
  assert.deepEqual(parseServeArgs(['--channels', '{nope'], {}), { kind: 'error', message: '--channels is not valid JSON (got "{nope")' });
  assert.equal(parseServeArgs(['--per-message-deflate', '{"level":12}'], {}).kind, 'error');
});

test('--max-event-loop-delay / LIFELINE_MAX_EVENT_LOOP_DELAY: milliseconds, 0 turns the guard off', () => {
  assert.deepEqual(parseServeArgs(['--max-event-loop-delay', '50'], { LIFELINE_MAX_EVENT_LOOP_DELAY: '5' }), { kind: 'ok', value: { maxEventLoopDelay: 50 } });
  assert.deepEqual(parseServeArgs([], { LIFELINE_MAX_EVENT_LOOP_DELAY: '0' }), { kind: 'ok', value: { maxEventLoopDelay: 0 } });
  assert.deepEqual(parseServeArgs(['--max-event-loop-delay=-1'], {}), { kind: 'error', message: '--max-event-loop-delay must be an integer from 0 to 2147483647 (got "-1")' });
  assert.deepEqual(parseServeArgs([], { LIFELINE_MAX_EVENT_LOOP_DELAY: '2.5' }), {
    kind: 'error',
    message: 'LIFELINE_MAX_EVENT_LOOP_DELAY must be an integer from 0 to 2147483647 (got "2.5")',
  });
});

test('secrets are never echoed in an error', () => {
  for (const [args, env] of [
    [['--jwt-secret', 'short'], {}],
    [['--api-key', 'sesame open please now'], {}],
    [[], { LIFELINE_METRICS_KEY: 'tiny' }],
  ] as const) {
    const outcome = parseServeArgs(args, env);
    assert.equal(outcome.kind, 'error');
    const message = outcome.kind === 'error' ? outcome.message : '';
    assert.match(message, /\(got "\(hidden\)"\)$/);
    assert.doesNotMatch(message, /short|sesame|tiny/);
  }
});

test('--help and -h ask for help, even next to other flags', () => {
  assert.deepEqual(parseServeArgs(['--help'], {}), { kind: 'help' });
  assert.deepEqual(parseServeArgs(['--port', '1', '-h'], {}), { kind: 'help' });
});

test('a switch takes no value on the command line', () => {
  const outcome = parseServeArgs(['--demo=yes'], {});
  assert.equal(outcome.kind, 'error');
});

test('precedence: flag over env over config file over default', () => {
  const read = files({ '/etc/lifeline.json': JSON.stringify({ port: 1111, host: '0.0.0.0', maxPayload: 2048, pingInterval: 0, logLevel: 'warn' }) });
  const outcome = parseServeArgs(['--config', '/etc/lifeline.json', '--port', '3333'], { LIFELINE_PORT: '2222', LIFELINE_HOST: '127.0.0.2' }, read);
  assert.deepEqual(outcome, { kind: 'ok', value: { config: '/etc/lifeline.json', port: 3333, host: '127.0.0.2', maxPayload: 2048, pingInterval: 0, logLevel: 'warn' } });
  const fromEnv = parseServeArgs([], { LIFELINE_CONFIG: '/etc/lifeline.json' }, read);
  assert.equal(fromEnv.kind === 'ok' ? fromEnv.value.port : undefined, 1111, 'LIFELINE_CONFIG names the file too');
});

test('a config file takes JSON values: numbers, booleans, lists, and objects for channels and deflate', () => {
  const read = files({
    'c.json': JSON.stringify({
      allowedOrigins: ['https://a.example', 'https://b.example'],
      protocols: ['x'],
      appPings: false,
      demo: true,
      perMessageDeflate: { level: 2 },
      channels: { chat: { presence: true } },
      jwtSecret: 'x'.repeat(32),
    }),
  });
  assert.deepEqual(readConfigFile('c.json', read), {
    kind: 'ok',
    value: {
      allowedOrigins: ['https://a.example', 'https://b.example'],
      protocols: ['x'],
      appPings: false,
      demo: true,
      perMessageDeflate: { level: 2 },
      channels: { chat: { presence: true } },
      jwtSecret: 'x'.repeat(32),
    },
  });
});

test('config file errors name the file and the key', () => {
  const read = files({
    'unknown.json': '{"port": 1, "nope": 2}',
    'typo.json': '{"max-payload": 10}',
    'bad.json': '{"port": "eighty"}',
    'nested.json': '{"channels": {"chat": {"history": {"size": 1}}}}',
    'object.json': '{"port": {"n": 1}}',
    'self.json': '{"config": "other.json"}',
    'list.json': '[1]',
    'broken.json': '{"port": ',
  });
  const message = (path: string): string => {
    const outcome = parseServeArgs(['--config', path], {}, read);
    assert.equal(outcome.kind, 'error', path);
    return outcome.kind === 'error' ? outcome.message : '';
  };
  assert.equal(message('unknown.json'), 'config file unknown.json: unknown key "nope"');
  assert.equal(message('typo.json'), 'config file typo.json: unknown key "max-payload" (did you mean "maxPayload"?)');
  assert.equal(message('bad.json'), 'config file bad.json: port must be an integer from 0 to 65535 (got "eighty")');
  assert.match(message('nested.json'), /^config file nested\.json: channels chat\.history\.ttl: /);
  assert.match(message('object.json'), /^config file object\.json: port must be a string, number or boolean/);
  assert.equal(message('self.json'), 'config file self.json: "config" cannot name another config file');
  assert.equal(message('list.json'), 'config file list.json must hold a JSON object of settings');
  assert.match(message('broken.json'), /^config file broken\.json is not valid JSON/);
  assert.equal(message('missing.json'), 'cannot read config file missing.json: no such file');
});
