// Flags, env vars, the config file, help and usage errors of the built CLI.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { envName, flagName, serveKeys } from '../../src/cli/serve-options.js';
import { PROTOCOL } from '../../src/protocol/protocol-name.js';
import { ProtocolClient } from '../server/protocol/protocol-client.js';
import { runCli, runCliInProcess, startServe, stopAll } from './harness.js';
import { within } from '../helpers/wait.js';
import { hs256, JWT_SECRET } from '../helpers/jwt.js';
import { call, refusal } from './serve-support.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeline-config-'));
after(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

function configFile(name: string, settings: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof settings === 'string' ? settings : JSON.stringify(settings));
  return path;
}

test('LIFELINE_PATH moves the endpoint: the new path works, the old one is 404, the page follows', async (t) => {
  const server = await startServe(['--port', '0', '--allow-anonymous'], { LIFELINE_PATH: '/live' });
  const { welcome } = await ProtocolClient.connect(t, server.wsUrl('/live'));
  assert.equal(welcome.v, 1);
  assert.equal((await refusal(server.wsUrl('/ws'), { protocols: PROTOCOL })).status, 404);
  const page = await call(`${server.url}/`);
  assert.match(page.text, /<meta name="lifeline-endpoint" content="\/live">/, 'the page connects to the new path');
});

test('a flag wins over its env var', async (t) => {
  const server = await startServe(['--port', '0', '--path', '/flag', '--allow-anonymous'], { LIFELINE_PATH: '/env', LIFELINE_PORT: 'not-a-port' });
  await ProtocolClient.connect(t, server.wsUrl('/flag'));
  assert.equal((await refusal(server.wsUrl('/env'), { protocols: PROTOCOL })).status, 404);
});

test('env vars set the limits: LIFELINE_MAX_CONNECTIONS refuses the one too many with 503', async (t) => {
  const server = await startServe(['--port', '0'], { LIFELINE_MAX_CONNECTIONS: '1', LIFELINE_ALLOW_ANONYMOUS: 'true' });
  await ProtocolClient.connect(t, server.wsUrl());
  assert.equal((await refusal(server.wsUrl(), { protocols: PROTOCOL })).status, 503);
});

test('--config: the file sets what flags and env leave unset (flag > env > file)', async (t) => {
  const path = configFile('lifeline.json', {
    path: '/from-file',
    port: 1, // an env var wins: LIFELINE_PORT=0 below
    jwtSecret: JWT_SECRET,
    apiKey: 'config-file-api-key-123456',
    channels: { rooms: { history: { size: 3, ttl: 60_000 } } },
    maxConnections: 5,
    logLevel: 'warn',
  });
  const server = await startServe(['--config', path, '--max-connections', '1'], { LIFELINE_PORT: '0' });
  const { client } = await ProtocolClient.connect(t, server.wsUrl('/from-file'), {}, { query: { token: await hs256({ sub: 'ada', exp: Math.floor(Date.now() / 1000) + 600 }) } });
  assert.equal((await client.subscribe(1, 'rooms:a')).type, 'subscribed', 'the channels from the file');
  client.send({ type: 'subscribe', id: 2, channel: 'chat:lobby' });
  assert.equal((await client.reply(2)).type, 'error', 'the file replaced the default chat namespace');
  assert.equal((await refusal(server.wsUrl('/from-file'), { protocols: PROTOCOL })).status, 503, '--max-connections 1 beat the file');
  const history = await call(`${server.url}/api/v1/channels/rooms:a/history?key=config-file-api-key-123456`);
  assert.equal(history.status, 200, 'the API key from the file');
  assert.doesNotMatch(server.stderr(), /"level":30/, 'logLevel warn from the file: no info lines');
});

const usageErrors: readonly { args: string[]; env?: Record<string, string>; stderr: RegExp }[] = [
  { args: ['serve', '--port', 'abc'], stderr: /--port must be an integer from 0 to 65535 \(got "abc"\)/ },
  { args: ['serve', '--port', '70000'], stderr: /--port must be an integer from 0 to 65535 \(got "70000"\)/ },
  { args: ['serve', '--port', '-1'], stderr: /--port needs a value/ },
  { args: ['serve', '--port'], stderr: /--port needs a value/ },
  { args: ['serve', '--nope'], stderr: /unknown flag --nope/ },
  { args: ['serve', 'extra'], stderr: /unexpected argument "extra"/ },
  { args: ['serve', '--path', 'ws'], stderr: /--path must start with "\/"/ },
  { args: ['serve', '--path', '/ws?token=1'], stderr: /--path must be a path alone, without "\?" or "#" \(got "\/ws\?token=1"\)/ },
  { args: ['serve', '--path', '/ws#x'], stderr: /--path must be a path alone, without "\?" or "#"/ },
  { args: ['serve'], env: { LIFELINE_PATH: '/ws?' }, stderr: /LIFELINE_PATH must be a path alone, without "\?" or "#"/ },
  { args: ['serve', '--path', '/x/../ws'], stderr: /--path must have no "\." or "\.\." segment and no backslash/ },
  { args: ['serve', '--max-payload', '0'], stderr: /--max-payload must be an integer from 1/ },
  { args: ['serve', '--allowed-origins', 'not an origin'], stderr: /--allowed-origins has "not an origin"/ },
  { args: ['serve', '--log-level', 'loud'], stderr: /--log-level must be one of/ },
  { args: ['serve', '--jwt-secret', 'too-short'], stderr: /--jwt-secret must be at least 32 bytes .* \(got "\(hidden\)"\)/ },
  { args: ['serve', '--binary', 'maybe'], stderr: /--binary must be allow or reject/ },
  { args: ['serve', '--channels', '{"chat":{"presence":"yes"}}'], stderr: /--channels chat\.presence: / },
  { args: ['serve'], env: { LIFELINE_PORT: 'abc' }, stderr: /LIFELINE_PORT must be an integer/ },
  { args: ['serve'], env: { LIFELINE_DEMO: 'sure' }, stderr: /LIFELINE_DEMO must be true or false/ },
  { args: ['serve', '--config', '/no/such/lifeline.json'], stderr: /cannot read config file \/no\/such\/lifeline\.json: no such file/ },
  { args: ['serve', '--allow-anonymous', '--max-connections', '1', '--outbound-budget', '0'], stderr: /--outbound-budget must be an integer from 1/ },
  { args: ['frobnicate'], stderr: /unknown command "frobnicate"/ },
  { args: [], stderr: /Usage: lifeline <command>/ },
];

