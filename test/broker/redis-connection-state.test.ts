/**
 * The Redis broker's connection state machine on its own: which state a signal leads to, and
 * when the subscriptions must be checked again.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextState, type ConnectionSignal, type ConnectionState } from '../../src/redis/connection.js';

test('lost and back: ready -> lost -> ready, and only the return asks for a check', () => {
  assert.deepEqual(nextState('ready', 'lost', false), { state: 'lost', recheck: false });
  assert.deepEqual(nextState('lost', 'lost', false), { state: 'lost', recheck: false });
  assert.deepEqual(nextState('lost', 'restored', false), { state: 'ready', recheck: true });
});

test('a single server: a connection ready again without a loss noticed asks for nothing', () => {
  assert.deepEqual(nextState('ready', 'restored', false), { state: 'ready', recheck: false });
});

test('a Cluster: every new node connection asks for a check (subscriptions may have moved to it)', () => {
  assert.deepEqual(nextState('ready', 'restored', true), { state: 'ready', recheck: true });
  assert.deepEqual(nextState('lost', 'restored', true), { state: 'ready', recheck: true });
});

test('closed is final', () => {
  const states: ConnectionState[] = ['ready', 'lost', 'closed'];
  const signals: ConnectionSignal[] = ['lost', 'restored', 'close'];
  for (const state of states) assert.deepEqual(nextState(state, 'close', false), { state: 'closed', recheck: false });
  for (const signal of signals) assert.deepEqual(nextState('closed', signal, true), { state: 'closed', recheck: false });
});
