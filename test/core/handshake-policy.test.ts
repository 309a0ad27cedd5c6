import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { judgeHandshake, makeOriginRule, type HandshakeLimits, type HandshakeRequest } from '../../src/core/handshake-policy.js';

const good: HandshakeRequest = {
  method: 'GET',
  path: '/ws',
  headers: {
    host: 'example.com',
    upgrade: 'websocket',
    connection: 'keep-alive, Upgrade',
    'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'sec-websocket-version': '13',
  },
};
const limits: HandshakeLimits = {
  paths: ['/ws'],
  originAllowed: makeOriginRule([]),
  draining: false,
  connections: 0,
  maxConnections: 10,
  behind: false,
  admitted: true,
  retryAfterMs: 5000,
  busyRetryAfterMs: 1000,
};
const judge = (request: Partial<HandshakeRequest> & { headers?: HandshakeRequest['headers'] }, over: Partial<HandshakeLimits> = {}) =>
  judgeHandshake({ ...good, ...request, headers: { ...good.headers, ...request.headers } }, { ...limits, ...over });

describe('judgeHandshake', () => {
  test('accepts a well-formed request', () => {
    assert.deepEqual(judge({}), { accept: true });
    assert.deepEqual(judge({ httpVersion: '1.1' }), { accept: true });
    assert.deepEqual(judge({ httpVersion: '2.0' }), { accept: true });
  });

  test('400 for a non-GET, an HTTP version below 1.1, a missing Upgrade or Connection, a bad key or a missing version', () => {
    const cases: Partial<HandshakeRequest>[] = [
      { method: 'POST' },
      { httpVersion: '1.0' },
      { httpVersion: '0.9' },
      { headers: { upgrade: undefined } },
      { headers: { connection: 'keep-alive' } },
      { headers: { 'sec-websocket-key': 'short' } },
      { headers: { 'sec-websocket-key': undefined } },
      { headers: { 'sec-websocket-version': undefined } },
    ];
    for (const c of cases) {
      const decision = judge(c);
      assert.ok(!decision.accept && decision.status === 400 && decision.kind === 'malformed', JSON.stringify(c));
    }
  });

  test('426 with Sec-WebSocket-Version: 13 for another version', () => {
    const decision = judge({ headers: { 'sec-websocket-version': '8' } });
    assert.ok(!decision.accept);
    assert.equal(decision.status, 426);
    assert.equal(decision.headers['Sec-WebSocket-Version'], '13');
  });

  test('404 for an unknown path, before anything else', () => {
    const decision = judge({ path: '/nope', method: 'POST' });
    assert.ok(!decision.accept && decision.status === 404);
  });

  test('403 for a cross-site Origin; same origin, no Origin and listed origins pass', () => {
    const cross = judge({ headers: { origin: 'https://evil.example' } });
    assert.ok(!cross.accept && cross.status === 403 && cross.kind === 'origin');
    assert.ok(judge({ headers: { origin: 'https://example.com' } }).accept);
    assert.ok(judge({ headers: { origin: undefined } }).accept);
    assert.ok(judge({ headers: { origin: 'https://app.example' } }, { originAllowed: makeOriginRule(['https://app.example/']) }).accept);
    assert.ok(judge({ headers: { origin: 'null' } }, { originAllowed: makeOriginRule('*') }).accept);
    assert.ok(!judge({ headers: { origin: 'null' } }).accept);
  });

  test('503 with Retry-After over capacity, while draining and over the admission rate', () => {
    for (const [over, kind] of [[{ connections: 10 }, 'capacity'], [{ draining: true }, 'draining'], [{ admitted: false }, 'rate']] as const) {
      const decision = judge({}, over);
      assert.ok(!decision.accept, kind);
      assert.equal(decision.status, 503);
      assert.equal(decision.kind, kind);
      assert.equal(decision.headers['Retry-After'], '5');
    }
  });

  test('503 "server is busy" with the short hint while the event loop is behind, after capacity and before the admission rate', () => {
    const decision = judge({}, { behind: true });
    assert.ok(!decision.accept);
    assert.deepEqual([decision.status, decision.kind, decision.message, decision.headers['Retry-After'], decision.retryAfterMs], [503, 'busy', 'server is busy', '1', 1000]);
    const full = judge({}, { behind: true, connections: 10 });
    assert.ok(!full.accept && full.kind === 'capacity');
    let asked = 0;
    const counting = { ...limits, behind: true, get admitted() { asked++; return true; } };
    judgeHandshake(good, counting);
    assert.equal(asked, 0, 'a busy refusal takes no admission token');
  });

  test('the admission limiter is consulted only when everything else passed', () => {
    let asked = 0;
    const counting = { ...limits, get admitted() { asked++; return true; } };
    judgeHandshake({ ...good, path: '/nope' }, counting);
    judgeHandshake({ ...good, method: 'POST' }, counting);
    assert.equal(asked, 0);
    judgeHandshake(good, counting);
    assert.equal(asked, 1);
  });
});
