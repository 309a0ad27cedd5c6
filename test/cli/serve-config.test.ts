// Flags, env vars, help and usage errors of the built CLI.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { WebSocket } from 'ws';
import { runCli, startServe, stopAll, TestClient, within } from './harness.js';

after(stopAll);

/** The HTTP status a WebSocket upgrade to `url` is refused with. */
async function refusedStatus(url: string): Promise<number> {
  const ws = new WebSocket(url);
  try {
    return await within(
      5_000,
      `the upgrade to ${url} to be refused`,
      new Promise<number>((resolve, reject) => {
        ws.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
        ws.once('open', () => reject(new Error(`${url} accepted the upgrade`)));
        ws.once('error', reject);
      }),
    );
  } finally {
    ws.terminate();
  }
}

test('LIFELINE_PATH moves the endpoint: the new path works, the old one is 404', async () => {
  const server = await startServe(['--port', '0'], { LIFELINE_PATH: '/live' });
  const client = await TestClient.connect(server.wsUrl('/live'));
  assert.equal((await client.ofType('welcome')).online, 1);
  assert.equal(await refusedStatus(server.wsUrl('/ws')), 404);
  const page = await within(5_000, 'GET /', fetch(`${server.url}/`));
  assert.match(await page.text(), /<meta name="lifeline-endpoint" content="\/live">/, 'the page connects to the new path');
  client.ws.terminate();
});

test('a flag wins over its env var', async () => {
  const server = await startServe(['--port', '0', '--path', '/flag'], { LIFELINE_PATH: '/env', LIFELINE_PORT: 'not-a-port' });
  const client = await TestClient.connect(server.wsUrl('/flag'));
  await client.ofType('welcome');
  assert.equal(await refusedStatus(server.wsUrl('/env')), 404);
  client.ws.terminate();
});

test('env vars set the limits: LIFELINE_MAX_CONNECTIONS refuses the one too many with 503', async () => {
  const server = await startServe(['--port', '0'], { LIFELINE_MAX_CONNECTIONS: '1' });
  const first = await TestClient.connect(server.wsUrl());
  await first.ofType('welcome');
  assert.equal(await refusedStatus(server.wsUrl()), 503);
  first.ws.terminate();
});

const usageErrors: readonly { args: string[]; env?: Record<string, string>; stderr: RegExp }[] = [
  { args: ['serve', '--port', 'abc'], stderr: /--port must be an integer from 0 to 65535 \(got "abc"\)/ },
  { args: ['serve', '--port', '70000'], stderr: /--port must be an integer from 0 to 65535 \(got "70000"\)/ },
  { args: ['serve', '--port', '-1'], stderr: /--port needs a value/ },
  { args: ['serve', '--port'], stderr: /--port needs a value/ },
  { args: ['serve', '--nope'], stderr: /unknown flag --nope/ },
  { args: ['serve', 'extra'], stderr: /unexpected argument "extra"/ },
  { args: ['serve', '--path', 'ws'], stderr: /--path must start with "\/"/ },
  { args: ['serve', '--max-payload', '0'], stderr: /--max-payload must be an integer from 1/ },
  { args: ['serve', '--allowed-origins', 'not an origin'], stderr: /--allowed-origins has "not an origin"/ },
  { args: ['serve', '--log-level', 'loud'], stderr: /--log-level must be one of/ },
  { args: ['serve'], env: { LIFELINE_PORT: 'abc' }, stderr: /LIFELINE_PORT must be an integer/ },
  { args: ['frobnicate'], stderr: /unknown command "frobnicate"/ },
  { args: [], stderr: /Usage: lifeline <command>/ },
];

for (const { args, env, stderr } of usageErrors) {
  test(`usage error: lifeline ${args.join(' ')}${env ? ` with ${JSON.stringify(env)}` : ''} -> exit 2`, async () => {
    const result = await runCli(args, env);
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '', 'nothing on stdout');
    assert.match(result.stderr, stderr);
    if (args.length > 0) assert.equal(result.stderr.trimEnd().split('\n').length, 1, `one line: ${result.stderr}`);
  });
}

test('a port already in use: one line on stderr and exit 1 (a failure, not a usage error)', async () => {
  const taken = createServer();
  taken.listen(0, '127.0.0.1');
  await within(5_000, 'a port to take', once(taken, 'listening'));
  try {
    const { port } = taken.address() as AddressInfo;
    const result = await runCli(['serve', '--port', String(port)]);
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

test('lifeline serve --help documents every flag with its env var, and exits 0', async () => {
  for (const args of [['serve', '--help'], ['serve', '-h'], ['help', 'serve']]) {
    const result = await runCli(args);
    assert.equal(result.code, 0, args.join(' '));
    assert.equal(result.stderr, '');
    for (const flag of ['port', 'host', 'path', 'allowed-origins', 'max-connections', 'max-payload', 'ping-interval', 'pong-timeout', 'handshake-timeout', 'drain-timeout']) {
      assert.match(result.stdout, new RegExp(`--${flag} `), flag);
      assert.match(result.stdout, new RegExp(`LIFELINE_${flag.toUpperCase().replace(/-/g, '_')}\\b`), flag);
    }
    assert.match(result.stdout, /default: 8080/);
  }
});

test('lifeline --version prints the package version', async () => {
  const result = await runCli(['--version']);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /^\d+\.\d+\.\d+/);
});
