// `lifeline connect` end to end: the real CLI driven through stdin against an echo server, a
// server that closes with codes, refusing servers and a Lifeline server with channels.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, describe, test } from 'node:test';
import type { WebSocket } from 'ws';
import type { CloseReport, Connection } from '../../src/server/index.js';
import { startServer, type ServerFixture } from '../../src/testing/server-fixture.js';
import { closedPort, echo, startConnect, wsServer } from './connect-support.js';
import { runCliInProcess, stopAll } from './harness.js';
import { within } from '../helpers/wait.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  await stopAll();
  await Promise.all(cleanups.map((cleanup) => cleanup()));
});

async function echoServer(onConnection: (socket: WebSocket, index: number) => void = echo): ReturnType<typeof wsServer> {
  const server = await wsServer(onConnection);
  cleanups.push(server.close);
  return server;
}

async function lifelineServer(options: Parameters<typeof startServer>[0] = {}): Promise<ServerFixture<unknown>> {
  const server = await startServer(options);
  cleanups.push(server.close);
  return server;
}

/** `lifeline connect` to an echo server, once connected; `socket` is the server's side. */
async function connectedToEcho(): Promise<{ cli: ReturnType<typeof startConnect>; socket: WebSocket }> {
  const sockets: WebSocket[] = [];
  const server = await echoServer((socket) => {
    sockets.push(socket);
    echo(socket);
  });
  const cli = startConnect([server.url]);
  await cli.next(/^connected/);
  const [socket] = sockets;
  assert.ok(socket);
  return { cli, socket };
}

/** The next close a server-side socket sees, as code and reason. */
function closeOf(socket: WebSocket): Promise<{ code: number; reason: string }> {
  return within(once(socket, 'close'), 20_000, 'the server-side close').then(([code, reason]) => ({ code: code as number, reason: String(reason) }));
}

