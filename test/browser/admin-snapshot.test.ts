// The admin page's model, without a browser: reading a snapshot defensively, messages per
// second from the totals, the chart window, and the number formats of the tiles and tables.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compact, niceCeil } from '../../src/demo/admin/charts.js';
import { byCode, History, parseSnapshot, rate, type AdminSnapshot } from '../../src/demo/admin/snapshot.js';
import { age, bytes, refusals } from '../../src/demo/admin/tables.js';

/** A snapshot as `lifeline serve` answers it. */
function body(at: number, messagesIn: number, messagesOut: number, open = 2): Record<string, unknown> {
  return {
    scope: 'node',
    node: 'host-a:4242',
    at,
    uptime: 12.5,
    connections: {
      open,
      list: [
        { id: 'c1', state: 'open', user: 'ada', session: 's-1', ageMs: 4200, rttMs: 1.5, protocol: 'lifeline.v1', subscriptions: 1 },
        { id: 'c2', state: 'open', user: null, session: null, ageMs: 10, rttMs: null, protocol: '', subscriptions: 0 },
      ],
      truncated: false,
    },
    channels: [{ channel: 'chat:lobby', subscribers: 1 }],
    channelsTruncated: false,
    totals: {
      messagesIn,
      messagesOut,
      bytesIn: 900,
      bytesOut: 2400,
      handshakes: { '101': 3, '401': 2 },
      closes: { '1000': 1, '1006': 4 },
      heartbeatTerminations: 1,
      slowConsumerCloses: 0,
      invalidMessages: 0,
      recoveries: { recovered: 1, notRecovered: 0 },
    },
  };
}

function parsed(value: unknown): AdminSnapshot {
  const snapshot = parseSnapshot(value);
  assert.ok(snapshot, 'a snapshot');
  return snapshot;
}

describe('parseSnapshot', () => {
  test('reads the server\'s snapshot as it is: the same type on both sides', () => {
    const server = body(1_000, 10, 30);
    assert.deepEqual(parsed(server), server);
  });

  test('says which node answered, and that the figures are that node\'s only', () => {
    const s = parsed(body(1_000, 10, 30));
    assert.equal(s.scope, 'node');
    assert.equal(s.node, 'host-a:4242');
  });

  test('a user object shows by its name or id; a subscription list counts its entries', () => {
    const s = parsed({ connections: { list: [{ id: 'x', user: { id: 'bob', channels: ['*'] }, subscriptions: ['chat:a', 'chat:b'] }] } });
    assert.equal(s.connections.list[0]?.user, 'bob');
    assert.equal(s.connections.list[0]?.subscriptions, 2);
    assert.equal(s.connections.open, 1, 'without `open`, the list length');
  });

  test('fields of the wrong shape become neutral values instead of throwing', () => {
    const s = parsed({ at: 'soon', connections: { open: -3, list: 'none' }, channels: {}, totals: { messagesIn: NaN, handshakes: [1, 2], closes: { abc: 1, '1000': 'x', '1001': 2 } } });
    assert.equal(s.at, 0);
    assert.equal(s.connections.open, 0);
    assert.deepEqual(s.connections.list, []);
    assert.deepEqual(s.channels, []);
    assert.equal(s.totals.messagesIn, 0);
    assert.deepEqual([...byCode(s.totals.handshakes)], [], 'a list is not a map of statuses');
    assert.deepEqual([...byCode(s.totals.closes)], [[1001, 2]]);
  });

  test('anything that is not a snapshot at all is refused', () => {
    for (const value of [null, undefined, 42, 'text', [], { error: 'unauthorized' }]) assert.equal(parseSnapshot(value), undefined, JSON.stringify(value));
  });
});

describe('rates and history', () => {
  test('messages per second between two snapshots', () => {
    assert.equal(rate(10, 40, 2000), 15);
    assert.equal(rate(10, 10, 1000), 0);
    assert.equal(rate(10, 40, 0), undefined, 'no time passed');
    assert.equal(rate(40, 10, 1000), undefined, 'a counter that went back (restart)');
  });

  test('each sample has the rate since the previous snapshot; the first has none', () => {
    const history = new History(10_000);
    assert.deepEqual(history.push(parsed(body(1_000, 0, 0))), { at: 1_000, open: 2, inRate: undefined, outRate: undefined });
    assert.deepEqual(history.push(parsed(body(2_000, 5, 20))), { at: 2_000, open: 2, inRate: 5, outRate: 20 });
    assert.deepEqual(history.push(parsed(body(2_500, 6, 30, 3))), { at: 2_500, open: 3, inRate: 2, outRate: 20 });
  });

  test('keeps only the window, and starts over when the server clock goes back', () => {
    const history = new History(3_000);
    for (let t = 1; t <= 10; t++) history.push(parsed(body(t * 1000, t, t)));
    assert.deepEqual(
      history.samples.map((s) => s.at),
      [7000, 8000, 9000, 10000],
    );
    history.push(parsed(body(500, 0, 0)));
    assert.deepEqual(history.samples.map((s) => s.at), [500]);
  });
});

describe('formats', () => {
  test('chart tops are round and their halves too', () => {
    assert.deepEqual([0, 1, 3, 4.2, 7, 11, 55, 130, 990].map((v) => niceCeil(v)), [1, 1, 4, 6, 8, 20, 60, 200, 1000]);
    assert.equal(niceCeil(0, 4), 4, 'at least the floor');
  });

  test('compact numbers, ages and byte counts', () => {
    assert.deepEqual([0, 7, 2.46, 999, 1234, 56_000, 3_400_000].map(compact), ['0', '7', '2.5', '999', '1.2k', '56k', '3.4M']);
    assert.deepEqual([0, 59_999, 61_000, 3_725_000, 90_000_000].map(age), ['0 s', '59 s', '1 min 01 s', '1 h 02 min', '1 d 1 h']);
    assert.deepEqual([12, 4_500, 2_300_000].map(bytes), ['12 B', '4.5 kB', '2.3 MB']);
  });

  test('refused handshakes by status, accepted ones left out', () => {
    assert.equal(refusals(new Map([[101, 9], [503, 1], [401, 2]])), '3 refused: 401 ×2 · 503 ×1');
    assert.equal(refusals(new Map([[101, 9]])), '0 refused');
  });
});
