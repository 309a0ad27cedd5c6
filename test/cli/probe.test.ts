// `lifeline probe` end to end: the real CLI against live endpoints that accept, refuse, stall
// or are not there, in text and in JSON.
import assert from 'node:assert/strict';
import { createServer as createHttpsServer } from 'node:https';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import WebSocket from 'ws';
import { createServer } from '../../src/server/index.js';
import { startServer, type ServerFixture } from '../../src/testing/server-fixture.js';
import { closedPort, rawUpgradeServer, silentServer } from './connect-support.js';
import { runCli, runCliInProcess, stopAll } from './harness.js';
import { within } from '../helpers/wait.js';
import { testCertificate } from '../helpers/tls-certificate.js';

const fixtures: { close(): Promise<void> }[] = [];
async function fixture(options: Parameters<typeof startServer>[0] = {}): Promise<ServerFixture<unknown>> {
  const started = await startServer(options);
  fixtures.push(started);
  return started;
}

after(async () => {
  await stopAll();
  await Promise.all(fixtures.map((f) => f.close()));
});

/**
 * `lifeline probe ...args`, run in this process (the probe does all its I/O itself; a process
 * would add only its startup); the exit code and what it printed. Tests of what only a process
 * has (NODE_EXTRA_CA_CERTS) run the built bin.
 */
function probe(args: readonly string[], env: Readonly<Record<string, string>> = {}): ReturnType<typeof runCli> {
  return runCliInProcess(['probe', ...args], env);
}

interface ProbeJson {
  verdict: string;
  healthy: boolean;
  summary: string;
  advice: string | null;
  timings: Record<string, number | null>;
  handshake: { status: number; statusText: string; headers: Record<string, string>; body: string | null } | null;
  refusal: { status: number; meaning: string; action: string; advice: string; retryAfterMs: number | null } | null;
  subprotocol: string | null;
  ping: { rttMs: number } | null;
  close: { code: number; reason: string; wasClean: boolean; by: string } | null;
  serverClose: { code: number; name: string } | null;
  failure: { phase: string; code: string | null; timedOut: boolean } | null;
  tls: { protocol: string } | null;
}