for (const { args, env, stderr } of usageErrors) {
  test(`usage error: lifeline ${args.join(' ')}${env ? ` with ${JSON.stringify(env)}` : ''} -> exit 2`, async () => {
    const result = await runCliInProcess(args, env);
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '', 'nothing on stdout');
    assert.match(result.stderr, stderr);
    if (args.length > 0) assert.equal(result.stderr.trimEnd().split('\n').length, 1, `one line: ${result.stderr}`);
  });
}

test('the built bin exits 2 on a usage error, with the one line on stderr and nothing on stdout', async () => {
  const result = await runCli(['serve', '--port', 'abc']);
  assert.equal(result.code, 2);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /^lifeline serve: --port must be an integer from 0 to 65535 \(got "abc"\)/);
  assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
});

test('config file mistakes are usage errors naming the file and the key', async () => {
  const cases: readonly [unknown, RegExp][] = [
    [{ port: 0, maxPayLoad: 5 }, /config file .*bad-0\.json: unknown key "maxPayLoad" \(did you mean "maxPayload"\?\)/],
    [{ pingInterval: 'soon' }, /config file .*bad-1\.json: pingInterval must be an integer from 0 to/],
    ['{"port": 0,', /config file .*bad-2\.json is not valid JSON/],
    // Secrets are never echoed: not from a broken file, not from a value of the wrong type.
    ['{"jwtSecret": TOPSECRET0123456789012345678901234}', /config file .*bad-3\.json is not valid JSON/],
    [{ redis: { url: 'redis://:REDISPASSWORD@db:6379' } }, /config file .*bad-4\.json: redis must be a string, number or boolean \(got \(hidden\)\)/],
    [{ apiKey: ['TOPSECRET-API-KEY-0123456789', 1] }, /config file .*bad-5\.json: apiKey must be a string, number or boolean \(got \(hidden\)\)/],
  ];
  for (const [index, [settings, expected]] of cases.entries()) {
    const result = await runCliInProcess(['serve', '--config', configFile(`bad-${index}.json`, settings)]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, expected);
    assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
    assert.doesNotMatch(result.stderr, /TOPSECRET|REDISPASSWORD/);
  }
});

test('a port already in use: one line on stderr and exit 1 (a failure, not a usage error)', async () => {
  const taken = createServer();
  taken.listen(0, '127.0.0.1');
  await within(once(taken, 'listening'), 5_000, 'a port to take');
  try {
    const { port } = taken.address() as AddressInfo;
    const result = await runCli(['serve', '--port', String(port), '--allow-anonymous']);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: address already in use`));
  } finally {
    taken.close();
  }
});

test('lifeline --help lists the commands and exits 0', async () => {
  const result = await runCli(['--help']);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /Usage: lifeline <command>/);
  assert.match(result.stdout, /^\s+serve\s+\S/m);
  assert.equal(result.stderr, '');
});

test('lifeline serve --help documents every setting with its flag and env var, in groups', async () => {
  for (const args of [['serve', '--help'], ['serve', '-h'], ['help', 'serve']]) {
    const result = await runCliInProcess(args);
    assert.equal(result.code, 0, args.join(' '));
    assert.equal(result.stderr, '');
    for (const key of serveKeys) {
      assert.match(result.stdout, new RegExp(`--${flagName(key)}\\b`), key);
      assert.match(result.stdout, new RegExp(`${envName(key)}\\b`), key);
    }
    for (const group of ['Server:', 'Authentication:', 'HTTP API, admin and metrics:', 'Limits:', 'Keepalive and timeouts:']) assert.ok(result.stdout.includes(`\n${group}\n`), group);
    assert.match(result.stdout, /Default: 8080/);
    assert.ok(result.stdout.split('\n').every((line) => line.length <= 100), 'fits 100 columns');
  }
});

test('lifeline --version prints the package version', async () => {
  const result = await runCli(['--version']);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /^\d+\.\d+\.\d+/);
});
