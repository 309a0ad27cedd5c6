// Shutdown by signal: SIGINT drains like SIGTERM, /readyz says so while it drains, and a
// second signal during the drain exits at once.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, test } from 'node:test';
import { ProtocolClient } from '../server/protocol/protocol-client.js';
import { startServe, stopAll } from './harness.js';
import { within } from '../helpers/wait.js';
import { call } from './serve-support.js';

const sockets: Socket[] = [];
after(async () => {
  for (const socket of sockets) socket.destroy();
  await stopAll();
});

test('SIGINT closes clients with 1012 and a retry hint, then exits 0', async () => {
  const server = await startServe(['--port', '0', '--allow-anonymous']);
  const client = await ProtocolClient.open(server.wsUrl());
  await client.hello();
  server.child.kill('SIGINT');
  const close = await within(client.closed, 15_000, 'the close');
  assert.equal(close.code, 1012);
  assert.match(close.reason, /retry after \d+ ms/);
  assert.deepEqual(await within(server.exited, 15_000, 'exit'), { code: 0, signal: null });
});

/**
 * A peer that completes the opening handshake and then never answers anything: it holds the
 * drain open (until closeTimeout, 5 s), which is what a second signal has to cut short.
 */
async function silentPeer(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  sockets.push(socket);
  socket.on('error', () => undefined); // the server's exit resets it; expected
  await within(once(socket, 'connect'), 5_000, 'tcp connect');
  socket.write(
    'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let seen = '';
  await within(
    new Promise<void>((resolve) => {
      const onData = (chunk: Buffer): void => {
        seen += chunk.toString('latin1');
        if (!seen.includes('\r\n\r\n')) return;
        socket.off('data', onData);
        resolve();
      };
      socket.on('data', onData);
    }),
    5_000,
    '101 Switching Protocols',
  );
  assert.match(seen, /^HTTP\/1\.1 101 /);
  socket.resume(); // read and ignore the close frame, never answer it
  return socket;
}

test('while it drains /readyz answers 503 (and /healthz 200); a second signal exits at once with code 1', async () => {
  const server = await startServe(['--port', '0', '--drain-timeout', '60000', '--allow-anonymous']);
  assert.equal((await call(`${server.url}/readyz`)).status, 200);
  await silentPeer(Number(new URL(server.url).port));
  server.child.kill('SIGTERM');
  await server.stderrIncludes('"msg":"draining"');
  const ready = await call(`${server.url}/readyz`);
  assert.equal(ready.status, 503);
  assert.deepEqual(ready.body, { status: 'not_ready', reason: 'draining: shutting down' });
  assert.equal((await call(`${server.url}/healthz`)).status, 200, 'alive, just not taking new clients');
  const signalled = Date.now();
  server.child.kill('SIGINT');
  const exit = await within(server.exited, 4_000, 'the forced exit (well before the 5 s close timeout)');
  assert.deepEqual(exit, { code: 1, signal: null });
  assert.ok(Date.now() - signalled < 4_000);
  assert.match(server.stderr(), /second signal during drain/);
  assert.doesNotMatch(server.stderr(), /shut down cleanly/);
});