describe('a healthy endpoint', () => {
  let server: ServerFixture<unknown>;
  before(async () => {
    server = await fixture({ pingInterval: 0 });
  });

  test('text: every step timed, 101 with its headers, the subprotocol, a ping round trip, close 1000 echoed; exit 0', async () => {
    const closed = once(server.server, 'disconnect');
    const result = await probe([server.wsUrl, '--protocol', 'lifeline.v1']);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const out = result.stdout;
    assert.match(out, /^probe ws:\/\/127\.0\.0\.1:\d+\/ws$/m);
    assert.match(out, /^dns +127\.0\.0\.1 is an IP address: no lookup$/m);
    assert.match(out, /^tcp +connected to 127\.0\.0\.1:\d+ in [\d.]+ ms$/m);
    assert.match(out, /^tls +none \(ws:\/\/\)$/m);
    assert.match(out, /^handshake +HTTP 101 Switching Protocols in [\d.]+ ms$/m);
    assert.match(out, /^ +Upgrade: websocket$/m);
    assert.match(out, /^ +Sec-WebSocket-Accept: \S+$/m);
    assert.match(out, /^subprotocol +lifeline\.v1$/m);
    assert.match(out, /^extensions +none$/m);
    assert.match(out, /^ping +round trip [\d.]+ ms$/m);
    assert.match(out, /^close +1000 normal closure, reason "probe done", answered in [\d.]+ ms$/m);
    assert.match(out, /^healthy +accepted, answered a ping and closed cleanly \([\d.]+ ms in all\)$/m);
    assert.equal(result.stderr, '');
    // The server saw the probe's own clean close.
    const [, report] = (await within(closed, 20_000, 'the server to report the close')) as [unknown, { code: number; reason: string; wasClean: boolean }];
    assert.deepEqual({ code: report.code, reason: report.reason, wasClean: report.wasClean }, { code: 1000, reason: 'probe done', wasClean: true });
  });

  test('a password in the URL is masked in what is printed, text and JSON, as connect masks it', async () => {
    const url = new URL(server.wsUrl);
    url.username = 'ann';
    url.password = 'hunter2';
    for (const args of [[url.href], [url.href, '--json']]) {
      const result = await probe(args);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.doesNotMatch(result.stdout, /hunter2/);
      assert.match(result.stdout, /ws:\/\/ann:\*\*\*@127\.0\.0\.1:\d+\/ws/);
    }
  });

  test('--json: one document with the status, headers, subprotocol, ping and close', async () => {
    const result = await probe([server.wsUrl, '--json', '--protocol', 'lifeline.v1', '--header', 'X-Trace: abc']);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const doc = JSON.parse(result.stdout) as ProbeJson;
    assert.equal(doc.verdict, 'healthy');
    assert.equal(doc.healthy, true);
    assert.equal(doc.handshake?.status, 101);
    assert.equal(doc.handshake?.headers.upgrade, 'websocket');
    assert.equal(doc.handshake?.headers['sec-websocket-protocol'], 'lifeline.v1');
    assert.equal(doc.subprotocol, 'lifeline.v1');
    assert.equal(typeof doc.ping?.rttMs, 'number');
    assert.deepEqual(doc.close && { code: doc.close.code, reason: doc.close.reason, wasClean: doc.close.wasClean, by: doc.close.by }, {
      code: 1000,
      reason: 'probe done',
      wasClean: true,
      by: 'client',
    });
    for (const key of ['dnsMs', 'tcpMs', 'handshakeMs', 'pingMs', 'closeMs', 'totalMs']) assert.equal(typeof doc.timings[key], 'number', key);
    assert.equal(doc.timings.tlsMs, null, 'no TLS on ws://');
    assert.equal(doc.refusal, null);
    assert.equal(doc.failure, null);
  });

  test('sends --header, --token and --origin on the handshake', async () => {
    const seen: Record<string, string | string[] | undefined>[] = [];
    const guarded = await fixture({
      allowedOrigins: ['https://app.example.com'],
      authenticate: (request) => {
        seen.push(request.headers);
        return { ok: true, user: 'u' };
      },
    });
    const result = await probe([guarded.wsUrl, '--header', 'X-Tenant: acme', '--token', 'abc.def', '--origin', 'https://app.example.com/']);
    assert.equal(result.code, 0, result.stdout);
    assert.equal(seen[0]?.['x-tenant'], 'acme');
    assert.equal(seen[0]?.authorization, 'Bearer abc.def');
    assert.equal(seen[0]?.origin, 'https://app.example.com');
  });
});

