/**
 * The opening handshake over real sockets: the DESIGN handshake table row by row (raw HTTP:
 * status line, plain-text body, headers), accept-then-close mode for browsers, handshake
 * deadlines (a hanging hook on a fake clock, slowloris on Node's own header timer),
 * first-message authentication, subprotocols and permessage-deflate.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { AuthRequest } from '../../src/server/options.js';
import type { HandshakeRejection } from '../../src/core/handshake-policy.js';
import { FakeClock } from '../../src/testing/fake-clock.js';
import { MemoryBroker } from '../../src/broker/memory-broker.js';
import { eventually } from '../helpers/wait.js';
import { ProtocolClient } from './protocol/protocol-client.js';
import { RawSocket, type HandshakeOptions, type RawResponse } from '../helpers/raw-socket.js';
import { closeReportOf, connect, connectPair, DEADLINE, onceWithin, serve, TrackedClient, within } from './support.js';

/** Sends a handshake request, reads the refusal, and checks the server then closed the socket. */
async function refusal(port: number, options: HandshakeOptions = {}): Promise<RawResponse> {
  const raw = await RawSocket.request(port, options);
  try {
    const response = await raw.readResponse();
    await raw.waitClosed();
    return response;
  } finally {
    raw.destroy();
  }
}

/** A refusal is a complete HTTP response with a short plain-text body. */
function assertRefusal(response: RawResponse, status: number, statusLine: string, body: RegExp): void {
  assert.equal(response.statusLine, `HTTP/1.1 ${status} ${statusLine}`);
  assert.equal(response.status, status);
  assert.equal(response.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(response.headers['connection'], 'close');
  assert.equal(Number(response.headers['content-length']), Buffer.byteLength(response.body));
  assert.match(response.body, body);
  assert.ok(response.body.endsWith('\n'), 'body ends with a newline');
  assert.ok(response.body.length < 200, 'body is short');
  assert.equal(response.headers['upgrade'], undefined, 'a refusal never upgrades');
}

/** Opens a raw connection that completes the handshake; it is destroyed after the test. */
async function rawUpgrade(t: TestContext, port: number, options: HandshakeOptions = {}): Promise<{ raw: RawSocket; response: RawResponse }> {
  const result = await RawSocket.upgrade(port, options);
  t.after(() => result.raw.destroy());
  return result;
}

/** A tracked ws client (disposed after the test) that is expected to be closed by the server. */
function closedClient(t: TestContext, url: string, options?: ConstructorParameters<typeof TrackedClient>[2]): TrackedClient {
  const client = new TrackedClient(url, undefined, options);
  t.after(() => client.dispose());
  return client;
}

describe('opening handshake: the status table (raw HTTP)', () => {
  test('a POST upgrade request is refused with 400', async (t) => {
    const { port } = await serve(t);
    const response = await refusal(port, { method: 'POST', headers: { 'Content-Length': '0' } });
    assertRefusal(response, 400, 'Bad Request', /^the opening handshake must be a GET request\n$/);
  });

  test('an HTTP/1.0 upgrade request is refused with 400 (RFC 6455 §4.1: HTTP/1.1 or later)', async (t) => {
    const { port } = await serve(t);
    const response = await refusal(port, { httpVersion: '1.0' });
    assertRefusal(response, 400, 'Bad Request', /^the opening handshake must be HTTP\/1\.1 or later\n$/);
  });

  test('a CONNECT request is answered 501 (this is not a proxy), on the endpoint and in proxy form', async (t) => {
    const { port } = await serve(t);
    const onEndpoint = await refusal(port, { method: 'CONNECT' });
    assertRefusal(onEndpoint, 501, 'Not Implemented', /^CONNECT is not supported: this server is not a proxy\n$/);
    const raw = await RawSocket.open(port);
    try {
      raw.socket.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
      const proxyForm = await raw.readResponse();
      await raw.waitClosed();
      assertRefusal(proxyForm, 501, 'Not Implemented', /^CONNECT is not supported/);
    } finally {
      raw.destroy();
    }
  });

  test('a GET on the endpoint without an Upgrade header is refused with 400, not 404', async (t) => {
    const { port } = await serve(t);
    const response = await refusal(port, { headers: { Upgrade: undefined } });
    assertRefusal(response, 400, 'Bad Request', /^missing or invalid Upgrade header\n$/);
  });

  test('a GET on the endpoint without Connection: upgrade is refused with 400', async (t) => {
    const { port } = await serve(t);
    const response = await refusal(port, { headers: { Connection: undefined } });
    assertRefusal(response, 400, 'Bad Request', /^missing or invalid Connection header\n$/);
  });

  test('an Upgrade to another protocol is refused with 400', async (t) => {
    const { port } = await serve(t);
    const response = await refusal(port, { headers: { Upgrade: 'h2c' } });
    assertRefusal(response, 400, 'Bad Request', /^missing or invalid Upgrade header\n$/);
  });

  test('a missing Sec-WebSocket-Key is refused with 400', async (t) => {
    const { port } = await serve(t);
    const response = await refusal(port, { headers: { 'Sec-WebSocket-Key': undefined } });
    assertRefusal(response, 400, 'Bad Request', /^missing or invalid Sec-WebSocket-Key\n$/);
  });

  test('an invalid Sec-WebSocket-Key is refused with 400', async (t) => {
    const { port } = await serve(t);
    const response = await refusal(port, { headers: { 'Sec-WebSocket-Key': 'not-a-16-byte-base64-key' } });
    assertRefusal(response, 400, 'Bad Request', /^missing or invalid Sec-WebSocket-Key\n$/);
  });

  test('a missing Sec-WebSocket-Version is refused with 400', async (t) => {
    const { port } = await serve(t);
    const response = await refusal(port, { headers: { 'Sec-WebSocket-Version': undefined } });
    assertRefusal(response, 400, 'Bad Request', /^missing Sec-WebSocket-Version\n$/);
  });

  test('Sec-WebSocket-Version 8 is refused with 426 and Sec-WebSocket-Version: 13', async (t) => {
    const { port } = await serve(t);
    const response = await refusal(port, { headers: { 'Sec-WebSocket-Version': '8' } });
    assertRefusal(response, 426, 'Upgrade Required', /^unsupported WebSocket version/);
    assert.equal(response.headers['sec-websocket-version'], '13');
  });

  test('an unknown path is refused with 404', async (t) => {
    const { port } = await serve(t);
    const response = await refusal(port, { path: '/nope' });
    assertRefusal(response, 404, 'Not Found', /^no WebSocket endpoint at this path\n$/);
  });

  test('a target names an endpoint as sent: never resolved through dot segments or read as another host (a proxy guarding /ws by path sees it as sent)', async (t) => {
    const { port } = await serve(t, { path: '/ws' });
    for (const path of ['/ws', '/ws?x=1', '/ws#x', 'http://127.0.0.1/ws']) {
      const { response } = await rawUpgrade(t, port, { path });
      assert.equal(response.status, 101, path);
    }
    for (const path of ['/ws/', '/WS', '/%77s', '/x/../ws', '/./ws', '/x/%2e%2e/ws', '/x/%2E./ws?x=1', '/x\\..\\ws', '//evil/ws', '//evil/ws?x=1']) {
      const response = await refusal(port, { path });
      assert.equal(response.status, 404, path);
    }
  });

  test('an async authenticate hook that resolves {ok:false} gets 401', async (t) => {
    const fixture = await serve(t, { authenticate: async () => ({ ok: false }) });
    const rejected = onceWithin(fixture.server, 'rejected');
    const response = await refusal(fixture.port);
    assertRefusal(response, 401, 'Unauthorized', /^authentication required\n$/);
    const [rejection] = (await rejected) as [HandshakeRejection];
    assert.equal(rejection.kind, 'unauthorized');
    assert.equal(rejection.status, 401);
    assert.equal(fixture.server.stats.handshakes.get(401), 1);
    assert.equal(fixture.server.connections.size, 0);
  });

  test('an authenticate hook that throws is a server fault: 503 with Retry-After, reported as error, never leaked', async (t) => {
    const fixture = await serve(t, {
      retryAfter: 2_000,
      authenticate: async () => {
        throw new Error('database password is hunter2');
      },
    });
    const errors: string[] = [];
    fixture.server.on('error', (error) => errors.push(error.message));
    const response = await refusal(fixture.port);
    assertRefusal(response, 503, 'Service Unavailable', /^authentication is unavailable\n$/);
    assert.equal(response.headers['retry-after'], '2');
    assert.doesNotMatch(response.body, /hunter2|database/);
    assert.doesNotMatch(JSON.stringify(response.headers), /hunter2|database/);
    assert.deepEqual(errors, ['database password is hunter2']);
  });

  test('an authenticate hook that returns no verdict (untyped app code) is a server fault too: 503, reported as error', async (t) => {
    const fixture = await serve(t, { authenticate: (() => undefined) as unknown as () => { ok: false } });
    const errors: string[] = [];
    fixture.server.on('error', (error) => errors.push(error.message));
    const rejected: string[] = [];
    fixture.server.on('rejected', (rejection) => rejected.push(rejection.kind));
    const response = await refusal(fixture.port);
    assertRefusal(response, 503, 'Service Unavailable', /^authentication is unavailable\n$/);
    assert.equal(response.headers['retry-after'], '5');
    assert.deepEqual(errors, ['the authenticate hook returned undefined, not an AuthResult']);
    assert.deepEqual(rejected, ['unavailable']);
  });

  test('an authenticate hook that refuses with status 403 gets 403', async (t) => {
    const { port } = await serve(t, { authenticate: () => ({ ok: false, status: 403 }) });
    const response = await refusal(port);
    assertRefusal(response, 403, 'Forbidden', /^forbidden\n$/);
  });

  test('a cross-site Origin is refused with 403', async (t) => {
    const { port } = await serve(t);
    const response = await refusal(port, { headers: { Origin: 'https://evil.example' } });
    assertRefusal(response, 403, 'Forbidden', /^Origin not allowed\n$/);
  });

  test('a same-origin Origin is accepted', async (t) => {
    const { port } = await serve(t);
    const { response } = await rawUpgrade(t, port, { headers: { Origin: `http://127.0.0.1:${port}` } });
    assert.equal(response.statusLine, 'HTTP/1.1 101 Switching Protocols');
  });

  test('a request without an Origin header is accepted', async (t) => {
    const { port } = await serve(t);
    const { response } = await rawUpgrade(t, port, { headers: { Origin: undefined } });
    assert.equal(response.status, 101);
    assert.equal(response.headers['upgrade'], 'websocket');
  });

  test('an Origin on the allowedOrigins list is accepted', async (t) => {
    const { port } = await serve(t, { allowedOrigins: ['https://app.example'] });
    const { response } = await rawUpgrade(t, port, { headers: { Origin: 'https://app.example' } });
    assert.equal(response.status, 101);
    const other = await refusal(port, { headers: { Origin: 'https://other.example' } });
    assert.equal(other.status, 403);
  });

  test('with an allowedOrigins list, a DNS-rebinding page (Origin and Host both the attacker\'s name) is refused with 403', async (t) => {
    const { port } = await serve(t, { allowedOrigins: ['https://app.example'] });
    const rebound = await refusal(port, { headers: { Host: `evil.example:${port}`, Origin: `http://evil.example:${port}` } });
    assert.equal(rebound.status, 403);
    // Without a list the same request passes the Host comparison: the list is the defence.
    const { port: open } = await serve(t);
    const { response } = await rawUpgrade(t, open, { headers: { Host: `evil.example:${open}`, Origin: `http://evil.example:${open}` } });
    assert.equal(response.status, 101);
  });

  test('a handshake over maxConnections is refused with 503 and Retry-After', async (t) => {
    const fixture = await serve(t, { maxConnections: 1, retryAfter: 7_000 });
    await connectPair(t, fixture);
    const response = await refusal(fixture.port);
    assertRefusal(response, 503, 'Service Unavailable', /^server is at capacity\n$/);
    assert.equal(response.headers['retry-after'], '7');
    assert.equal(fixture.server.connections.size, 1);
  });

  test('a handshake while draining is refused with 503 and Retry-After', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, closeTimeout: 60_000 });
    // A raw peer that receives the server's close frame and never answers keeps it draining.
    const accepted = onceWithin(fixture.server, 'connection');
    const { raw } = await rawUpgrade(t, fixture.port);
    await accepted;
    const closing = fixture.server.close({ drainTimeout: 1_000 });
    const frame = await raw.readFrame();
    assert.equal(frame.opcode, 0x8, 'the connected peer got a close frame');
    assert.equal(fixture.server.state, 'draining');
    const response = await refusal(fixture.port);
    assertRefusal(response, 503, 'Service Unavailable', /^server is shutting down\n$/);
    assert.equal(response.headers['retry-after'], '5');
    await clock.tickAsync(1_000);
    await within(closing, DEADLINE, 'server close after the drain deadline');
    assert.equal(fixture.server.state, 'closed');
  });

  test('a handshake still waiting for its authenticate hook when close() ends is refused 503 with Retry-After, not dropped unanswered', async (t) => {
    let called!: () => void;
    const hookCalled = new Promise<void>((resolve) => (called = resolve));
    const fixture = await serve(t, {
      authenticate: () => {
        called();
        return new Promise(() => undefined); // never settles
      },
    });
    const rejected: string[] = [];
    fixture.server.on('rejected', (rejection) => rejected.push(`${rejection.status} ${rejection.kind}`));
    const raw = await RawSocket.request(fixture.port);
    t.after(() => raw.destroy());
    await within(hookCalled, DEADLINE, 'the hook to be called');
    await within(fixture.server.close(), DEADLINE, 'close()');
    const response = await raw.readResponse();
    assertRefusal(response, 503, 'Service Unavailable', /^server is shutting down\n$/);
    assert.equal(response.headers['retry-after'], '5');
    await raw.waitClosed();
    assert.deepEqual(rejected, ['503 draining']);
    assert.deepEqual([...fixture.server.stats.handshakes], [[503, 1]]);
  });

  test('a handshake over admissionRate is refused with 503 and Retry-After', async (t) => {
    const clock = new FakeClock();
    const { port } = await serve(t, { clock, admissionRate: 1 });
    await rawUpgrade(t, port);
    const response = await refusal(port);
    assertRefusal(response, 503, 'Service Unavailable', /^too many connection attempts\n$/);
    assert.equal(response.headers['retry-after'], '1');
    // A second later the bucket has a token again.
    await clock.tickAsync(1_000);
    const { response: later } = await rawUpgrade(t, port);
    assert.equal(later.status, 101);
  });

  test('credentials from a header, a cookie and the query reach the authenticate hook', async (t) => {
    const seen: AuthRequest[] = [];
    const fixture = await serve<{ name: string }>(t, {
      authenticate: (request) => {
        seen.push(request);
        return { ok: true, user: { name: 'ada' } };
      },
    });
    const accepted = onceWithin(fixture.server, 'connection');
    await connect(t, `${fixture.wsUrl}?token=from-query&x=1`, undefined, {
      headers: { Authorization: 'Bearer from-header', Cookie: 'session=from-cookie; theme=dark' },
    });
    const [conn] = (await accepted) as [{ user: { name: string } }];
    assert.equal(seen.length, 1);
    const request = seen[0];
    assert.ok(request);
    assert.equal(request.headers.authorization, 'Bearer from-header');
    assert.equal(request.cookies['session'], 'from-cookie');
    assert.equal(request.cookies['theme'], 'dark');
    assert.equal(request.query.get('token'), 'from-query');
    assert.equal(request.url.pathname, '/ws');
    assert.equal(request.remoteAddress, '127.0.0.1');
    assert.equal(request.firstMessage, undefined);
    assert.deepEqual(conn.user, { name: 'ada' });
  });
});

