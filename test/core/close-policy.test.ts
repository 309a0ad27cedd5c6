import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyClose, type CloseInfo } from '../../src/core/close-policy.js';

const close = (code: number, reason = '', extra: Partial<CloseInfo> = {}): CloseInfo => ({ code, reason, wasClean: code !== 1006, ...extra });

// DESIGN.md "Client reconnection policy (by close code)", row by row.
describe('classifyClose: the reconnect policy table', () => {
  test('1000 and 1001 stop', () => {
    for (const code of [1000, 1001]) assert.equal(classifyClose(close(code)).action, 'stop', String(code));
  });

  test('1006, 1011, 1012, 1013, 1014 reconnect', () => {
    for (const code of [1006, 1011, 1012, 1013, 1014]) assert.equal(classifyClose(close(code)).action, 'reconnect', String(code));
  });

  test('a heartbeat failure or connect timeout reconnects (reported as 1006, never 1000)', () => {
    assert.equal(classifyClose(close(1006, 'heartbeat timeout', { local: 'heartbeat' })).action, 'reconnect');
    assert.equal(classifyClose(close(1006, 'connect timeout', { local: 'connect-timeout' })).action, 'reconnect');
  });

  test('1002, 1003, 1007, 1008, 1009 are fatal', () => {
    for (const code of [1002, 1003, 1007, 1008, 1009]) assert.equal(classifyClose(close(code)).action, 'fatal', String(code));
  });

  test('4000 and 4401 ask for fresh credentials', () => {
    for (const code of [4000, 4401]) assert.equal(classifyClose(close(code)).action, 'refresh-auth', String(code));
  });

  test('other 4000-4999 codes go to the app', () => {
    assert.equal(classifyClose(close(4321)).action, 'app');
  });

  test('Lifeline codes: 4002 slow consumer, 4429 and 4503 reconnect; 4403 is fatal; 4001 kicked stops', () => {
    assert.equal(classifyClose(close(4002)).action, 'reconnect');
    assert.equal(classifyClose(close(4429)).action, 'reconnect');
    assert.equal(classifyClose(close(4503)).action, 'reconnect');
    assert.equal(classifyClose(close(4403)).action, 'fatal');
    assert.equal(classifyClose(close(4001)).action, 'stop');
  });

  test('a refused handshake is judged by its HTTP status', () => {
    const refused = (status: number) => classifyClose(close(1006, '', { local: 'handshake-refused', status })).action;
    assert.equal(refused(401), 'refresh-auth');
    assert.equal(refused(503), 'reconnect');
    assert.equal(refused(408), 'reconnect'); // too slow on a lossy link: try again
    assert.equal(refused(429), 'reconnect');
    for (const status of [400, 403, 404, 426]) assert.equal(refused(status), 'fatal', String(status));
  });

  test('a retry hint in the reason is returned with the decision', () => {
    const decision = classifyClose(close(1012, 'service restart; retry after 2000 ms, spread over 8000 ms'));
    assert.deepEqual(decision, { action: 'reconnect', hint: { afterMs: 2000, spreadMs: 8000 } });
  });
});