describe('refusals: exit 1 with the status, what it means and what to do', () => {
  test('401 from an authenticate hook: get fresh credentials', async () => {
    const server = await fixture({ authenticate: () => ({ ok: false }) });
    const result = await probe([server.wsUrl]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^handshake +HTTP 401 Unauthorized in [\d.]+ ms$/m);
    assert.match(result.stdout, /^ +body: "authentication required"$/m);
    assert.match(result.stdout, /^refused +401 Unauthorized: authentication is required, or the credentials sent were refused/m);
    assert.match(result.stdout, /what to do: get fresh credentials/);
  });

  test('403 for an Origin that is not allowed: do not retry as is', async () => {
    const server = await fixture({});
    const result = await probe([server.wsUrl, '--origin', 'https://evil.example']);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^refused +403 Forbidden: the server refuses this client: its Origin is not allowed/m);
    assert.match(result.stdout, /body: "Origin not allowed"/);
    assert.match(result.stdout, /what to do: do not retry as is/);
  });

  test('404 for a path with no endpoint: check the path', async () => {
    const server = await fixture({});
    const result = await probe([`${server.url.replace(/^http/, 'ws')}/nope`]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^refused +404 Not Found: there is no WebSocket endpoint at this path/m);
    assert.match(result.stdout, /what to do: do not retry: check the path/);
  });

  test('426 from a server that wants another version: names the header to read', async () => {
    const server = await rawUpgradeServer('HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 8\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    fixtures.push(server);
    const result = await probe([`ws://127.0.0.1:${server.port}/`]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^ +Sec-WebSocket-Version: 8$/m);
    assert.match(result.stdout, /^refused +426 Upgrade Required: the server speaks another WebSocket version/m);
    assert.match(result.stdout, /Sec-WebSocket-Version \(13 is the standard one\)/);
  });

  test('503 at capacity, with Retry-After: come back later (also in JSON)', async () => {
    const server = await fixture({ maxConnections: 1, retryAfter: 7_000 });
    const holder = new WebSocket(server.wsUrl);
    holder.on('error', () => undefined);
    await within(once(holder, 'open'), 20_000, 'the first connection');
    try {
      const text = await probe([server.wsUrl]);
      assert.equal(text.code, 1);
      assert.match(text.stdout, /^ +Retry-After: 7$/m);
      assert.match(text.stdout, /^refused +503 Service Unavailable: the server is over capacity, shutting down/m);
      assert.match(text.stdout, /^ +Retry-After: 7\.0 s$/m);
      assert.match(text.stdout, /what to do: come back later/);

      const json = await probe([server.wsUrl, '--json']);
      assert.equal(json.code, 1);
      const doc = JSON.parse(json.stdout) as ProbeJson;
      assert.equal(doc.verdict, 'refused');
      assert.equal(doc.handshake?.status, 503);
      assert.equal(doc.refusal?.status, 503);
      assert.equal(doc.refusal?.action, 'reconnect');
      assert.equal(doc.refusal?.retryAfterMs, 7_000);
      assert.equal(doc.handshake?.body, 'server is at capacity');
      assert.equal(doc.ping, null);
      assert.equal(doc.close, null);
    } finally {
      holder.terminate();
    }
  });

  test('a status outside the table still gets a generic explanation (200: not a WebSocket endpoint)', async () => {
    const server = await rawUpgradeServer('HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello');
    fixtures.push(server);
    const result = await probe([`ws://127.0.0.1:${server.port}/`]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^refused +200 OK: the server answered like an ordinary web page, not with 101 Switching Protocols/m);
  });

  test('accept-then-close mode (4401): reported as a refusal with the close code\'s meaning', async () => {
    const server = await fixture({ handshakeRejection: 'close', authenticate: () => ({ ok: false, message: 'token missing' }) });
    const result = await probe([server.wsUrl]);
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stdout, /^handshake +HTTP 101 Switching Protocols/m);
    assert.match(result.stdout, /^close +4401 unauthorized, reason "token missing", sent by the server$/m);
    assert.match(result.stdout, /^refused +accepted, then closed by the server before the ping's answer: 4401 unauthorized/m);
    assert.match(result.stdout, /what to do: authentication required or failed; get credentials and reconnect/);
  });
});

describe('unreachable: exit 1 with the reason', () => {
  test('nothing listening on the port', async () => {
    const port = await closedPort();
    const result = await probe([`ws://127.0.0.1:${port}/ws`]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, new RegExp(`^unreachable +nothing is listening on 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`, 'm'));
    const json = JSON.parse((await probe([`ws://127.0.0.1:${port}/ws`, '--json'])).stdout) as ProbeJson;
    assert.equal(json.verdict, 'unreachable');
    assert.deepEqual(json.failure && { phase: json.failure.phase, code: json.failure.code }, { phase: 'tcp', code: 'ECONNREFUSED' });
    assert.equal(json.handshake, null);
  });

  test('a name that does not resolve', async () => {
    const result = await probe(['ws://lifeline-probe-test.invalid/ws']);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^unreachable +the name lifeline-probe-test\.invalid does not resolve \((ENOTFOUND|EAI_AGAIN)\)/m);
  });

  test('a port that accepts TCP but never answers: the whole probe is bounded by --timeout', async () => {
    const server = await silentServer();
    fixtures.push(server);
    const started = Date.now();
    const result = await probe([`ws://127.0.0.1:${server.port}/`, '--timeout', '300']);
    assert.equal(result.code, 1);
    // Generous for a busy machine (a cold node start included); without the bound it would hang.
    assert.ok(Date.now() - started < 50_000, 'bounded by the timeout, not by ws defaults (the wait above gives up at 60 s)');
    assert.match(result.stdout, /^tcp +connected/m);
    assert.match(result.stdout, /^unreachable +no answer within the timeout during the opening handshake: the port answers TCP but not as a WebSocket server/m);
  });

  test('wss:// to a port without TLS: says to try ws://', async () => {
    const server = await fixture({});
    const result = await probe([server.wsUrl.replace(/^ws:/, 'wss:')]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^unreachable +the server does not speak TLS on this port .*try ws:\/\//m);
  });
});