describe("opening handshake: handshakeRejection 'close' (for browsers)", () => {
  test('an authentication refusal is accepted, then closed with 4401', async (t) => {
    const fixture = await serve(t, { handshakeRejection: 'close', authenticate: async () => ({ ok: false }) });
    const client = closedClient(t, fixture.wsUrl);
    await within(client.opened, DEADLINE, 'the upgrade');
    const close = await within(client.closed, DEADLINE, 'the close');
    assert.equal(close.code, 4401);
    assert.equal(close.reason, 'authentication required');
    assert.equal(fixture.server.connections.size, 0, 'never becomes a connection');
    assert.equal(fixture.server.stats.handshakes.get(401), 1);
  });

  test('a cross-site Origin is accepted, then closed with 4403', async (t) => {
    const fixture = await serve(t, { handshakeRejection: 'close' });
    const client = closedClient(t, fixture.wsUrl, { origin: 'https://evil.example' });
    const close = await within(client.closed, DEADLINE, 'the close');
    assert.equal(close.code, 4403);
    assert.equal(close.reason, 'Origin not allowed');
  });

  test('over capacity is accepted, then closed with 4503 and a retry hint', async (t) => {
    const fixture = await serve(t, { handshakeRejection: 'close', maxConnections: 1, retryAfter: 3_000 });
    await connectPair(t, fixture);
    const client = closedClient(t, fixture.wsUrl);
    const close = await within(client.closed, DEADLINE, 'the close');
    assert.equal(close.code, 4503);
    assert.match(close.reason, /retry after 3000 ms/);
    assert.equal(fixture.server.connections.size, 1);
  });

  test('over the admission rate is accepted, then closed with 4429 and a retry hint', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { handshakeRejection: 'close', admissionRate: 1, clock });
    await connectPair(t, fixture);
    const client = closedClient(t, fixture.wsUrl);
    const close = await within(client.closed, DEADLINE, 'the close');
    assert.equal(close.code, 4429);
    assert.match(close.reason, /retry after \d+ ms/);
  });

  test('a refusal ws will not upgrade (an invalid Sec-WebSocket-Protocol) is answered with its own status, counted once', async (t) => {
    const fixture = await serve(t, { handshakeRejection: 'close', authenticate: () => ({ ok: false }) });
    const rejected: number[] = [];
    fixture.server.on('rejected', (rejection) => rejected.push(rejection.status));
    const response = await refusal(fixture.port, { headers: { 'Sec-WebSocket-Protocol': 'a b' } });
    assertRefusal(response, 401, 'Unauthorized', /^authentication required\n$/);
    assert.deepEqual(rejected, [401]);
    assert.deepEqual([...fixture.server.stats.handshakes], [[401, 1]]);
  });

  test('an unknown path stays an HTTP 404', async (t) => {
    const { port } = await serve(t, { handshakeRejection: 'close' });
    const response = await refusal(port, { path: '/nope' });
    assertRefusal(response, 404, 'Not Found', /^no WebSocket endpoint at this path\n$/);
  });

  test('a malformed request stays an HTTP 400', async (t) => {
    const { port } = await serve(t, { handshakeRejection: 'close' });
    const response = await refusal(port, { headers: { 'Sec-WebSocket-Key': 'short' } });
    assertRefusal(response, 400, 'Bad Request', /^missing or invalid Sec-WebSocket-Key\n$/);
  });
});

