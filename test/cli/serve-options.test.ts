// The flag and env parser on its own: precedence, normalization and the wording of errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { envName, flagName, parseServeArgs } from '../../src/cli/serve-options.js';

test('flag and env names derive from the setting', () => {
  assert.equal(flagName('maxPayload'), 'max-payload');
  assert.equal(envName('maxPayload'), 'LIFELINE_MAX_PAYLOAD');
  assert.equal(envName('allowedOrigins'), 'LIFELINE_ALLOWED_ORIGINS');
});

test('no flags and no env: nothing set, so the server defaults apply', () => {
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
});

test('--help and -h ask for help, even next to other flags', () => {
  assert.deepEqual(parseServeArgs(['--help'], {}), { kind: 'help' });
  assert.deepEqual(parseServeArgs(['--port', '1', '-h'], {}), { kind: 'help' });
});