describe('TLS (wss://)', () => {
  const certificate = testCertificate();
  const { skip } = certificate;
  let url = '';
  let close = async (): Promise<void> => undefined;

  before(async () => {
    if (skip) return;
    const https = createHttpsServer({ key: certificate.key, cert: certificate.cert });
    const server = createServer({ server: https, logger: pino({ level: 'silent' }), pingInterval: 0 });
    https.listen(0, '127.0.0.1');
    await within(once(https, 'listening'), 20_000, 'the https server to listen');
    url = `wss://localhost:${(https.address() as AddressInfo).port}/ws`;
    close = async () => {
      await server.close({ drainTimeout: 0 });
      await new Promise<void>((resolve) => https.close(() => resolve()));
    };
  });
  after(async () => {
    await close();
    certificate.remove();
  });

  test('a trusted certificate: DNS lookup, TCP and TLS each timed, then healthy', { skip }, async () => {
    const result = await runCli(['probe', url], { NODE_EXTRA_CA_CERTS: certificate.certPath });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /^dns +localhost -> [\d.:a-f]+.* in [\d.]+ ms$/m);
    assert.match(result.stdout, /^tls +TLSv1\.[23] \S+ in [\d.]+ ms$/m);
    assert.match(result.stdout, /^ +certificate for localhost, issued by localhost, valid to /m);
    assert.match(result.stdout, /^healthy /m);
    const doc = JSON.parse((await runCli(['probe', url, '--json'], { NODE_EXTRA_CA_CERTS: certificate.certPath })).stdout) as ProbeJson;
    assert.match(doc.tls?.protocol ?? '', /^TLSv1\.[23]$/);
    assert.equal(typeof doc.timings.tlsMs, 'number');
  });

  test('an untrusted certificate: unreachable, and says how to trust it', { skip }, async () => {
    const result = await probe([url]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^unreachable +the server's certificate is not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\)/m);
  });
});

describe('usage', () => {
  for (const [args, message] of [
    [[], /missing URL/],
    [['ftp://example.com/ws'], /must start with ws:\/\/ or wss:\/\//],
    [['not a url'], /is not a URL/],
    [['ws://x/ws', 'ws://y/ws'], /one URL only/],
    [['ws://x/ws', '--nope'], /unknown flag --nope/],
    [['ws://x/ws', '--timeout', 'soon'], /--timeout must be an integer/],
    [['ws://x/ws', '--header', 'no-colon'], /--header wants "Name: value"/],
    [['ws://x/ws', '--origin', 'nowhere'], /--origin wants an origin/],
    [['ws://x/ws', '--protocol', 'a b'], /--protocol wants a subprotocol name/],
  ] as const) {
    test(`exit 2 for ${JSON.stringify(args)}`, async () => {
      const result = await probe(args);
      assert.equal(result.code, 2);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, message);
      assert.match(result.stderr, /^lifeline probe: .*; see lifeline probe --help\n$/);
    });
  }

  test('--help reads as help, with examples; lifeline --help lists probe and connect', async () => {
    const help = await runCli(['probe', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: lifeline probe URL \[flags\]/);
    assert.match(help.stdout, /--timeout MS +the whole probe must finish within this \(default 10000\)/);
    assert.match(help.stdout, /Examples:\n {2}lifeline probe ws:\/\/localhost:8080\/ws/);
    const main = await runCliInProcess(['--help']);
    assert.match(main.stdout, /^ {2}probe +diagnose a WebSocket endpoint/m);
    assert.match(main.stdout, /^ {2}connect +an interactive, reconnecting client/m);
    const viaHelp = await runCliInProcess(['help', 'probe']);
    assert.equal(viaHelp.stdout, help.stdout);
  });
});
