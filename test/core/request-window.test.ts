/**
 * The request-id window behind exactly-once publishes and requests, checked against a model:
 * a processed id is never "new" again (the safety rule), the last `capacity` replies are
 * served verbatim, older ids are `expired`, and a snapshot restores the same verdicts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { RequestWindow, type WindowVerdict } from '../../src/core/request-window.js';

const SEED = 20260518;

/** Strictly increasing ids with gaps of 1-3 (a client's ids within a session, some unanswered). */
const increasingIds = fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 40 }).map((gaps) => {
  let id = 0;
  return gaps.map((gap) => (id += gap));
});

function verdicts<R>(window: RequestWindow<R>, upTo: number): WindowVerdict<R>[] {
  return Array.from({ length: upTo }, (_, i) => window.check(i + 1));
}

describe('RequestWindow', () => {
  test('examples: repeat, expired, new', () => {
    const window = new RequestWindow<string>(2);
    for (const id of [1, 2, 3]) window.record(id, `reply ${id}`);
    assert.deepEqual(window.check(3), { kind: 'repeat', reply: 'reply 3' });
    assert.deepEqual(window.check(2), { kind: 'repeat', reply: 'reply 2' });
    assert.deepEqual(window.check(1), { kind: 'expired' });
    assert.deepEqual(window.check(4), { kind: 'new' });
    assert.equal(window.acked, 3);
    assert.deepEqual(window.snapshot(), { acked: 3, floor: 1, replies: [[2, 'reply 2'], [3, 'reply 3']] });
  });

  test('property (in order): the last capacity replies are served, older ids are expired, later ids are new', () => {
    fc.assert(
      fc.property(increasingIds, fc.integer({ min: 1, max: 8 }), (ids, capacity) => {
        const window = new RequestWindow<{ readonly id: number }>(capacity);
        for (const id of ids) window.record(id, { id });
        const kept = ids.slice(-capacity);
        const floor = ids.length > capacity ? (ids[ids.length - capacity - 1] ?? 0) : 0;
        const top = (ids.at(-1) ?? 0) + 3;
        for (let id = 1; id <= top; id++) {
          const verdict = window.check(id);
          if (kept.includes(id)) assert.deepEqual(verdict, { kind: 'repeat', reply: { id } }, `id ${id}`);
          else if (id <= floor) assert.deepEqual(verdict, { kind: 'expired' }, `id ${id}`);
          else assert.deepEqual(verdict, { kind: 'new' }, `id ${id}`);
        }
        assert.equal(window.acked, ids.at(-1) ?? 0);
        assert.ok(window.snapshot().replies.length <= capacity);
      }),
      { numRuns: 1000, seed: SEED },
    );
  });

  test('property (any order, any reply): a recorded id is never new again, and the window never outgrows capacity', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 30 }), fc.anything()), { maxLength: 40 }),
        fc.integer({ min: 1, max: 6 }),
        (records, capacity) => {
          const window = new RequestWindow<unknown>(capacity);
          const seen = new Map<number, unknown>();
          for (const [id, reply] of records) {
            window.record(id, reply);
            seen.set(id, reply);
            assert.ok(window.snapshot().replies.length <= capacity);
          }
          for (const [id, reply] of seen) {
            const verdict = window.check(id);
            assert.notEqual(verdict.kind, 'new', `id ${id} was processed: it must never run again`);
            if (verdict.kind === 'repeat') assert.deepEqual(verdict.reply, reply, `id ${id} gets its latest reply`);
          }
          assert.equal(window.acked, Math.max(0, ...seen.keys()));
          const { floor } = window.snapshot();
          assert.ok(floor <= window.acked, 'the forgotten range never reaches past the highest id');
        },
      ),
      { numRuns: 1000, seed: SEED },
    );
  });

  test('property: a snapshot restores the same verdicts (what the broker stores between connections)', () => {
    fc.assert(
      fc.property(increasingIds, fc.integer({ min: 1, max: 8 }), increasingIds, (ids, capacity, later) => {
        const original = new RequestWindow<number>(capacity);
        for (const id of ids) original.record(id, id * 10);
        const restored = new RequestWindow<number>(capacity, original.snapshot());
        const top = (ids.at(-1) ?? 0) + 5;
        assert.deepEqual(verdicts(restored, top), verdicts(original, top));
        assert.equal(restored.acked, original.acked);
        // And they keep agreeing as new ids come in after the resume.
        const base = ids.at(-1) ?? 0;
        for (const id of later) {
          original.record(base + id, id);
          restored.record(base + id, id);
        }
        assert.deepEqual(restored.snapshot(), original.snapshot());
      }),
      { numRuns: 500, seed: SEED },
    );
  });
});

test('records below the newest id, window full, never sort the window (a peer sending ids downwards cannot make each message cost a sort)', (t) => {
  const window = new RequestWindow<string>(1000, { acked: 0, floor: 0, replies: [] });
  // Even ids only: every odd id between them is fresh, below the newest.
  for (let id = 2; id <= 2000; id += 2) window.record(id, 'even');
  // Array.prototype is an array itself, which the test runner's mock refuses: counted by hand.
  const sort = Array.prototype.sort;
  let sorts = 0;
  Array.prototype.sort = function <T>(this: T[], compare?: (a: T, b: T) => number): T[] {
    sorts++;
    return sort.call(this, compare) as T[];
  };
  t.after(() => (Array.prototype.sort = sort));
  // Fresh odd ids going down from the newest: each one new, recorded, the lowest forgotten.
  for (let id = 1999; id > 1999 - 400; id -= 2) {
    assert.deepEqual(window.check(id), { kind: 'new' }, String(id));
    window.record(id, 'odd');
  }
  Array.prototype.sort = sort;
  assert.equal(sorts, 0);
  const ids = window.snapshot().replies.map(([id]) => id);
  assert.equal(ids.length, 1000);
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'kept in id order');
  // 200 odd ids came in, so the 200 lowest even ids (2..400) went.
  assert.equal(ids[0], 402);
  assert.deepEqual(window.check(400), { kind: 'expired' });
  assert.deepEqual(window.check(1999), { kind: 'repeat', reply: 'odd' });
  assert.deepEqual(window.check(1601), { kind: 'repeat', reply: 'odd' });
  assert.deepEqual(window.check(1599), { kind: 'new' });
});