describe('opening handshake: deadlines', () => {
  test('an authenticate hook that hangs is refused with 503 after handshakeTimeout', async (t) => {
    const clock = new FakeClock();
    let called!: () => void;
    const hookCalled = new Promise<void>((resolve) => (called = resolve));
    const fixture = await serve(t, {
      clock,
      handshakeTimeout: 2_000,
      authenticate: () => {
        called();
        return new Promise(() => undefined); // never settles
      },
    });
    let rejections = 0;
    fixture.server.on('rejected', () => rejections++);
    const raw = await RawSocket.request(fixture.port);
    t.after(() => raw.destroy());
    await within(hookCalled, DEADLINE, 'the hook to be called');
    await clock.tickAsync(1_999);
    assert.equal(rejections, 0, 'not refused before the deadline');
    await clock.tickAsync(1);
    const response = await raw.readResponse();
    assertRefusal(response, 503, 'Service Unavailable', /^handshake timed out\n$/);
    assert.equal(response.headers['retry-after'], '5');
    await raw.waitClosed();
    assert.equal(rejections, 1);
  });

  test('a slowloris peer that never finishes its headers is dropped (real clock, 300 ms)', async (t) => {
    const { port } = await serve(t, { handshakeTimeout: 300 });
    const raw = await RawSocket.open(port);
    t.after(() => raw.destroy());
    raw.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n`);
    const started = Date.now();
    await raw.waitClosed(5_000);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 250, `dropped after the timeout, not before (${elapsed} ms)`);
    assert.ok(elapsed < 5_000);
  });
});

describe("opening handshake: authenticateOn 'first-message'", () => {
  const authenticate = async (request: AuthRequest) =>
    request.firstMessage?.['token'] === 'good' ? ({ ok: true, user: { name: 'ada' } } as const) : ({ ok: false } as const);

  test('a good first message authenticates: connection event with the user, then {"type":"authenticated"}', async (t) => {
    const fixture = await serve<{ name: string }>(t, { authenticateOn: 'first-message', authenticate });
    let connections = 0;
    fixture.server.on('connection', () => connections++);
    const accepted = onceWithin(fixture.server, 'connection');
    const client = await connect(t, fixture.wsUrl);
    assert.equal(connections, 0, 'no connection event before authentication');
    assert.equal([...fixture.server.connections][0]?.state, 'authenticating');
    client.ws.send(JSON.stringify({ type: 'auth', token: 'good' }));
    assert.deepEqual(await client.nextJson(), { type: 'authenticated' });
    const [conn] = (await accepted) as [{ user: { name: string }; state: string }];
    assert.deepEqual(conn.user, { name: 'ada' });
    assert.equal(conn.state, 'open');
  });

  test('a bad first message closes with 4401', async (t) => {
    const fixture = await serve(t, { authenticateOn: 'first-message', authenticate });
    let connections = 0;
    fixture.server.on('connection', () => connections++);
    const client = await connect(t, fixture.wsUrl);
    client.ws.send(JSON.stringify({ type: 'auth', token: 'bad' }));
    const close = await within(client.closed, DEADLINE, 'the close');
    assert.equal(close.code, 4401);
    assert.equal(connections, 0);
  });

  test('messages sent right behind the credentials are delivered after authentication, in order', async (t) => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let hookRunning!: () => void;
    const running = new Promise<void>((resolve) => (hookRunning = resolve));
    const fixture = await serve(t, {
      authenticateOn: 'first-message',
      authenticate: async (request) => {
        hookRunning();
        await released; // a slow credentials check
        return authenticate(request);
      },
    });
    const got: string[] = [];
    fixture.server.on('connection', () => got.push('connection'));
    fixture.server.on('message', (_conn, message) => got.push(message.type));
    fixture.server.on('binary', (_conn, data) => got.push(`binary:${data.length}`));
    const client = await connect(t, fixture.wsUrl);
    client.ws.send(JSON.stringify({ type: 'auth', token: 'good' }));
    client.ws.send('{"type":"subscribe"}');
    client.ws.send(Buffer.from([1, 2, 3]));
    await within(running, DEADLINE, 'the hook to run');
    client.ws.send('{"type":"publish"}'); // sent while the hook is still running
    release();
    assert.deepEqual(await client.nextJson(), { type: 'authenticated' });
    const marker = new Promise<void>((resolve) => fixture.server.on('message', (_conn, message) => message.type === 'marker' && resolve()));
    client.ws.send('{"type":"marker"}');
    await within(marker, DEADLINE, 'the marker message');
    assert.deepEqual(got, ['connection', 'subscribe', 'binary:3', 'publish', 'marker']);
  });

  test('messages behind refused credentials are never dispatched', async (t) => {
    const fixture = await serve(t, { authenticateOn: 'first-message', authenticate });
    let dispatched = 0;
    fixture.server.on('message', () => dispatched++);
    const client = await connect(t, fixture.wsUrl);
    client.ws.send(JSON.stringify({ type: 'auth', token: 'bad' }));
    client.ws.send('{"type":"subscribe"}');
    const close = await within(client.closed, DEADLINE, 'the close');
    assert.equal(close.code, 4401);
    assert.equal(dispatched, 0);
  });

  test('close() while the hook checks the credentials ends the connection with a clean close handshake, at once (fake clock)', async (t) => {
    // Reading is paused while the hook runs; the peer's close frame must still be read, or
    // the close ends only at closeTimeout (a clock nobody advances here) as a termination.
    const clock = new FakeClock();
    let hookRunning!: () => void;
    const running = new Promise<void>((resolve) => (hookRunning = resolve));
    const fixture = await serve(t, {
      clock,
      authenticateOn: 'first-message',
      authenticate: () => {
        hookRunning();
        return new Promise(() => undefined); // never settles
      },
    });
    const client = await connect(t, fixture.wsUrl);
    const [conn] = [...fixture.server.connections];
    assert.ok(conn !== undefined && conn.state === 'authenticating');
    const report = closeReportOf(fixture.server, conn, 2 * DEADLINE);
    client.ws.send(JSON.stringify({ type: 'auth', token: 'good' }));
    await within(running, DEADLINE, 'the hook to run');
    await within(fixture.server.close(), DEADLINE, 'close() to resolve');
    assert.deepEqual(await within(client.closed, DEADLINE, 'the client close'), { code: 1001, reason: 'going away' });
    const { code, wasClean, terminated } = await report;
    assert.deepEqual({ code, wasClean, terminated }, { code: 1001, wasClean: true, terminated: undefined });
  });

  test('a hook that returns no verdict closes with 4503 at once, not at the deadline (fake clock)', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, authenticateOn: 'first-message', authenticate: (() => null) as unknown as () => { ok: false } });
    const errors: string[] = [];
    fixture.server.on('error', (error) => errors.push(error.message));
    const client = await connect(t, fixture.wsUrl);
    client.ws.send(JSON.stringify({ type: 'auth', token: 'good' }));
    const close = await within(client.closed, DEADLINE, 'the close');
    assert.deepEqual(close, { code: 4503, reason: 'authentication is unavailable' });
    assert.deepEqual(errors, ['the authenticate hook returned null, not an AuthResult']);
  });

  test('silence closes with 4401 after handshakeTimeout', async (t) => {
    const clock = new FakeClock();
    const fixture = await serve(t, { clock, handshakeTimeout: 3_000, authenticateOn: 'first-message', authenticate });
    const client = await connect(t, fixture.wsUrl);
    await clock.tickAsync(2_999);
    assert.equal([...fixture.server.connections][0]?.state, 'authenticating', 'still waiting before the deadline');
    await clock.tickAsync(1);
    const close = await within(client.closed, DEADLINE, 'the close');
    assert.equal(close.code, 4401);
    assert.equal(close.reason, 'authentication timed out');
  });
});

describe('opening handshake: subprotocols and permessage-deflate', () => {
  test("the server's preference order picks the subprotocol", async (t) => {
    const fixture = await serve(t, { protocols: ['b', 'a'] });
    const { client, conn } = await connectPair(t, fixture, ['a', 'b']);
    assert.equal(client.ws.protocol, 'b');
    assert.equal(conn.protocol, 'b');
  });

  test('no common subprotocol: accepted without a Sec-WebSocket-Protocol header', async (t) => {
    const fixture = await serve(t, { protocols: ['b', 'a'] });
    const accepted = onceWithin(fixture.server, 'connection');
    const { response } = await rawUpgrade(t, fixture.port, { headers: { 'Sec-WebSocket-Protocol': 'x, y' } });
    assert.equal(response.status, 101);
    assert.equal(response.headers['sec-websocket-protocol'], undefined);
    const [conn] = (await accepted) as [{ protocol: string }];
    assert.equal(conn.protocol, '');
  });

  test('a header ws refuses to upgrade (Sec-WebSocket-Protocol, Sec-WebSocket-Extensions, an Upgrade list) is a malformed handshake: 400, reported and counted', async (t) => {
    const fixture = await serve(t, { perMessageDeflate: true });
    const rejected: string[] = [];
    fixture.server.on('rejected', (rejection) => rejected.push(`${rejection.status} ${rejection.kind}`));
    const cases: readonly [Record<string, string>, RegExp][] = [
      [{ 'Sec-WebSocket-Protocol': '' }, /Sec-WebSocket-Protocol/],
      [{ 'Sec-WebSocket-Protocol': 'chat, ,x' }, /Sec-WebSocket-Protocol/],
      [{ 'Sec-WebSocket-Extensions': 'permessage-deflate; =' }, /Sec-WebSocket-Extensions/],
      [{ Upgrade: 'websocket, h2c' }, /Upgrade/],
    ];
    for (const [headers, body] of cases) assertRefusal(await refusal(fixture.port, { headers }), 400, 'Bad Request', body);
    assert.deepEqual(rejected, Array(cases.length).fill('400 malformed'));
    assert.equal(fixture.server.stats.handshakes.get(400), cases.length);
    await connect(t, fixture.wsUrl); // the server still upgrades a good one
  });

  test('permessage-deflate is off by default', async (t) => {
    const { port } = await serve(t);
    const { response } = await rawUpgrade(t, port, { headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' } });
    assert.equal(response.status, 101);
    assert.equal(response.headers['sec-websocket-extensions'], undefined);
  });

  test('permessage-deflate is negotiated when enabled', async (t) => {
    const { port } = await serve(t, { perMessageDeflate: true });
    const { response } = await rawUpgrade(t, port, { headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' } });
    assert.equal(response.status, 101);
    assert.match(response.headers['sec-websocket-extensions'] ?? '', /^permessage-deflate/);
  });

  test('with permessage-deflate, a message that inflates past maxPayload closes with 1009', async (t) => {
    const fixture = await serve(t, { perMessageDeflate: true, maxPayload: 64 * 1024 });
    const { client, conn } = await connectPair(t, fixture, undefined, { perMessageDeflate: true });
    const report = new Promise((resolve) => fixture.server.once('disconnect', (_c, r) => resolve(r)));
    // 1 MiB of one letter compresses to about a kilobyte: small on the wire, big inflated.
    client.ws.send(JSON.stringify({ type: 'bomb', data: 'a'.repeat(1024 * 1024) }));
    const close = await within(client.closed, DEADLINE, 'the close');
    assert.equal(close.code, 1009);
    assert.equal(((await within(report, DEADLINE, 'report')) as { code: number }).code, 1009);
    assert.equal(conn.state, 'closed');
  });
});

describe('handshakeRejection: close, during shutdown', () => {
  test('a handshake still waiting for its authenticate hook when close() ends is closed with 4503 and a retry hint', async (t) => {
    let called!: () => void;
    const hookCalled = new Promise<void>((resolve) => (called = resolve));
    const fixture = await serve(t, {
      handshakeRejection: 'close',
      authenticate: () => {
        called();
        return new Promise(() => undefined); // never settles
      },
    });
    const client = closedClient(t, fixture.wsUrl);
    await within(hookCalled, DEADLINE, 'the hook to be called');
    await within(fixture.server.close(), DEADLINE, 'close()');
    const close = await within(client.closed, DEADLINE, 'the close');
    assert.equal(close.code, 4503);
    assert.match(close.reason, /^server is shutting down; retry after 5000 ms/);
  });

  test('a handshake refused by upgrade-then-close while the server waits for its sessions to park is ended by close(): no socket or timer outlives it', async (t) => {
    /** Holds the parking of sessions (the save at detach) while `held` is set. */
    class SlowPark extends MemoryBroker {
      held: Promise<void> | undefined;
      saves = 0;
      override async saveSession(...args: Parameters<MemoryBroker['saveSession']>): Promise<boolean> {
        this.saves++;
        await this.held;
        return super.saveSession(...args);
      }
    }
    const clock = new FakeClock();
    const broker = new SlowPark({ clock });
    const fixture = await serve(t, { clock, broker, handshakeRejection: 'close', pingInterval: 0, closeTimeout: 60_000 });
    const { client } = await ProtocolClient.connect(t, fixture.wsUrl);
    let release = (): void => undefined;
    broker.held = new Promise<void>((resolve) => (release = resolve));
    const saved = broker.saves;
    const closing = fixture.server.close({ drainTimeout: 0 });
    await within(client.closed, DEADLINE, 'the client closed by the drain');
    // The session's park is held: close() waits in hub.parked(), past the gate's own close.
    await eventually(() => broker.saves > saved, 'the park under way');
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    // A handshake now is refused by upgrade-then-close; its peer never answers the close frame.
    const { raw, response } = await rawUpgrade(t, fixture.port);
    assert.equal(response.status, 101);
    raw.pause();
    release();
    await within(closing, DEADLINE, 'server.close()');
    await raw.waitClosed();
    assert.equal(clock.pending, 0, 'no refused socket\'s deadline left');
  });
});
