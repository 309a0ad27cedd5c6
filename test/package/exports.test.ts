import assert from 'node:assert/strict';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

// `npm test` builds first; these import the package by its own name, through package.json's
// "exports", exactly as a user's code would.
const dist = new URL('../../dist/', import.meta.url);

describe('the built package', () => {
  test('lifeline/server, lifeline/client and lifeline/testing resolve and export their API', async () => {
    const server = await import('lifeline/server');
    const client = await import('lifeline/client');
    const testing = await import('lifeline/testing');
    assert.equal(typeof server.createServer, 'function');
    assert.equal(server.CloseCode.SERVICE_RESTART, 1012);
    assert.equal(typeof client.ReconnectingWebSocket, 'function');
    assert.equal(typeof testing.startServer, 'function');
    assert.equal(typeof testing.FakeClock, 'function');
  });

  test('on Node, lifeline/client resolves to the node entry with ws underneath', async () => {
    const client = await import('lifeline/client');
    assert.ok('NodeWebSocket' in client, 'the node condition picked dist/client/node.js');
    const ws = new client.ReconnectingWebSocket('ws://127.0.0.1:9/ws', undefined, { maxAttempts: 0 });
    assert.equal(ws.options.WebSocket, client.NodeWebSocket);
    ws.dispose();
  });

  test('the node condition carries its own declarations, so Node-only exports are typed', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { exports: Record<string, Record<string, { types: string }>> };
    assert.equal(pkg.exports['./client']?.node?.types, './dist/client/node.d.ts');
    assert.match(readFileSync(new URL('client/node.d.ts', dist), 'utf8'), /FileOutboxStore/);
  });

  test('type declarations are emitted for every entry', () => {
    for (const entry of ['server/index.d.ts', 'client/index.d.ts', 'client/node.d.ts', 'testing/index.d.ts']) {
      assert.ok(existsSync(new URL(entry, dist)), entry);
    }
  });

  test('the lifeline bin is executable and starts with a shebang', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { bin: { lifeline: string } };
    const bin = new URL(`../../${pkg.bin.lifeline}`, import.meta.url);
    accessSync(bin, constants.X_OK);
    assert.match(readFileSync(bin, 'utf8'), /^#!\/usr\/bin\/env node\n/);
  });
});