describe('against an echo server', () => {
  test('a typed line is sent and its echo printed; /ping prints a round trip; /close 4000 bye closes cleanly with that code and exits 0', async () => {
    const sockets: WebSocket[] = [];
    const server = await echoServer((socket) => {
      sockets.push(socket);
      echo(socket);
    });
    const cli = startConnect([server.url]);
    assert.equal(await cli.next(/^connecting/), `connecting to ${server.url}`);
    assert.match(await cli.next(/^connected/), /^connected in [\d.]+ ms \(subprotocol: none, extensions: none\)$/);
    cli.send('hello there');
    assert.equal(await cli.next(/^> /), '> hello there');
    assert.equal(await cli.next(/^< /), '< hello there');
    cli.send('/ping');
    assert.match(await cli.next(/^pong/), /^pong in [\d.]+ ms$/);
    const [socket] = sockets;
    assert.ok(socket);
    const closed = closeOf(socket);
    cli.send('/close 4000 bye');
    assert.equal(await cli.next(/^closed/), 'closed 4000 auth expired: closed as asked');
    assert.equal(await cli.next(/^ {2}reason/), '  reason: bye');
    assert.deepEqual(await closed, { code: 4000, reason: 'bye' });
    assert.equal((await cli.exited()).code, 0);
  });

  test('an invalid close code gets a clear error and the session goes on; end of input then closes with 1000 and exits 0', async () => {
    const { cli, socket } = await connectedToEcho();
    cli.send('/close 1005');
    assert.match(await cli.next(/^error/), /^error close: cannot close with 1005 \(no status received\): close code 1000 or 3000-4999, reason <= 123 bytes$/);
    cli.send('/close 99999');
    assert.match(await cli.next(/^error/), /^error close: cannot close with 99999 \(unknown code\)/);
    cli.send('/close soon');
    assert.match(await cli.next(/^error/), /^error: \/close wants a numeric close code/);
    cli.send('/nope');
    assert.match(await cli.next(/^error/), /^error: unknown command \/nope; \/help lists the commands/);
    cli.send('/sub chat');
    assert.match(await cli.next(/^error/), /^error: \/sub needs a Lifeline server: connect with --protocol lifeline\.v1$/);
    cli.send('/help');
    await cli.next(/^commands:$/);
    assert.match(await cli.next(/^ {2}\/ping/), /send a WebSocket ping/);
    cli.send('still here');
    assert.equal(await cli.next(/^< /), '< still here');
    const closed = closeOf(socket);
    cli.end();
    assert.equal(await cli.next(/^closed/), 'closed 1000 normal closure: closed as asked');
    assert.equal((await closed).code, 1000);
    assert.equal((await cli.exited()).code, 0);
  });

  test('piped input waits for the connection: every line is sent, then end of input closes', async () => {
    const received: string[] = [];
    const server = await echoServer((socket) => socket.on('message', (data) => received.push(String(data))));
    const cli = startConnect([server.url]);
    // Written before the connection is up.
    cli.send('one');
    cli.send('//two');
    cli.end();
    await cli.next(/^connected/);
    assert.equal(await cli.next(/^> /), '> one');
    assert.equal(await cli.next(/^> /), '> /two');
    await cli.next(/^closed 1000 normal closure: closed as asked$/);
    assert.equal((await cli.exited()).code, 0);
    assert.deepEqual(received, ['one', '/two']);
  });

  test('a server close with 1013 and a retry hint prints what it means and the countdown, then reconnects', async () => {
    const server = await echoServer((socket, index) => {
      if (index === 0) socket.close(1013, 'busy; retry after 300 ms');
      else echo(socket);
    });
    const cli = startConnect([server.url]);
    await cli.next(/^connected/);
    assert.equal(await cli.next(/^closed/), 'closed 1013 try again later: reconnecting in 0.3 s (retry 1 of 10, the server asked for 300 ms)');
    assert.equal(await cli.next(/^ {2}/), '  the server is overloaded; reconnect later (after the retry hint, if any)');
    assert.equal(await cli.next(/^ {2}reason/), '  reason: busy; retry after 300 ms');
    assert.equal(await cli.next(/^connecting/), `connecting to ${server.url} (retry 1 of 10)`);
    await cli.next(/^connected/);
    cli.send('back');
    assert.equal(await cli.next(/^< /), '< back');
    cli.end();
    assert.equal((await cli.exited()).code, 0);
  });

  test('end of input while waiting to reconnect ends the session at once, exit 0', async () => {
    const server = await echoServer((socket) => socket.close(1013, 'retry after 20000 ms'));
    const cli = startConnect([server.url]);
    assert.match(await cli.next(/^closed/), /^closed 1013 try again later: reconnecting in 20\.0 s/);
    cli.end();
    assert.equal(await cli.next(/^closed/, 15_000), 'closed 1000 normal closure: closed as asked'); // well before the 20 s wait
    assert.equal((await cli.exited(15_000)).code, 0);
  });

  test('Ctrl-C (SIGINT) closes cleanly with 1000 and exits 0', async () => {
    const sockets: WebSocket[] = [];
    const server = await echoServer((socket) => sockets.push(socket));
    const cli = startConnect([server.url]);
    await cli.next(/^connected/);
    const [socket] = sockets;
    assert.ok(socket);
    const closed = closeOf(socket);
    cli.cli.child.kill('SIGINT');
    assert.equal(await cli.next(/^closed/), 'closed 1000 normal closure: closed as asked');
    assert.equal((await closed).code, 1000);
    assert.equal((await cli.exited()).code, 0);
  });

  test('output read by a reader that goes away (| head): the session closes with 1000 and exits 0, no crash', async () => {
    const { cli, socket } = await connectedToEcho();
    const closed = closeOf(socket);
    cli.cli.child.stdout.destroy(); // the reader is gone: the next write fails with EPIPE
    cli.send('hello'); // printed as "> hello", then its echo
    assert.equal((await closed).code, 1000);
    const exit = await cli.exited();
    assert.equal(exit.code, 0, cli.cli.stderr());
    assert.doesNotMatch(cli.cli.stderr(), /EPIPE|Unhandled/);
  });

  test('a server close with 1000 ends the session (exit 0); a fatal 1008 ends it with exit 1', async () => {
    const normal = await echoServer((socket) => socket.close(1000, 'done here'));
    const first = startConnect([normal.url]);
    assert.equal(await first.next(/^closed/), 'closed 1000 normal closure: not reconnecting');
    assert.equal((await first.exited()).code, 0);

    const fatal = await echoServer((socket) => socket.close(1008, 'rule broken'));
    const second = startConnect([fatal.url]);
    assert.equal(await second.next(/^closed/), 'closed 1008 policy violation: not reconnecting: retrying cannot help');
    assert.match(await second.next(/^ {2}/), /the peer broke a policy of the endpoint/);
    assert.equal(await second.next(/^ {2}reason/), '  reason: rule broken');
    assert.equal((await second.exited()).code, 1);
  });

  test('--json: one JSON object per event', async () => {
    const server = await echoServer();
    const cli = startConnect([server.url, '--json']);
    await cli.next(/"event":"open"/);
    cli.send('hi');
    await cli.next(/"event":"message"/);
    cli.send('/ping');
    await cli.next(/"event":"pong"/);
    cli.end();
    await cli.next(/"event":"closed"/);
    assert.equal((await cli.exited()).code, 0);
    const events = cli.lines().map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(
      events.map((event) => event.event),
      ['connecting', 'open', 'sent', 'message', 'pong', 'closed'],
    );
    assert.deepEqual(events[3], { event: 'message', text: 'hi' });
    assert.equal(typeof events[4]?.ms, 'number');
    assert.deepEqual(
      { ...events[5] },
      { event: 'closed', code: 1000, name: 'normal closure', meaning: 'the connection did what it was for and was closed on purpose', reason: '', wasClean: true, end: 'request' },
    );
  });
});

