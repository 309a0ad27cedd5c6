// The pure parts of `lifeline probe`: what a status means, the verdict on an observation, and
// the report, from literal observations (no sockets).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyClose } from '../../src/core/close-policy.js';
import { explainFailure } from '../../src/cli/probe-failure.js';
import { describeRefusal } from '../../src/cli/probe-refusal.js';
import { renderJson, renderText } from '../../src/cli/probe-report.js';
import type { ProbeObservation } from '../../src/cli/probe-timing.js';
import { judge } from '../../src/cli/probe-verdict.js';

const base: ProbeObservation = {
  url: 'ws://example.test:8080/ws',
  secure: false,
  host: 'example.test',
  port: 8080,
  timeoutMs: 10_000,
  protocols: [],
  dns: { addresses: [{ address: '10.0.0.5', family: 4 }], ms: 1.25 },
  tcp: { address: '10.0.0.5', ms: 2.5, failed: [] },
  totalMs: 20,
};

const accepted: ProbeObservation = {
  ...base,
  handshake: { status: 101, statusText: 'Switching Protocols', headers: [['Upgrade', 'websocket']], ms: 3 },
  open: { protocol: 'lifeline.v1', extensions: '' },
  ping: { ms: 0.5 },
  close: { code: 1000, reason: 'probe done', wasClean: true, by: 'client', ms: 1 },
};

function refusedWith(status: number, headers: [string, string][] = [], body?: string): ProbeObservation {
  return { ...base, handshake: { status, statusText: 'x', headers, ms: 2, ...(body === undefined ? {} : { body }) } };
}

describe('describeRefusal', () => {
  test('every status in the handshake table has its own meaning, and advice that follows the reconnect policy', () => {
    for (const status of [400, 401, 403, 404, 426, 429, 503]) {
      const info = describeRefusal(status);
      assert.doesNotMatch(info.meaning, /the server refused the request as a client error|failed to handle/, `${status} has a specific meaning`);
      const policy = classifyClose({ code: 1006, reason: '', wasClean: false, local: 'handshake-refused', status }).action;
      assert.equal(info.action, policy, `${status} follows classifyClose`);
    }
    assert.equal(describeRefusal(401).action, 'refresh-auth');
    assert.equal(describeRefusal(503).action, 'reconnect');
    assert.equal(describeRefusal(429).action, 'reconnect');
    assert.equal(describeRefusal(404).action, 'fatal');
    assert.equal(describeRefusal(426).statusText, 'Upgrade Required');
  });

  test('a status outside the table is explained by its class', () => {
    assert.match(describeRefusal(200).meaning, /not a WebSocket endpoint/);
    assert.match(describeRefusal(302).advice, /Location header/);
    assert.match(describeRefusal(418).meaning, /client error/);
    assert.match(describeRefusal(502).meaning, /proxy/);
    assert.equal(describeRefusal(502).action, 'reconnect');
    assert.equal(describeRefusal(799).statusText, 'Unknown');
  });
});

