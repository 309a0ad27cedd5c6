// The Node entry's `socketOptions`: what `ws` is given for every attempt (headers, TLS), fixed or
// from a provider called before each attempt. Real servers on 127.0.0.1, a real TLS server.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { pino } from 'pino';
import { LifelineClient, NodeWebSocket, ReconnectingWebSocket, type UrlContext } from '../../src/client/node.js';
import { InvalidOptionError, LifelineError } from '../../src/core/errors.js';
import { createServer } from '../../src/server/index.js';
import type { AuthRequest } from '../../src/server/options.js';
import { startServer, type ServerFixture } from '../../src/testing/server-fixture.js';
import { testCertificate } from '../helpers/tls-certificate.js';
import { until, within } from '../helpers/wait.js';

const fast = { initialDelay: 10, maxDelay: 50 };

/** A server that lets in only `Authorization: Bearer <one of tokens>` (401 otherwise), and records what it saw. */
async function bearerServer(tokens: Set<string>): Promise<ServerFixture<unknown> & { readonly seen: (string | undefined)[] }> {
  const seen: (string | undefined)[] = [];
  const fixture = await startServer({
    channels: { chat: {} },
    authenticate: (request: AuthRequest) => {
      const header = request.headers.authorization;
      seen.push(header);
      const token = header?.replace(/^Bearer /, '');
      return token !== undefined && tokens.has(token) ? { ok: true, user: token } : { ok: false, status: 401 };
    },
  });
  return Object.assign(fixture, { seen });
}

describe('socketOptions (Node entry)', () => {
  test('fixed headers go with every attempt: the server lets the client in', async () => {
    const server = await bearerServer(new Set(['t-1']));
    const client = new LifelineClient(server.wsUrl, { ...fast, socketOptions: { headers: { Authorization: 'Bearer t-1' } } });
    try {
      await within(client.ready(), 5_000, 'ready');
      assert.equal(client.transport.url, server.wsUrl);
      for (const connection of server.server.connections) connection.terminate();
      await within(until(client, 'ready', () => true), 5_000, 'ready again');
      assert.deepEqual(server.seen, ['Bearer t-1', 'Bearer t-1']);
    } finally {
      client.close();
      await server.close();
    }
  });

  test('a provider runs before every attempt, with the URL context: a refused token is replaced by a fresh one', async () => {
    const tokens = new Set(['fresh-1']);
    const server = await bearerServer(tokens);
    const contexts: UrlContext[] = [];
    let issued = 0;
    const client = new LifelineClient(server.wsUrl, {
      ...fast,
      socketOptions: async (context) => {
        contexts.push(context);
        await Promise.resolve(); // a token fetched asynchronously
        return { headers: { Authorization: `Bearer fresh-${++issued}` } };
      },
    });
    try {
      await within(client.ready(), 5_000, 'ready with the first token');
      // The first token is revoked and the link dropped: the next attempt is refused (401),
      // the one after it asks with authRequired and gets in with a new token.
      tokens.clear();
      tokens.add('fresh-3');
      for (const connection of server.server.connections) connection.terminate();
      await within(until(client, 'ready', () => true), 5_000, 'ready with a fresh token');
      assert.deepEqual(server.seen, ['Bearer fresh-1', 'Bearer fresh-2', 'Bearer fresh-3']);
      assert.deepEqual(
        contexts.map((c) => c.authRequired),
        [false, false, true],
      );
    } finally {
      client.close();
      await server.close();
    }
  });

  test('a provider that throws or rejects fails that attempt (an error event), and the next one runs it again', async () => {
    const server = await bearerServer(new Set(['ok']));
    let calls = 0;
    const errors: unknown[] = [];
    const socket = new ReconnectingWebSocket(server.wsUrl, 'lifeline.v1', {
      ...fast,
      socketOptions: () => {
        calls++;
        if (calls === 1) throw new Error('token service down');
        if (calls === 2) return Promise.reject(new Error('still down'));
        return { headers: { Authorization: 'Bearer ok' } };
      },
    });
    socket.addEventListener('error', (event) => errors.push(event.error));
    try {
      await within(until(socket, 'open', () => true), 5_000, 'open on the third attempt');
      assert.equal(calls, 3);
      assert.deepEqual(
        errors.map((e) => (e as Error).message),
        ['token service down', 'still down'],
      );
    } finally {
      socket.dispose();
      await server.close();
    }
  });

  test('refused at construction: with a WebSocket class of its own, or not options; a bad URL throws at once as without it', () => {
    assert.throws(() => new LifelineClient('ws://127.0.0.1:9/ws', { socketOptions: {}, WebSocket: NodeWebSocket }), InvalidOptionError);
    assert.throws(() => new ReconnectingWebSocket('ws://127.0.0.1:9/ws', [], { socketOptions: 'headers' as never }), InvalidOptionError);
    assert.throws(() => new ReconnectingWebSocket('ftp://example.com/', [], { socketOptions: () => ({}) }), (e: unknown) => e instanceof DOMException && e.name === 'SyntaxError');
  });

  describe('TLS with a private certificate authority', () => {
    const certificate = testCertificate();
    const { skip } = certificate;
    after(() => certificate.remove());

    test('ca given: the client connects over wss; without it the certificate is refused', { skip }, async () => {
      const https = createHttpsServer({ key: certificate.key, cert: certificate.cert });
      const server = createServer({ server: https, logger: pino({ level: 'silent' }), channels: { chat: {} } });
      https.listen(0, '127.0.0.1');
      await within(once(https, 'listening'), 20_000, 'the https server to listen');
      const url = `wss://localhost:${(https.address() as AddressInfo).port}/ws`;
      const trusting = new LifelineClient(url, { ...fast, socketOptions: { ca: certificate.cert } });
      const untrusting = new LifelineClient(url, { ...fast, maxAttempts: 0 });
      const refused = until(untrusting.transport, 'close', () => true, 10_000);
      const errors: Error[] = [];
      untrusting.addEventListener('error', (event) => errors.push(event.error));
      try {
        await within(trusting.ready(), 10_000, 'ready over TLS');
        const channel = trusting.subscribe('chat:tls');
        await within(channel.ready(), 5_000, 'subscribed');
        assert.equal((await within(trusting.publish('chat:tls', 'over TLS'), 5_000, 'publish')).offset, 1);
        const close = await refused;
        assert.equal((close as CloseEvent).code, 1006);
        // The socket error says why: ws's error is its cause.
        const cause = errors.find((e) => e instanceof LifelineError && e.code === 'ERR_SOCKET')?.cause as { code?: string } | undefined;
        assert.equal(cause?.code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
        assert.notEqual(untrusting.state, 'ready');
      } finally {
        trusting.close();
        untrusting.close();
        await server.close({ drainTimeout: 0 });
        await new Promise<void>((resolve) => https.close(() => resolve()));
      }
    });
  });
});