describe('refused and unreachable', () => {
  test('--token is sent as a Bearer header; a refused one (401) is reported with the server reason and not sent again', async () => {
    const server = await lifelineServer({
      authenticate: (request) => (request.headers.authorization === 'Bearer right' ? { ok: true, user: 'u' } : { ok: false, message: 'bad token' }),
    });
    const refused = startConnect([server.wsUrl, '--token', 'wrong', '--max-attempts', '0']);
    assert.equal(await refused.next(/^refused/), 'refused 401 Unauthorized: not reconnecting: retrying cannot help without new credentials');
    assert.equal(await refused.next(/^ {2}/), '  authentication is required, or the credentials sent were refused');
    assert.match(await refused.next(/^ {2}server said:/), /bad token/);
    assert.equal((await refused.exited()).code, 1);
    assert.doesNotMatch(refused.cli.stdout(), /^error/m, 'the refusal is the report, not a socket error');

    const accepted = startConnect([server.wsUrl, '--token', 'right']);
    await accepted.next(/^connected/);
    accepted.end();
    assert.equal((await accepted.exited()).code, 0);
  });

  test('a 403 refusal is fatal: not reconnecting, exit 1', async () => {
    const server = await lifelineServer({ authenticate: () => ({ ok: false, status: 403 }) });
    const cli = startConnect([server.wsUrl]);
    assert.equal(await cli.next(/^refused/), 'refused 403 Forbidden: not reconnecting: retrying cannot help');
    assert.equal((await cli.exited()).code, 1);
  });

  test('a 503 with Retry-After: the countdown follows the header', async () => {
    const server = await lifelineServer({ maxConnections: 1, retryAfter: 1_000 });
    const holder = startConnect([server.wsUrl]);
    await holder.next(/^connected/);
    const cli = startConnect([server.wsUrl, '--max-attempts', '1']);
    assert.match(await cli.next(/^refused/), /^refused 503 Service Unavailable: reconnecting in [12]\.\d s \(retry 1 of 1, Retry-After asked for 1\.0 s\)$/);
    holder.end();
    await holder.exited();
    await cli.next(/^connected/);
    cli.end();
    assert.equal((await cli.exited()).code, 0);
  });

  test('nothing listening: prints the socket error, gives up, exit 1', async () => {
    const port = await closedPort();
    const cli = startConnect([`ws://127.0.0.1:${port}/ws`, '--max-attempts', '0']);
    assert.equal(await cli.next(/^error/), `error: connect ECONNREFUSED 127.0.0.1:${port}`);
    assert.equal(await cli.next(/^closed/), 'closed 1006 abnormal closure: out of retries');
    assert.equal(await cli.next(/^gave up/), 'gave up after 0 retries (--max-attempts); exiting');
    assert.equal((await cli.exited()).code, 1);
  });
});