describe('judge', () => {
  test('healthy: 101, a pong and a clean close', () => {
    assert.deepEqual(judge(accepted, 0), { verdict: 'healthy', summary: 'accepted, answered a ping and closed cleanly' });
    const otherEcho = judge({ ...accepted, close: { ...accepted.close!, code: 1001 } }, 0);
    assert.equal(otherEcho.verdict, 'healthy');
    assert.match(otherEcho.summary, /answered the close with 1001, not 1000/);
  });

  test('refused: the status, its meaning, Retry-After (seconds or an HTTP date) and the body', () => {
    const seconds = judge(refusedWith(503, [['Retry-After', '5']], 'server is at capacity'), 0);
    assert.equal(seconds.verdict, 'refused');
    assert.equal(seconds.refusal?.retryAfterMs, 5_000);
    assert.equal(seconds.refusal?.body, 'server is at capacity');
    assert.match(seconds.summary, /^503 Service Unavailable: /);
    const date = judge(refusedWith(503, [['retry-after', new Date(60_000).toUTCString()]]), 30_000);
    assert.equal(date.refusal?.retryAfterMs, 30_000);
    assert.equal(judge(refusedWith(401), 0).refusal?.retryAfterMs, undefined);
  });

  test('a server that accepts and closes at once is a refusal with the close code explained', () => {
    const verdict = judge({ ...base, handshake: accepted.handshake!, open: accepted.open!, close: { code: 4503, reason: 'over capacity; retry after 2000 ms', wasClean: true, by: 'server', ms: undefined } }, 0);
    assert.equal(verdict.verdict, 'refused');
    assert.equal(verdict.serverClose?.code, 4503);
    assert.equal(verdict.serverClose?.action, 'reconnect');
    assert.match(verdict.advice ?? '', /retry after the hint \(the server asks for 2000 ms\)/);
  });

  test('unreachable before any answer; unhealthy after one', () => {
    const refused = judge({ ...base, tcp: undefined, failure: { phase: 'tcp', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED', timedOut: false } }, 0);
    assert.equal(refused.verdict, 'unreachable');
    assert.match(refused.summary, /^nothing is listening on 10\.0\.0\.5:8080 \(ECONNREFUSED\)/);
    const stalled = judge({ ...accepted, ping: undefined, close: undefined, failure: { phase: 'ping', code: 'ETIMEDOUT', message: 'no answer', timedOut: true } }, 0);
    assert.equal(stalled.verdict, 'unhealthy');
    assert.match(stalled.summary, /no answer within the timeout during waiting for the pong/);
    const badAccept = judge({ ...base, handshake: accepted.handshake!, failure: { phase: 'handshake', code: undefined, message: 'Invalid Sec-WebSocket-Accept header', timedOut: false } }, 0);
    assert.equal(badAccept.verdict, 'unhealthy');
    assert.match(badAccept.summary, /Invalid Sec-WebSocket-Accept/);
  });

  test('a close that is not clean is unhealthy', () => {
    const verdict = judge({ ...accepted, close: { code: 1006, reason: '', wasClean: false, by: 'client', ms: 3 } }, 0);
    assert.equal(verdict.verdict, 'unhealthy');
    assert.match(verdict.summary, /1006 abnormal closure/);
  });
});

describe('explainFailure', () => {
  const where = { host: 'h.test', port: 443 };
  const failure = (phase: 'dns' | 'tcp' | 'tls', code: string) => ({ phase, code, message: code, timedOut: false });
  test('common codes become causes to check', () => {
    assert.match(explainFailure(failure('dns', 'ENOTFOUND'), where), /h\.test does not resolve/);
    assert.match(explainFailure(failure('tcp', 'EHOSTUNREACH'), where), /no route to h\.test:443/);
    assert.match(explainFailure(failure('tls', 'CERT_HAS_EXPIRED'), where), /certificate has expired/);
    assert.match(explainFailure(failure('tls', 'SELF_SIGNED_CERT_IN_CHAIN'), where), /not trusted .*NODE_EXTRA_CA_CERTS/);
    assert.match(explainFailure(failure('tls', 'ERR_TLS_CERT_ALTNAME_INVALID'), where), /not for h\.test/);
    assert.match(explainFailure({ phase: 'tls', code: 'EWHAT', message: 'odd', timedOut: false }, where), /^the TLS handshake failed: odd$/);
    assert.match(explainFailure({ phase: 'tcp', code: 'ETIMEDOUT', message: 'x', timedOut: true }, where), /firewall/);
  });
});

describe('report', () => {
  test('text: one labelled row per step reached, the verdict last', () => {
    const out = renderText(accepted, judge(accepted, 0));
    assert.deepEqual(out.split('\n').map((line) => line.split(/\s+/)[0]), [
      'probe',
      'dns',
      'tcp',
      'tls',
      'handshake',
      '',
      'subprotocol',
      'extensions',
      'ping',
      'close',
      'healthy',
      '',
    ]);
    assert.match(out, /^dns {10}example\.test -> 10\.0\.0\.5 in 1\.3 ms$/m);
    const refusal = renderText(refusedWith(503, [['Retry-After', '5']], 'busy'), judge(refusedWith(503, [['Retry-After', '5']], 'busy'), 0));
    assert.match(refusal, /^ +body: "busy"$/m);
    assert.match(refusal, /^refused +503 /m);
    assert.match(refusal, /^ +Retry-After: 5\.0 s$/m);
    assert.match(refusal, /^ +what to do: come back later/m);
    assert.doesNotMatch(refusal, /^(ping|close)/m, 'steps not reached are not shown');
  });

  test('json: one document; null for what was not reached', () => {
    const doc = JSON.parse(renderJson(refusedWith(401), judge(refusedWith(401), 0))) as Record<string, unknown>;
    assert.equal(doc.verdict, 'refused');
    assert.equal(doc.healthy, false);
    assert.equal(doc.ping, null);
    assert.equal(doc.close, null);
    assert.deepEqual((doc.refusal as { action: string }).action, 'refresh-auth');
    const healthy = JSON.parse(renderJson(accepted, judge(accepted, 0))) as { timings: Record<string, number | null>; subprotocol: string };
    assert.equal(healthy.subprotocol, 'lifeline.v1');
    assert.deepEqual(healthy.timings, { dnsMs: 1.25, tcpMs: 2.5, tlsMs: null, handshakeMs: 3, pingMs: 0.5, closeMs: 1, totalMs: 20 });
  });
});