describe('against a Lifeline server (--protocol lifeline.v1)', () => {
  test('/sub, /pub print the subscription, the ack and the event; /req prints results and error codes; a lost link recovers the missed event', async () => {
    const server = await lifelineServer({ channels: { chat: { history: { size: 100, ttl: 60_000 } } }, pingInterval: 0 });
    server.server.handle('echo', (params) => params);
    const cli = startConnect([server.wsUrl, '--protocol', 'lifeline.v1']);
    assert.match(await cli.next(/^connected/), /\(subprotocol: lifeline\.v1, extensions: none\)$/);
    assert.match(await cli.next(/^session/), /^session \S+ new$/);
    await cli.next(/^ready$/);

    cli.send('/sub chat:x');
    assert.match(await cli.next(/^subscribed/), /^subscribed chat:x at offset 0 \(epoch \S+\)$/);
    cli.send('/pub chat:x {"a":1}');
    // The ack and the event both come; their order is the server's.
    const [ack, event] = await cli.unordered([/^ack/, /^event/]);
    assert.match(ack ?? '', /^ack chat:x offset 1 \(epoch \S+\)$/);
    assert.match(event ?? '', /^event chat:x offset 1 \(epoch \S+\): \{"a":1\}$/);

    cli.send('/req echo {"x":1}');
    assert.equal(await cli.next(/^result/), 'result echo: {"x":1}');
    cli.send('/req missing');
    assert.match(await cli.next(/^error req missing/), /^error req missing no_method: /);
    cli.send('/pub other:x 1');
    assert.match(await cli.next(/^error publish other:x/), /^error publish other:x bad_channel: /);
    cli.send('/pub chat:x {oops');
    assert.match(await cli.next(/^error/), /^error: \/pub: not valid JSON/);

    // The link drops; an event is published meanwhile; the client comes back and recovers it.
    const gone = once(server.server, 'disconnect') as Promise<[Connection<unknown>, CloseReport]>;
    for (const connection of server.server.connections) connection.terminate();
    await within(gone, 20_000, 'the server to drop the link');
    await server.server.publish('chat:x', { missed: true });
    assert.match(await cli.next(/^closed/), /^closed 1006 abnormal closure: reconnecting in [\d.]+ s \(retry 1 of 10, backoff with jitter\)$/);
    assert.match(await cli.next(/^session/), /^session \S+ resumed/);
    assert.match(await cli.next(/^event/), /^event chat:x offset 2 \(epoch \S+\): \{"missed":true\}$/);
    assert.match(await cli.next(/^resubscribed/), /^resubscribed chat:x: recovered, every missed event replayed; now at offset 2 \(epoch \S+\)$/);

    cli.send('/unsub chat:x');
    assert.equal(await cli.next(/^unsubscribed/), 'unsubscribed chat:x');
    cli.end();
    assert.equal(await cli.next(/^closed/), 'closed 1000 normal closure: closed as asked');
    assert.equal((await cli.exited()).code, 0);
  });

  test('/logout ends the session on the server: it closes with 1000 "session ended", exit 0, and the session is gone', async () => {
    const server = await lifelineServer({ channels: { chat: {} }, pingInterval: 0 });
    const cli = startConnect([server.wsUrl, '--protocol', 'lifeline.v1']);
    const session = /^session (\S+) new$/.exec(await cli.next(/^session/))?.[1] ?? '';
    await cli.next(/^ready$/);
    assert.ok(await server.server.broker.loadSession(session), 'the session is stored');
    cli.send('/logout now');
    assert.match(await cli.next(/^error/), /^error: \/logout takes no arguments$/);
    cli.send('/logout');
    assert.equal(await cli.next(/^closed/), 'closed 1000 normal closure: closed as asked');
    assert.equal(await cli.next(/^ {2}reason/), '  reason: session ended');
    assert.equal((await cli.exited()).code, 0);
    assert.equal(await server.server.broker.loadSession(session), undefined, 'the server forgot the session');
  });

  test('end of input waits for the answers to what was typed', async () => {
    const server = await lifelineServer({ channels: { chat: {} }, pingInterval: 0 });
    server.server.handle('slow', async () => {
      await new Promise((resolve) => setTimeout(resolve, 200));
      return 'done';
    });
    const cli = startConnect([server.wsUrl, '--protocol', 'lifeline.v1', '--json']);
    cli.send('/req slow');
    cli.send('/pub chat:y {"n":1}');
    cli.end();
    await cli.next(/"event":"closed"/);
    assert.equal((await cli.exited()).code, 0);
    const events = cli.lines().map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(
      events.find((e) => e.event === 'result'),
      { event: 'result', method: 'slow', result: 'done' },
    );
    assert.equal(events.find((e) => e.event === 'ack')?.channel, 'chat:y');
    assert.equal(events.at(-1)?.event, 'closed');
  });
});

describe('usage', () => {
  for (const [args, message] of [
    [[], /missing URL/],
    [['http//nope'], /is not a URL/],
    [['ftp://example.com/ws'], /must start with ws:\/\/ or wss:\/\//],
    [['ws://x/ws', '--bogus'], /unknown flag --bogus/],
    [['ws://x/ws', '--protocol', 'lifeline.v1', '--protocol', 'chat'], /cannot be offered with other subprotocols/],
    [['ws://x/ws', '--max-attempts', 'many'], /--max-attempts must be an integer/],
    [['ws://x/ws', '--header', 'Sec-WebSocket-Protocol: x'], /set by the WebSocket handshake itself; use --protocol/],
    [['ws://x/ws', '--token', ''], /--token wants a token/],
  ] as const) {
    test(`exit 2 for ${JSON.stringify(args)}`, async () => {
      const result = await runCliInProcess(['connect', ...args]);
      assert.equal(result.code, 2);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, message);
      assert.match(result.stderr, /^lifeline connect: .*; see lifeline connect --help\n$/);
    });
  }

  test('--help lists the flags, the commands and examples', async () => {
    const result = await runCliInProcess(['connect', '--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^Usage: lifeline connect URL \[flags\]/);
    assert.match(result.stdout, /--token T +send "Authorization: Bearer T"/);
    assert.match(result.stdout, /\/pub CHANNEL JSON .* \*$/m);
    assert.match(result.stdout, /Exit codes: 0 closed on purpose/);
    assert.match(result.stdout, /Examples:\n {2}lifeline connect ws:\/\/localhost:8080\/ws/);
  });
});
